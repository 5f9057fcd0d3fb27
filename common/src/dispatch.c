/* dispatch.c - a table method on its request, in order: decode, idempotency key, ownership, transaction (WRITE
 * methods: begin, claim the key, handler, audit row, stored response, commit, retried on conflicts and once on a
 * lost connection), the hooks of the transaction's end, encode. The server and ltc_call_run share it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/assert.h"
#include "ltc/audit_sealer.h"
#include "ltc/fault.h"

static int db_lost(const ltc_status *st) {
    return st->code == LTC_UNAVAILABLE && strcmp(st->reason, "DATABASE_UNAVAILABLE") == 0;
}

/* A READ method: no transaction. A connection that died while idle (database restarted) is noticed by its first
 * query: reads are safe to run again once on a new connection. The ownership lookup runs before the handler, or,
 * when the handler checks the owners of the record it reads (by_handler), only if it returned without doing so. */
static int run_read(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, uint8_t **out, size_t *out_len,
                    ltc_status *st) {
    int by_handler = m->owner && m->owner->by_handler;
    for (int attempt = 0;; attempt++) {
        ProtobufCMessage *resp = NULL;
        c->owners_checked = 0;
        int rc = by_handler ? 0 : ltc_authz__check_owner(c, m, req, st);
        int refused = rc != 0 && st->code == LTC_PERMISSION_DENIED;
        if (rc == 0) {
            rc = m->handler(c, req, &resp, st);
            refused = rc != 0 && c->owners_checked < 0;
            if (rc == 0 && by_handler && c->owners_checked == 0) { /* the handler did not check: the lookup now */
                rc = ltc_authz__check_owner(c, m, req, st);
                refused = rc != 0 && st->code == LTC_PERMISSION_DENIED;
            }
        }
        if (refused) {
            ltc_audit__outside(c, m, req, st, NULL); /* a refused read is recorded too */
            return -1;
        }
        if (rc == 0) {
            *out = ltc_fields__pack(resp, out_len);
            return *out ? 0 : ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        }
        if (attempt > 0 || !db_lost(st)) return -1;
        ltc_status_clear(st);
        ltc_call__clear_results(c->w);
    }
}

int ltc_dispatch__run(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, uint8_t **out, size_t *out_len,
                      ltc_status *st) {
    const char *key = NULL;
    if (ltc_idempotency__key(m, req, &key, st) != 0) return -1;
    if (!(m->flags & LTC_METHOD_WRITE)) return run_read(c, m, req, out, out_len, st);

    uint8_t fp[32];
    if (key && ltc_idempotency__fingerprint(c, req, fp, st) != 0) return -1;
    ltc_db *db = c->w->db;
    for (int attempt = 0;; attempt++) {
        ltc_status_clear(st);
        ltc_call__clear_results(c->w);
        ltc_audit__reset(c);            /* a retried attempt records its changes again */
        LTC_ASSERT(c->w->n_hooks == 0); /* every transaction's hooks ran when it ended */
        ProtobufCMessage *resp = NULL;
        int committing = 0;
        if (ltc_db_begin(db, st) != 0) goto failed;
        if (ltc_authz__check_owner(c, m, req, st) != 0) goto failed;
        if (key) {
            uint8_t *stored = NULL;
            size_t stored_len = 0;
            int claimed = ltc_idempotency__claim(c, m, key, fp, &stored, &stored_len, st);
            if (claimed == 0) {
                ltc_db_rollback(db);
                ltc_call__txn_ended(c->w, 0);
                *out = stored;
                *out_len = stored_len;
                if (!stored) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
                const ltc_status ok = {0};
                ltc_audit__outside(c, m, req, &ok, "IDEMPOTENT_REPLAY");
                return 0;
            }
            if (claimed < 0) goto failed;
        }
        if (m->handler(c, req, &resp, st) != 0) goto failed;
        if (!resp) {
            ltc_status_set(st, LTC_INTERNAL, "NO_RESPONSE", "handler returned no response");
            goto failed;
        }
        *out = ltc_fields__pack(resp, out_len);
        if (!*out) {
            ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            goto failed;
        }
        {
            const ltc_status ok = {0};
            if (ltc_audit__write(c, m, req, &ok, NULL, st) != 0) goto failed_packed;
        }
        if (key && ltc_idempotency__store(c, m, key, *out, *out_len, st) != 0) goto failed_packed;
        committing = 1;
        ltc_fault_crash_point("server.before_commit", m->path);
        if (ltc_db_commit(db, st) != 0) goto failed_packed;
        ltc_call__txn_ended(c->w, 1);
        ltc_audit_sealer_nudge(); /* its audit row is committed: the sealer chains it (ltc/audit_sealer.h) */
        ltc_fault_crash_point("server.after_commit", m->path);
        return 0;
    failed_packed:
        free(*out);
        *out = NULL;
    failed:
        ltc_db_rollback(db);
        ltc_call__txn_ended(c->w, 0);
        if (st->code == LTC_OK) ltc_status_set(st, LTC_INTERNAL, "HANDLER_FAILED", "handler failed without a status");
        if (st->code == LTC_ABORTED && strcmp(st->reason, "CONCURRENT_UPDATE") == 0 && attempt < 2) continue;
        /* the transaction never committed (a lost COMMIT's outcome is unknown: the caller retries with its key) */
        if (db_lost(st) && !committing && attempt == 0) continue;
        ltc_audit__outside(c, m, req, st, NULL);
        return -1;
    }
}

int ltc_call_run(ltc_call *c, const ltc_method *m, const uint8_t *bytes, size_t len, size_t max_bytes, uint8_t **out,
                 size_t *out_len, ltc_status *st) {
    ltc_worker *w = c->w;
    *out = NULL;
    *out_len = 0;
    int rc = -1;
    if (len > max_bytes) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE", "request of %zu bytes exceeds %zu", len,
                       max_bytes);
    } else {
        if (w->db) ltc_db_set_deadline(w->db, ltc_call_ms_left(c)); /* the caller's deadline cuts its statements */
        ProtobufCMessage *req = protobuf_c_message_unpack(m->request, NULL, len, bytes);
        if (!req) {
            ltc_status_set(st, LTC_INVALID_ARGUMENT, "MALFORMED_REQUEST", "the request could not be decoded as %s",
                           m->request->name);
        } else {
            rc = ltc_dispatch__run(c, m, req, out, out_len, st);
            protobuf_c_message_free_unpacked(req, NULL);
        }
    }
    if (w->db && ltc_db_in_transaction(w->db)) ltc_db_rollback(w->db); /* never leave a transaction open */
    if (w->db) ltc_db_set_deadline(w->db, INT64_MAX);
    ltc_call__txn_ended(w, 0); /* hooks registered outside a transaction (a READ handler) are dropped */
    ltc_call__clear_results(w);
    ltc_arena_reset(w->arena);
    return rc;
}
