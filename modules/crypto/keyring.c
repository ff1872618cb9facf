/* The keyring and its file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "keyring.h"

int crypto_key_validate(size_t len, const char **err)
{
    if (len != 16 && len != 24 && len != 32) {
        *err = "key size must be 16, 24 or 32 bytes";
        return -1;
    }
    return 0;
}

static ssize_t ring_find(const crypto_keyring_t *kr, const uint8_t *k, size_t len)
{
    for (size_t i = 0; i < kr->n; i++)
        if (kr->v[i].len == len && memcmp(kr->v[i].k, k, len) == 0)
            return (ssize_t)i;
    return -1;
}

int crypto_keyring_add(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err)
{
    if (crypto_key_validate(len, err) < 0)
        return -1;
    if (ring_find(kr, k, len) >= 0)
        return 0;
    if (kr->n == kr->cap) {
        size_t cap = kr->cap ? kr->cap * 2 : 4;
        crypto_key_t *v = realloc(kr->v, cap * sizeof(*v));
        if (v == NULL) {
            *err = "out of memory";
            return -1;
        }
        kr->v = v;
        kr->cap = cap;
    }
    memset(&kr->v[kr->n], 0, sizeof(kr->v[0]));
    memcpy(kr->v[kr->n].k, k, len);
    kr->v[kr->n].len = (uint8_t)len;
    kr->n++;
    return 0;
}

int crypto_keyring_use(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err)
{
    ssize_t i = ring_find(kr, k, len);
    crypto_key_t t;

    if (i < 0) {
        *err = "Requested key is not in the keyring";
        return -1;
    }
    /* memberlist's installKeys: the new primary first, the others in order. */
    t = kr->v[i];
    memmove(&kr->v[1], &kr->v[0], (size_t)i * sizeof(t));
    kr->v[0] = t;
    return 0;
}

int crypto_keyring_remove(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err)
{
    ssize_t i = ring_find(kr, k, len);

    if (i == 0) {
        *err = "Removing the primary key is not allowed";
        return -1;
    }
    if (i > 0) {
        memmove(&kr->v[i], &kr->v[i + 1], (kr->n - (size_t)i - 1) * sizeof(kr->v[0]));
        kr->n--;
    }
    return 0;
}

const crypto_key_t *crypto_keyring_primary(const crypto_keyring_t *kr)
{
    return kr->n ? &kr->v[0] : NULL;
}

void crypto_keyring_free(crypto_keyring_t *kr)
{
    if (kr->v)
        OPENSSL_cleanse(kr->v, kr->cap * sizeof(kr->v[0]));
    free(kr->v);
    memset(kr, 0, sizeof(*kr));
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int crypto_b64_decode(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s), o = 0;

    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            v[j] = b64_val((unsigned char)s[i + j]);
            if (s[i + j] == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (v[j] < 0 || pad > 0) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        /* Go rejects non-zero bits left over in a padded quantum. */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        if (o + 3 - (size_t)pad > cap)
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)w;
    }
    *len = o;
    return 0;
}

void crypto_b64_encode(const uint8_t *k, size_t len, char out[CRYPTO_B64_MAX])
{
    if (len > CRYPTO_KEY_MAX)
        len = CRYPTO_KEY_MAX;
    EVP_EncodeBlock((unsigned char *)out, k, (int)len);
}

int crypto_key_parse(const char *b64, crypto_key_t *out, const char **err)
{
    size_t len;

    memset(out, 0, sizeof(*out));
    if (crypto_b64_decode(b64, out->k, sizeof(out->k), &len) < 0) {
        /* A longer valid string decodes into too many bytes: size error. */
        uint8_t big[3 * 1024];
        if (strlen(b64) < 4 * 1024 / 3 && crypto_b64_decode(b64, big, sizeof(big), &len) == 0)
            return crypto_key_validate(len, err);
        *err = "illegal base64 data";
        return -1;
    }
    out->len = (uint8_t)len;
    return crypto_key_validate(len, err);
}

int crypto_keyring_load(crypto_keyring_t *kr, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *arr = json_load_file(path, 0, &je);
    const char *e;
    size_t i;
    json_t *v;

    if (arr == NULL) {
        if (access(path, F_OK) != 0)
            snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
        else
            snprintf(err, errlen, "Failed to decode keyring file: %s", je.text);
        return -1;
    }
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "Failed to decode keyring file: not a JSON array");
        goto fail;
    }
    json_array_foreach(arr, i, v)
    {
        crypto_key_t k;
        if (!json_is_string(v)) {
            snprintf(err, errlen, "Failed to decode keyring file: key %zu is not a string", i);
            goto fail;
        }
        if (crypto_key_parse(json_string_value(v), &k, &e) < 0 ||
            crypto_keyring_add(kr, k.k, k.len, &e) < 0) {
            snprintf(err, errlen, "Failed to decode key from keyring: %s", e);
            goto fail;
        }
    }
    if (kr->n == 0) {
        snprintf(err, errlen, "Keyring file contains no keys");
        goto fail;
    }
    json_decref(arr);
    return 0;
fail:
    json_decref(arr);
    return -1;
}

int crypto_keyring_save(const crypto_keyring_t *kr, const char *path, char *err, size_t errlen)
{
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    FILE *f;
    int fd, bad;

    if (tmp == NULL) {
        snprintf(err, errlen, "Failed to write keyring file: out of memory");
        return -1;
    }
    snprintf(tmp, plen, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "Failed to write keyring file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        free(tmp);
        return -1;
    }
    /* json.MarshalIndent(keys, "", "  "): "[\n  \"k\",\n  \"k\"\n]", no final newline. */
    fputc('[', f);
    for (size_t i = 0; i < kr->n; i++) {
        char b[CRYPTO_B64_MAX];
        crypto_b64_encode(kr->v[i].k, kr->v[i].len, b);
        fprintf(f, "%s\n  \"%s\"", i ? "," : "", b);
    }
    fputs(kr->n ? "\n]" : "]", f);
    bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "Failed to write keyring file: %s", strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
