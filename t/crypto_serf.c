/*
 * mod_crypto against the real serf: two `serf agent -encrypt=KEY` form a
 * cluster where agent a advertises an address this test listens on, so
 * agent b's UDP probes of a arrive here; a `serf join` through a's RPC makes
 * a open a TCP push/pull to us.  Both must decrypt with our transforms into
 * memberlist messages; a wrong key and plaintext must be dropped and counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "tap.h"
#include "../modules/crypto/aesgcm.h"
#include "../modules/crypto/keyring.h"
#include "../modules/crypto/transform.h"

extern char **environ;

#define KEY "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="
#define WRONG "QHOYjmYlxSCBhdfiolhtDQ=="

static char dir[] = "/tmp/hm-crypto-serf-XXXXXX";

static pid_t spawn(const char *log, char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, log);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static int sock_at(int type, const char *ip, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, ip, &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (type == SOCK_STREAM && listen(fd, 4) < 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `fd` to be readable until the deadline; 1 ready, 0 timed out. */
static int wait_readable(int fd, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return 0;
        int rc = poll(&p, 1, (int)left);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

static void state_init(crypto_state_t *st, const char *b64)
{
    crypto_key_t k;
    const char *err;

    memset(st, 0, sizeof(*st));
    st->vsn = 1;
    st->verify_incoming = st->verify_outgoing = true;
    crypto_key_parse(b64, &k, &err);
    crypto_keyring_add(&st->ring, k.k, k.len, &err);
}

static int known_type(uint8_t t)
{
    /* ping, indirect ping, ack, suspect, alive, dead, compound, user,
     * compress, nack, hasCrc */
    return t <= 5 || t == 7 || t == 8 || t == 9 || t == 11 || t == 12;
}

/* Checks what can be checked without the wire codecs: a CRC envelope's
 * checksum (zlib's crc32 = memberlist's), a compound's part lengths, and
 * that a plain message's body starts with a msgpack map. */
static int plain_valid(const uint8_t *p, size_t n)
{
    if (n >= 5 && p[0] == 12) {
        uint32_t want = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        return crc32(0, p + 5, (uInt)(n - 5)) == want && n > 5 && plain_valid(p + 5, n - 5);
    }
    if (n >= 2 && p[0] == 7) {
        size_t cnt = p[1], off = 2 + 2 * (size_t)p[1];
        if (off > n)
            return 0;
        for (size_t i = 0; i < cnt; i++) {
            size_t len = (size_t)p[2 + 2 * i] << 8 | p[3 + 2 * i];
            if (off + len > n || !plain_valid(p + off, len))
                return 0;
            off += len;
        }
        return off == n;
    }
    /* user (8): [8][Serf type][msgpack...], Serf's own; the others:
     * [type][fixmap or map16] */
    if (n >= 3 && p[0] == 8)
        return p[1] <= 9;
    if (n < 2 || !known_type(p[0]) || !((p[1] & 0xf0) == 0x80 || p[1] == 0xde))
        diag("unexpected message %02x %02x (%zu bytes)", p[0], n > 1 ? p[1] : 0, n);
    return n >= 2 && known_type(p[0]) && ((p[1] & 0xf0) == 0x80 || p[1] == 0xde);
}

/* An ackResp with SeqNo 42, alone or inside a compound (serf piggybacks). */
static int is_ack(const uint8_t *p, size_t n)
{
    static const uint8_t seq[] = {0xa5, 'S', 'e', 'q', 'N', 'o', 0x2a};
    size_t off, cnt;

    if (n > 0 && p[0] == 2)
        return memmem(p, n, seq, sizeof(seq)) != NULL;
    if (n < 2 || p[0] != 7)
        return 0;
    cnt = p[1];
    off = 2 + 2 * cnt;
    for (size_t i = 0; i < cnt && 2 + 2 * i + 1 < n; i++) {
        size_t len = (size_t)p[2 + 2 * i] << 8 | p[3 + 2 * i];
        if (off + len > n)
            return 0;
        if (is_ack(p + off, len))
            return 1;
        off += len;
    }
    return 0;
}

int main(void)
{
    int base = 20000 + (int)(getpid() % 20000) / 4 * 4;
    char bind_a[64], adv_a[64], bind_b[64], rpc_a[64], rpc_b[64], join[64], ours[64];
    pid_t a = -1, b = -1, j = -1;
    crypto_state_t good, wrong;
    uint8_t pkt[65536];
    hm_buf_t out = {0};
    int udp, tcp;

    if (mkdtemp(dir) == NULL) {
        ok(0, "temp dir");
        return done_testing();
    }
    state_init(&good, KEY);
    state_init(&wrong, WRONG);
    /* a binds 127.0.61.1 but tells the cluster it lives at 127.0.61.3,
     * where this test listens; b joins a directly. */
    snprintf(bind_a, sizeof(bind_a), "-bind=127.0.61.1:%d", base);
    snprintf(adv_a, sizeof(adv_a), "-advertise=127.0.61.3:%d", base);
    snprintf(bind_b, sizeof(bind_b), "-bind=127.0.61.2:%d", base);
    snprintf(rpc_a, sizeof(rpc_a), "-rpc-addr=127.0.61.1:%d", base + 1);
    snprintf(rpc_b, sizeof(rpc_b), "-rpc-addr=127.0.61.2:%d", base + 1);
    snprintf(join, sizeof(join), "-join=127.0.61.1:%d", base);
    snprintf(ours, sizeof(ours), "127.0.61.4:%d", base);

    udp = sock_at(SOCK_DGRAM, "127.0.61.3", base);
    tcp = sock_at(SOCK_STREAM, "127.0.61.4", base);
    ok(udp >= 0 && tcp >= 0, "listening on 127.0.61.3:%d/udp and 127.0.61.4:%d/tcp", base, base);

    char *argv_a[] = {"serf",
                      "agent",
                      "-node=a",
                      bind_a,
                      adv_a,
                      rpc_a,
                      "-encrypt=" KEY,
                      "-disable-compression",
                      "-log-level=debug",
                      NULL};
    a = spawn("a.log", argv_a);
    ok(a > 0, "serf agent a started (pid %d)", (int)a);

    /* b's join must wait until a listens: retry_join polls for us. */
    snprintf(join, sizeof(join), "-retry-join=127.0.61.1:%d", base);
    char *argv_b[] = {"serf",
                      "agent",
                      "-node=b",
                      bind_b,
                      rpc_b,
                      "-encrypt=" KEY,
                      join,
                      "-retry-interval=1s",
                      "-log-level=debug",
                      NULL};
    b = spawn("b.log", argv_b);
    ok(b > 0, "serf agent b started (pid %d)", (int)b);

    /* UDP: b probes a at the advertised address, i.e. us. */
    {
        long long deadline = now_ms() + 30000;
        ssize_t n = -1;
        int got = 0;
        while (!got && wait_readable(udp, deadline)) {
            n = recv(udp, pkt, sizeof(pkt), 0);
            got = n > 0;
        }
        ok(got, "captured an encrypted datagram from serf (%zd bytes)", n);
        if (got) {
            ok(pkt[0] == 1, "serf 0.9.4 sends encryption version 1");
            hm_buf_reset(&out);
            int rc = crypto_packet_in(&good, pkt, (size_t)n, &out);
            ok(rc == HM_OK && out.len == (size_t)n - 29,
               "decrypted with the cluster key (%zu bytes plain)", out.len);
            ok(out.len > 0 && known_type(out.data[0]),
               "plaintext is a memberlist message (type %d)", out.len ? out.data[0] : -1);
            ok(plain_valid(out.data, out.len), "and a well-formed one (CRC / compound / msgpack)");
            hm_buf_reset(&out);
            ok(crypto_packet_in(&wrong, pkt, (size_t)n, &out) == HM_DROP && wrong.packets_bad == 1,
               "wrong key: dropped and counted");
            hm_buf_reset(&out);
            ok(crypto_packet_in(&good, pkt + 29, (size_t)n - 29, &out) == HM_DROP &&
                   good.packets_bad == 1,
               "garbage/plaintext dropped with verify_incoming, counted");
        } else {
            for (int i = 0; i < 4; i++)
                ok(0, "no datagram to check");
        }
    }

    /* The other way: a ping we encrypt must be acked by serf, encrypted. */
    {
        static const uint8_t ping[] = {0x00, 0x82, 0xa4, 'N', 'o', 'd', 'e', 0xa1,
                                       'a',  0xa5, 'S',  'e', 'q', 'N', 'o', 0x2a};
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)base)};
        long long deadline = now_ms() + 20000;
        int acked = 0;

        inet_pton(AF_INET, "127.0.61.1", &to.sin_addr);
        hm_buf_reset(&out);
        ok(crypto_packet_out(&good, ping, sizeof(ping), &out) == HM_OK, "ping sealed");
        sendto(udp, out.data, out.len, 0, (struct sockaddr *)&to, sizeof(to));
        while (!acked && wait_readable(udp, deadline)) {
            ssize_t n = recv(udp, pkt, sizeof(pkt), 0);
            hm_buf_reset(&out);
            if (n <= 0 || crypto_packet_in(&good, pkt, (size_t)n, &out) != HM_OK)
                continue;
            acked = is_ack(out.data, out.len);
        }
        ok(acked, "serf accepted our encrypted ping and sent an encrypted ack (SeqNo 42)");
    }

    /* TCP: `serf join` through a's RPC makes a push/pull to us. */
    {
        char rpc[64];
        snprintf(rpc, sizeof(rpc), "-rpc-addr=127.0.61.1:%d", base + 1);
        char *argv_j[] = {"serf", "join", rpc, ours, NULL};
        long long deadline = now_ms() + 30000;
        hm_buf_t in = {0};
        size_t used = 0;
        int rc = HM_AGAIN, c = -1;

        j = spawn("join.log", argv_j);
        if (wait_readable(tcp, deadline))
            c = accept(tcp, NULL, NULL);
        ok(c >= 0, "serf connected over TCP");
        while (c >= 0 && rc == HM_AGAIN && wait_readable(c, deadline)) {
            uint8_t buf[4096];
            ssize_t n = read(c, buf, sizeof(buf));
            if (n <= 0)
                break;
            hm_buf_append(&in, buf, (size_t)n);
            hm_buf_reset(&out);
            rc = crypto_stream_in(&good, in.data, in.len, &out, &used);
        }
        ok(rc == HM_OK && used == in.len, "stream frame [10][len][blob] decrypted (%zu bytes)",
           used);
        ok(out.len > 0 && (out.data[0] == 9 || out.data[0] == 6),
           "stream plaintext is push/pull or compressed push/pull (type %d)",
           out.len ? out.data[0] : -1);
        if (in.len > 0) {
            hm_buf_reset(&out);
            ok(crypto_stream_in(&wrong, in.data, in.len, &out, &used) == HM_DROP &&
                   wrong.streams_bad == 1,
               "stream with the wrong key dropped and counted");
        } else {
            ok(0, "no stream captured");
        }
        if (c >= 0)
            close(c);
        hm_buf_free(&in);
    }

    stop(j);
    stop(b);
    stop(a);
    close(udp);
    close(tcp);
    if (!tap_failed) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            diag("could not remove %s", dir);
    } else {
        diag("serf logs kept in %s", dir);
    }
    crypto_keyring_free(&good.ring);
    crypto_keyring_free(&wrong.ring);
    hm_buf_free(&out);
    return done_testing();
}
