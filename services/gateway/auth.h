/* auth.h - the gateway's authentication: bearer tokens (JWT) checked against a key set read from a file named by
 * LTC_GATEWAY_JWT_KEYS (docs/security.md):
 *
 *   {"issuer": "https://idp.example.com", "audience": "ltc", "leeway_seconds": 30,
 *    "keys": [{"kid": "2026-11", "alg": "RS256", "file": "idp-2026-11.pub.pem"},
 *             {"kid": "batch", "alg": "HS256", "file": "batch.secret"}]}
 *
 * Each key allows exactly one algorithm (HS256/384/512, RS256/384/512, ES256/384/512); a token's header must name
 * the key (kid; optional when the set has one key) and that key's algorithm, or it is refused before any signature
 * is checked: no "none", no algorithm chosen by the token (an HS256 token "signed" with an RS256 public key fails).
 * Signatures are checked by libjwt (OpenSSL). Claims: iss equal to the issuer, aud equal to (or an array holding)
 * the audience, exp required and in the future, nbf (when present) not in the future, both within the leeway, and the
 * life exp - iat (exp - now without iat) at most "max_lifetime_seconds" (default a day); sub is the principal; the
 * roles are at the JSON Pointer "roles_claim" (default "/roles"): an array of role names, or one string of them
 * (ltc/access.h). Key files are relative to the key set's folder. "jwks_file" names a JWK Set (RFC 7517) whose RSA
 * and EC public keys join "keys" (each with its kid; alg from the JWK, else from the key's type and curve).
 *
 * The key set is re-read while the gateway runs (gw_keys; ltc/reload.h: SIGHUP, or a change of the key set or of a
 * key file it names): a rotation adds the new kid beside the old one, then removes the old one. A key set that does
 * not load is refused (logged, ltc_reload_total{material="jwt_keys",result="refused"}) and the one in use stays. */
#ifndef LTC_GATEWAY_AUTH_H
#define LTC_GATEWAY_AUTH_H

#include <stddef.h>
#include <time.h>

#include "ltc/status.h"

typedef struct gw_auth gw_auth;

typedef struct gw_principal {
    char subject[129];
    unsigned roles;
    long expires; /* exp, seconds since the epoch */
} gw_principal;

/* Reads the key set. NULL with err set (naming the file and what is wrong). */
gw_auth *gw_auth_load(const char *path, char *err, size_t errlen);
void gw_auth_free(gw_auth *a);
size_t gw_auth_key_count(const gw_auth *a);

/* Checks the value of an `authorization` header ("Bearer <jwt>"; NULL when absent) at time `now`. 0 with *p set,
 * or -1 with st UNAUTHENTICATED (reason MISSING_TOKEN, MALFORMED_TOKEN, UNKNOWN_KEY, ALGORITHM_NOT_ALLOWED,
 * BAD_SIGNATURE, TOKEN_EXPIRED, TOKEN_LIFETIME_TOO_LONG, TOKEN_NOT_YET_VALID, WRONG_ISSUER, WRONG_AUDIENCE,
 * NO_SUBJECT). */
int gw_auth_check(const gw_auth *a, const char *authorization, time_t now, gw_principal *p, ltc_status *st);

/* The key set at `path`, re-read while running (registered as "jwt_keys"). NULL with err set. */
typedef struct gw_keys gw_keys;
gw_keys *gw_keys_open(const char *path, char *err, size_t errlen);
void gw_keys_close(gw_keys *k); /* NULL-safe; after every user is gone */
/* The key set in use, valid until released (a reload meanwhile does not free it). */
const gw_auth *gw_keys_acquire(gw_keys *k);
void gw_keys_release(gw_keys *k, const gw_auth *a);
/* Re-reads the key set when force or a file changed (ltc_reload_check_fn). 1 applied, 0 unchanged, -1 refused. */
int gw_keys_check(void *keys, int force);

#endif
