/* status.c - ltc_status: codes, reasons, field violations, and their google.rpc.Status wire form. */
#include "ltc/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

static const char *const code_names[] = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};

const char *ltc_code_name(ltc_code code) {
    if ((int)code < 0 || (size_t)code >= sizeof code_names / sizeof code_names[0]) return "UNKNOWN";
    return code_names[code];
}

int ltc_code_is_retryable(ltc_code code) {
    switch (code) {
        case LTC_UNAVAILABLE:
        case LTC_DEADLINE_EXCEEDED:
        case LTC_ABORTED:
        case LTC_RESOURCE_EXHAUSTED:
        case LTC_INTERNAL:
        case LTC_UNKNOWN:
        case LTC_CANCELLED: return 1;
        default: return 0;
    }
}

void ltc_status_clear(ltc_status *st) {
    if (!st) return;
    free(st->raw_details);
    memset(st, 0, sizeof *st);
}

int ltc_status_meta(ltc_status *st, const char *key, const char *fmt, ...) {
    if (st->n_meta >= LTC_STATUS_MAX_META) return -1;
    snprintf(st->meta[st->n_meta].key, sizeof st->meta[st->n_meta].key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->meta[st->n_meta].value, sizeof st->meta[st->n_meta].value, fmt, ap);
    va_end(ap);
    ltc_utf8_clean(st->meta[st->n_meta].value);
    st->n_meta++;
    return -1;
}

/* Makes buf (NUL-terminated) valid UTF-8 in place: an invalid byte becomes '?', and a sequence cut short at the end
 * (by a truncating snprintf) is dropped. Details travel as proto3 strings, which clients refuse unless valid. */
void ltc_utf8_clean(char *buf) {
    unsigned char *p = (unsigned char *)buf;
    while (*p) {
        unsigned char c = *p;
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        int ok = n > 0;
        if (n == 2 && c < 0xc2) ok = 0; /* overlong */
        for (size_t i = 1; ok && i < n; i++) {
            if (p[i] == 0) { /* cut short: drop the partial sequence */
                *p = 0;
                return;
            }
            if ((p[i] & 0xc0) != 0x80) ok = 0;
        }
        if (ok && n == 3) {
            unsigned cp = ((c & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) ok = 0;
        }
        if (ok && n == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
            if (cp < 0x10000 || cp > 0x10ffff) ok = 0;
        }
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

int ltc_status_set(ltc_status *st, ltc_code code, const char *reason, const char *fmt, ...) {
    st->code = code;
    snprintf(st->reason, sizeof st->reason, "%s", reason ? reason : ltc_code_name(code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
    ltc_utf8_clean(st->reason);
    ltc_utf8_clean(st->message);
    return -1;
}

int ltc_status_bad_field(ltc_status *st, const char *field, const char *fmt, ...) {
    if (st->code != LTC_INVALID_ARGUMENT || st->n_violations == 0) {
        st->code = LTC_INVALID_ARGUMENT;
        snprintf(st->reason, sizeof st->reason, "INVALID_ARGUMENT");
        st->n_violations = 0;
    }
    char desc[sizeof st->violations[0].description];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    ltc_utf8_clean(desc);
    if (st->n_violations == 0) {
        snprintf(st->message, sizeof st->message, "invalid %s: %s", field, desc);
        ltc_utf8_clean(st->message);
    }
    if (st->n_violations < LTC_STATUS_MAX_VIOLATIONS) {
        ltc_field_violation *v = &st->violations[st->n_violations++];
        snprintf(v->field, sizeof v->field, "%s", field);
        snprintf(v->description, sizeof v->description, "%s", desc);
        ltc_utf8_clean(v->field);
        ltc_utf8_clean(v->description);
    }
    return -1;
}

/* Packs msg into an Any with the googleapis type URL. Returns 0 or -1. */
static int pack_any(Google__Protobuf__Any *any, const ProtobufCMessage *msg, const char *type_name) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return -1;
    protobuf_c_message_pack(msg, buf);
    size_t ul = strlen("type.googleapis.com/") + strlen(type_name) + 1;
    char *url = malloc(ul);
    if (!url) {
        free(buf);
        return -1;
    }
    snprintf(url, ul, "type.googleapis.com/%s", type_name);
    any->type_url = url;
    any->value.data = buf;
    any->value.len = n;
    return 0;
}

uint8_t *ltc_status_pack_details(const ltc_status *st, const char *domain, const char *request_id, size_t *len_out) {
    if (st->raw_details) {
        uint8_t *copy = malloc(st->raw_details_len ? st->raw_details_len : 1);
        if (copy) memcpy(copy, st->raw_details, st->raw_details_len);
        *len_out = st->raw_details_len;
        return copy;
    }
    Google__Rpc__ErrorInfo info = GOOGLE__RPC__ERROR_INFO__INIT;
    info.reason = (char *)(st->reason[0] ? st->reason : ltc_code_name(st->code));
    info.domain = (char *)(domain ? domain : "ltc");
    Google__Rpc__ErrorInfo__MetadataEntry rid = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
    Google__Rpc__ErrorInfo__MetadataEntry extra[LTC_STATUS_MAX_META];
    Google__Rpc__ErrorInfo__MetadataEntry *meta[1 + LTC_STATUS_MAX_META];
    size_t n_meta = 0;
    if (request_id && request_id[0]) { /* lets a caller quote the failing call to an operator */
        rid.key = "request_id";
        rid.value = (char *)request_id;
        meta[n_meta++] = &rid;
    }
    for (size_t i = 0; i < st->n_meta && i < LTC_STATUS_MAX_META; i++) {
        google__rpc__error_info__metadata_entry__init(&extra[i]);
        extra[i].key = (char *)st->meta[i].key;
        extra[i].value = (char *)st->meta[i].value;
        meta[n_meta++] = &extra[i];
    }
    info.n_metadata = n_meta;
    info.metadata = n_meta ? meta : NULL;

    Google__Rpc__BadRequest bad = GOOGLE__RPC__BAD_REQUEST__INIT;
    Google__Rpc__BadRequest__FieldViolation fv[LTC_STATUS_MAX_VIOLATIONS];
    Google__Rpc__BadRequest__FieldViolation *fvp[LTC_STATUS_MAX_VIOLATIONS];
    for (size_t i = 0; i < st->n_violations; i++) {
        google__rpc__bad_request__field_violation__init(&fv[i]);
        fv[i].field = (char *)st->violations[i].field;
        fv[i].description = (char *)st->violations[i].description;
        fvp[i] = &fv[i];
    }
    bad.n_field_violations = st->n_violations;
    bad.field_violations = fvp;

    Google__Protobuf__Duration delay = GOOGLE__PROTOBUF__DURATION__INIT;
    Google__Rpc__RetryInfo retry = GOOGLE__RPC__RETRY_INFO__INIT;
    delay.seconds = st->retry_delay_ms / 1000;
    delay.nanos = (int32_t)(st->retry_delay_ms % 1000) * 1000000;
    retry.retry_delay = &delay;

    Google__Protobuf__Any any[3] = {GOOGLE__PROTOBUF__ANY__INIT, GOOGLE__PROTOBUF__ANY__INIT,
                                    GOOGLE__PROTOBUF__ANY__INIT};
    Google__Protobuf__Any *anyp[3] = {&any[0], &any[1], &any[2]};
    size_t n_any = 0;
    uint8_t *out = NULL;
    if (pack_any(&any[n_any], &info.base, "google.rpc.ErrorInfo") != 0) goto done;
    n_any++;
    if (st->n_violations > 0) {
        if (pack_any(&any[n_any], &bad.base, "google.rpc.BadRequest") != 0) goto done;
        n_any++;
    }
    if (st->retry_delay_ms > 0) {
        if (pack_any(&any[n_any], &retry.base, "google.rpc.RetryInfo") != 0) goto done;
        n_any++;
    }
    Google__Rpc__Status s = GOOGLE__RPC__STATUS__INIT;
    s.code = (int32_t)st->code;
    s.message = (char *)st->message;
    s.n_details = n_any;
    s.details = anyp;
    size_t n = protobuf_c_message_get_packed_size(&s.base);
    out = malloc(n ? n : 1);
    if (out) {
        protobuf_c_message_pack(&s.base, out);
        *len_out = n;
    }
done:
    for (size_t i = 0; i < n_any; i++) {
        free(any[i].type_url);
        free(any[i].value.data);
    }
    return out;
}

int ltc_status_unpack_details(ltc_status *st, const uint8_t *data, size_t len) {
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, len, data);
    if (!s) return -1;
    for (size_t i = 0; i < s->n_details; i++) {
        const Google__Protobuf__Any *any = s->details[i];
        const char *slash = any->type_url ? strrchr(any->type_url, '/') : NULL;
        const char *type = slash ? slash + 1 : "";
        if (strcmp(type, "google.rpc.ErrorInfo") == 0) {
            Google__Rpc__ErrorInfo *info = google__rpc__error_info__unpack(NULL, any->value.len, any->value.data);
            if (info) {
                snprintf(st->reason, sizeof st->reason, "%s", info->reason);
                google__rpc__error_info__free_unpacked(info, NULL);
            }
        } else if (strcmp(type, "google.rpc.BadRequest") == 0) {
            Google__Rpc__BadRequest *bad = google__rpc__bad_request__unpack(NULL, any->value.len, any->value.data);
            if (bad) {
                st->n_violations = 0;
                for (size_t j = 0; j < bad->n_field_violations && j < LTC_STATUS_MAX_VIOLATIONS; j++) {
                    ltc_field_violation *v = &st->violations[st->n_violations++];
                    snprintf(v->field, sizeof v->field, "%s", bad->field_violations[j]->field);
                    snprintf(v->description, sizeof v->description, "%s", bad->field_violations[j]->description);
                }
                google__rpc__bad_request__free_unpacked(bad, NULL);
            }
        }
    }
    google__rpc__status__free_unpacked(s, NULL);
    return 0;
}
