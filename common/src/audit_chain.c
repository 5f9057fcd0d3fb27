/* audit_chain.c - the audit trail's hash chain (ltc/audit_chain.h): the canonical text of a row, its hash, and the
 * walk that checks the links. Pure: no database, no call. The database's audit_log_canonical() (runtime migration
 * 009_audit_chain.sql) builds the same bytes; tests/unit/common/test_audit_chain.c pins one row's hash. */
#include "ltc/audit_chain.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

int ltc_audit_chain_hash(const uint8_t prev[32], const char *const fields[LTC_CHAIN_FIELDS], uint8_t out[32]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return -1;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, prev, 32) == 1;
    for (int i = 0; ok && i < LTC_CHAIN_FIELDS; i++) {
        if (!fields[i]) {
            ok = 0;
            break;
        }
        char len[24];
        size_t n = strlen(fields[i]);
        int k = snprintf(len, sizeof len, "%zu:", n);
        ok = EVP_DigestUpdate(ctx, len, (size_t)k) == 1 && EVP_DigestUpdate(ctx, fields[i], n) == 1 &&
             EVP_DigestUpdate(ctx, ";", 1) == 1;
    }
    unsigned int olen = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == 32;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

void ltc_audit_chain_hex(const uint8_t h[32], char out[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = 0;
}

static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ltc_audit_chain_unhex(const char *hex, uint8_t out[32]) {
    if (!hex || strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        int a = nibble(hex[2 * i]), b = nibble(hex[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

void ltc_audit_chain_walk_init(ltc_audit_chain_walk *w) { memset(w, 0, sizeof *w); }

int ltc_audit_chain_step(ltc_audit_chain_walk *w, int64_t position, const uint8_t prev[32], const uint8_t row_hash[32],
                         const char *const fields[LTC_CHAIN_FIELDS], ltc_audit_chain_problem problems[3],
                         int64_t *missing_from) {
    int n = 0;
    if (position != w->position + 1) {
        problems[n++] = LTC_CHAIN_GAP;
        if (missing_from) *missing_from = w->position + 1;
    } else if (memcmp(prev, w->hash, 32) != 0) {
        problems[n++] = LTC_CHAIN_BROKEN_LINK; /* after a gap the link cannot hold: the gap says it already */
    }
    uint8_t h[32];
    if (ltc_audit_chain_hash(prev, fields, h) != 0 || memcmp(h, row_hash, 32) != 0) problems[n++] = LTC_CHAIN_EDITED;
    w->position = position;
    memcpy(w->hash, row_hash, 32);
    w->checked++;
    return n;
}
