/* mod_crypto as the daemon drives it (through the real core, t/fakecore.c): keys from the
 * config, the transforms it registers, Serf's keyring queries answered
 * byte-compatibly with the keyring file rewritten, the origin side of a key
 * operation, and the RPC commands when <hamlet/rpc.h> is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakecore.h"
#include "tap.h"
#include "../modules/crypto/keyq.h"
#include "../modules/crypto/keyring.h"
#include "../modules/crypto/mod_crypto.h"

extern const hm_module_t hm_module;

#define K1 "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="
#define K2 "QHOYjmYlxSCBhdfiolhtDQ=="

static char dir[] = "/tmp/hm-modcrypto-XXXXXX", ring[128];

static const crypto_keyresp_dec_t *ask(const char *name, const char *b64)
{
    static crypto_keyresp_dec_t d;
    hm_buf_t p = {0};
    crypto_key_t k = {0};
    const char *err;
    hm_query_t q = {.ltime = 3, .id = 77, .name = name};

    crypto_keyresp_dec_free(&d);
    if (b64[0])
        crypto_key_parse(b64, &k, &err);
    crypto_keyreq_encode(k.k, k.len, &p);
    q.payload = p.data;
    q.len = p.len;
    fc.nresponses = 0;
    int rc = fc_query(name, &q);
    hm_buf_free(&p);
    if (rc != HM_OK || fc.nresponses != 1 ||
        crypto_keyresp_decode(fc.responses[0].data, fc.responses[0].len, &d, &err) < 0)
        return NULL;
    return &d;
}

static int done_calls;
static char done_err[128];
static int done_nkeys;

static void on_done(void *ud, const crypto_keyop_result_t *res, const char *err)
{
    done_calls++;
    snprintf(done_err, sizeof(done_err), "%s", err ? err : "");
    done_nkeys = (int)res->nkeys;
}

int main(void)
{
    hm_conf_node_t *conf = fc_map();
    const crypto_keyresp_dec_t *r;
    FILE *f;

    fc.self.name = "c1";
    fc.members = 2;
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(ring, sizeof(ring), "%s/keyring", dir);
    f = fopen(ring, "w");
    fprintf(f, "[\"%s\"]", K1);
    fclose(f);

    /* encrypt_key and keyring_file together: refused as Serf does. */
    fc_set(conf, "encrypt_key", K2);
    fc_set(conf, "keyring_file", ring);
    fc_defaults(conf, hm_module.keys);
    is_int(hm_module.init(fc_ctx(), conf), HM_ERROR, "encrypt_key with keyring_file refused");
    ok(strstr(fc.last_log, "Encryption key not allowed while using a keyring") != NULL,
       "Serf's message");
    hm_module.fini(fc_ctx());
    fc_free(conf);
    fc_reset();
    fc.self.name = "c1";
    fc.members = 2;

    conf = fc_map();
    fc_set(conf, "keyring_file", ring);
    fc_defaults(conf, hm_module.keys);
    is_int(hm_module.init(fc_ctx(), conf), HM_OK, "init with a keyring file");
    ok(fc_hooks("packet_out") == 1 && fc_hooks("packet_in") == 1 && fc_hooks("stream_out") == 1 &&
           fc_hooks("stream_in") == 1,
       "packet and stream transforms registered");
    is_int(hm_hooks_packet_overhead(fc_daemon()), 29, "packet overhead 29 (version 1)");
    is_int(fc_hooks("query"), 4, "four keyring queries registered");
    is_int(fc_hooks("rpc"), 4, "four RPC commands registered");

    r = ask("_serf_list-keys", "");
    ok(r && r->result && r->nkeys == 1 && strcmp(r->keys[0], K1) == 0 &&
           strcmp(r->primary, K1) == 0,
       "list-keys: the file's key, primary");
    r = ask("_serf_install-key", K2);
    ok(r && r->result && r->keys == NULL && strcmp(r->message, "") == 0,
       "install-key: Result true, Keys nil");
    is_str(fc_slurp(ring), "[\n  \"" K1 "\",\n  \"" K2 "\"\n]", "keyring file rewritten");
    r = ask("_serf_use-key", K2);
    ok(r && r->result, "use-key");
    is_str(fc_slurp(ring), "[\n  \"" K2 "\",\n  \"" K1 "\"\n]", "new primary first in the file");
    r = ask("_serf_remove-key", K2);
    ok(r && !r->result && strcmp(r->message, "Removing the primary key is not allowed") == 0,
       "remove primary refused with Serf's message");
    r = ask("_serf_use-key", "AAAAAAAAAAAAAAAAAAAAAA==");
    ok(r && !r->result && strcmp(r->message, "Requested key is not in the keyring") == 0,
       "use unknown key refused");
    r = ask("_serf_install-key", "AAAA");
    ok(r && !r->result && strcmp(r->message, "key size must be 16, 24 or 32 bytes") == 0,
       "install bad size refused");
    r = ask("_serf_remove-key", K1);
    ok(r && r->result, "remove the secondary");
    r = ask("_serf_list-keys", "");
    ok(r && r->nkeys == 1 && strcmp(r->primary, K2) == 0, "one key left, the new primary");
    {
        hm_query_t q = {
            .name = "_serf_install-key", .payload = (const uint8_t *)"\x07\x91", .len = 2};
        fc.nresponses = 0;
        fc_query("_serf_install-key", &q);
        ok(fc.nresponses == 1 && fc.responses[0].data[0] == 8,
           "undecodable request still answered (Result false)");
    }

    /* Traffic: a plain packet is dropped with verify_incoming and counted. */
    {
        hm_buf_t out = {0};
        static const uint8_t ping[] = {0, 0x80};
        ok(hm_run_packet_in(fc_daemon(), ping, 2, &out) == HM_DROP, "plaintext dropped");
        is_int(fc_metric("crypto.packets_bad"), 1, "drop counted in the metrics");
        ok(hm_run_packet_out(fc_daemon(), ping, 2, &out) == HM_OK && out.len == 31,
           "outgoing packet sealed");
        hm_buf_t back = {0};
        ok(hm_run_packet_in(fc_daemon(), out.data, out.len, &back) == HM_OK && back.len == 2,
           "and opened again");
        hm_buf_free(&out);
        hm_buf_free(&back);
    }

    /* Origin side: install-key across 2 nodes, one fails. */
    {
        char err[128];
        hm_buf_t ok1 = {0}, bad = {0};
        crypto_keyresp_t a = {true, "", NULL, 0, ""};
        crypto_keyresp_t b = {false, "Requested key is not in the keyring", NULL, 0, ""};
        ok(mod_crypto_keyop(fc_ctx(), "use-key", K1, 0, on_done, NULL, err, sizeof(err)) == 0,
           "key operation started");
        is_str(fc.sent_name, "_serf_use-key", "query name");
        ok(fc.sent.len == 1 + 1 + 4 + 3 + 32 && fc.sent_payload[0] == 7 &&
               fc.sent_payload[6] == 0xda,
           "payload [7]{Key: da 00 20 + 32 raw bytes}");
        crypto_keyresp_encode(&a, &ok1);
        crypto_keyresp_encode(&b, &bad);
        fc.sent_fn(fc.sent_ud, HM_QUERY_ACK, "c2", NULL, 0);
        fc.sent_fn(fc.sent_ud, HM_QUERY_RESPONSE, "c1", ok1.data, ok1.len);
        is_int(done_calls, 0, "not done while a node has not answered");
        fc.sent_fn(fc.sent_ud, HM_QUERY_RESPONSE, "c2", bad.data, bad.len);
        is_int(done_calls, 1, "done as soon as every node answered");
        is_str(done_err, "1/2 nodes reported failure", "Serf's overall error");
        fc.sent_fn(fc.sent_ud, HM_QUERY_RESPONSE, "c2", bad.data, bad.len);
        fc.sent_fn(fc.sent_ud, HM_QUERY_DONE, NULL, NULL, 0);
        is_int(done_calls, 1, "later copies and the end change nothing");
        ok(mod_crypto_keyop(fc_ctx(), "list-keys", "", 0, on_done, NULL, err, sizeof(err)) == 0,
           "a second operation");
        fc.sent_fn(fc.sent_ud, HM_QUERY_RESPONSE, "c1", ok1.data, ok1.len);
        fc.sent_fn(fc.sent_ud, HM_QUERY_DONE, NULL, NULL, 0);
        is_int(done_calls, 2, "reported at the end when a node never answers");
        is_str(done_err, "1/2 nodes reported success", "Serf's partial-success error");
        ok(mod_crypto_keyop(fc_ctx(), "use-key", "!!", 0, on_done, NULL, err, sizeof(err)) < 0,
           "bad base64 refused before sending");
        hm_buf_free(&ok1);
        hm_buf_free(&bad);
    }
    hm_module.fini(fc_ctx());
    fc_free(conf);

    /* No key at all: the queries answer as an unencrypted Serf does. */
    fc_reset();
    fc.self.name = "c1";
    conf = fc_map();
    fc_defaults(conf, hm_module.keys);
    is_int(hm_module.init(fc_ctx(), conf), HM_OK, "init without keys");
    is_int(hm_hooks_packet_overhead(fc_daemon()), 0, "no overhead without a key");
    r = ask("_serf_install-key", K1);
    ok(r && !r->result && strcmp(r->message, "No keyring to modify (encryption not enabled)") == 0,
       "install without keyring: Serf's message");
    r = ask("_serf_list-keys", "");
    ok(r && !r->result && strcmp(r->message, "Keyring is empty (encryption not enabled)") == 0,
       "list without keyring: Serf's message");
    hm_module.fini(fc_ctx());
    fc_free(conf);

    unlink(ring);
    rmdir(dir);
    return done_testing();
}
