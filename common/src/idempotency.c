/* idempotency.c - idempotency keys of WRITE methods: the key a request names, its fingerprint (the request without
 * unknown fields, hashed), and the (method, principal, key, fingerprint, response) rows that make a repeat return
 * the first response (ltc/server.h). A key is scoped to the principal that sent it: the same key from another
 * principal is another request (a key is not a capability to read someone's response). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/assert.h"

static const char SQL_KEY_CLAIM[] = "INSERT INTO idempotency_keys (method, principal, key, fingerprint) "
                                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
static const char SQL_KEY_READ[] =
    "SELECT fingerprint, response FROM idempotency_keys WHERE method = $1 AND principal = $2 AND key = $3";
static const char SQL_KEY_STORE[] =
    "UPDATE idempotency_keys SET response = $4 WHERE method = $1 AND principal = $2 AND key = $3";

/* The string value of a request's idempotency field, or NULL when the message has no such field. */
static const char *key_field(const ProtobufCMessage *m, const char *field) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
    return *(const char *const *)((const char *)m + f->offset);
}

int ltc_idempotency__key(const ltc_method *m, const ProtobufCMessage *req, const char **out, ltc_status *st) {
    const char *key = m->idempotency_field ? key_field(req, m->idempotency_field) : NULL;
    *out = NULL;
    if (key && key[0] == 0) key = NULL;
    if (!key && (m->flags & LTC_METHOD_KEY_REQUIRED)) return ltc_status_bad_field(st, m->idempotency_field, "required");
    if (key && (strlen(key) > 128 || ltc_uuid_valid(key) == 0) && (m->flags & LTC_METHOD_KEY_REQUIRED))
        return ltc_status_bad_field(st, m->idempotency_field, "must be a UUID");
    if (key && strlen(key) > 128) return ltc_status_bad_field(st, m->idempotency_field, "at most 128 characters");
    *out = key;
    return 0;
}

int ltc_idempotency__fingerprint(ltc_call *c, const ProtobufCMessage *req, uint8_t fp[32], ltc_status *st) {
    size_t n = 0;
    uint8_t *canon = ltc_fields__pack_known(c, req, &n); /* canonical: field order, unknown fields left out */
    unsigned int fl = 0;
    int ok = canon && EVP_Digest(canon, n, fp, &fl, EVP_sha256(), NULL) == 1;
    free(canon);
    if (!ok) return ltc_status_set(st, LTC_INTERNAL, "DIGEST_FAILED", "fingerprint failed");
    LTC_ASSERT(fl == 32);
    return 0;
}

int ltc_idempotency__claim(ltc_call *c, const ltc_method *m, const char *key, const uint8_t fp[32], uint8_t **stored,
                           size_t *stored_len, ltc_status *st) {
    const char *params[4] = {m->path, ltc_call_principal(c), key, (const char *)fp};
    const int lens[4] = {0, 0, 0, 32};
    const int fmts[4] = {0, 0, 0, 1};
    PGresult *r = ltc_db_query_bin(c->w->db, st, SQL_KEY_CLAIM, 4, params, lens, fmts);
    if (!r) return -1;
    int inserted = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (inserted) return 1;
    r = ltc_call_query(c, st, SQL_KEY_READ, 3, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "retry");
    LTC_ASSERT(PQnfields(r) == 2); /* fingerprint, response */
    size_t flen = 0;
    unsigned char *f = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &flen);
    int same = f && flen == 32 && memcmp(f, fp, 32) == 0;
    PQfreemem(f);
    if (!same) {
        if (m->flags & LTC_METHOD_KEY_REQUIRED)
            return ltc_status_set(st, LTC_ALREADY_EXISTS, "HANDOFF_PAYLOAD_MISMATCH",
                                  "hand-off %s was already applied with a different payload", key);
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED",
                              "request_id %s was already used for a different request", key);
    }
    if (PQgetisnull(r, 0, 1)) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "retry");
    size_t n = 0;
    unsigned char *resp = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
    if (!resp) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
    *stored = malloc(n ? n : 1);
    if (*stored) memcpy(*stored, resp, n);
    PQfreemem(resp);
    *stored_len = n;
    return 0;
}

int ltc_idempotency__store(ltc_call *c, const ltc_method *m, const char *key, const uint8_t *resp, size_t len,
                           ltc_status *st) {
    const char *params[4] = {m->path, ltc_call_principal(c), key, (const char *)resp};
    const int lens[4] = {0, 0, 0, (int)len};
    const int fmts[4] = {0, 0, 0, 1};
    return ltc_db_send_bin(c->w->db, st, SQL_KEY_STORE, 4, params, lens, fmts); /* goes out with the COMMIT */
}
