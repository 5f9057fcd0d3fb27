/* fuzz_check.h - what every fuzz target checks besides "no crash, no leak, no undefined behaviour": the status a
 * failed call carries is well formed, and its google.rpc.Status details (the grpc-status-details-bin trailer every
 * client decodes) pack, decode back, and hold only valid UTF-8 (proto3 strings: a client in Python, Go or Java
 * refuses the whole trailer otherwise). A broken property abort()s, which libFuzzer reports as a crash. */
#ifndef LTC_FUZZ_CHECK_H
#define LTC_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ltc/status.h"

#define FUZZ_REQUIRE(cond, ...)                                                                                        \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz property broken at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (i + k >= n) return 0; /* the sequence needs bytes i+1 .. i+k */
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            c = (c << 6) | (s[i + j] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* LTC_FUZZ_UTF8=0 skips the UTF-8 property (to look for other failures while a known one is being fixed). */
static inline int fuzz_str_ok(const char *s) {
    static int check = -1;
    if (check < 0) check = !(getenv("LTC_FUZZ_UTF8") && strcmp(getenv("LTC_FUZZ_UTF8"), "0") == 0);
    return s && (!check || fuzz_utf8_valid((const unsigned char *)s, strlen(s)));
}

/* Checks the details a failed call would send: they pack, decode as google.rpc.Status with the same code, every
 * string is valid UTF-8, and ErrorInfo.reason is the status's reason. */
static inline void fuzz_check_details(const ltc_status *st) {
    size_t len = 0;
    uint8_t *buf = ltc_status_pack_details(st, "fuzz.ltc", "3f0c8a52-7a4e-4a4b-9d51-5a3e0d1f2b6c", &len);
    FUZZ_REQUIRE(buf != NULL, "ltc_status_pack_details failed for %s %s", ltc_code_name(st->code), st->reason);
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, len, buf);
    FUZZ_REQUIRE(s != NULL, "packed details do not decode as google.rpc.Status");
    FUZZ_REQUIRE(s->code == (int32_t)st->code, "details code %d != %d", s->code, (int)st->code);
    FUZZ_REQUIRE(fuzz_str_ok(s->message), "google.rpc.Status.message is not valid UTF-8: %s", st->message);
    for (size_t i = 0; i < s->n_details; i++) {
        const Google__Protobuf__Any *any = s->details[i];
        const char *type = strrchr(any->type_url, '/');
        type = type ? type + 1 : "";
        if (strcmp(type, "google.rpc.ErrorInfo") == 0) {
            Google__Rpc__ErrorInfo *info = google__rpc__error_info__unpack(NULL, any->value.len, any->value.data);
            FUZZ_REQUIRE(info != NULL, "ErrorInfo does not decode");
            FUZZ_REQUIRE(fuzz_str_ok(info->reason) && fuzz_str_ok(info->domain), "ErrorInfo not UTF-8");
            for (size_t j = 0; j < info->n_metadata; j++)
                FUZZ_REQUIRE(fuzz_str_ok(info->metadata[j]->key) && fuzz_str_ok(info->metadata[j]->value),
                             "ErrorInfo.metadata not UTF-8");
            FUZZ_REQUIRE(strcmp(info->reason, st->reason) == 0, "ErrorInfo.reason %s != %s", info->reason, st->reason);
            google__rpc__error_info__free_unpacked(info, NULL);
        } else if (strcmp(type, "google.rpc.BadRequest") == 0) {
            Google__Rpc__BadRequest *bad = google__rpc__bad_request__unpack(NULL, any->value.len, any->value.data);
            FUZZ_REQUIRE(bad != NULL, "BadRequest does not decode");
            for (size_t j = 0; j < bad->n_field_violations; j++) {
                const Google__Rpc__BadRequest__FieldViolation *v = bad->field_violations[j];
                FUZZ_REQUIRE(fuzz_str_ok(v->field), "BadRequest field path not UTF-8");
                FUZZ_REQUIRE(fuzz_str_ok(v->description), "BadRequest description of %s is not valid UTF-8: %s",
                             v->field, v->description);
            }
            google__rpc__bad_request__free_unpacked(bad, NULL);
        }
    }
    google__rpc__status__free_unpacked(s, NULL);
    free(buf);
}

/* A failed call's status: not OK, never INTERNAL/UNKNOWN/DATA_LOSS for bad input (those mean a bug), a reason, a
 * message, and for field violations a non-empty path and description each; then its details (above). */
static inline void fuzz_check_failure(const ltc_status *st, const char *what) {
    FUZZ_REQUIRE(st->code != LTC_OK, "%s failed with status OK", what);
    FUZZ_REQUIRE(st->code != LTC_INTERNAL && st->code != LTC_UNKNOWN && st->code != LTC_DATA_LOSS, "%s: %s %s: %s",
                 what, ltc_code_name(st->code), st->reason, st->message);
    FUZZ_REQUIRE(st->reason[0] != 0, "%s: %s without a reason", what, ltc_code_name(st->code));
    FUZZ_REQUIRE(st->message[0] != 0, "%s: %s without a message", what, ltc_code_name(st->code));
    FUZZ_REQUIRE(st->n_violations <= LTC_STATUS_MAX_VIOLATIONS, "%s: %zu violations", what, st->n_violations);
    if (strcmp(st->reason, "INVALID_ARGUMENT") == 0)
        FUZZ_REQUIRE(st->n_violations > 0, "%s: INVALID_ARGUMENT without a field violation: %s", what, st->message);
    for (size_t i = 0; i < st->n_violations; i++)
        FUZZ_REQUIRE(st->violations[i].field[0] && st->violations[i].description[0], "%s: empty violation %zu", what,
                     i);
    fuzz_check_details(st);
}

#endif
