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
 * (ltc/access.h). Key files are relative to the key set's folder. */
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

#endif
