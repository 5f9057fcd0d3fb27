/* audit_sealer.c - the audit chain's sealer thread (ltc/audit_sealer.h, runtime migration 011). */
#include "ltc/audit_sealer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ltc/log.h"

#define SEAL_BATCH 500     /* rows per audit_chain_seal call (one transaction) */
#define SEAL_MIN_GAP_MS 20 /* between two rounds: nudges of many commits are served by one round */
#define SEAL_MAX_BACKOFF_MS 5000
#define SEAL_FULL_PASS_MS 5000 /* how often a round starts from the oldest unsealed row, not where the last stopped */

struct ltc_audit_sealer {
    char *service;
    ltc_db *db;
    long interval_ms;
    pthread_t thread;
    int stop;          /* under mu */
    int64_t from_seq;  /* the highest seq the last round sealed: the next starts above it */
    int64_t full_pass; /* monotonic ms of the last round that started from the oldest unsealed row */
};

/* The running sealer's wake-up: static, so a nudge never touches freed memory. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int nudged;
static ltc_audit_sealer *running; /* under mu */
static atomic_long max_pending_ms = 60000;

void ltc_audit_set_max_pending_ms(long ms) { atomic_store(&max_pending_ms, ms); }
long ltc_audit_max_pending_ms(void) { return atomic_load(&max_pending_ms); }

void ltc_audit_sealer_nudge(void) {
    if (atomic_exchange(&nudged, 1)) return; /* one pending already: the sealer's next round takes this commit too */
    pthread_mutex_lock(&mu);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static const char SQL_SEAL_AFTER[] = "SELECT sealed, last_seq FROM audit_chain_seal_after($1::bigint, $2::integer)";

/* Seals up to max_rows rows above *from_seq (runtime migration 011 audit_chain_seal_after) and moves *from_seq to the
 * highest seq sealed. How many, or -1 with st set. */
static int seal_after(ltc_db *db, int64_t *from_seq, int max_rows, ltc_status *st) {
    char f[24], n[16];
    snprintf(f, sizeof f, "%lld", (long long)*from_seq);
    snprintf(n, sizeof n, "%d", max_rows);
    const char *params[2] = {f, n};
    PGresult *r = ltc_db_query(db, st, SQL_SEAL_AFTER, 2, params);
    if (!r) return -1;
    int rows = 0;
    if (PQntuples(r) == 1) {
        rows = atoi(PQgetvalue(r, 0, 0));
        *from_seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    return rows;
}

int ltc_audit_seal(ltc_db *db, int max_rows, ltc_status *st) {
    int64_t from = 0;
    return seal_after(db, &from, max_rows, st);
}

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static struct timespec after_ms(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Seals until nothing is left (or another sealer holds the head), from where the last round stopped and from the
 * oldest unsealed row every SEAL_FULL_PASS_MS. 0, or -1 when the database failed (logged once per outage). */
static int seal_round(ltc_audit_sealer *s, int *failing) {
    if (mono_ms() - s->full_pass >= SEAL_FULL_PASS_MS) { /* rows that committed after a higher seq was sealed */
        s->from_seq = 0;
        s->full_pass = mono_ms();
    }
    for (;;) {
        ltc_status st = {0};
        int n = seal_after(s->db, &s->from_seq, SEAL_BATCH, &st);
        if (n < 0) {
            if (!*failing) LTC_WARN("audit_seal_failed", NULL, "%s: %s (retrying)", ltc_code_name(st.code), st.message);
            *failing = 1;
            ltc_status_clear(&st);
            return -1;
        }
        if (*failing) LTC_INFO("audit_seal_resumed", NULL, "sealing the audit chain again");
        *failing = 0;
        if (n < SEAL_BATCH) return 0;
    }
}

static void *sealer_main(void *arg) {
    ltc_audit_sealer *s = arg;
    int failing = 0;
    long backoff = 0;
    pthread_mutex_lock(&mu);
    while (!s->stop) {
        if (!atomic_load(&nudged) || backoff) {
            struct timespec until = after_ms(backoff ? backoff : s->interval_ms);
            pthread_cond_timedwait(&cv, &mu, &until);
        }
        if (s->stop) break;
        pthread_mutex_unlock(&mu);
        atomic_store(&nudged, 0); /* a commit from here on nudges again */
        if (seal_round(s, &failing) == 0) {
            backoff = 0;
            sleep_ms(SEAL_MIN_GAP_MS);
        } else {
            backoff = backoff ? backoff * 2 : s->interval_ms;
            if (backoff > SEAL_MAX_BACKOFF_MS) backoff = SEAL_MAX_BACKOFF_MS;
        }
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    seal_round(s, &failing); /* the rows of the last calls, when the database takes them */
    return NULL;
}

static void sealer_free(ltc_audit_sealer *s) {
    ltc_db_destroy(s->db);
    free(s->service);
    free(s);
}

ltc_audit_sealer *ltc_audit_sealer_start(const char *service, const char *dsn, long interval_ms, ltc_status *st) {
    ltc_audit_sealer *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->service = strdup(service);
    s->db = ltc_db_create(dsn, service);
    if (!s->service || !s->db) abort();
    s->interval_ms = interval_ms > 0 ? interval_ms : 150;
    pthread_mutex_lock(&mu);
    if (running) {
        pthread_mutex_unlock(&mu);
        sealer_free(s);
        ltc_status_set(st, LTC_INTERNAL, "AUDIT_SEALER_RUNNING", "an audit sealer runs already");
        return NULL;
    }
    running = s;
    atomic_store(&nudged, 1); /* a first round at once: rows left by an earlier process */
    if (pthread_create(&s->thread, NULL, sealer_main, s) != 0) {
        running = NULL;
        pthread_mutex_unlock(&mu);
        sealer_free(s);
        ltc_status_set(st, LTC_INTERNAL, "THREAD_FAILED", "cannot start the audit sealer's thread");
        return NULL;
    }
    pthread_mutex_unlock(&mu);
    return s;
}

void ltc_audit_sealer_stop(ltc_audit_sealer *s) {
    if (!s) return;
    pthread_mutex_lock(&mu);
    s->stop = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&mu);
    running = NULL;
    pthread_mutex_unlock(&mu);
    sealer_free(s);
}
