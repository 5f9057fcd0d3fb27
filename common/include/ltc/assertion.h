/* ltc/assertion.h - the identity the gateway vouches for, signed (docs/security.md, "Identity the stages verify").
 *
 * The gateway authenticates a user's bearer token and forwards the call to a stage with an *assertion*: a short-lived
 * statement "principal P with roles R calls method M on stage S", signed with the gateway's own Ed25519 key
 * (LTC_GATEWAY_ASSERTION_KEY). Each stage verifies it with the gateway's public key (LTC_ASSERTION_PUBLIC_KEY) and
 * takes the principal and roles from it alone: holding the gateway's client certificate is no longer enough to act as
 * anyone. An assertion is for one stage (aud) and one method, lives seconds, and is accepted once per process.
 *
 * Form (metadata x-ltc-assertion): "v1." base64url(JSON payload) "." base64url(Ed25519 signature of the text before
 * the second dot). Payload: {"sub", "roles" ("sales,manager"), "aud" ("ltb"), "mth" (method path), "jti" (random, 8-64
 * characters), "iat", "exp"}. */
#ifndef LTC_ASSERTION_H
#define LTC_ASSERTION_H

#include <stddef.h>
#include <time.h>

#include "ltc/status.h"

typedef struct evp_pkey_st EVP_PKEY;

/* The longest life an assertion may claim (exp - iat), and the clock skew allowed between gateway and stage. */
#define LTC_ASSERTION_MAX_LIFE 60
#define LTC_ASSERTION_SKEW 5

/* An Ed25519 key from a PEM file: the private key (`private_key` 1, the gateway's) or the public key (0, the stages').
 * NULL with err set. */
EVP_PKEY *ltc_assertion_load_key(const char *path, int private_key, char *err, size_t errlen);
void ltc_assertion_free_key(EVP_PKEY *k); /* NULL-safe */

/* The keys of a PEM file, re-read while running (ltc/reload.h). The gateway's private key (`private_key` 1): exactly
 * one. The stages' public keys (0): 1 to LTC_ASSERTION_MAX_KEYS PEM public keys one after another, each accepted: a
 * rotation puts the new key beside the old one, then the gateway signs with the new key, then the old one goes.
 * A bad new file is refused (logged, counted) and the keys in use stay. */
#define LTC_ASSERTION_MAX_KEYS 4
typedef struct ltc_keyring ltc_keyring;
/* Reads the file and registers it for reloading under `material` ("assertion_key"). NULL with err set. */
ltc_keyring *ltc_keyring_open(const char *material, const char *path, int private_key, char *err, size_t errlen);
void ltc_keyring_close(ltc_keyring *r); /* NULL-safe */
/* The current keys into keys[LTC_ASSERTION_MAX_KEYS], each held until ltc_keyring_release; returns how many. */
size_t ltc_keyring_acquire(ltc_keyring *r, EVP_PKEY **keys);
void ltc_keyring_release(EVP_PKEY **keys, size_t n);
/* Re-reads the file when force or it changed (ltc_reload_check_fn). 1 applied, 0 unchanged, -1 refused. */
int ltc_keyring_check(void *ring, int force);

/* Signs an assertion valid for `ttl` seconds from `now` into out (n bytes; 1024 is plenty). 0, or -1 (too long, or
 * the key cannot sign). */
int ltc_assertion_sign(EVP_PKEY *key, const char *sub, const char *roles, const char *aud, const char *method,
                       time_t now, int ttl, char *out, size_t n);

/* Verifies `token`, signed by any of the n_keys public keys, for stage `aud` and `method` at `now`, and that it was not accepted before by this process (a
 * replay). 0 with sub (129 bytes) and roles (96 bytes) filled in, or -1 with st UNAUTHENTICATED: BAD_ASSERTION
 * (malformed or a signature that does not verify), ASSERTION_FOR_ANOTHER_STAGE, ASSERTION_FOR_ANOTHER_METHOD,
 * ASSERTION_EXPIRED (also a life over LTC_ASSERTION_MAX_LIFE), ASSERTION_REPLAYED. */
int ltc_assertion_verify(EVP_PKEY *const *pubs, size_t n_keys, const char *token, const char *aud, const char *method,
                         time_t now, char sub[129], char roles[96], ltc_status *st);

/* The acting principal of a hand-off (metadata x-ltc-acting): the assertion the gateway signed for the user's call
 * that caused it, carried by the outbox row and sent by the relay (docs/security.md, "The acting principal through
 * hand-offs"). Verified with the gateway's keys as an assertion is, and its payload complete with `aud` a stage name,
 * but neither its expiry nor a replay is checked: a hand-off is delivered seconds to hours after the call, and more
 * than once (the receiver dedups by hand-off id), and a deal's several hand-offs carry the same assertion. It names
 * who acted; it grants nothing (a hand-off is authorised by its caller's certificate). 0 with sub, roles and aud (the
 * stage the user called, 17 bytes) filled in, or -1 with st UNAUTHENTICATED, BAD_ACTING_PRINCIPAL. */
int ltc_assertion_verify_carried(EVP_PKEY *const *pubs, size_t n_keys, const char *token, char sub[129], char roles[96],
                                 char aud[17], ltc_status *st);

#endif
