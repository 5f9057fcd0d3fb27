/* bench.h - the benchmark driver (ltc-bench): options, watched processes, result rows, scenarios.
 *
 * The scenarios make no grpc_* call themselves: the load comes from the load generator (loadgen.h, the only
 * grpc_* caller of bench/src) and set-up calls go through ltc/client.h. A scenario run appends one result row (tab-separated key=value pairs) to --out;
 * bench/report.py turns the rows of one run into the table with ratios. */
#ifndef LTC_BENCH_H
#define LTC_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen.h"

#define BENCH_MAX_WATCH 20
#define BENCH_MAX_TOKENS 8

/* A process, or a process and its children, at one moment: CPU ticks (user + system). */
#define PROC_TREE_MAX 512
typedef struct proc_tree {
    unsigned long long own, reaped; /* the process's own; its exited children's (cutime + cstime) */
    size_t n;
    int pid[PROC_TREE_MAX]; /* live children */
    unsigned long long ticks[PROC_TREE_MAX];
} proc_tree;

/* A process whose CPU time and resident memory are measured during the window. */
typedef struct bench_watch {
    char name[32];
    int pid;
    int tree; /* also its child processes (PostgreSQL: the postmaster and its backends) */
    proc_tree at_start;
    double cpu; /* user + system seconds inside the window; -1 when the process was gone */
    long rss_start_kb, rss_max_kb, rss_end_kb;
} bench_watch;

typedef struct bench_opts {
    const char *scenario; /* echo | get-lead | get-opportunity | mark-won | l2c */
    const char *label;    /* row label (default: the scenario) */
    const char *target;
    const char *names_file; /* get-*: names to read; mark-won: SUBMITTED bids */
    const char *out_file;   /* result row appended here */
    const char *rss_file;   /* memory samples (time, process, kB) appended here */
    unsigned concurrency, threads, channels;
    double warmup_s, duration_s;
    double rss_every_s;
    int deadline_ms;
    int payload;   /* echo payload bytes */
    int poll_ms;   /* l2c: pause between polls for a hand-off */
    int resources; /* l2c: production resources shared by all deals */
    bench_watch watch[BENCH_MAX_WATCH];
    int n_watch;
    const char *extra[8]; /* KEY=VALUE fields added to the row as they are */
    int n_extra;
    /* TLS and tokens (the stack as shipped): --ca FILE (the roots of the target's certificate; none: plaintext),
     * --tls-name NAME (the name checked in its certificate), --token [WHO=]FILE (the bearer token of a caller) */
    char *ca_pem;
    const char *tls_name;
    const char *token_who[BENCH_MAX_TOKENS];
    char *authorization[BENCH_MAX_TOKENS]; /* "Bearer <token>" */
    int n_tokens;
} bench_opts;

/* The index of caller `who`'s token (as --token WHO=FILE named it), 0 when there are no tokens, or -1 when there are
 * tokens but none for `who`. */
int bench_token_index(const bench_opts *o, const char *who);

/* --- processes (procstat.c) --- */
double proc_cpu_s(int pid, int tree);                  /* utime + stime in seconds (tree: with every child, exited ones
                                                  * included); -1 when the process is gone */
int proc_tree_sample(int pid, int tree, proc_tree *s); /* 0, or -1 when the process is gone */
double proc_tree_cpu_s(const proc_tree *start, const proc_tree *end); /* CPU seconds between two samples */
long proc_rss_kb(int pid, int tree); /* VmRSS (tree: the sum of RssAnon over the tree); -1 when gone */

/* --- the measuring harness (main.c) --- */

/* Runs the load generator with the options' sizes, measuring the watched processes in the window and sampling
 * their memory. */
ltc_lg_result *bench_run_load(bench_opts *o, ltc_lg_next_fn next, void *user);

/* A result row: starts it with the common figures of `r` (QPS, latency, CPU per call of each watched process,
 * memory). `calls` is the number of units the CPU is divided by (calls, or deals). Add fields with row_add, then
 * row_end writes it to --out and stdout. */
typedef struct bench_row {
    char buf[16384];
    size_t len;
} bench_row;
void row_begin(bench_row *row, const bench_opts *o, const ltc_lg_result *r, double units);
void row_add(bench_row *row, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int row_end(bench_row *row, const bench_opts *o);

/* Reads non-empty lines of a file. *n set; NULL on error (message printed). Free with free_lines. */
char **read_lines(const char *path, size_t *n);
void free_lines(char **lines, size_t n);

/* --- scenarios --- */
int scenario_simple(bench_opts *o); /* echo, get-lead, get-opportunity, mark-won */
int scenario_l2c(bench_opts *o);    /* lead to cash */

/* xorshift64* for per-slot choices */
static inline uint64_t bench_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

#endif
