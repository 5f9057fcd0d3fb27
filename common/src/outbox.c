/* outbox.c - the sending half of a hand-off: the outbox row written with the state change, and the relay thread
 * that delivers due rows to their receivers exactly once in effect (the receiver dedups by hand-off id). */
#include "ltc/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ltc/client.h"
#include "ltc/db.h"
#include "ltc/fault.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/sqltext.h"

static const char SQL_PUT[] =
    "INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, traceparent, acting_assertion)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
/* A batch in one statement: the payloads as one binary bytea ($5, their bytes one after another) cut by their
 * lengths ($6; the offsets are the running sums), so that nothing is hex-encoded and decoded; the traceparent and the
 * acting assertion are the call's, the same for every row. */
static const char SQL_PUT_MANY[] =
    "INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, traceparent, acting_assertion) "
    "SELECT u.h, u.d, u.x, u.m, u.p, $6::text, $7::text "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(h, d, x, m, p, n) "
    "ORDER BY u.n";
static const char SQL_NOTIFY[] = "SELECT pg_notify('ltc_outbox_' || current_schema(), '')";

/* Keeps one packed hand-off in the call's batch (ltc_outbox_defer): its payload appended to the batch's bytes. */
static int defer_put(ltc_call *c, ltc_outbox_batch *b, ltc_status *st, const char *handoff_id, const char *deal_id,
                     const char *destination, const char *path, const uint8_t *buf, size_t n) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        const char ***cols[4] = {&b->handoff_id, &b->deal_id, &b->destination, &b->path};
        for (int k = 0; k < 4; k++) {
            const char **v = ltc_call_alloc(c, cap * sizeof *v);
            if (b->n) memcpy(v, *cols[k], b->n * sizeof *v);
            *cols[k] = v;
        }
        int64_t *len = ltc_call_alloc(c, cap * sizeof *len);
        if (b->n) memcpy(len, b->payload_len, b->n * sizeof *len);
        b->payload_len = len;
        b->cap = cap;
    }
    if (b->bytes_len + n > b->bytes_cap || !b->bytes) {
        size_t cap = b->bytes_cap ? b->bytes_cap * 2 : 4096;
        while (cap < b->bytes_len + n) cap *= 2;
        uint8_t *v = ltc_call_alloc(c, cap);
        if (b->bytes_len) memcpy(v, b->bytes, b->bytes_len);
        b->bytes = v;
        b->bytes_cap = cap;
    }
    if (n > INT32_MAX || b->bytes_len + n > INT32_MAX)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "a batch of hand-offs over 2 GiB");
    if (n) memcpy(b->bytes + b->bytes_len, buf, n);
    b->bytes_len += n;
    b->handoff_id[b->n] = ltc_call_strdup(c, handoff_id);
    b->deal_id[b->n] = ltc_call_strdup(c, deal_id);
    b->destination[b->n] = destination;
    b->path[b->n] = path;
    b->payload_len[b->n++] = (int64_t)n;
    return 0;
}

void ltc_outbox_defer(ltc_call *c, ltc_outbox_batch *b) {
    memset(b, 0, sizeof *b);
    c->outbox_batch = b;
}

int ltc_outbox_flush(ltc_call *c, ltc_outbox_batch *b, ltc_status *st) {
    c->outbox_batch = NULL;
    if (!st || b->n == 0) return 0;
    /* the arrays in the binary format: the server does not parse 80,000 items of text (a run of 10,000 promises) */
    const ltc_sql_param params[7] = {ltc_sql_uuid_array_bin(c, b->handoff_id, b->n),
                                     ltc_sql_text_array_bin(c, b->deal_id, b->n),
                                     ltc_sql_text_array_bin(c, b->destination, b->n),
                                     ltc_sql_text_array_bin(c, b->path, b->n),
                                     ltc_sql_bytea_array_bin(c, b->bytes, b->payload_len, b->n),
                                     ltc_sql_text_param(ltc_call_traceparent(c)),
                                     ltc_sql_text_param(c->acting)};
    /* sent without waiting: the server writes the rows while the handler and the call's end (its reply packed, its
     * audit row) go on; a failure is what the next statement or the COMMIT reports, and the call rolls back */
    if (ltc_call_send_params(c, st, SQL_PUT_MANY, 7, params) != 0) return -1;
    b->n = 0;
    return ltc_outbox__wake_after_commit(c, st);
}

int ltc_outbox_put(ltc_call *c, ltc_status *st, const ltc_handoff_peer *peer, const char *method, const char *deal_id,
                   const char *handoff_id, const ProtobufCMessage *msg) {
    if (!peer || !peer->destination || !peer->service || !method || !msg)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "hand-off without a peer, method or message");
    const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(peer->service, method);
    if (!md) return ltc_status_set(st, LTC_INTERNAL, NULL, "%s has no method %s", peer->service->name, method);
    if (msg->descriptor != md->input)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "%s/%s takes %s, not %s", peer->service->name, method,
                              md->input->name, msg->descriptor ? msg->descriptor->name : "(none)");
    const char *path = ltc_call_printf(c, "/%s/%s", peer->service->name, md->name);
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = ltc_call_alloc(c, n ? n : 1);
    protobuf_c_message_pack(msg, buf);
    if (c->outbox_batch) return defer_put(c, c->outbox_batch, st, handoff_id, deal_id, peer->destination, path, buf, n);
    /* the trace goes on with the hand-off: the receiver's work joins the trace of the call that caused it */
    /* and the user whose call caused it, in the gateway's signed words: the receiver's audit names them */
    const char *params[7] = {handoff_id, deal_id, peer->destination, path, (const char *)buf, ltc_call_traceparent(c),
                             c->acting};
    const int lens[7] = {0, 0, 0, 0, (int)n, 0, 0};
    const int fmts[7] = {0, 0, 0, 0, 1, 0, 0};
    /* sent ahead: it goes out with the handler's next statement or the COMMIT */
    if (ltc_db_send_bin(ltc_call_db(c), st, SQL_PUT, 7, params, lens, fmts) != 0) return -1;
    /* no NOTIFY: it would serialise every committing transaction on the notify queue's lock */
    return ltc_outbox__wake_after_commit(c, st);
}

int ltc_outbox_notify(ltc_db *db, ltc_status *st) { return ltc_db_exec(db, st, SQL_NOTIFY, 0, NULL); }

/* The relays' lanes in this process, woken after a commit that put rows. A lane is registered while it runs. */
typedef struct lane lane;
static pthread_mutex_t relays_mu = PTHREAD_MUTEX_INITIALIZER;
static lane **relays;
static size_t n_relays, cap_relays;
static void wake_relay(lane *l);

void ltc_outbox_wake_relays(void) {
    pthread_mutex_lock(&relays_mu);
    for (size_t i = 0; i < n_relays; i++) wake_relay(relays[i]);
    pthread_mutex_unlock(&relays_mu);
}

/* The transaction hook of a call that put rows or made them due: after the commit, this process's relays are woken
 * at once (an eventfd each: no NOTIFY, whose queue lock serialises committing transactions); after a rollback there
 * is nothing to deliver and nothing happens. */
static void wake_relays_hook(void *arg) {
    (void)arg;
    ltc_outbox_wake_relays();
}

int ltc_outbox__wake_after_commit(ltc_call *c, ltc_status *st) {
    const ltc_txn_hook hook = {.after_commit = wake_relays_hook, .after_rollback = NULL, .arg = NULL};
    return ltc_call__on_commit(c, &hook, st);
}

/* ---- the relay ---- */

/* A relay is one lane per destination: its own thread, database connection and client, claiming only the rows of
 * its destination, at most batch_size of them in flight at once. A receiver that hangs holds its own lane for a
 * call deadline per batch; the lanes of the other receivers go on (docs/handoffs.md, guarantee 5). The first lane
 * also parks rows whose destination no lane serves (a deployment error: UNKNOWN_DESTINATION). */
struct lane {
    ltc_relay *relay;
    size_t index;
    char *destination;
    ltc_client *client;
    ltc_db *db;
    pthread_t thread;
    int started;
    atomic_int woken; /* a wake-up is pending in wake_fd: writers skip the write (one per claim, not per commit) */
    int wake_fd;      /* eventfd, polled by relay_wait together with the PostgreSQL socket */
    int listening;
    unsigned int seed;
    time_t backlog_time;
    time_t parked_time; /* when the parked rows were last counted */
    long parked;        /* that count */
    int parked_dirty;   /* this lane parked a row since */
    time_t others_time; /* the first lane: when it last looked for rows of no configured destination */
    /* Rows of the destination may be waiting for a retry time: set at the start, after a database error and when
     * this lane schedules a retry; cleared when the database says nothing of the destination is undelivered. While
     * clear, an empty claim waits for a wake-up or the poll without asking when the next row is due. */
    int due_unknown;
};

struct ltc_relay {
    ltc_relay_options opt;
    atomic_int stop;
    lane *lanes;
    size_t n_lanes;
    char *destinations; /* "{bto,otd}": every lane's destination, for the first lane's claim of the others */
};

static void wake_relay(lane *l) {
    if (atomic_exchange(&l->woken, 1)) return; /* already pending: the lane claims after clearing it */
    uint64_t one = 1;
    while (write(l->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static int relays_add(lane *r) {
    pthread_mutex_lock(&relays_mu);
    if (n_relays == cap_relays) {
        size_t cap = cap_relays ? cap_relays * 2 : 4;
        lane **p = realloc(relays, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&relays_mu);
            return -1;
        }
        relays = p;
        cap_relays = cap;
    }
    relays[n_relays++] = r;
    pthread_mutex_unlock(&relays_mu);
    return 0;
}

static void relays_remove(lane *r) {
    pthread_mutex_lock(&relays_mu);
    for (size_t i = 0; i < n_relays; i++) {
        if (relays[i] == r) {
            relays[i] = relays[--n_relays];
            break;
        }
    }
    pthread_mutex_unlock(&relays_mu);
}

/* Due rows: not delivered, not parked, due, and the oldest undelivered row of their deal for that destination (so a
 * deal's hand-offs arrive at each receiver in order, even across replicas: a row locked by another relay still
 * counts as undelivered; one receiver being down does not hold back another's). */
/* A row is due when it is the oldest undelivered row of its deal for its receiver: found through the
 * (deal_id, destination, seq) partial index, one probe per candidate. (An anti-join on "an older undelivered row
 * exists" was planned as a scan of the whole backlog per candidate: 381 ms per claim with 30k rows pending.) */
static const char SQL_CLAIM[] =
    "SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts, o.traceparent, o.acting_assertion FROM outbox o"
    " WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()"
    "   AND o.seq = (SELECT p.seq FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination"
    "                AND p.delivered_time IS NULL ORDER BY p.deal_id, p.destination, p.seq LIMIT 1)"
    " ORDER BY o.seq LIMIT $1 FOR UPDATE OF o SKIP LOCKED";
/* The same, for one destination (a relay's lane), and for the rows of no configured destination. */
static const char SQL_CLAIM_DEST[] =
    "SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts, o.traceparent, o.acting_assertion FROM outbox o"
    " WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()"
    "   AND o.destination = $2"
    "   AND o.seq = (SELECT p.seq FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination"
    "                AND p.delivered_time IS NULL ORDER BY p.deal_id, p.destination, p.seq LIMIT 1)"
    " ORDER BY o.seq LIMIT $1 FOR UPDATE OF o SKIP LOCKED";
static const char SQL_CLAIM_OTHERS[] =
    "SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts, o.traceparent, o.acting_assertion FROM outbox o"
    " WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()"
    "   AND o.destination <> ALL ($2::text[])"
    "   AND o.seq = (SELECT p.seq FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination"
    "                AND p.delivered_time IS NULL ORDER BY p.deal_id, p.destination, p.seq LIMIT 1)"
    " ORDER BY o.seq LIMIT $1 FOR UPDATE OF o SKIP LOCKED";
static const char SQL_DELIVERED[] =
    "UPDATE outbox SET delivered_time = now(), attempts = attempts + 1, last_error = NULL WHERE seq = $1";
static const char SQL_RETRY[] =
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
    " next_attempt_time = now() + make_interval(secs => $3::double precision / 1000) WHERE seq = $1";
static const char SQL_PARK[] =
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, parked_time = now() WHERE seq = $1";
static const char SQL_NEXT_DUE[] =
    "SELECT (extract(epoch FROM (min(next_attempt_time) - now())) * 1000)::bigint FROM outbox"
    " WHERE delivered_time IS NULL AND parked_time IS NULL AND destination = $1";

long ltc_outbox_backoff_ms(int attempts, long cap_ms, unsigned int *seed) {
    long cap = cap_ms > 0 ? cap_ms : 30000;
    long b = 200;
    for (int i = 0; i < attempts && b < cap; i++) b *= 2;
    if (b > cap) b = cap;
    return b / 2 + (long)(rand_r(seed) % (unsigned)(b / 2 + 1));
}

PGresult *ltc_outbox_claim(ltc_db *db, int limit, ltc_status *st) { return ltc_outbox_claim_for(db, NULL, limit, st); }

PGresult *ltc_outbox_claim_for(ltc_db *db, const char *destination, int limit, ltc_status *st) {
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1);
    const char *p[2] = {lim, destination};
    return destination ? ltc_db_query(db, st, SQL_CLAIM_DEST, 2, p) : ltc_db_query(db, st, SQL_CLAIM, 1, p);
}

int ltc_outbox_mark_delivered(ltc_db *db, const char *seq, ltc_status *st) {
    const char *p[1] = {seq};
    return ltc_db_exec(db, st, SQL_DELIVERED, 1, p);
}

int ltc_outbox_mark_retry(ltc_db *db, const char *seq, const char *error, long delay_ms, ltc_status *st) {
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", delay_ms);
    const char *p[3] = {seq, error, ms};
    return ltc_db_exec(db, st, SQL_RETRY, 3, p);
}

int ltc_outbox_mark_parked(ltc_db *db, const char *seq, const char *error, ltc_status *st) {
    const char *p[2] = {seq, error};
    return ltc_db_exec(db, st, SQL_PARK, 2, p);
}

static int relay_listen(lane *r) {
    if (r->listening) return 0;
    PGconn *conn = ltc_db_conn(r->db);
    if (!conn) return -1;
    char *ident = NULL;
    char chan[128];
    snprintf(chan, sizeof chan, "ltc_outbox_%s", ltc_db_schema(r->db));
    ident = PQescapeIdentifier(conn, chan, strlen(chan));
    char sql[200];
    snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "ltc_outbox");
    PQfreemem(ident);
    ltc_status st = {0};
    int ok = ltc_db_exec_text(r->db, &st, sql) == 0;
    ltc_status_clear(&st);
    r->listening = ok;
    return ok ? 0 : -1;
}

static const char SQL_DELIVERED_MANY[] =
    "UPDATE outbox SET delivered_time = now(), attempts = attempts + 1, last_error = NULL"
    " WHERE seq = ANY($1::bigint[])";

/* Records a row that was not delivered: parked when retrying cannot help, else due again after a backoff. */
static int record_failure(lane *r, const PGresult *rows, int i, const ltc_status *cs, int park, ltc_status *st) {
    const char *seq = PQgetvalue(rows, i, 0), *handoff = PQgetvalue(rows, i, 1), *dest = PQgetvalue(rows, i, 2);
    const char *method = PQgetvalue(rows, i, 3);
    int attempts = (int)ltc_pg_i64(rows, i, 5);
    char err[400];
    snprintf(err, sizeof err, "%s %.63s: %.255s", ltc_code_name(cs->code), cs->reason, cs->message);
    if (park) {
        LTC_ERROR("handoff_parked", handoff, "%s to %s refused, parked: %s", method, dest, err);
        r->parked_dirty = 1;
        return ltc_outbox_mark_parked(r->db, seq, err, st);
    }
    long delay = ltc_outbox_backoff_ms(attempts, r->relay->opt.max_backoff_ms, &r->seed);
    r->due_unknown = 1;
    LTC_WARN("handoff_retry", handoff, "%s to %s failed (attempt %d), retry in %ldms: %s", method, dest, attempts + 1,
             delay, err);
    return ltc_outbox_mark_retry(r->db, seq, err, delay, st);
}

/* Delivers the claimed rows, all at once (a batch holds at most one row per deal and receiver, the oldest
 * undelivered one, so their order does not matter), and records every outcome in the open transaction: the
 * delivered ones with one statement. 0, or -1 on a database error. */
static int deliver_rows(lane *r, const PGresult *rows, int n, ltc_status *st) {
    ltc_client_request *req = calloc((size_t)(n ? n : 1), sizeof *req);
    unsigned char **payload = calloc((size_t)(n ? n : 1), sizeof *payload);
    int *send = calloc((size_t)(n ? n : 1), sizeof *send), *park = calloc((size_t)(n ? n : 1), sizeof *park);
    ltc_metadata_kv(*md)[3] = calloc((size_t)(n ? n : 1), sizeof *md);
    int rc = -1;
    if (!req || !payload || !send || !park || !md) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }
    ltc_client_request *batch = calloc((size_t)(n ? n : 1), sizeof *batch);
    int *index = calloc((size_t)(n ? n : 1), sizeof *index);
    size_t n_send = 0;
    if (!batch || !index) {
        free(batch);
        free(index);
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        payload[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(rows, i, 4), &len);
        ltc_client *cl = strcmp(r->destination, PQgetvalue(rows, i, 2)) == 0 ? r->client : NULL;
        if (!payload[i]) {
            ltc_status_set(&req[i].st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        } else if (!cl) {
            ltc_status_set(&req[i].st, LTC_FAILED_PRECONDITION, "UNKNOWN_DESTINATION", "no peer named %s is configured",
                           PQgetvalue(rows, i, 2));
            park[i] = 1;
        } else {
            md[i][0] = (ltc_metadata_kv){"x-request-id", PQgetvalue(rows, i, 1)};
            md[i][1] = (ltc_metadata_kv){"traceparent", ltc_pg_str(rows, i, 6)};
            /* the acting principal, as the sending stage received it from the gateway (NULL: none) */
            const char *acting = ltc_pg_str(rows, i, 7);
            md[i][2] = (ltc_metadata_kv){"x-ltc-acting", acting && acting[0] ? acting : NULL};
            batch[n_send] = (ltc_client_request){.client = cl,
                                                 .method = PQgetvalue(rows, i, 3),
                                                 .req = payload[i],
                                                 .req_len = len,
                                                 .deadline_ms = r->relay->opt.call_deadline_ms,
                                                 .md = md[i],
                                                 .n_md = 3};
            index[n_send++] = i;
            send[i] = 1;
        }
    }
    ltc_client_call_many(batch, n_send);
    for (size_t k = 0; k < n_send; k++) {
        int i = index[k];
        req[i] = batch[k];
        if (req[i].st.code == LTC_OK && ltc_fault_hit("relay.send_twice", req[i].method)) {
            /* the duplicate must change nothing */
            free(req[i].resp);
            req[i].resp = NULL;
            ltc_client_call(req[i].client, NULL, req[i].method, req[i].req, req[i].req_len, req[i].deadline_ms,
                            req[i].md, 2, &req[i].resp, &req[i].resp_len, &req[i].st);
        }
        free(req[i].resp);
        req[i].resp = NULL;
    }
    free(batch);
    free(index);
    /* the outcomes, in the claiming transaction */
    size_t cap = (size_t)n * 24 + 3, used = 0;
    char *seqs = malloc(cap);
    if (!seqs) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }
    seqs[used++] = '{';
    int n_delivered = 0;
    for (int i = 0; i < n; i++) {
        if (send[i] && req[i].st.code == LTC_OK) {
            ltc_fault_crash_point("relay.after_send", req[i].method);
            used += (size_t)snprintf(seqs + used, cap - used, "%s%s", n_delivered ? "," : "", PQgetvalue(rows, i, 0));
            n_delivered++;
            LTC_INFO("handoff_delivered", PQgetvalue(rows, i, 1), "%s to %s (attempt %lld)", req[i].method,
                     PQgetvalue(rows, i, 2), (long long)ltc_pg_i64(rows, i, 5) + 1);
            continue;
        }
        if (send[i]) park[i] = !ltc_code_is_retryable(req[i].st.code);
        if (record_failure(r, rows, i, &req[i].st, park[i], st) != 0) {
            free(seqs);
            goto out;
        }
    }
    seqs[used++] = '}';
    seqs[used] = 0;
    if (n_delivered > 0) {
        const char *p[1] = {seqs};
        if (ltc_db_exec(r->db, st, SQL_DELIVERED_MANY, 1, p) != 0) {
            free(seqs);
            goto out;
        }
    }
    free(seqs);
    rc = 0;
out:
    for (int i = 0; payload && i < n; i++) PQfreemem(payload[i]);
    for (int i = 0; req && i < n; i++) {
        free(req[i].resp);
        ltc_status_clear(&req[i].st);
    }
    free(req);
    free(payload);
    free(send);
    free(park);
    free(md);
    return rc;
}

/* Claims and delivers one batch of the lane's destination (the first lane: also parks the rows of a destination no
 * lane serves). Returns the number of rows handled, or -1 on a database error. */
static int relay_batch(lane *r) {
    ltc_status st = {0};
    ltc_relay *relay = r->relay;
    int limit = relay->opt.batch_size > 0 ? relay->opt.batch_size : 16, total = 0;
    if (ltc_db_begin(r->db, &st) != 0) goto fail;
    PGresult *rows = ltc_outbox_claim_for(r->db, r->destination, limit, &st);
    if (!rows) goto fail;
    int n = PQntuples(rows);
    if (n > 0 && !atomic_load(&relay->stop) && deliver_rows(r, rows, n, &st) != 0) {
        PQclear(rows);
        goto fail;
    }
    PQclear(rows);
    total += n;
    /* Rows of no configured destination only appear when a peer is taken out of the configuration: looking for them
     * once a second is enough, and spares every batch a scan of the whole ready backlog (1 ms a batch in DTC under
     * lead to cash, docs/performance.md). */
    time_t now = time(NULL);
    if (r->index == 0 && now != r->others_time && !atomic_load(&relay->stop)) {
        r->others_time = now;
        char lim[16];
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[2] = {lim, relay->destinations};
        rows = ltc_db_query(r->db, &st, SQL_CLAIM_OTHERS, 2, p);
        if (!rows) goto fail;
        n = PQntuples(rows);
        if (n > 0 && deliver_rows(r, rows, n, &st) != 0) { /* no lane's destination: each is parked */
            PQclear(rows);
            goto fail;
        }
        PQclear(rows);
        total += n;
    }
    if (ltc_db_commit(r->db, &st) != 0) goto fail;
    return total;
fail:
    ltc_db_rollback(r->db);
    LTC_WARN("relay_db_error", NULL, "to %s: %s: %s", r->destination, ltc_code_name(st.code), st.message);
    ltc_status_clear(&st);
    r->listening = 0;
    return -1;
}

/* Takes the pending wake-up, if any, before a claim: a commit after this point wakes the relay again. */
static void relay_take_wake(lane *r) {
    if (!atomic_exchange(&r->woken, 0)) return;
    uint64_t v;
    while (read(r->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {}
}

/* Waits until this process wakes the relay (a commit that put rows, RetryHandoff, stop), a NOTIFY on the outbox
 * channel arrives (from a tool or an operator), or timeout_ms passes. */
static void relay_wait(lane *r, long timeout_ms) {
    PGconn *conn = r->listening ? ltc_db_conn(r->db) : NULL;
    struct pollfd fds[2] = {{.fd = r->wake_fd, .events = POLLIN}, {.fd = conn ? PQsocket(conn) : -1, .events = POLLIN}};
    int n = poll(fds, conn && fds[1].fd >= 0 ? 2 : 1, (int)timeout_ms);
    if (n > 0 && conn && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
        if (!PQconsumeInput(conn)) r->listening = 0;
    }
    if (conn) {
        PGnotify *nt;
        while ((nt = PQnotifies(conn)) != NULL) PQfreemem(nt);
    }
}

/* Waits ms (a back-off after a database error), or less when the relay is stopped (stop wakes every lane). */
static void relay_wait_stop(lane *r, long ms) {
    relay_take_wake(r); /* a commit's wake-up must not end the back-off: the claim after reconnecting sees its rows */
    if (atomic_load(&r->relay->stop)) return;
    struct pollfd fd = {.fd = r->wake_fd, .events = POLLIN};
    while (poll(&fd, 1, (int)ms) < 0 && errno == EINTR) {}
}

/* Per destination: rows to send, the age of the oldest of them, rows parked. Two aggregates, so that each reads its
 * own partial index (migration 013): the ready rows (as many as the backlog) and the parked ones; a single
 * `delivered_time IS NULL` scan would match neither. $1: one destination, or NULL for all; $2: count the parked rows
 * (false: 0). */
static const char SQL_BACKLOG[] =
    "SELECT destination, sum(ready)::bigint, max(age)::float8, sum(parked)::bigint FROM ("
    " SELECT destination, count(*) AS ready, extract(epoch FROM now() - min(create_time)) AS age, 0 AS parked"
    " FROM outbox WHERE delivered_time IS NULL AND parked_time IS NULL AND ($1::text IS NULL OR destination = $1)"
    " GROUP BY destination"
    " UNION ALL SELECT destination, 0, 0, count(*) FROM outbox"
    " WHERE $2::bool AND delivered_time IS NULL AND parked_time IS NOT NULL AND ($1::text IS NULL OR destination = $1)"
    " GROUP BY destination) t GROUP BY destination";

/* Parked rows are counted every PARKED_COUNT_S, and at the next gauge refresh after this lane parked one: they stay
 * until replayed, and counting 140,000 of them took 77 ms (the rows to send are counted every 2 s). */
#define PARKED_COUNT_S 30

PGresult *ltc_outbox_backlog(ltc_db *db, ltc_status *st) {
    return ltc_db_query(db, st, SQL_BACKLOG, 2, (const char *[]){NULL, "true"});
}

/* Refreshes the hand-off gauges of the lane's destination (0 when it has no row). */
static void refresh_backlog(lane *r) {
    ltc_status st = {0};
    time_t now = time(NULL);
    int count_parked = r->parked_dirty || now - r->parked_time >= PARKED_COUNT_S;
    PGresult *res =
        ltc_db_query(r->db, &st, SQL_BACKLOG, 2, (const char *[]){r->destination, count_parked ? "true" : "false"});
    if (!res) {
        ltc_status_clear(&st);
        return;
    }
    long pending = 0, parked = 0;
    double oldest = 0;
    for (int k = 0; k < PQntuples(res); k++) {
        if (strcmp(PQgetvalue(res, k, 0), r->destination) != 0) continue;
        pending = (long)ltc_pg_i64(res, k, 1);
        oldest = strtod(PQgetvalue(res, k, 2), NULL);
        parked = (long)ltc_pg_i64(res, k, 3);
    }
    if (count_parked) {
        r->parked = parked;
        r->parked_time = now;
        r->parked_dirty = 0;
    }
    ltc_metrics_handoffs(r->destination, pending, oldest, r->parked);
    PQclear(res);
}

/* Time to wait before the next claim when the last one found nothing: until the next retry of the lane's destination
 * is due, at most the poll interval. The poll is what finds rows another replica committed (replicas do not wake each
 * other), among them the rows of a replica that died between its commit and waking its own relay, and the retries
 * such a replica had scheduled. The database is asked only while a retry of this lane's may be pending
 * (due_unknown): otherwise every row the lane can deliver comes with a wake-up, and the question, one statement
 * after every empty claim, reads the destination's whole backlog for nothing (docs/performance.md). */
static long next_due_ms(lane *r) {
    long poll_ms = r->relay->opt.poll_ms > 0 ? r->relay->opt.poll_ms : LTC_RELAY_POLL_MS;
    if (!r->due_unknown) return poll_ms;
    ltc_status st = {0};
    const char *p[1] = {r->destination};
    PGresult *res = ltc_db_query(r->db, &st, SQL_NEXT_DUE, 1, p);
    long ms = poll_ms;
    if (res) {
        if (PQgetisnull(res, 0, 0))
            r->due_unknown = 0; /* nothing of the destination undelivered: no retry waits */
        else
            ms = (long)ltc_pg_i64(res, 0, 0);
        PQclear(res);
    }
    ltc_status_clear(&st);
    if (ms < 5) ms = 5;
    if (ms > poll_ms) ms = poll_ms;
    return ms;
}

static void *relay_main(void *arg) {
    lane *r = arg;
    ltc_relay *relay = r->relay;
    long db_backoff = 100;
    while (!atomic_load(&relay->stop)) {
        ltc_status st = {0};
        if (ltc_db_connect(r->db, &st) != 0 || relay_listen(r) != 0) {
            ltc_status_clear(&st);
            r->listening = 0;
            r->due_unknown = 1;
            relay_wait_stop(r, db_backoff);
            db_backoff = db_backoff * 2 > 5000 ? 5000 : db_backoff * 2;
            continue;
        }
        relay_take_wake(r);
        int n = relay_batch(r);
        if (n < 0) {
            r->due_unknown = 1; /* a retry it recorded may have been rolled back, or not */
            relay_wait_stop(r, db_backoff);
            db_backoff = db_backoff * 2 > 5000 ? 5000 : db_backoff * 2;
            continue;
        }
        db_backoff = 100;
        time_t now = time(NULL);
        if (now - r->backlog_time >= 2) { /* gauges every 2 s: its destination's ready and parked rows */
            refresh_backlog(r);
            r->backlog_time = now;
        }
        if (n == 0) relay_wait(r, next_due_ms(r));
    }
    return NULL;
}

static void lane_clear(lane *l) {
    free(l->destination);
    ltc_client_destroy(l->client);
    ltc_db_destroy(l->db);
    if (l->wake_fd >= 0) close(l->wake_fd);
}

static void relay_free(ltc_relay *r) {
    for (size_t i = 0; i < r->n_lanes; i++) lane_clear(&r->lanes[i]);
    free(r->lanes);
    free(r->destinations);
    free(r);
}

/* Stops and joins the lanes that run (the others never started). */
static void relay_join(ltc_relay *r) {
    atomic_store(&r->stop, 1);
    for (size_t i = 0; i < r->n_lanes; i++) {
        relays_remove(&r->lanes[i]); /* no commit wakes it from now on */
        atomic_store(&r->lanes[i].woken, 0);
        wake_relay(&r->lanes[i]); /* out of its wait at once */
    }
    for (size_t i = 0; i < r->n_lanes; i++)
        if (r->lanes[i].started) pthread_join(r->lanes[i].thread, NULL);
}

ltc_relay *ltc_relay_start(const ltc_relay_options *opt, ltc_status *st) {
    ltc_relay *r = calloc(1, sizeof *r);
    if (!r) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    r->opt = *opt;
    r->lanes = calloc(opt->n_peers ? opt->n_peers : 1, sizeof *r->lanes);
    size_t dlen = 3;
    for (size_t i = 0; i < opt->n_peers; i++) dlen += strlen(opt->peers[i].destination) + 3;
    r->destinations = malloc(dlen);
    if (!r->lanes || !r->destinations) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        goto fail;
    }
    size_t used = (size_t)snprintf(r->destinations, dlen, "{");
    for (size_t i = 0; i < opt->n_peers; i++) {
        lane *l = &r->lanes[r->n_lanes++];
        l->relay = r;
        l->index = i;
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        l->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)l;
        l->due_unknown = 1; /* retries from before this start may be waiting */
        l->destination = strdup(opt->peers[i].destination);
        l->db = ltc_db_create(opt->db_dsn, opt->db_schema);
        l->client = ltc_client_create(opt->peers[i].target, opt->peers[i].destination, 0);
        if (l->wake_fd < 0 || !l->destination || !l->db || !l->client) {
            ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_PEER", "cannot set up the relay to %s at %s",
                           opt->peers[i].destination, opt->peers[i].target);
            goto fail;
        }
        /* peer names are identifiers (ltb, bto, ...): no quoting needed in the array literal */
        used += (size_t)snprintf(r->destinations + used, dlen - used, "%s%s", i ? "," : "", l->destination);
    }
    snprintf(r->destinations + used, dlen - used, "}");
    for (size_t i = 0; i < r->n_lanes; i++) {
        lane *l = &r->lanes[i];
        if (relays_add(l) != 0) {
            ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            goto fail_join;
        }
        if (pthread_create(&l->thread, NULL, relay_main, l) != 0) {
            ltc_status_set(st, LTC_INTERNAL, "THREAD_FAILED", "cannot start the relay thread to %s", l->destination);
            goto fail_join;
        }
        l->started = 1;
    }
    return r;
fail_join:
    relay_join(r);
fail:
    relay_free(r);
    return NULL;
}

void ltc_relay_stop(ltc_relay *r) {
    if (!r) return;
    relay_join(r);
    relay_free(r);
}
