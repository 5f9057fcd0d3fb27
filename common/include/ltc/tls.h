/* ltc/tls.h - transport security: certificates and keys read from files, for gRPC's OpenSSL-backed credentials.
 *
 * Two uses:
 *  - the internal identity of a process (mTLS between the gateway and the stage services): its certificate (whose
 *    URI SAN spiffe://ltc/<name> is the process's identity: "gateway", "ltb", "bto", "otd", "dtc", "ops"; the
 *    Common Name is not read), its key and the mesh CA that signs every internal certificate. Loaded at start by
 *    ltc_tls_internal_from_env; servers then require and verify
 *    client certificates and clients present theirs.
 *  - the gateway's public listener: a server certificate and key only (clients authenticate with tokens).
 * Without them a process speaks plaintext, which only an explicit LTC_PLAINTEXT=1 allows (local development).
 *
 * Both are an ltc_tls_source: the files are re-read while the process runs (ltc/reload.h: SIGHUP, or a change seen by
 * the watcher), checked exactly as at start, and swapped in; each swap raises the source's generation. Servers hand
 * new handshakes the new material (gRPC's certificate config fetcher, common/src/server.c) and clients build new
 * channels (common/src/client.c); connections and calls under way keep the material they started with. A bad new
 * file is refused (logged, counted in ltc_reload_total) and the old material stays in use. */
#ifndef LTC_TLS_H
#define LTC_TLS_H

#include <stddef.h>

#include "ltc/status.h"

typedef struct ltc_tls {
    char *cert_pem; /* certificate chain */
    char *key_pem;  /* private key */
    char *ca_pem;   /* roots to verify the peer with; NULL: none (a public server that asks for no client cert) */
} ltc_tls;

/* Reads the PEM files (ca_file may be NULL). 0, or -1 with st naming the file that failed. Never logs contents. */
int ltc_tls_load(ltc_tls *t, const char *cert_file, const char *key_file, const char *ca_file, ltc_status *st);
void ltc_tls_free(ltc_tls *t); /* wipes the key; NULL-safe */

typedef struct ltc_tls_source ltc_tls_source;
/* Reads and checks the files (ca_file may be NULL) and registers the source for reloading. `material` names it in
 * logs and metrics ("tls_internal", "tls_public"). NULL with st set. */
ltc_tls_source *ltc_tls_source_open(const char *material, const char *cert_file, const char *key_file,
                                    const char *ca_file, ltc_status *st);
void ltc_tls_source_close(ltc_tls_source *s); /* NULL-safe; after every user is gone */
/* The current material, valid until released (a reload meanwhile does not free it). */
const ltc_tls *ltc_tls_source_acquire(ltc_tls_source *s);
void ltc_tls_source_release(ltc_tls_source *s, const ltc_tls *t);
/* 1 after open, one more for every reload applied. */
unsigned long ltc_tls_source_generation(ltc_tls_source *s);
/* Serial number of the current certificate, in hex ("1A2B"), for logs and tests. */
void ltc_tls_source_serial(ltc_tls_source *s, char *out, size_t n);
/* Re-reads the files when force or they changed (ltc_reload_check_fn). 1 applied, 0 unchanged, -1 refused. */
int ltc_tls_source_check(void *source, int force);

/* Loads the internal identity from LTC_TLS_CERT, LTC_TLS_KEY and LTC_TLS_CA (all three, or none with
 * LTC_PLAINTEXT=1). 1 when loaded (mTLS), 0 when plaintext was chosen, -1 with err set on a bad configuration. */
int ltc_tls_internal_from_env(char *err, size_t errlen);
/* The process's internal identity, or NULL when it speaks plaintext. A reload must keep its URI SAN identity. */
ltc_tls_source *ltc_tls_internal(void);
/* The identity named by the internal certificate's URI SAN spiffe://ltc/<name> ("ltb"), or "" in plaintext. */
const char *ltc_tls_identity(void);
void ltc_tls_internal_free(void);

/* The identity in a SPIFFE id of this deployment: "spiffe://ltc/bto" gives "bto" (1-32 of a-z 0-9 -). 0, or -1 for
 * anything else (another trust domain, a longer path, an empty or odd name). */
int ltc_tls_spiffe_name(const char *uri, char *name, size_t n);

/* Whether LTC_PLAINTEXT=1 was set explicitly (local development only; logged as a warning). */
int ltc_plaintext_allowed(void);

#endif
