/* bench/src/sched_bench.c - the in-memory time of OTD's scheduler (services/otd/scheduler.c, a pure function): N
 * released orders (default 10,000) on R resources (default 50) over the one-year horizon, Monday to Friday with ten
 * holidays per resource and a few overtime days, scheduled from nothing in one call (otd_sched_run), then one order
 * re-promised (its bookings given back, placed again behind all the others: otd_sched_place_order), timed over
 * several repetitions (median and best). The database part is bench/scheduler_db.py (docs/performance.md).
 *
 *     build/bin/ltc-bench-scheduler [orders] [resources] [repetitions]
 *
 * Orders have 1 to 3 lines of one of 200 SKUs; each SKU is routed on 2 or 3 alternative resources (1 to 3 units of
 * work per unit) with a material lead time of 0 to 30 days; quantities 1 to 20; requested dates 20 to 300 days
 * ahead; priority classes 1 (10%), 2 (80%), 3 (10%). The load is sized so that the schedule fills most of the year. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler.h"

#define H OTD_SCHED_HORIZON
#define N_SKUS 200

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 15;
static int rnd(int n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct booking {
    int resource, day;
    int64_t work;
} booking;

typedef struct book_log {
    booking *v;
    size_t n, cap;
    size_t only_order; /* SIZE_MAX: all */
} book_log;

static void on_book(void *ctx, size_t order, size_t line, int resource, int day, int64_t work) {
    (void)line;
    book_log *g = ctx;
    if (g->only_order != SIZE_MAX && order != g->only_order) return;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
        if (!g->v) abort();
    }
    g->v[g->n++] = (booking){resource, day, work};
}

int main(int argc, char **argv) {
    size_t n_orders = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    int n_res = argc > 2 ? atoi(argv[2]) : 50, reps = argc > 3 ? atoi(argv[3]) : 7;
    if (n_orders < 1 || n_res < 3 || reps < 1) {
        fprintf(stderr, "usage: %s [orders >= 1] [resources >= 3] [repetitions >= 1]\n", argv[0]);
        return 2;
    }
    /* calendars: Monday to Friday from a Monday, 10 holidays and 5 overtime days each */
    int64_t *cap = malloc((size_t)n_res * H * sizeof *cap);
    for (int r = 0; r < n_res; r++) {
        otd_cal_override ov[15];
        for (int k = 0; k < 15; k++) ov[k] = (otd_cal_override){1 + rnd(H - 1), k < 10 ? 0 : 60};
        otd_sched_calendar(1, OTD_WEEKDAYS_MASK, 40, ov, 15, H, cap + (size_t)r * H);
    }
    /* routings */
    otd_sched_alt alts[N_SKUS][3];
    size_t n_alts[N_SKUS];
    int lead[N_SKUS];
    for (int s = 0; s < N_SKUS; s++) {
        n_alts[s] = 2 + (size_t)rnd(2);
        int first = rnd(n_res);
        for (size_t a = 0; a < n_alts[s]; a++) alts[s][a] = (otd_sched_alt){(first + (int)a * 7) % n_res, 1 + rnd(3)};
        lead[s] = rnd(31);
    }
    /* orders */
    otd_sched_order *orders = calloc(n_orders, sizeof *orders), *work = calloc(n_orders, sizeof *work);
    otd_sched_line *lines = calloc(n_orders * 3, sizeof *lines), *wlines = calloc(n_orders * 3, sizeof *wlines);
    size_t *idx = malloc(n_orders * sizeof *idx), n_lines = 0;
    for (size_t i = 0; i < n_orders; i++) {
        size_t nl = 1 + (size_t)rnd(3);
        orders[i] = (otd_sched_order){.priority = rnd(10) == 0  ? 1
                                                  : rnd(9) == 0 ? 3
                                                                : 2,
                                      .due = 20 + rnd(281),
                                      .seq = (int64_t)i,
                                      .lines = &lines[i * 3],
                                      .n_lines = nl};
        for (size_t l = 0; l < nl; l++) {
            int s = rnd(N_SKUS);
            lines[i * 3 + l] =
                (otd_sched_line){.quantity = 1 + rnd(20), .lead_days = lead[s], .alts = alts[s], .n_alts = n_alts[s]};
        }
        n_lines += nl;
    }
    int64_t *free_ = malloc((size_t)n_res * H * sizeof *free_);
    int *cursor = malloc((size_t)n_res * sizeof *cursor);
    double *full = malloc((size_t)reps * sizeof *full), *one = malloc((size_t)reps * sizeof *one);
    long placed = 0;
    int promise_before = 0, promise_after = 0;
    book_log g = {0};
    for (int rep = 0; rep < reps; rep++) {
        memcpy(free_, cap, (size_t)n_res * H * sizeof *free_);
        memset(cursor, 0, (size_t)n_res * sizeof *cursor);
        memcpy(wlines, lines, n_orders * 3 * sizeof *wlines);
        for (size_t i = 0; i < n_orders; i++) {
            work[i] = orders[i];
            work[i].lines = &wlines[i * 3];
        }
        otd_sched_load load = {n_res, H, free_, cursor};
        g.n = 0;
        g.only_order = n_orders / 2; /* keep the bookings of the order re-promised below */
        double t0 = now_ms();
        placed = otd_sched_run(&load, work, n_orders, idx, on_book, &g);
        full[rep] = now_ms() - t0;
        /* re-promise one order: give its bookings back, place it again behind everybody else */
        size_t k = n_orders / 2;
        promise_before = work[k].finish;
        t0 = now_ms();
        for (size_t b = 0; b < g.n; b++) {
            free_[(size_t)g.v[b].resource * H + (size_t)g.v[b].day] += g.v[b].work;
            if (cursor[g.v[b].resource] > g.v[b].day) cursor[g.v[b].resource] = g.v[b].day;
        }
        promise_after = otd_sched_place_order(&load, &work[k], k, NULL, NULL);
        one[rep] = now_ms() - t0;
    }
    size_t booked_days = 0;
    for (size_t i = 0; i < (size_t)n_res * H; i++) booked_days += free_[i] < cap[i];
    qsort(full, (size_t)reps, sizeof *full, cmp_double);
    qsort(one, (size_t)reps, sizeof *one, cmp_double);
    printf("scheduler (in memory): %zu orders (%zu lines), %d resources, %d days, %d repetitions\n", n_orders, n_lines,
           n_res, H, reps);
    printf("  full schedule:   median %.1f ms, best %.1f ms (%ld placed, %zu resource-days booked)\n", full[reps / 2],
           full[0], placed, booked_days);
    printf("  one re-promise:  median %.3f ms, best %.3f ms (day %d -> day %d)\n", one[reps / 2], one[0],
           promise_before, promise_after);
    printf("  memory: load %zu KiB, orders %zu KiB\n", (size_t)n_res * H * sizeof *free_ / 1024,
           n_orders * (sizeof *orders + 3 * sizeof *lines) / 1024);
    free(g.v);
    free(full);
    free(one);
    free(cursor);
    free(free_);
    free(idx);
    free(wlines);
    free(lines);
    free(work);
    free(orders);
    free(cap);
    return placed == (long)n_orders ? 0 : 1;
}
