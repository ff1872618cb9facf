/*
 * mod_crypto's interface for the RPC glue (install-key, use-key,
 * remove-key, list-keys): run a key operation across the cluster the way
 * Serf's KeyManager does and report the tally.
 */
#ifndef MOD_CRYPTO_H
#define MOD_CRYPTO_H

#include <hamlet/hamlet.h>

#include "keyq.h"

/* `err` is Serf's overall error ("%d/%d nodes reported failure") or NULL. */
typedef void (*mod_crypto_done_fn)(void *ud, const crypto_keyop_result_t *res, const char *err);

/* op: "install-key", "use-key", "remove-key", "list-keys" (key ""). */
int mod_crypto_keyop(hm_ctx_t *ctx, const char *op, const char *key_b64, uint8_t relay_factor,
                     mod_crypto_done_fn done, void *ud, char *err, size_t errlen);

#endif
