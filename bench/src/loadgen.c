/* loadgen.c - the benchmark's closed-loop load generator on gRPC core's async client API (see loadgen.h).
 *
 * Each thread owns one completion queue and its slots. A slot is IDLE (between calls), IN_FLIGHT (one batch of all
 * six client ops started, its tag is the slot), DELAYED (waiting for its start time; the thread's queue wait is cut
 * short to start it on time) or RETIRED. Nothing of a slot is touched by another thread. */
#include "loadgen.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ltc/config.h"

/* ---- histogram ---------------------------------------------------------------------------------------------- */

#define SUB (1u << LTC_HIST_SUB_BITS)
#define HALF (SUB / 2)

static unsigned hist_index(uint64_t v) {
    if (v >= (UINT64_C(1) << LTC_HIST_MAX_BITS)) v = (UINT64_C(1) << LTC_HIST_MAX_BITS) - 1;
    if (v < SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned e = msb - (LTC_HIST_SUB_BITS - 1);
    return SUB + (e - 1) * HALF + (unsigned)((v >> e) - HALF);
}

/* Lowest and highest value of bucket i. */
static void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi) {
    if (i < SUB) {
        *lo = *hi = i;
        return;
    }
    unsigned e = (i - SUB) / HALF + 1;
    uint64_t m = (i - SUB) % HALF + HALF;
    *lo = m << e;
    *hi = ((m + 1) << e) - 1;
}

void ltc_hist_init(ltc_hist *h) {
    memset(h, 0, sizeof *h);
    h->min_ns = UINT64_MAX;
}

void ltc_hist_record(ltc_hist *h, uint64_t ns) {
    h->buckets[hist_index(ns)]++;
    h->count++;
    h->sum_ns += (double)ns;
    if (ns < h->min_ns) h->min_ns = ns;
    if (ns > h->max_ns) h->max_ns = ns;
}

void ltc_hist_merge(ltc_hist *into, const ltc_hist *from) {
    if (from->count == 0) return;
    for (unsigned i = 0; i < LTC_HIST_BUCKETS; i++) into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum_ns += from->sum_ns;
    if (from->min_ns < into->min_ns) into->min_ns = from->min_ns;
    if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
}

uint64_t ltc_hist_percentile(const ltc_hist *h, double p) {
    if (h->count == 0) return 0;
    if (p >= 100.0) return h->max_ns;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LTC_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            hist_bounds(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min_ns) mid = h->min_ns;
            if (mid > h->max_ns) mid = h->max_ns;
            return mid;
        }
    }
    return h->max_ns;
}

double ltc_hist_mean(const ltc_hist *h) { return h->count ? h->sum_ns / (double)h->count : 0.0; }

/* ---- the run ------------------------------------------------------------------------------------------------ */

enum slot_state {
    S_IDLE,
    S_IN_FLIGHT,
    S_DELAYED,
    S_RETIRED
};

typedef struct lg_thread lg_thread;

typedef struct lg_slot {
    lg_thread *t;
    unsigned id;
    grpc_channel *channel;
    enum slot_state state;
    ltc_lg_call cur;
    uint64_t start_ns, due_ns;
    grpc_call *call;
    grpc_byte_buffer *req_bb, *resp_bb;
    grpc_metadata_array initial, trailing;
    grpc_status_code code;
    grpc_slice details;
} lg_slot;

typedef struct lg_run lg_run;

struct lg_thread {
    lg_run *run;
    pthread_t th;
    grpc_completion_queue *cq;
    lg_slot *slots;
    unsigned n_slots;
    unsigned in_flight, delayed, active;
    uint64_t next_due;
    int cancelled;
    ltc_lg_result *res;
};

struct lg_run {
    const ltc_lg_options *o;
    grpc_channel **channels;
    unsigned n_channels;
    lg_thread *threads;
    unsigned n_threads;
    _Atomic uint64_t win_start, win_end; /* ns on CLOCK_MONOTONIC; 0 = not yet */
    atomic_int stop;                     /* start no more calls */
    atomic_int cancel;                   /* cancel the calls still in flight */
    atomic_uint active;                  /* slots not retired, over all threads */
    atomic_uint threads_done;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static gpr_timespec in_ms(int64_t ms) {
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static void retire(lg_slot *s) {
    s->state = S_RETIRED;
    s->t->active--;
    atomic_fetch_sub(&s->t->run->active, 1);
}

static void note_error(ltc_lg_result *res, int code, const char *msg) {
    if (res->first_error[0]) return;
    snprintf(res->first_error, sizeof res->first_error, "%s: %.200s", ltc_code_name((ltc_code)code), msg);
}

/* Starts the slot's current call now. */
static void start_call(lg_slot *s) {
    lg_thread *t = s->t;
    const ltc_lg_options *o = t->run->o;
    s->call = grpc_channel_create_call(s->channel, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                       grpc_slice_from_static_string(s->cur.method), NULL, in_ms(o->deadline_ms), NULL);
    grpc_slice sl = grpc_slice_from_static_buffer(s->cur.req, s->cur.len);
    s->req_bb = grpc_raw_byte_buffer_create(&sl, 1);
    s->resp_bb = NULL;
    grpc_metadata_array_init(&s->initial);
    grpc_metadata_array_init(&s->trailing);
    s->code = GRPC_STATUS_UNKNOWN;
    s->details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    grpc_metadata auth;
    if (o->n_authorization) { /* gRPC core copies the metadata when the batch starts */
        unsigned who = s->cur.who >= 0 && (unsigned)s->cur.who < o->n_authorization ? (unsigned)s->cur.who : 0;
        memset(&auth, 0, sizeof auth);
        auth.key = grpc_slice_from_static_string("authorization");
        auth.value = grpc_slice_from_static_string(o->authorization[who]);
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &auth;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing;
    ops[5].data.recv_status_on_client.status = &s->code;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    s->start_ns = now_ns();
    s->state = S_IN_FLIGHT;
    t->in_flight++;
    grpc_call_error e = grpc_call_start_batch(s->call, ops, 6, s, NULL);
    if (e != GRPC_CALL_OK) { /* a programming error (bad ops): report it as the slot's failure and stop the slot */
        note_error(t->res, LTC_INTERNAL, "grpc_call_start_batch failed");
        t->in_flight--;
        grpc_call_unref(s->call);
        s->call = NULL;
        grpc_byte_buffer_destroy(s->req_bb);
        s->req_bb = NULL;
        grpc_metadata_array_destroy(&s->initial);
        grpc_metadata_array_destroy(&s->trailing);
        retire(s);
    }
}

/* Asks the caller for the slot's next call and starts (or schedules) it. */
static void ask_next(lg_slot *s, const ltc_lg_done *done) {
    lg_thread *t = s->t;
    const ltc_lg_options *o = t->run->o;
    if (atomic_load_explicit(&t->run->stop, memory_order_relaxed)) {
        retire(s);
        return;
    }
    s->cur.delay_ms = 0;
    if (!o->next(o->user, s->id, done, &s->cur) || !s->cur.method || (!s->cur.req && s->cur.len)) {
        retire(s);
        return;
    }
    if (s->cur.klass < 0 || s->cur.klass >= LTC_LG_MAX_CLASSES) s->cur.klass = 0;
    if (s->cur.delay_ms > 0) {
        s->state = S_DELAYED;
        s->due_ns = now_ns() + (uint64_t)s->cur.delay_ms * 1000000u;
        if (t->delayed == 0 || s->due_ns < t->next_due) t->next_due = s->due_ns;
        t->delayed++;
        return;
    }
    start_call(s);
}

/* Starts every delayed slot that is due (or retires them all when stopping); recomputes the next due time. */
static void fire_timers(lg_thread *t, uint64_t now, int stopping) {
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < t->n_slots; i++) {
        lg_slot *s = &t->slots[i];
        if (s->state != S_DELAYED) continue;
        if (stopping) {
            t->delayed--;
            retire(s);
        } else if (s->due_ns <= now) {
            t->delayed--;
            start_call(s);
        } else if (s->due_ns < next) {
            next = s->due_ns;
        }
    }
    t->next_due = next;
}

static int in_window(lg_run *run, uint64_t now) {
    uint64_t ws = atomic_load_explicit(&run->win_start, memory_order_relaxed);
    uint64_t we = atomic_load_explicit(&run->win_end, memory_order_relaxed);
    return ws != 0 && now >= ws && (we == 0 || now < we);
}

static void on_complete(lg_slot *s, int success) {
    lg_thread *t = s->t;
    uint64_t now = now_ns();
    t->in_flight--;
    ltc_lg_done d = {0};
    d.latency_ns = now - s->start_ns;
    d.klass = s->cur.klass;
    d.code = success ? (int)s->code : (int)GRPC_STATUS_UNAVAILABLE;
    d.message = "";
    d.counted = in_window(t->run, now);
    char *msg = NULL;
    grpc_slice all;
    int have_all = 0;
    if (d.code == GRPC_STATUS_OK && s->resp_bb) {
        grpc_byte_buffer_reader rd;
        if (grpc_byte_buffer_reader_init(&rd, s->resp_bb)) {
            all = grpc_byte_buffer_reader_readall(&rd);
            grpc_byte_buffer_reader_destroy(&rd);
            have_all = 1;
            d.resp = GRPC_SLICE_START_PTR(all);
            d.resp_len = GRPC_SLICE_LENGTH(all);
        }
    } else if (d.code != GRPC_STATUS_OK) {
        msg = grpc_slice_to_c_string(s->details);
        d.message = msg ? msg : "";
    }
    ltc_lg_result *res = t->res;
    res->calls_total++;
    if (d.counted) {
        ltc_lg_class *k = &res->classes[d.klass];
        if (d.code >= 0 && d.code < LTC_LG_CODES) res->by_code[d.code]++;
        if (d.code == GRPC_STATUS_OK) {
            res->ok++;
            k->ok++;
            ltc_hist_record(&k->hist, d.latency_ns);
        } else {
            res->failed++;
            k->failed++;
        }
    }
    if (d.code != GRPC_STATUS_OK) note_error(res, d.code, d.message);

    /* the response and the status message outlive the callback, which may start the slot's next call */
    grpc_byte_buffer *resp_bb = s->resp_bb;
    grpc_slice details = s->details;
    s->resp_bb = NULL;
    grpc_call_unref(s->call);
    s->call = NULL;
    grpc_byte_buffer_destroy(s->req_bb);
    s->req_bb = NULL;
    grpc_metadata_array_destroy(&s->initial);
    grpc_metadata_array_destroy(&s->trailing);
    s->state = S_IDLE;
    ask_next(s, &d);
    if (have_all) grpc_slice_unref(all);
    if (resp_bb) grpc_byte_buffer_destroy(resp_bb);
    gpr_free(msg);
    grpc_slice_unref(details);
}

static void *thread_main(void *arg) {
    lg_thread *t = arg;
    lg_run *run = t->run;
    for (unsigned i = 0; i < t->n_slots; i++) ask_next(&t->slots[i], NULL);
    for (;;) {
        int stopping = atomic_load_explicit(&run->stop, memory_order_relaxed);
        if (stopping && t->delayed) fire_timers(t, now_ns(), 1);
        if (stopping && !t->cancelled && atomic_load(&run->cancel)) {
            for (unsigned i = 0; i < t->n_slots; i++)
                if (t->slots[i].state == S_IN_FLIGHT) grpc_call_cancel(t->slots[i].call, NULL);
            t->cancelled = 1;
        }
        if (t->in_flight == 0 && (stopping || t->active == 0)) break;
        uint64_t now = now_ns();
        if (t->delayed && now >= t->next_due) {
            fire_timers(t, now, 0);
            continue;
        }
        int64_t wait_ms = 20;
        if (t->delayed) {
            int64_t until = (int64_t)((t->next_due - now) / 1000000u);
            if (until < wait_ms) wait_ms = until;
        }
        grpc_event ev = grpc_completion_queue_next(t->cq, in_ms(wait_ms), NULL);
        if (ev.type == GRPC_OP_COMPLETE) on_complete(ev.tag, ev.success);
    }
    grpc_completion_queue_shutdown(t->cq);
    while (grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(t->cq);
    t->cq = NULL;
    atomic_fetch_add(&run->threads_done, 1);
    return NULL;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Sleeps until `until` (CLOCK_MONOTONIC ns) or until every slot has retired. */
static void wait_until(lg_run *run, uint64_t until) {
    for (;;) {
        uint64_t now = now_ns();
        if (now >= until || atomic_load(&run->active) == 0) return;
        uint64_t step = until - now;
        sleep_ns(step > 10000000u ? 10000000u : step);
    }
}

static double cpu_s(const struct rusage *a, const struct rusage *b, int sys) {
    const struct timeval *x = sys ? &a->ru_stime : &a->ru_utime, *y = sys ? &b->ru_stime : &b->ru_utime;
    return (double)(y->tv_sec - x->tv_sec) + (double)(y->tv_usec - x->tv_usec) / 1e6;
}

static ltc_lg_result *result_new(void) {
    ltc_lg_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    ltc_hist_init(&r->all);
    for (unsigned k = 0; k < LTC_LG_MAX_CLASSES; k++) ltc_hist_init(&r->classes[k].hist);
    return r;
}

void ltc_lg_result_free(ltc_lg_result *r) { free(r); }

static void merge_result(ltc_lg_result *into, const ltc_lg_result *from) {
    into->ok += from->ok;
    into->failed += from->failed;
    into->calls_total += from->calls_total;
    for (unsigned c = 0; c < LTC_LG_CODES; c++) into->by_code[c] += from->by_code[c];
    for (unsigned k = 0; k < LTC_LG_MAX_CLASSES; k++) {
        into->classes[k].ok += from->classes[k].ok;
        into->classes[k].failed += from->classes[k].failed;
        ltc_hist_merge(&into->classes[k].hist, &from->classes[k].hist);
        ltc_hist_merge(&into->all, &from->classes[k].hist);
    }
    if (!into->first_error[0]) memcpy(into->first_error, from->first_error, sizeof into->first_error);
}

static grpc_channel *make_channel(const ltc_lg_options *o) {
    grpc_arg args[5] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = o->max_message_bytes}},
        /* each channel its own TCP connection (identical channels would otherwise share one) */
        {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
        /* the loader makes no retries: every call it counts went over the wire once */
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 1000}},
        /* a static list of replicas ("ipv4:127.0.0.1:P1,127.0.0.1:P2"): each channel connects to every address and
         * spreads its calls over them in turn (one address: the same as pick_first) */
        {GRPC_ARG_STRING, GRPC_ARG_LB_POLICY_NAME, {.string = "round_robin"}},
    };
    grpc_arg all[6];
    memcpy(all, args, sizeof args);
    size_t n = 5;
    /* a list is no host name to check the certificate against: localhost (the gateway's certificate names it) */
    const char *tls_name = o->tls_name ? o->tls_name : strncmp(o->target, "ipv4:", 5) == 0 ? "localhost" : NULL;
    if (o->ca_pem && tls_name)
        all[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, {.string = (char *)tls_name}};
    grpc_channel_args cargs = {n, all};
    /* TLS as a client of the gateway's public port: its roots only, no client certificate (callers authenticate
     * with their token) */
    grpc_channel_credentials *creds =
        o->ca_pem ? grpc_ssl_credentials_create(o->ca_pem, NULL, NULL, NULL) : grpc_insecure_credentials_create();
    if (!creds) return NULL;
    grpc_channel *ch = grpc_channel_create(o->target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

static void run_free(lg_run *run) {
    for (unsigned i = 0; i < run->n_threads; i++) {
        lg_thread *t = &run->threads[i];
        if (t->cq) grpc_completion_queue_destroy(t->cq); /* its thread never ran (a running thread destroys it) */
        free(t->slots);
        ltc_lg_result_free(t->res);
    }
    free(run->threads);
    for (unsigned i = 0; i < run->n_channels; i++)
        if (run->channels[i]) grpc_channel_destroy(run->channels[i]);
    free(run->channels);
}

ltc_lg_result *ltc_loadgen_run(const ltc_lg_options *opt, ltc_status *st) {
    if (!opt || !opt->next || !opt->target || ltc_target_valid(opt->target) != 0 || opt->concurrency == 0 ||
        opt->duration_s <= 0 || opt->warmup_s < 0) {
        ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_OPTIONS",
                       "load generator needs a host:port (or ipv4:host:port,host:port) target, a next callback, "
                       "concurrency > 0, duration > 0");
        return NULL;
    }
    ltc_lg_options o = *opt;
    if (o.threads == 0) o.threads = 1;
    if (o.threads > o.concurrency) o.threads = o.concurrency;
    if (o.channels == 0) o.channels = 1;
    if (o.channels > o.concurrency) o.channels = o.concurrency;
    if (o.deadline_ms <= 0) o.deadline_ms = 10000;
    if (o.max_message_bytes <= 0) o.max_message_bytes = 4 * 1024 * 1024;

    grpc_init();
    lg_run run;
    memset(&run, 0, sizeof run);
    run.o = &o;
    ltc_lg_result *out = result_new();
    run.channels = calloc(o.channels, sizeof *run.channels);
    run.threads = calloc(o.threads, sizeof *run.threads);
    if (!out || !run.channels || !run.threads) goto oom;
    run.n_channels = o.channels;
    for (unsigned i = 0; i < o.channels; i++) {
        run.channels[i] = make_channel(&o);
        if (!run.channels[i]) {
            ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_TARGET", "cannot create a channel to %s", o.target);
            goto fail;
        }
    }
    run.n_threads = o.threads;
    for (unsigned i = 0; i < o.threads; i++) {
        lg_thread *t = &run.threads[i];
        t->run = &run;
        t->n_slots = o.concurrency / o.threads + (i < o.concurrency % o.threads ? 1 : 0);
        t->slots = calloc(t->n_slots, sizeof *t->slots);
        t->res = result_new();
        t->cq = grpc_completion_queue_create_for_next(NULL);
        if (!t->slots || !t->res || !t->cq) goto oom;
        t->active = t->n_slots;
        for (unsigned k = 0; k < t->n_slots; k++) {
            lg_slot *s = &t->slots[k];
            s->t = t;
            s->id = i + k * o.threads; /* slot ids 0..concurrency-1, slot id % threads == thread index */
            s->channel = run.channels[s->id % o.channels];
        }
    }
    atomic_store(&run.active, o.concurrency);

    for (unsigned i = 0; i < o.threads; i++) {
        if (pthread_create(&run.threads[i].th, NULL, thread_main, &run.threads[i]) != 0) {
            ltc_status_set(st, LTC_INTERNAL, "THREAD_FAILED", "cannot start a load generator thread");
            atomic_store(&run.stop, 1);
            atomic_store(&run.cancel, 1);
            for (unsigned k = 0; k < i; k++) pthread_join(run.threads[k].th, NULL);
            goto fail;
        }
    }

    uint64_t t0 = now_ns();
    wait_until(&run, t0 + (uint64_t)(o.warmup_s * 1e9));
    struct rusage ru0, ru1;
    uint64_t ws = now_ns();
    atomic_store(&run.win_start, ws);
    if (o.on_window) o.on_window(o.user, 0);
    getrusage(RUSAGE_SELF, &ru0);
    wait_until(&run, ws + (uint64_t)(o.duration_s * 1e9));
    uint64_t we = now_ns();
    atomic_store(&run.win_end, we);
    getrusage(RUSAGE_SELF, &ru1);
    if (o.on_window) o.on_window(o.user, 1);
    atomic_store(&run.stop, 1);

    /* calls in flight finish (not counted); after 2 s they are cancelled */
    uint64_t drain_until = now_ns() + 2000000000u;
    while (atomic_load(&run.threads_done) < o.threads && now_ns() < drain_until) sleep_ns(5000000u);
    atomic_store(&run.cancel, 1);
    for (unsigned i = 0; i < o.threads; i++) pthread_join(run.threads[i].th, NULL);

    out->window_s = (double)(we - ws) / 1e9;
    out->cpu_user_s = cpu_s(&ru0, &ru1, 0);
    out->cpu_sys_s = cpu_s(&ru0, &ru1, 1);
    for (unsigned i = 0; i < o.threads; i++) merge_result(out, run.threads[i].res);
    run_free(&run);
    grpc_shutdown();
    return out;
oom:
    ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
fail:
    run_free(&run);
    ltc_lg_result_free(out);
    grpc_shutdown();
    return NULL;
}

int ltc_lg_unary(const ltc_lg_options *o, int who, const char *method, const uint8_t *req, size_t len, uint8_t **resp,
                 size_t *resp_len, ltc_status *st) {
    *resp = NULL;
    *resp_len = 0;
    if (!o || !o->target || ltc_target_valid(o->target) != 0) {
        ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_TARGET", "a host:port (or ipv4:host:port,...) target is needed");
        return -1;
    }
    ltc_lg_options lo = *o;
    if (lo.max_message_bytes <= 0) lo.max_message_bytes = 4 * 1024 * 1024;
    grpc_init();
    int rc = -1;
    grpc_channel *ch = make_channel(&lo);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    if (!ch || !cq) {
        ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_TARGET", "cannot create a channel to %s", o->target);
        goto done;
    }
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_copied_string(method), NULL, in_ms(10000), NULL);
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *req_bb = grpc_raw_byte_buffer_create(&sl, 1), *resp_bb = NULL;
    grpc_slice_unref(sl);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_metadata auth;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (o->n_authorization) {
        unsigned w = who >= 0 && (unsigned)who < o->n_authorization ? (unsigned)who : 0;
        memset(&auth, 0, sizeof auth);
        auth.key = grpc_slice_from_static_string("authorization");
        auth.value = grpc_slice_from_copied_string(o->authorization[w]);
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &auth;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) != GRPC_CALL_OK) {
        ltc_status_set(st, LTC_INTERNAL, "CALL_FAILED", "grpc_call_start_batch failed");
    } else {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_OP_COMPLETE && code == GRPC_STATUS_OK && resp_bb) {
            grpc_byte_buffer_reader rd;
            if (grpc_byte_buffer_reader_init(&rd, resp_bb)) {
                grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
                *resp_len = GRPC_SLICE_LENGTH(all);
                *resp = malloc(*resp_len ? *resp_len : 1);
                if (*resp) {
                    if (*resp_len) memcpy(*resp, GRPC_SLICE_START_PTR(all), *resp_len);
                    rc = 0;
                } else {
                    ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
                }
                grpc_slice_unref(all);
                grpc_byte_buffer_reader_destroy(&rd);
            }
        } else {
            char *msg = grpc_slice_to_c_string(details);
            if (code == GRPC_STATUS_OK)
                ltc_status_set(st, LTC_INTERNAL, "CALL_FAILED", "no response message");
            else /* the peer's own status, as it sent it */
                ltc_status_set(st, (ltc_code)code, NULL, "%s", msg);
            gpr_free(msg);
        }
    }
    grpc_call_unref(call);
    if (o->n_authorization) grpc_slice_unref(auth.value);
    grpc_byte_buffer_destroy(req_bb);
    if (resp_bb) grpc_byte_buffer_destroy(resp_bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
done:
    if (ch) grpc_channel_destroy(ch);
    if (cq) {
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
        grpc_completion_queue_destroy(cq);
    }
    grpc_shutdown();
    return rc;
}
