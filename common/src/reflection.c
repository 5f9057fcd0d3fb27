/* reflection.c - server reflection from the embedded descriptor set (see reflection.h). */
#include "reflection.h"

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

extern const unsigned char ltc_descriptor_set[];
extern const size_t ltc_descriptor_set_len;

typedef struct file_entry {
    const Google__Protobuf__FileDescriptorProto *fd;
    uint8_t *bytes; /* the file's FileDescriptorProto, serialized */
    size_t len;
} file_entry;

struct ltc_reflection {
    Google__Protobuf__FileDescriptorSet *set;
    file_entry *files;
    size_t n_files;
    int *visible; /* per file: it defines a listed service or is a dependency of one (the rest is never described) */
    char **services;
    size_t n_services;
};

void ltc_reflection_destroy(ltc_reflection *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_files; i++) free(r->files[i].bytes);
    free(r->files);
    free(r->visible);
    for (size_t i = 0; i < r->n_services; i++) free(r->services[i]);
    free(r->services);
    if (r->set) google__protobuf__file_descriptor_set__free_unpacked(r->set, NULL);
    free(r);
}

static int find_file_by_name(const ltc_reflection *r, const char *name) {
    for (size_t i = 0; i < r->n_files; i++)
        if (strcmp(r->files[i].fd->name, name) == 0) return (int)i;
    return -1;
}

/* Whether file fd defines one of the services this server lists (its public surface, health and reflection). */
static int defines_listed_service(const ltc_reflection *r, const Google__Protobuf__FileDescriptorProto *fd) {
    const char *pkg = fd->package ? fd->package : "";
    size_t pl = strlen(pkg);
    for (size_t i = 0; i < fd->n_service; i++)
        for (size_t k = 0; k < r->n_services; k++) {
            const char *full = r->services[k];
            if (pl && (strncmp(full, pkg, pl) != 0 || full[pl] != '.')) continue;
            if (strcmp(full + (pl ? pl + 1 : 0), fd->service[i]->name) == 0) return 1;
        }
    return 0;
}

/* Marks file i and its transitive dependencies describable. */
static void mark_visible(ltc_reflection *r, int i) {
    if (i < 0 || r->visible[i]) return;
    r->visible[i] = 1;
    const Google__Protobuf__FileDescriptorProto *fd = r->files[i].fd;
    for (size_t d = 0; d < fd->n_dependency; d++) mark_visible(r, find_file_by_name(r, fd->dependency[d]));
}

ltc_reflection *ltc_reflection_create(const char *const *services) {
    ltc_reflection *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->set = google__protobuf__file_descriptor_set__unpack(NULL, ltc_descriptor_set_len, ltc_descriptor_set);
    if (!r->set) goto fail;
    r->files = calloc(r->set->n_file ? r->set->n_file : 1, sizeof *r->files);
    if (!r->files) goto fail;
    for (size_t i = 0; i < r->set->n_file; i++) {
        const Google__Protobuf__FileDescriptorProto *fd = r->set->file[i];
        size_t n = google__protobuf__file_descriptor_proto__get_packed_size(fd);
        r->files[i].bytes = malloc(n ? n : 1);
        if (!r->files[i].bytes) goto fail;
        google__protobuf__file_descriptor_proto__pack(fd, r->files[i].bytes);
        r->files[i].fd = fd;
        r->files[i].len = n;
        r->n_files++;
    }
    size_t n = 0;
    while (services && services[n]) n++;
    r->services = calloc(n + 1, sizeof *r->services);
    if (!r->services) goto fail;
    for (size_t i = 0; i < n; i++) {
        r->services[i] = strdup(services[i]);
        if (!r->services[i]) goto fail;
        r->n_services++;
    }
    r->visible = calloc(r->n_files + 1, sizeof *r->visible);
    if (!r->visible) goto fail;
    for (size_t i = 0; i < r->n_files; i++) {
        const char *pkg = r->files[i].fd->package ? r->files[i].fd->package : "";
        /* the listed services' files, and the google.rpc error details and well-known types every error carries */
        if (defines_listed_service(r, r->files[i].fd) || strncmp(pkg, "google.", 7) == 0) mark_visible(r, (int)i);
    }
    return r;
fail:
    ltc_reflection_destroy(r);
    return NULL;
}

/* Does `sym` name `prefix` + "." + `name` (prefix may be empty)? Returns a pointer past the match, or NULL. */
static const char *match(const char *sym, const char *prefix, const char *name) {
    size_t pl = strlen(prefix);
    if (pl) {
        if (strncmp(sym, prefix, pl) != 0 || sym[pl] != '.') return NULL;
        sym += pl + 1;
    }
    size_t nl = strlen(name);
    if (strncmp(sym, name, nl) != 0) return NULL;
    return sym + nl;
}

static int message_has(const Google__Protobuf__DescriptorProto *m, const char *prefix, const char *sym) {
    const char *rest = match(sym, prefix, m->name);
    if (!rest) return 0;
    if (*rest == 0) return 1;
    if (*rest != '.') return 0;
    rest++;
    for (size_t i = 0; i < m->n_field; i++)
        if (strcmp(rest, m->field[i]->name) == 0) return 1;
    for (size_t i = 0; i < m->n_enum_type; i++)
        if (strcmp(rest, m->enum_type[i]->name) == 0) return 1;
    size_t pl = (size_t)(rest - 1 - sym);
    char *inner = malloc(pl + 1);
    if (!inner) return 0;
    memcpy(inner, sym, pl);
    inner[pl] = 0;
    int found = 0;
    for (size_t i = 0; i < m->n_nested_type && !found; i++) found = message_has(m->nested_type[i], inner, sym);
    free(inner);
    return found;
}

static int file_defines(const Google__Protobuf__FileDescriptorProto *fd, const char *sym) {
    const char *pkg = fd->package ? fd->package : "";
    for (size_t i = 0; i < fd->n_message_type; i++)
        if (message_has(fd->message_type[i], pkg, sym)) return 1;
    for (size_t i = 0; i < fd->n_enum_type; i++) {
        const char *rest = match(sym, pkg, fd->enum_type[i]->name);
        if (rest && *rest == 0) return 1;
    }
    for (size_t i = 0; i < fd->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];
        const char *rest = match(sym, pkg, s->name);
        if (!rest) continue;
        if (*rest == 0) return 1;
        if (*rest != '.') continue;
        for (size_t k = 0; k < s->n_method; k++)
            if (strcmp(rest + 1, s->method[k]->name) == 0) return 1;
    }
    return 0;
}

/* Adds file i and, first, its transitive dependencies to the response list (each once). */
static void add_with_deps(const ltc_reflection *r, int i, int *seen, ProtobufCBinaryData *out, size_t *n) {
    if (i < 0 || seen[i]) return;
    seen[i] = 1;
    const Google__Protobuf__FileDescriptorProto *fd = r->files[i].fd;
    out[(*n)++] = (ProtobufCBinaryData){r->files[i].len, r->files[i].bytes};
    for (size_t d = 0; d < fd->n_dependency; d++)
        add_with_deps(r, find_file_by_name(r, fd->dependency[d]), seen, out, n);
}

uint8_t *ltc_reflection_answer(const ltc_reflection *r, const uint8_t *req_bytes, size_t len, size_t *out_len) {
    Grpc__Reflection__V1__ServerReflectionRequest *req =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, len, req_bytes);
    if (!req) return NULL;
    Grpc__Reflection__V1__ServerReflectionResponse resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    resp.valid_host = req->host;
    resp.original_request = req;
    /* echo the request without its unknown fields (restored before it is freed): they may not even re-encode
     * readably (protobuf-c keeps a field number 0) */
    size_t unknown = req->base.n_unknown_fields, unknown_ext = 0;
    req->base.n_unknown_fields = 0;
    if (req->message_request_case ==
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION &&
        req->file_containing_extension) {
        unknown_ext = req->file_containing_extension->base.n_unknown_fields;
        req->file_containing_extension->base.n_unknown_fields = 0;
    }
    Grpc__Reflection__V1__FileDescriptorResponse fdr = GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse lsr = GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__ExtensionNumberResponse enr = GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse err = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1__ServiceResponse *svcs = calloc(r->n_services + 1, sizeof *svcs);
    Grpc__Reflection__V1__ServiceResponse **svcp = calloc(r->n_services + 1, sizeof *svcp);
    ProtobufCBinaryData *files = calloc(r->n_files + 1, sizeof *files);
    int *seen = calloc(r->n_files + 1, sizeof *seen);
    uint8_t *out = NULL;
    if (!svcs || !svcp || !files || !seen) goto done;

    int found = -1;
    switch (req->message_request_case) {
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
            for (size_t i = 0; i < r->n_services; i++) {
                grpc__reflection__v1__service_response__init(&svcs[i]);
                svcs[i].name = r->services[i];
                svcp[i] = &svcs[i];
            }
            lsr.n_service = r->n_services;
            lsr.service = svcp;
            resp.message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
            resp.list_services_response = &lsr;
            break;
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
            found = find_file_by_name(r, req->file_by_filename);
            if (found >= 0 && !r->visible[found]) found = -1; /* another process's or an internal service's file */
            break;
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL: {
            const char *sym = req->file_containing_symbol;
            if (sym[0] == '.') sym++;
            for (size_t i = 0; i < r->n_files && found < 0; i++)
                if (r->visible[i] && file_defines(r->files[i].fd, sym)) found = (int)i;
            break;
        }
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE: {
            const char *sym = req->all_extension_numbers_of_type;
            if (sym[0] == '.') sym++;
            int known = 0;
            for (size_t i = 0; i < r->n_files && !known; i++)
                known = r->visible[i] && file_defines(r->files[i].fd, sym);
            if (known) { /* proto3: no extensions */
                enr.base_type_name = req->all_extension_numbers_of_type;
                resp.message_response_case =
                    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
                resp.all_extension_numbers_response = &enr;
            }
            break;
        }
        default: break;
    }
    if (found >= 0) {
        size_t n = 0;
        add_with_deps(r, found, seen, files, &n);
        fdr.n_file_descriptor_proto = n;
        fdr.file_descriptor_proto = files;
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        resp.file_descriptor_response = &fdr;
    } else if (resp.message_response_case ==
               GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE__NOT_SET) {
        err.error_code = 5; /* NOT_FOUND */
        err.error_message = "not found";
        resp.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        resp.error_response = &err;
    }
    size_t n = grpc__reflection__v1__server_reflection_response__get_packed_size(&resp);
    out = malloc(n ? n : 1);
    if (out) {
        grpc__reflection__v1__server_reflection_response__pack(&resp, out);
        *out_len = n;
    }
done:
    free(svcs);
    free(svcp);
    free(files);
    free(seen);
    req->base.n_unknown_fields = unknown;
    if (req->message_request_case ==
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION &&
        req->file_containing_extension)
        req->file_containing_extension->base.n_unknown_fields = unknown_ext;
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
    return out;
}
