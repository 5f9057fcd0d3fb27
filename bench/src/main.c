/* main.c - ltc-bench: command line, the measuring harness around the load generator, result rows.
 *
 *   ltc-bench SCENARIO --target TARGET [--concurrency 64] [--threads 1] [--channels 1] [--warmup 2]
 *             [--duration 10] [--names FILE] [--watch NAME=PID[+]]... [--label TEXT] [--out FILE]
 *             [--rss-out FILE] [--rss-every S] [--payload 16] [--poll-ms 5] [--resources 4] [--deadline-ms 10000]
 *             [--extra KEY=VALUE]... [--ca FILE [--tls-name NAME]] [--token [WHO=]FILE]...
 *
 * TARGET: HOST:PORT, or replicas as gRPC's static list ipv4:HOST:PORT,HOST:PORT,... (every channel connects to each
 * and spreads its calls over them with round_robin; over TLS the certificate is checked for localhost unless
 * --tls-name says otherwise).
 * --ca: TLS to the target, whose certificate must chain to FILE's roots (without it: plaintext). --token: a caller's
 * bearer token (the file holds the JWT), sent as `authorization: Bearer ...`; the l2c scenario wants one for each of
 * ar, sr, fr and fin (the deal's account, solution and fulfilment owners, and finance), the others use the first.
 *
 * SCENARIO: echo | get-lead | get-opportunity | mark-won | l2c (docs/performance.md). --watch PID+ measures the
 * process and its children (PostgreSQL's postmaster and backends). The row goes to stdout and is appended to --out.
 *
 * Helpers for bench/run:
 *   ltc-bench procstat NAME=PID[+]...      one line per process: NAME CPU_SECONDS RSS_KB
 *   ltc-bench measure FILE -- CMD ARGS...  runs CMD, then writes its CPU seconds (user + system) to FILE */
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static void usage(void) {
    fprintf(
        stderr,
        "usage: ltc-bench echo|get-lead|get-opportunity|mark-won|deal-timeline|velocity-report|l2c --target HOST:PORT|ipv4:H:P,H:P [--concurrency N]\n"
        "       [--threads N] [--channels N] [--warmup S] [--duration S] [--names FILE] [--watch NAME=PID[+]]...\n"
        "       [--label TEXT] [--out FILE] [--rss-out FILE] [--rss-every S] [--payload BYTES] [--poll-ms MS]\n"
        "       [--resources N] [--deadline-ms MS] [--extra KEY=VALUE]... [--ca FILE [--tls-name NAME]]\n"
        "       [--token [WHO=]FILE]...\n");
}

/* The whole of a small file, NUL-terminated, surrounding whitespace removed; NULL (message printed) on error. */
static char *read_small_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ltc-bench: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (buf) n = fread(buf, 1, cap, f);
    int too_big = buf && n == cap && fgetc(f) != EOF;
    fclose(f);
    if (!buf || too_big || n == 0) {
        fprintf(stderr, "ltc-bench: %s is empty or larger than 64 KiB\n", path);
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
    buf[n] = 0;
    return buf;
}

/* --token [WHO=]FILE */
static int parse_token(bench_opts *o, const char *arg) {
    if (o->n_tokens >= BENCH_MAX_TOKENS) return -1;
    const char *eq = strchr(arg, '='), *file = eq ? eq + 1 : arg;
    char *jwt = read_small_file(file);
    if (!jwt) return -1;
    size_t len = strlen(jwt);
    int bad = strpbrk(jwt, " \t\r\n") != NULL;
    char *value = bad ? NULL : malloc(len + 8);
    if (!value) {
        if (bad) fprintf(stderr, "ltc-bench: %s does not hold one token\n", file);
        free(jwt);
        return -1;
    }
    snprintf(value, len + 8, "Bearer %s", jwt);
    free(jwt);
    o->token_who[o->n_tokens] = eq ? strndup(arg, (size_t)(eq - arg)) : "";
    o->authorization[o->n_tokens++] = value;
    return 0;
}

int bench_token_index(const bench_opts *o, const char *who) {
    if (o->n_tokens == 0) return 0;
    for (int i = 0; i < o->n_tokens; i++)
        if (strcmp(o->token_who[i], who) == 0) return i;
    return -1;
}

static int parse_watch(bench_opts *o, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof o->watch[0].name || o->n_watch >= BENCH_MAX_WATCH) return -1;
    bench_watch *w = &o->watch[o->n_watch];
    memset(w, 0, sizeof *w);
    memcpy(w->name, arg, (size_t)(eq - arg));
    char *end = NULL;
    long pid = strtol(eq + 1, &end, 10);
    if (pid <= 0 || !end || (*end && strcmp(end, "+") != 0)) return -1;
    w->pid = (int)pid;
    w->tree = *end == '+';
    w->rss_start_kb = w->rss_max_kb = w->rss_end_kb = -1;
    o->n_watch++;
    return 0;
}

static int parse_args(bench_opts *o, int argc, char **argv) {
    if (argc < 2) return -1;
    o->scenario = argv[1];
    o->concurrency = 64;
    o->threads = 1;
    o->channels = 1;
    o->warmup_s = 2;
    o->duration_s = 10;
    o->rss_every_s = 1;
    o->payload = 16;
    o->poll_ms = 5;
    o->resources = 4;
    o->deadline_ms = 10000;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        i++;
        if (strcmp(a, "--target") == 0)
            o->target = v;
        else if (strcmp(a, "--concurrency") == 0)
            o->concurrency = (unsigned)atoi(v);
        else if (strcmp(a, "--threads") == 0)
            o->threads = (unsigned)atoi(v);
        else if (strcmp(a, "--channels") == 0)
            o->channels = (unsigned)atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            o->warmup_s = atof(v);
        else if (strcmp(a, "--duration") == 0)
            o->duration_s = atof(v);
        else if (strcmp(a, "--names") == 0)
            o->names_file = v;
        else if (strcmp(a, "--label") == 0)
            o->label = v;
        else if (strcmp(a, "--out") == 0)
            o->out_file = v;
        else if (strcmp(a, "--rss-out") == 0)
            o->rss_file = v;
        else if (strcmp(a, "--rss-every") == 0)
            o->rss_every_s = atof(v);
        else if (strcmp(a, "--payload") == 0)
            o->payload = atoi(v);
        else if (strcmp(a, "--poll-ms") == 0)
            o->poll_ms = atoi(v);
        else if (strcmp(a, "--resources") == 0)
            o->resources = atoi(v);
        else if (strcmp(a, "--deadline-ms") == 0)
            o->deadline_ms = atoi(v);
        else if (strcmp(a, "--tls-name") == 0)
            o->tls_name = v;
        else if (strcmp(a, "--ca") == 0) {
            free(o->ca_pem);
            if (!(o->ca_pem = read_small_file(v))) return -1;
        } else if (strcmp(a, "--token") == 0) {
            if (parse_token(o, v) != 0) return -1;
        } else if (strcmp(a, "--extra") == 0) {
            if (o->n_extra >= 8 || !strchr(v, '=') || v[0] == '=') return -1;
            o->extra[o->n_extra++] = v;
        } else if (strcmp(a, "--watch") == 0) {
            if (parse_watch(o, v) != 0) {
                fprintf(stderr, "ltc-bench: --watch takes NAME=PID or NAME=PID+ (at most %d)\n", BENCH_MAX_WATCH);
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (!o->target || o->concurrency == 0 || o->duration_s <= 0 || o->warmup_s < 0 || o->payload < 0 ||
        o->payload > 1 << 20 || o->poll_ms < 1 || o->resources < 1 || o->resources > 64 || o->rss_every_s <= 0)
        return -1;
    if (!o->label) o->label = o->scenario;
    return 0;
}

/* ---- the harness ---- */

typedef struct harness {
    bench_opts *o;
    ltc_lg_next_fn next;
    void *user;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_window, done;
    struct timespec t0;
    FILE *rss_out;
} harness;

static int h_next(void *user, unsigned slot, const ltc_lg_done *done, ltc_lg_call *call) {
    harness *h = user;
    return h->next(h->user, slot, done, call);
}

static double elapsed_s(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One memory sample of every watched process (h->mu held). phase: -1 during, 0 window start, 1 window end. */
static void sample_rss(harness *h, int phase) {
    double t = elapsed_s(&h->t0);
    for (int i = 0; i < h->o->n_watch; i++) {
        bench_watch *w = &h->o->watch[i];
        long kb = proc_rss_kb(w->pid, w->tree);
        if (kb < 0) continue;
        if (phase == 0) w->rss_start_kb = kb;
        if (phase == 1) w->rss_end_kb = kb;
        if ((h->in_window || phase >= 0) && kb > w->rss_max_kb) w->rss_max_kb = kb;
        if (h->rss_out) fprintf(h->rss_out, "%.1f\t%s\t%ld\n", t, w->name, kb);
    }
    if (h->rss_out) fflush(h->rss_out);
}

static void h_window(void *user, int phase) {
    harness *h = user;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->o->n_watch; i++) {
        bench_watch *w = &h->o->watch[i];
        if (phase == 0) {
            w->cpu = proc_tree_sample(w->pid, w->tree, &w->at_start) == 0 ? 0 : -1;
        } else if (w->cpu == 0) {
            proc_tree end;
            w->cpu = proc_tree_sample(w->pid, w->tree, &end) == 0 ? proc_tree_cpu_s(&w->at_start, &end) : -1;
        }
    }
    if (phase == 0) h->in_window = 1;
    sample_rss(h, phase);
    if (phase == 1) h->in_window = 0;
    pthread_mutex_unlock(&h->mu);
}

static void *rss_main(void *arg) {
    harness *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = (long)(h->o->rss_every_s * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec += ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!h->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&h->cv, &h->mu, &until);
        if (!h->done && h->in_window) sample_rss(h, -1);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

ltc_lg_result *bench_run_load(bench_opts *o, ltc_lg_next_fn next, void *user) {
    harness h = {.o = o, .next = next, .user = user};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    clock_gettime(CLOCK_MONOTONIC, &h.t0);
    if (o->rss_file) {
        h.rss_out = fopen(o->rss_file, "a");
        if (!h.rss_out) fprintf(stderr, "ltc-bench: cannot append to %s: %s\n", o->rss_file, strerror(errno));
    }
    pthread_t th;
    int sampler = o->n_watch > 0 && pthread_create(&th, NULL, rss_main, &h) == 0;
    ltc_lg_options lo = {
        .target = o->target,
        .concurrency = o->concurrency,
        .threads = o->threads,
        .channels = o->channels,
        .warmup_s = o->warmup_s,
        .duration_s = o->duration_s,
        .deadline_ms = o->deadline_ms,
        .ca_pem = o->ca_pem,
        .tls_name = o->tls_name,
        .authorization = (const char *const *)o->authorization,
        .n_authorization = (unsigned)o->n_tokens,
        .next = h_next,
        .on_window = h_window,
        .user = &h,
    };
    ltc_status st = {0};
    ltc_lg_result *r = ltc_loadgen_run(&lo, &st);
    if (!r) fprintf(stderr, "ltc-bench: %s\n", st.message);
    ltc_status_clear(&st);
    pthread_mutex_lock(&h.mu);
    h.done = 1;
    pthread_cond_signal(&h.cv);
    pthread_mutex_unlock(&h.mu);
    if (sampler) pthread_join(th, NULL);
    if (h.rss_out) fclose(h.rss_out);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    return r;
}

/* ---- rows ---- */

void row_add(bench_row *row, const char *key, const char *fmt, ...) {
    if (row->len >= sizeof row->buf - 2) return;
    int n = snprintf(row->buf + row->len, sizeof row->buf - row->len, "%s%s=", row->len ? "\t" : "", key);
    if (n < 0 || (size_t)n >= sizeof row->buf - row->len) return;
    size_t start = row->len + (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(row->buf + start, sizeof row->buf - start, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t end = start + (size_t)m;
    if (end >= sizeof row->buf) end = sizeof row->buf - 1;
    for (size_t i = start; i < end; i++) /* values stay on one line and one field */
        if (row->buf[i] == '\t' || row->buf[i] == '\n' || row->buf[i] == '\r') row->buf[i] = ' ';
    row->len = end;
}

void row_begin(bench_row *row, const bench_opts *o, const ltc_lg_result *r, double units) {
    row->len = 0;
    row->buf[0] = 0;
    row_add(row, "scenario", "%s", o->scenario);
    row_add(row, "label", "%s", o->label);
    row_add(row, "concurrency", "%u", o->concurrency);
    row_add(row, "window_s", "%.2f", r->window_s);
    row_add(row, "ok", "%llu", (unsigned long long)r->ok);
    row_add(row, "failed", "%llu", (unsigned long long)r->failed);
    row_add(row, "calls_all", "%llu", (unsigned long long)r->calls_total);
    row_add(row, "qps", "%.1f", r->window_s > 0 ? (double)r->ok / r->window_s : 0.0);
    row_add(row, "p50_ms", "%.3f", (double)ltc_hist_percentile(&r->all, 50) / 1e6);
    row_add(row, "p99_ms", "%.3f", (double)ltc_hist_percentile(&r->all, 99) / 1e6);
    row_add(row, "p999_ms", "%.3f", (double)ltc_hist_percentile(&r->all, 99.9) / 1e6);
    row_add(row, "max_ms", "%.3f", (double)r->all.max_ns / 1e6);
    double u = units > 0 ? units : 1;
    double total = r->cpu_user_s + r->cpu_sys_s;
    row_add(row, "cpu_loader_us", "%.1f", (r->cpu_user_s + r->cpu_sys_s) / u * 1e6);
    for (int i = 0; i < o->n_watch; i++) {
        const bench_watch *w = &o->watch[i];
        char key[64];
        snprintf(key, sizeof key, "cpu_%s_us", w->name);
        double c = w->cpu > 0 ? w->cpu : 0;
        total += c;
        row_add(row, key, "%.1f", c / u * 1e6);
        snprintf(key, sizeof key, "rss_%s_kb", w->name);
        row_add(row, key, "%ld/%ld/%ld", w->rss_start_kb, w->rss_max_kb, w->rss_end_kb);
    }
    row_add(row, "cpu_total_us", "%.1f", total / u * 1e6);
    row_add(row, "cpu_busy", "%.2f", r->window_s > 0 ? total / r->window_s : 0.0); /* cores busy on average */
    if (r->first_error[0]) row_add(row, "error", "%s", r->first_error);
    for (int i = 0; i < o->n_extra; i++) {
        char key[64];
        size_t k = (size_t)(strchr(o->extra[i], '=') - o->extra[i]);
        snprintf(key, sizeof key, "%.*s", (int)(k < 63 ? k : 63), o->extra[i]);
        row_add(row, key, "%s", o->extra[i] + k + 1);
    }
}

int row_end(bench_row *row, const bench_opts *o) {
    printf("%s\n", row->buf);
    fflush(stdout);
    if (!o->out_file) return 0;
    FILE *f = fopen(o->out_file, "a");
    if (!f) {
        fprintf(stderr, "ltc-bench: cannot append to %s: %s\n", o->out_file, strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", row->buf);
    return fclose(f) == 0 ? 0 : -1;
}

char **read_lines(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ltc-bench: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    char buf[512];
    while (lines && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (!buf[0]) continue;
        if (*n == cap) {
            cap *= 2;
            char **p = realloc(lines, cap * sizeof *p);
            if (!p) break;
            lines = p;
        }
        lines[(*n)++] = strdup(buf);
    }
    fclose(f);
    return lines;
}

void free_lines(char **lines, size_t n) {
    for (size_t i = 0; lines && i < n; i++) free(lines[i]);
    free(lines);
}

static int cmd_procstat(int argc, char **argv) {
    bench_opts o;
    memset(&o, 0, sizeof o);
    for (int i = 2; i < argc; i++) {
        if (parse_watch(&o, argv[i]) != 0) {
            fprintf(stderr, "ltc-bench procstat: NAME=PID[+] expected, not %s\n", argv[i]);
            return 2;
        }
    }
    for (int i = 0; i < o.n_watch; i++)
        printf("%s %.3f %ld\n", o.watch[i].name, proc_cpu_s(o.watch[i].pid, o.watch[i].tree),
               proc_rss_kb(o.watch[i].pid, o.watch[i].tree));
    return 0;
}

static int cmd_measure(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: ltc-bench measure FILE -- CMD ARGS...\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        execvp(argv[4], argv + 4);
        fprintf(stderr, "ltc-bench measure: cannot run %s: %s\n", argv[4], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) return 127;
    }
    FILE *f = fopen(argv[2], "w");
    if (f) {
        fprintf(f, "%.3f\n",
                (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                    (double)ru.ru_stime.tv_usec / 1e6);
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "procstat") == 0) return cmd_procstat(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "measure") == 0) return cmd_measure(argc, argv);
    bench_opts o;
    memset(&o, 0, sizeof o);
    if (parse_args(&o, argc, argv) != 0) {
        usage();
        return 2;
    }
    int rc = strcmp(o.scenario, "l2c") == 0 ? scenario_l2c(&o) : scenario_simple(&o);
    free(o.ca_pem);
    for (int i = 0; i < o.n_tokens; i++) {
        if (o.token_who[i][0]) free((char *)o.token_who[i]);
        free(o.authorization[i]);
    }
    return rc;
}
