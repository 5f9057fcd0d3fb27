/* fields.c - request fields by name (dotted paths of singular fields), and packing a message with or without the
 * unknown fields it carries (a request's canonical form for its fingerprint). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/assert.h"

const char *ltc_fields__string(const ProtobufCMessage *m, const char *path) {
    char part[64];
    while (m) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
        const char *at = (const char *)m + f->offset;
        if (!dot) return f->type == PROTOBUF_C_TYPE_STRING ? *(const char *const *)at : NULL;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
        m = *(const ProtobufCMessage *const *)at;
        path = dot + 1;
    }
    return NULL;
}

uint8_t *ltc_fields__pack(const ProtobufCMessage *m, size_t *len) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf) protobuf_c_message_pack(m, buf);
    *len = n;
    return buf;
}

/* A oneof member's storage is shared: it holds a message only when the oneof's case names this field. */
static int oneof_active(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return 1;
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
}

/* Sets (hide) or restores the unknown-field counts of m and every message inside it. `saved` walks in the same
 * order both times. */
static void hide_unknown(ProtobufCMessage *m, size_t **saved, int hide) {
    if (!m) return;
    if (hide) {
        *(*saved)++ = m->n_unknown_fields;
        m->n_unknown_fields = 0;
    } else {
        m->n_unknown_fields = *(*saved)++;
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !oneof_active(m, f)) continue;
        char *base = (char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(size_t *)((char *)m + f->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***)base;
            for (size_t k = 0; k < count; k++) hide_unknown(items[k], saved, hide);
        } else {
            hide_unknown(*(ProtobufCMessage **)base, saved, hide);
        }
    }
}

static size_t count_messages(const ProtobufCMessage *m) {
    if (!m) return 0;
    size_t n = 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !oneof_active(m, f)) continue;
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < count; k++) n += count_messages(items[k]);
        } else {
            n += count_messages(*(ProtobufCMessage *const *)base);
        }
    }
    return n;
}

uint8_t *ltc_fields__pack_known(ltc_call *c, const ProtobufCMessage *req, size_t *len) {
    ProtobufCMessage *m = (ProtobufCMessage *)req; /* restored before returning */
    size_t n_messages = count_messages(m);
    size_t *saved = ltc_call_alloc(c, n_messages * sizeof *saved);
    size_t *p = saved;
    hide_unknown(m, &p, 1);
    LTC_ASSERT((size_t)(p - saved) == n_messages); /* both walks visit the same messages */
    uint8_t *out = ltc_fields__pack(m, len);
    p = saved;
    hide_unknown(m, &p, 0);
    return out;
}
