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

typedef struct method_stats {
    char name[128];
    unsigned long long by_code[N_CODES];
    unsigned long long bucket[N_BUCKETS]; /* non-cumulative; rendered cumulative */
    unsigned long long count;
    double sum;
} method_stats;

typedef struct dest_stats {
    char name[32];
    long pending, parked;
    double oldest;
} dest_stats;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static method_stats methods[LTC_METRICS_MAX_METHODS + 1]; /* last: "other" */
static int n_methods;
static dest_stats dests[MAX_DESTS];
static int n_dests;
static int workers_total, workers_busy;
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

static method_stats *method_slot(const char *raw) {
    char name[sizeof methods[0].name];
    label_copy(name, sizeof name, raw);
    for (int i = 0; i < n_methods; i++)
        if (strcmp(methods[i].name, name) == 0) return &methods[i];
    if (n_methods < LTC_METRICS_MAX_METHODS) {
        memcpy(methods[n_methods].name, name, sizeof name);
        return &methods[n_methods++];
    }
    method_stats *other = &methods[LTC_METRICS_MAX_METHODS];
    snprintf(other->name, sizeof other->name, "other");
    return other;
}

void ltc_metrics_rpc(const char *method, ltc_code code, double seconds) {
    pthread_mutex_lock(&mu);
    method_stats *m = method_slot(method ? method : "unknown");
    if ((int)code >= 0 && (int)code < N_CODES) m->by_code[code]++;
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) b++;
    if (b < N_BUCKETS) m->bucket[b]++;
    m->count++;
    m->sum += seconds;
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

char *ltc_metrics_render(void) {
    sbuf b = {0};
    put(&b, "%s", ltc_build_info_metric());
    pthread_mutex_lock(&mu);
    int n = n_methods + (methods[LTC_METRICS_MAX_METHODS].count ? 1 : 0);
    put(&b, "# HELP ltc_rpc_requests_total Calls served, by method and status code.\n"
            "# TYPE ltc_rpc_requests_total counter\n");
    for (int i = 0; i < n; i++) {
        method_stats *m = i < n_methods ? &methods[i] : &methods[LTC_METRICS_MAX_METHODS];
        for (int c = 0; c < N_CODES; c++)
            if (m->by_code[c])
                put(&b, "ltc_rpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", m->name, code_label[c],
                    m->by_code[c]);
    }
    put(&b, "# HELP ltc_rpc_duration_seconds Time to serve a call.\n# TYPE ltc_rpc_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        method_stats *m = i < n_methods ? &methods[i] : &methods[LTC_METRICS_MAX_METHODS];
        unsigned long long cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += m->bucket[k];
            put(&b, "ltc_rpc_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", m->name, buckets[k], cum);
        }
        put(&b, "ltc_rpc_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", m->name, m->count);
        put(&b, "ltc_rpc_duration_seconds_sum{method=\"%s\"} %.6f\n", m->name, m->sum);
        put(&b, "ltc_rpc_duration_seconds_count{method=\"%s\"} %llu\n", m->name, m->count);
    }
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
