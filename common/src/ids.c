/* ids.c - random UUIDs and "collection/{uuid}" resource names (see ltc/ids.h). */
#include "ltc/ids.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

/* Random bytes from OpenSSL's CSPRNG, drawn 4 KiB at a time per thread: one RAND_bytes call (and its locking)
 * serves 256 UUIDs, where a call per id cost more than the rest of a gateway hop's id work (bench/profile). */
enum {
    POOL = 4096
};
static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_used = POOL;

void ltc_random_bytes(void *out, size_t n) {
    unsigned char *o = out;
    while (n > 0) {
        if (pool_used == POOL) {
            if (RAND_bytes(pool, POOL) != 1 && getrandom(pool, POOL, 0) != (ssize_t)POOL) abort();
            pool_used = 0;
        }
        size_t k = POOL - pool_used < n ? POOL - pool_used : n;
        memcpy(o, pool + pool_used, k);
        memset(pool + pool_used, 0, k); /* handed out once */
        pool_used += k;
        o += k;
        n -= k;
    }
}

void ltc_hex(const void *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

void ltc_uuid_new(char out[LTC_UUID_LEN + 1]) {
    uuid_t u;
    ltc_random_bytes(u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, out);
}

void ltc_uuid_new_v7(char out[LTC_UUID_LEN + 1]) {
    uuid_t u;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    ltc_random_bytes(u + 6, sizeof u - 6);
    for (int i = 0; i < 6; i++) u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x70); /* version 7 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, out);
}

static int is_hex(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

/* 8-4-4-4-12 hex digits, any case; no braces, no "urn:uuid:" prefix, nothing after. */
int ltc_uuid_valid(const char *s) {
    if (!s) return 0;
    for (int i = 0; i < LTC_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!is_hex(s[i])) {
            return 0; /* also stops at the NUL of a short string */
        }
    }
    return s[LTC_UUID_LEN] == '\0';
}

int ltc_name_parse(const char *name, const char *collection, const char *field, char id_out[LTC_UUID_LEN + 1],
                   ltc_status *st) {
    id_out[0] = '\0';
    if (!name || !*name) return ltc_status_bad_field(st, field, "required; must be \"%s/{uuid}\"", collection);
    size_t n = strlen(collection);
    if (strncmp(name, collection, n) != 0 || name[n] != '/' || !ltc_uuid_valid(name + n + 1))
        return ltc_status_bad_field(st, field, "must be \"%s/{uuid}\"", collection);
    const char *id = name + n + 1;
    for (int i = 0; i < LTC_UUID_LEN; i++) {
        char ch = id[i];
        id_out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    id_out[LTC_UUID_LEN] = '\0';
    return 0;
}
