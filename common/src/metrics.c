/* metrics.c - Prometheus metrics (see ltc/metrics.h). */
#include "ltc/metrics.h"
#include "ltc/version.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ltc/config.h"
#include "ltc/log.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])
#define N_CODES 17
#define MAX_DESTS 8

/* One method's series on one side (server: calls served; client: calls made), histogram by status code. */
typedef struct method_stats {
    char name[128];
    unsigned long long started;
    unsigned long long by_code[N_CODES];
    unsigned long long bucket[N_CODES][N_BUCKETS]; /* non-cumulative; rendered cumulative */
    double sum[N_CODES];
} method_stats;

typedef struct method_table {
    method_stats slot[LTC_METRICS_MAX_METHODS + 1]; /* last: "other" */
    int n;
} method_table;

typedef struct dest_stats {
    char name[32];
    long pending, parked;
    double oldest;
} dest_stats;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static method_table server_calls, client_calls;
static dest_stats dests[MAX_DESTS];
static int n_dests;
static int workers_total, workers_busy;
static long db_open, db_in_tx;
static unsigned long long db_tx_bucket[2][N_BUCKETS], db_tx_count[2], db_errors[LTC_DB_ERROR_KINDS];
static double db_tx_sum[2];
static struct MHD_Daemon *daemon_;
static double start_time;

/* A label value as the exposition format can carry it whatever the caller sent: the characters of a gRPC method
 * path ([A-Za-z0-9_./-]) are kept, any other byte becomes '_', so no value can close its quotes or start a line.
 * Callers pass only paths they know (reply.c: a method of the contract or of this server, else "unknown"); this is
 * the second line of defence. */
static void label_copy(char *out, size_t n, const char *in) {
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                 ch == '.' || ch == '/' || ch == '-';
        out[i] = ok ? (char)ch : '_';
    }
    out[i] = '\0';
}

static method_stats *method_slot(method_table *t, const char *raw) {
    char name[sizeof t->slot[0].name];
    label_copy(name, sizeof name, raw);
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->slot[i].name, name) == 0) return &t->slot[i];
    if (t->n < LTC_METRICS_MAX_METHODS) {
        memcpy(t->slot[t->n].name, name, sizeof name);
        return &t->slot[t->n++];
    }
    method_stats *other = &t->slot[LTC_METRICS_MAX_METHODS];
    snprintf(other->name, sizeof other->name, "other");
    return other;
}

static size_t bucket_of(double seconds) {
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) b++;
    return b;
}

static void record(method_table *t, const char *method, ltc_code code, double seconds) {
    pthread_mutex_lock(&mu);
    method_stats *m = method_slot(t, method ? method : "unknown");
    int c = (int)code >= 0 && (int)code < N_CODES ? (int)code : (int)LTC_UNKNOWN;
    m->by_code[c]++;
    size_t b = bucket_of(seconds);
    if (b < N_BUCKETS) m->bucket[c][b]++;
    m->sum[c] += seconds;
    pthread_mutex_unlock(&mu);
}

static void record_started(method_table *t, const char *method) {
    pthread_mutex_lock(&mu);
    method_slot(t, method ? method : "unknown")->started++;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_rpc_started(const char *method) { record_started(&server_calls, method); }

void ltc_metrics_rpc(const char *method, ltc_code code, double seconds) {
    record(&server_calls, method, code, seconds);
}

void ltc_metrics_client_started(const char *method) { record_started(&client_calls, method); }

void ltc_metrics_client(const char *method, ltc_code code, double seconds) {
    record(&client_calls, method, code, seconds);
}

void ltc_metrics_db_connection(int delta) {
    pthread_mutex_lock(&mu);
    db_open += delta;
    if (db_open < 0) db_open = 0;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_db_tx_begin(void) {
    pthread_mutex_lock(&mu);
    db_in_tx++;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_db_tx_end(double seconds, int committed) {
    pthread_mutex_lock(&mu);
    if (db_in_tx > 0) db_in_tx--;
    int k = committed ? 0 : 1;
    size_t b = bucket_of(seconds);
    if (b < N_BUCKETS) db_tx_bucket[k][b]++;
    db_tx_count[k]++;
    db_tx_sum[k] += seconds;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_db_error(ltc_db_error_kind kind) {
    pthread_mutex_lock(&mu);
    if ((int)kind >= 0 && (int)kind < LTC_DB_ERROR_KINDS) db_errors[kind]++;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_workers(int total) {
    pthread_mutex_lock(&mu);
    workers_total = total;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_busy(int delta) {
    pthread_mutex_lock(&mu);
    workers_busy += delta;
    pthread_mutex_unlock(&mu);
}

static const char *const reload_materials[] = LTC_RELOAD_MATERIALS;
enum {
    N_RELOAD = sizeof reload_materials / sizeof reload_materials[0]
};
static unsigned long long reloads[N_RELOAD][2]; /* [material][refused, applied] */

void ltc_metrics_reload(const char *material, int ok) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < N_RELOAD; i++)
        if (strcmp(reload_materials[i], material) == 0) reloads[i][ok ? 1 : 0]++;
    pthread_mutex_unlock(&mu);
}

void ltc_metrics_handoffs(const char *destination, long pending, double oldest_age_s, long parked) {
    pthread_mutex_lock(&mu);
    dest_stats *d = NULL;
    for (int i = 0; i < n_dests && !d; i++)
        if (strcmp(dests[i].name, destination) == 0) d = &dests[i];
    if (!d && n_dests < MAX_DESTS) {
        d = &dests[n_dests++];
        snprintf(d->name, sizeof d->name, "%s", destination);
    }
    if (d) {
        d->pending = pending;
        d->oldest = oldest_age_s;
        d->parked = parked;
    }
    pthread_mutex_unlock(&mu);
}

long ltc_metrics_handoff_backlog(void) {
    long n = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_dests; i++) n += dests[i].pending;
    pthread_mutex_unlock(&mu);
    return n;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
}

static void process_stats(double *cpu_s, long *rss_bytes) {
    *cpu_s = 0;
    *rss_bytes = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        unsigned long ut = 0, st = 0;
        /* fields 14 and 15 (utime, stime), after the parenthesised command name */
        if (fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        fclose(f);
    }
    f = fopen("/proc/self/statm", "r");
    if (f) {
        long size = 0, resident = 0;
        if (fscanf(f, "%ld %ld", &size, &resident) == 2) *rss_bytes = resident * sysconf(_SC_PAGESIZE);
        fclose(f);
    }
}

static const char *const code_label[N_CODES] = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};

/* The labels of a method's series: grpc_service and grpc_method from the (sanitised) path, grpc_type from what the
 * method is (the reflection streams are bidirectional, Health/Watch streams from the server, the rest is unary). */
static void method_labels(const char *name, char *out, size_t n) {
    const char *slash = name[0] == '/' ? strrchr(name, '/') : NULL;
    const char *type = strstr(name, "/ServerReflectionInfo") ? "bidi_stream"
                       : strcmp(name, LTC_HEALTH_WATCH) == 0 ? "server_stream"
                                                             : "unary";
    if (name[0] == '/') name++; /* a path without a method part: both labels are the path */
    if (slash && slash >= name)
        snprintf(out, n, "grpc_service=\"%.*s\",grpc_method=\"%s\",grpc_type=\"%s\"", (int)(slash - name), name,
                 slash + 1, type);
    else
        snprintf(out, n, "grpc_service=\"%s\",grpc_method=\"%s\",grpc_type=\"%s\"", name, name, type);
}

static void render_calls(sbuf *b, method_table *t, const char *side, const char *what) {
    int n = t->n + (t->slot[LTC_METRICS_MAX_METHODS].name[0] ? 1 : 0);
    put(b, "# HELP grpc_%s_started_total RPCs %s started.\n# TYPE grpc_%s_started_total counter\n", side, what, side);
    for (int i = 0; i < n; i++) {
        method_stats *m = i < t->n ? &t->slot[i] : &t->slot[LTC_METRICS_MAX_METHODS];
        char lb[300];
        method_labels(m->name, lb, sizeof lb);
        if (m->started) put(b, "grpc_%s_started_total{%s} %llu\n", side, lb, m->started);
    }
    put(b, "# HELP grpc_%s_handled_total RPCs %s completed, by status code.\n# TYPE grpc_%s_handled_total counter\n",
        side, what, side);
    for (int i = 0; i < n; i++) {
        method_stats *m = i < t->n ? &t->slot[i] : &t->slot[LTC_METRICS_MAX_METHODS];
        char lb[300];
        method_labels(m->name, lb, sizeof lb);
        for (int c = 0; c < N_CODES; c++)
            if (m->by_code[c])
                put(b, "grpc_%s_handled_total{%s,grpc_code=\"%s\"} %llu\n", side, lb, code_label[c], m->by_code[c]);
    }
    put(b,
        "# HELP grpc_%s_handling_seconds Time of the RPCs %s, by status code.\n"
        "# TYPE grpc_%s_handling_seconds histogram\n",
        side, what, side);
    for (int i = 0; i < n; i++) {
        method_stats *m = i < t->n ? &t->slot[i] : &t->slot[LTC_METRICS_MAX_METHODS];
        char lb[300];
        method_labels(m->name, lb, sizeof lb);
        for (int c = 0; c < N_CODES; c++) {
            if (!m->by_code[c]) continue;
            unsigned long long cum = 0;
            for (size_t k = 0; k < N_BUCKETS; k++) {
                cum += m->bucket[c][k];
                put(b, "grpc_%s_handling_seconds_bucket{%s,grpc_code=\"%s\",le=\"%g\"} %llu\n", side, lb, code_label[c],
                    buckets[k], cum);
            }
            put(b, "grpc_%s_handling_seconds_bucket{%s,grpc_code=\"%s\",le=\"+Inf\"} %llu\n", side, lb, code_label[c],
                m->by_code[c]);
            put(b, "grpc_%s_handling_seconds_sum{%s,grpc_code=\"%s\"} %.6f\n", side, lb, code_label[c], m->sum[c]);
            put(b, "grpc_%s_handling_seconds_count{%s,grpc_code=\"%s\"} %llu\n", side, lb, code_label[c],
                m->by_code[c]);
        }
    }
}

static void render_db(sbuf *b) {
    put(b,
        "# HELP ltc_db_connections Database connections of the process's pool (one a worker), by state.\n"
        "# TYPE ltc_db_connections gauge\nltc_db_connections{state=\"in_use\"} %ld\n"
        "ltc_db_connections{state=\"idle\"} %ld\n",
        db_in_tx, db_open > db_in_tx ? db_open - db_in_tx : 0);
    put(b, "# HELP ltc_db_transaction_seconds Time from BEGIN to COMMIT or ROLLBACK, by outcome.\n"
           "# TYPE ltc_db_transaction_seconds histogram\n");
    static const char *const outcome[2] = {"commit", "rollback"};
    for (int k = 0; k < 2; k++) {
        unsigned long long cum = 0;
        for (size_t i = 0; i < N_BUCKETS; i++) {
            cum += db_tx_bucket[k][i];
            put(b, "ltc_db_transaction_seconds_bucket{outcome=\"%s\",le=\"%g\"} %llu\n", outcome[k], buckets[i], cum);
        }
        put(b, "ltc_db_transaction_seconds_bucket{outcome=\"%s\",le=\"+Inf\"} %llu\n", outcome[k], db_tx_count[k]);
        put(b, "ltc_db_transaction_seconds_sum{outcome=\"%s\"} %.6f\n", outcome[k], db_tx_sum[k]);
        put(b, "ltc_db_transaction_seconds_count{outcome=\"%s\"} %llu\n", outcome[k], db_tx_count[k]);
    }
    static const char *const kind[LTC_DB_ERROR_KINDS] = {"connection", "statement", "timeout"};
    put(b, "# HELP ltc_db_errors_total Database failures, by kind.\n# TYPE ltc_db_errors_total counter\n");
    for (int k = 0; k < LTC_DB_ERROR_KINDS; k++)
        put(b, "ltc_db_errors_total{kind=\"%s\"} %llu\n", kind[k], db_errors[k]);
}

char *ltc_metrics_render(void) {
    sbuf b = {0};
    put(&b, "%s", ltc_build_info_metric());
    pthread_mutex_lock(&mu);
    render_calls(&b, &server_calls, "server", "served");
    render_calls(&b, &client_calls, "client", "made to peers (the gateway's forwarding, hand-offs, peer calls)");
    render_db(&b);
    put(&b, "# HELP ltc_reload_total Certificates and keys re-read while running, by material and result (refused: "
            "the new files were bad, the old material stays in use).\n# TYPE ltc_reload_total counter\n");
    for (size_t i = 0; i < N_RELOAD; i++)
        for (int ok = 1; ok >= 0; ok--)
            put(&b, "ltc_reload_total{material=\"%s\",result=\"%s\"} %llu\n", reload_materials[i],
                ok ? "applied" : "refused", reloads[i][ok]);
    if (n_dests) {
        put(&b, "# HELP ltc_handoff_pending Hand-offs written and not yet delivered (not parked).\n"
                "# TYPE ltc_handoff_pending gauge\n");
        for (int i = 0; i < n_dests; i++)
            put(&b, "ltc_handoff_pending{destination=\"%s\"} %ld\n", dests[i].name, dests[i].pending);
        put(&b, "# HELP ltc_handoff_oldest_pending_age_seconds Age of the oldest undelivered hand-off.\n"
                "# TYPE ltc_handoff_oldest_pending_age_seconds gauge\n");
        for (int i = 0; i < n_dests; i++)
            put(&b, "ltc_handoff_oldest_pending_age_seconds{destination=\"%s\"} %.3f\n", dests[i].name,
                dests[i].oldest);
        put(&b, "# HELP ltc_handoff_parked Hand-offs the receiver refused for good, waiting for an operator.\n"
                "# TYPE ltc_handoff_parked gauge\n");
        for (int i = 0; i < n_dests; i++)
            put(&b, "ltc_handoff_parked{destination=\"%s\"} %ld\n", dests[i].name, dests[i].parked);
    }
    put(&b, "# HELP ltc_workers Worker threads serving calls.\n# TYPE ltc_workers gauge\nltc_workers %d\n",
        workers_total);
    put(&b,
        "# HELP ltc_workers_busy Worker threads serving a call now.\n# TYPE ltc_workers_busy gauge\n"
        "ltc_workers_busy %d\n",
        workers_busy);
    pthread_mutex_unlock(&mu);
    double cpu;
    long rss;
    process_stats(&cpu, &rss);
    put(&b,
        "# HELP process_cpu_seconds_total User and system CPU time.\n# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total %.2f\n",
        cpu);
    put(&b,
        "# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %ld\n",
        rss);
    put(&b,
        "# HELP process_start_time_seconds Start time, seconds since the epoch.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.0f\n",
        start_time);
    return b.p;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    struct MHD_Response *resp;
    unsigned int code = MHD_HTTP_OK;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "method not allowed\n";
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: metrics are at /metrics\n";
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        code = MHD_HTTP_NOT_FOUND;
    } else {
        char *text = ltc_metrics_render();
        if (!text) return MHD_NO;
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!resp) return MHD_NO;
    enum MHD_Result r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return r;
}

/* libmicrohttpd's messages go to the JSON log, not to stderr. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    LTC_WARN("metrics_http", NULL, "%s", msg);
}

int ltc_metrics_start(const char *listen_addr, ltc_status *st) {
    start_time = (double)time(NULL);
    if (!listen_addr || !*listen_addr || strcmp(listen_addr, "off") == 0) return 0;
    if (ltc_addr_valid(listen_addr) != 0)
        return ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_ADDRESS", "metrics address %s is not host:port",
                              listen_addr);
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    size_t hl = (size_t)(colon - listen_addr);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, listen_addr, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0 || !ai)
        return ltc_status_set(st, LTC_INVALID_ARGUMENT, "BAD_ADDRESS", "cannot resolve metrics address %s",
                              listen_addr);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* our own listening socket with SO_REUSEADDR (as gRPC's): a connection of a process that stopped a moment ago
     * may still hold the port in TIME_WAIT (the kernel's ephemeral range overlaps our ports) */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return ltc_status_set(st, LTC_UNAVAILABLE, "LISTEN_FAILED", "cannot listen on %s", listen_addr);
    }
    freeaddrinfo(ai);
    /* the logger first: libmicrohttpd logs the options that follow it */
    daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                               MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    if (!daemon_) close(fd);
    if (!daemon_) return ltc_status_set(st, LTC_UNAVAILABLE, "LISTEN_FAILED", "cannot listen on %s", listen_addr);
    return 0;
}

void ltc_metrics_stop(void) {
    if (daemon_) MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
