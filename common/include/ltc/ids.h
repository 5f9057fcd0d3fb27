/* ltc/ids.h - ids and resource names: UUIDs (libuuid) and "collection/{uuid}" names as in AIP-122. */
#ifndef LTC_IDS_H
#define LTC_IDS_H

#include <stddef.h>

#include "ltc/status.h"

#define LTC_UUID_LEN 36 /* text form, without the NUL */

/* n bytes from a cryptographically secure generator (OpenSSL), buffered per thread. */
void ltc_random_bytes(void *out, size_t n);
/* n bytes as 2n lower-case hex digits and a NUL. */
void ltc_hex(const void *bytes, size_t n, char *out);

/* A new random (v4) UUID in lower-case text form. out must hold LTC_UUID_LEN + 1 bytes. */
void ltc_uuid_new(char out[LTC_UUID_LEN + 1]);

/* A new time-ordered (v7, RFC 9562) UUID: the Unix time in milliseconds, then 74 random bits. For keys written in
 * bulk into a unique index, hand-off ids above all: ids made close in time sort close together, so a run's
 * thousands of inserts (the outbox, each receiver's inbox) land on the index's last pages instead of on a random
 * page each. It tells its creation time to whoever sees it: not for ids that must not. */
void ltc_uuid_new_v7(char out[LTC_UUID_LEN + 1]);

/* True when s is a UUID in canonical text form (any case). */
int ltc_uuid_valid(const char *s);

/* Parses `name` of the form "<collection>/<uuid>" (collection without the slash, e.g. "leads") into id_out (lower
 * case). On a missing or malformed name fails with INVALID_ARGUMENT naming `field`. */
int ltc_name_parse(const char *name, const char *collection, const char *field, char id_out[LTC_UUID_LEN + 1],
                   ltc_status *st);

#endif
