/* loadgen.h - a closed-loop load generator on gRPC core's async API, for the benchmark (bench/).
 *
 * `concurrency` slots each keep one unary call in flight. When a slot's call completes, the slot's `next` callback
 * sees the outcome (status, response bytes, latency) and fills in the slot's next call, or retires the slot. A call
 * may start after a delay (polling for a hand-off, backing off after an error). Slots are spread over `threads`
 * completion queues, one thread each (slot i on queue i % threads: a slot's callbacks always run on the same
 * thread, so per-slot state needs no lock), and over `channels` TCP connections (slot i on channel i % channels).
 *
 * A run: warm-up (calls completing in it are not counted), then the measured window of `duration_s` seconds. It ends
 * at the end of the window, or earlier when every slot has retired. Calls still in flight at the end are waited for
 * (up to their deadline or 2 s) and not counted. Latencies (start of the call to its completion, in ns) go to
 * log-linear histograms with about 1.6% resolution, one per class the caller picks per call.
 *
 *   static int next(void *user, unsigned slot, const ltc_lg_done *done, ltc_lg_call *call) {
 *       call->method = "/ltc.bench.v1.EchoService/Echo";   // must outlive the call (a literal)
 *       call->req = bytes; call->len = n;                  // valid until this slot's next callback
 *       return 1;
 *   }
 *   ltc_lg_options o = {.target = "127.0.0.1:50059", .concurrency = 64, .threads = 1, .channels = 1,
 *                       .warmup_s = 2, .duration_s = 10, .next = next};
 *   ltc_lg_result *r = ltc_loadgen_run(&o, &st);   // NULL with st set when the run cannot start
 *   ... r->ok / r->window_s, ltc_hist_percentile(&r->all, 99.0) ...
 *   ltc_lg_result_free(r);
 *
 * Every grpc_* call of the load generator lives in bench/src/loadgen.c; callers see none. It is the benchmark's
 * alone: built into ltc-bench only, not into the runtime (common/). */
#ifndef LTC_BENCH_LOADGEN_H
#define LTC_BENCH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/status.h"

/* --- latency histogram --------------------------------------------------------------------------------------- */

/* Log-linear buckets over nanoseconds: exact below 128 ns, then 64 buckets per power of two (<= 1/64 relative
 * width) up to 2^40 ns (~18 minutes; larger values are clamped). */
#define LTC_HIST_SUB_BITS 7
#define LTC_HIST_MAX_BITS 40
#define LTC_HIST_BUCKETS                                                                                               \
    ((1 << LTC_HIST_SUB_BITS) + (LTC_HIST_MAX_BITS - LTC_HIST_SUB_BITS) * (1 << (LTC_HIST_SUB_BITS - 1)))

typedef struct ltc_hist {
    uint64_t count;
    uint64_t min_ns, max_ns;
    double sum_ns;
    uint64_t buckets[LTC_HIST_BUCKETS];
} ltc_hist;

void ltc_hist_init(ltc_hist *h);
void ltc_hist_record(ltc_hist *h, uint64_t ns);
void ltc_hist_merge(ltc_hist *into, const ltc_hist *from);
/* The value at percentile p (0 < p <= 100) in ns: the middle of its bucket (exact min/max at the ends). 0 when
 * empty. */
uint64_t ltc_hist_percentile(const ltc_hist *h, double p);
double ltc_hist_mean(const ltc_hist *h);

/* --- the load generator ------------------------------------------------------------------------------------- */

#define LTC_LG_MAX_CLASSES 32
#define LTC_LG_CODES 17 /* gRPC status codes 0..16 */

/* The next call of a slot, filled in by the `next` callback. */
typedef struct ltc_lg_call {
    const char *method; /* "/pkg.v1.Service/Method"; must outlive the call (a string literal) */
    const uint8_t *req; /* serialized request; must stay valid until this slot's next callback */
    size_t len;
    int delay_ms; /* > 0: start the call this much later (the slot waits, nothing is in flight) */
    int klass;    /* histogram class, 0..LTC_LG_MAX_CLASSES-1 */
    int who;      /* the caller: index into the options' `authorization` values (ignored when there are none) */
} ltc_lg_call;

/* The outcome of a slot's call, as its `next` callback sees it. */
typedef struct ltc_lg_done {
    int code;            /* gRPC status code (0 OK); DEADLINE_EXCEEDED / UNAVAILABLE for transport failures */
    const char *message; /* the status message ("" when none); valid during the callback */
    const uint8_t *resp; /* response bytes (OK only, else NULL); valid during the callback */
    size_t resp_len;
    uint64_t latency_ns;
    int klass;   /* the class the call was made with */
    int counted; /* 1 when the call completed inside the measured window */
} ltc_lg_done;

/* Called on the slot's thread: first with done == NULL, then after each of its calls. Fill *call and return 1 to
 * start it, or return 0 to retire the slot. `call` holds the slot's previous call (method, req...) on entry. */
typedef int (*ltc_lg_next_fn)(void *user, unsigned slot, const ltc_lg_done *done, ltc_lg_call *call);

/* Called on the thread that runs ltc_loadgen_run at the start (phase 0) and end (phase 1) of the measured window:
 * the moment to sample the CPU time and memory of other processes. */
typedef void (*ltc_lg_window_fn)(void *user, int phase);

typedef struct ltc_lg_options {
    const char *target;    /* "host:port" */
    unsigned concurrency;  /* slots (calls in flight at most) */
    unsigned threads;      /* completion queues, one thread each (0 -> 1) */
    unsigned channels;     /* TCP connections (0 -> 1) */
    double warmup_s;       /* excluded from the figures */
    double duration_s;     /* the measured window */
    int deadline_ms;       /* per call (0 -> 10000) */
    int max_message_bytes; /* receive limit (0 -> 4 MiB) */
    /* TLS: the PEM roots the server's certificate must chain to (NULL: plaintext). The server's name is checked as
     * the target's host (127.0.0.1 must be in the certificate's SANs) unless `tls_name` overrides it. */
    const char *ca_pem;
    const char *tls_name;
    /* `authorization` header values ("Bearer <token>"), one per caller; a call sends the one of its `who`. */
    const char *const *authorization;
    unsigned n_authorization;
    ltc_lg_next_fn next;
    ltc_lg_window_fn on_window; /* may be NULL */
    void *user;
} ltc_lg_options;

typedef struct ltc_lg_class {
    uint64_t ok, failed; /* completed inside the window */
    ltc_hist hist;       /* latency of the OK calls */
} ltc_lg_class;

typedef struct ltc_lg_result {
    double window_s;     /* the measured window as it happened (shorter when every slot retired early) */
    uint64_t ok, failed; /* calls completed inside the window */
    uint64_t by_code[LTC_LG_CODES];
    uint64_t calls_total; /* every call completed, warm-up and draining included */
    ltc_hist all;         /* latency of every OK call in the window */
    ltc_lg_class classes[LTC_LG_MAX_CLASSES];
    double cpu_user_s, cpu_sys_s; /* this process during the window (getrusage) */
    char first_error[256];        /* the first failure seen, "CODE: message" ("" when none) */
} ltc_lg_result;

/* Runs the load. Returns the figures (free with ltc_lg_result_free), or NULL with st set when the options are
 * invalid or the run cannot start. Blocks for warm-up + duration (plus draining). */
ltc_lg_result *ltc_loadgen_run(const ltc_lg_options *o, ltc_status *st);
void ltc_lg_result_free(ltc_lg_result *r); /* NULL-safe */

/* One blocking unary call over a channel of its own made as the options say (target, TLS, the `who`'s
 * authorization), for a scenario's set-up before the run. 0 with *resp (malloc'd, caller frees), or -1 with st
 * holding the peer's status. */
int ltc_lg_unary(const ltc_lg_options *o, int who, const char *method, const uint8_t *req, size_t len, uint8_t **resp,
                 size_t *resp_len, ltc_status *st);

#endif
