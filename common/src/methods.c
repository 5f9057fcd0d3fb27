/* methods.c - method tables resolved against the generated service descriptors and checked at start (see
 * ltc/methods.h). */
#include "ltc/methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

/* What server.c registers for itself in every process (ltc_server_start): keep the two in step. */
const char *const ltc_runtime_paths[] = {
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    NULL,
};

/* A refused table: INTERNAL, BAD_METHOD_TABLE, the message saying what is wrong. Returns -1. */
#define BAD_TABLE(st, ...) ltc_status_set((st), LTC_INTERNAL, "BAD_METHOD_TABLE", __VA_ARGS__)

/* The method named `rpc` of service `svc`, or NULL. */
static const ProtobufCMethodDescriptor *find_rpc(const ProtobufCServiceDescriptor *svc, const char *rpc) {
    for (unsigned i = 0; i < svc->n_methods; i++)
        if (strcmp(svc->methods[i].name, rpc) == 0) return &svc->methods[i];
    return NULL;
}

/* 0 when `path` ("quote.deal") leads from message `m` through singular message fields to a singular string field,
 * as the server reads it (field_string, key_field in server.c); -1 otherwise. */
static int string_field_path(const ProtobufCMessageDescriptor *m, const char *path) {
    char part[64];
    while (m) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof part) return -1;
        memcpy(part, path, n);
        part[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m, part);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) return -1;
        if (!dot) return f->type == PROTOBUF_C_TYPE_STRING ? 0 : -1;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) return -1;
        m = f->descriptor;
        path = dot + 1;
    }
    return -1;
}

/* Checks one row on its own: service, method, handler, idempotency and ownership fields. 0, or -1 with st set. */
static int check_row(const ltc_method *r, size_t i, ltc_status *st) {
    if (!r->service || r->service->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC)
        return BAD_TABLE(st, "method table row %zu (%.64s) names no service descriptor", i, r->rpc ? r->rpc : "?");
    if (!r->rpc || !r->rpc[0])
        return BAD_TABLE(st, "method table row %zu (%.100s) names no method", i, r->service->name);
    const ProtobufCMethodDescriptor *md = find_rpc(r->service, r->rpc);
    if (!md)
        return BAD_TABLE(st, "method table row %zu names /%.100s/%.64s, a method the service descriptor lacks", i,
                         r->service->name, r->rpc);
    if (!r->handler)
        return BAD_TABLE(st, "method table row %zu: /%.100s/%.64s has no handler", i, r->service->name, r->rpc);
    if (r->idempotency_field && string_field_path(md->input, r->idempotency_field) != 0)
        return BAD_TABLE(st, "/%.100s/%.64s: idempotency field \"%.32s\" is not a string field of its request",
                         r->service->name, r->rpc, r->idempotency_field);
    if (r->owner && (!r->owner->field || !r->owner->sql || string_field_path(md->input, r->owner->field) != 0))
        return BAD_TABLE(st, "/%.100s/%.64s: ownership field \"%.32s\" is not a string field path of its request",
                         r->service->name, r->rpc, r->owner->field ? r->owner->field : "");
    if (r->owner && r->owner->by_handler && (r->flags & LTC_METHOD_WRITE))
        return BAD_TABLE(st, "/%.100s/%.64s: a WRITE method's owners are looked up before its handler, not by it",
                         r->service->name, r->rpc);
    return 0;
}

ltc_method *ltc_methods_resolve(const ltc_method *rows, size_t n, const char *const *reserved, ltc_status *st) {
    size_t strings = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_row(&rows[i], i, st) != 0) return NULL;
        strings += strlen(rows[i].service->name) + strlen(rows[i].rpc) + 3; /* "/" svc "/" rpc NUL */
    }
    /* every method of a service the table serves has a row */
    for (size_t i = 0; i < n; i++) {
        const ProtobufCServiceDescriptor *svc = rows[i].service;
        int first = 1;
        for (size_t j = 0; j < i && first; j++) first = rows[j].service != svc;
        for (unsigned k = 0; first && k < svc->n_methods; k++) {
            int found = 0;
            for (size_t j = 0; j < n && !found; j++)
                found = rows[j].service == svc && strcmp(rows[j].rpc, svc->methods[k].name) == 0;
            if (!found) {
                BAD_TABLE(st,
                          "/%.100s/%.64s has no row in the method table (each method of a served service needs "
                          "one)",
                          svc->name, svc->methods[k].name);
                return NULL;
            }
        }
    }
    ltc_method *out = calloc(1, (n ? n : 1) * sizeof *out + strings);
    if (!out) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    char *p = (char *)(out + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMethodDescriptor *md = find_rpc(rows[i].service, rows[i].rpc);
        out[i] = rows[i];
        out[i].request = md->input;
        out[i].response = md->output;
        out[i].path = p;
        p += sprintf(p, "/%s/%s", rows[i].service->name, rows[i].rpc) + 1;
    }
    /* every path the process serves is unique: among the rows, and against the runtime's own */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out[i].path, out[j].path) != 0) continue;
            BAD_TABLE(st, "%.170s is named twice in the method table (rows %zu and %zu)", out[i].path, j, i);
            free(out);
            return NULL;
        }
        for (const char *const *r = reserved; r && *r; r++) {
            if (strcmp(out[i].path, *r) != 0) continue;
            BAD_TABLE(st, "%.170s is a path the runtime serves itself: no method table may name it", out[i].path);
            free(out);
            return NULL;
        }
    }
    return out;
}

ltc_method *ltc_methods_resolve_stage(const ltc_method *rows, size_t n, size_t *n_out, ltc_status *st) {
    size_t total = n + ltc_admin_methods_count + ltc_audit_methods_count;
    ltc_method *all = calloc(total ? total : 1, sizeof *all);
    if (!all) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    if (n) memcpy(all, rows, n * sizeof *all);
    memcpy(all + n, ltc_admin_methods, ltc_admin_methods_count * sizeof *all);
    memcpy(all + n + ltc_admin_methods_count, ltc_audit_methods, ltc_audit_methods_count * sizeof *all);
    ltc_method *out = ltc_methods_resolve(all, total, ltc_runtime_paths, st);
    free(all);
    if (out && n_out) *n_out = total;
    return out;
}

void ltc_methods_free(ltc_method *methods) { free(methods); }
