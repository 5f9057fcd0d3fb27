/* services/otd/scheduler.c - the finite-capacity scheduler (see scheduler.h and docs/planning.md). */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int otd_sched_calendar(int iso_dow_today, int working_mask, int64_t daily_capacity, const otd_cal_override *ov,
                       size_t n_ov, int horizon, int64_t *cap) {
    if (iso_dow_today < 1 || iso_dow_today > 7 || horizon < 1 || !cap || daily_capacity < 0 || working_mask < 0 ||
        working_mask > 127 || (n_ov && !ov))
        return -1;
    for (int d = 0; d < horizon; d++) {
        int dow = (iso_dow_today - 1 + d) % 7 + 1;
        cap[d] = (working_mask & OTD_DOW_BIT(dow)) ? daily_capacity : 0;
    }
    for (size_t i = 0; i < n_ov; i++)
        if (ov[i].day >= 0 && ov[i].day < horizon) cap[ov[i].day] = ov[i].capacity > 0 ? ov[i].capacity : 0;
    cap[0] = 0; /* today is planned already: work starts tomorrow */
    return 0;
}

int otd_sched_start_day(const otd_sched_line *line) { return line->lead_days > 1 ? line->lead_days : 1; }

/* What one placement took, to give it back or report it. */
typedef struct taken {
    size_t line;
    int resource, day;
    int64_t work;
} taken;

typedef struct takelog {
    taken *v;
    size_t n, cap;
} takelog;

static int log_add(takelog *g, size_t line, int resource, int day, int64_t work) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        taken *v = realloc(g->v, cap * sizeof *v);
        if (!v) return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = (taken){line, resource, day, work};
    return 0;
}

static void give_back(otd_sched_load *load, const takelog *g) {
    for (size_t i = 0; i < g->n; i++) {
        const taken *t = &g->v[i];
        load->free[(size_t)t->resource * (size_t)load->horizon + (size_t)t->day] += t->work;
        if (load->first_free && load->first_free[t->resource] > t->day) load->first_free[t->resource] = t->day;
    }
}

static void advance_cursor(otd_sched_load *load, int r) {
    if (!load->first_free) return;
    const int64_t *f = load->free + (size_t)r * (size_t)load->horizon;
    int d = load->first_free[r];
    while (d < load->horizon && f[d] <= 0) d++;
    load->first_free[r] = d;
}

/* Places one line, logging what it takes. The finish day, -1 (does not fit: what it took stays in the log) or -2. */
static int place_line(otd_sched_load *load, otd_sched_line *line, size_t line_ix, takelog *g) {
    line->finish = -1;
    if (line->quantity <= 0 || line->n_alts == 0) return -1;
    int start = otd_sched_start_day(line);
    if (load->first_free) {
        int lo = load->horizon;
        for (size_t a = 0; a < line->n_alts; a++)
            if (load->first_free[line->alts[a].resource] < lo) lo = load->first_free[line->alts[a].resource];
        if (lo > start) start = lo;
    }
    int64_t left = line->quantity;
    for (int d = start; d < load->horizon && left > 0; d++) {
        for (size_t a = 0; a < line->n_alts && left > 0; a++) {
            const otd_sched_alt *alt = &line->alts[a];
            if (alt->work_per_unit <= 0 || alt->resource < 0 || alt->resource >= load->n_resources) continue;
            int64_t *f = &load->free[(size_t)alt->resource * (size_t)load->horizon + (size_t)d];
            if (*f < alt->work_per_unit) continue;
            int64_t units = *f / alt->work_per_unit, take = units < left ? units : left;
            int64_t work = take * alt->work_per_unit;
            *f -= work;
            left -= take;
            if (log_add(g, line_ix, alt->resource, d, work) != 0) {
                *f += work;
                return -2;
            }
            if (left == 0) line->finish = d;
        }
    }
    for (size_t a = 0; a < line->n_alts; a++)
        if (line->alts[a].resource >= 0 && line->alts[a].resource < load->n_resources)
            advance_cursor(load, line->alts[a].resource);
    return left == 0 ? line->finish : -1;
}

int otd_sched_place_order(otd_sched_load *load, otd_sched_order *order, size_t order_ix, otd_sched_book_fn book,
                          void *ctx) {
    takelog g = {0};
    order->finish = -1;
    int finish = 0, rc = 0;
    for (size_t l = 0; l < order->n_lines; l++) order->lines[l].finish = -1;
    for (size_t l = 0; l < order->n_lines; l++) {
        int f = place_line(load, &order->lines[l], l, &g);
        if (f < 0) {
            rc = f;
            break;
        }
        if (f > finish) finish = f;
    }
    if (order->n_lines == 0) rc = -1;
    if (rc != 0) {
        give_back(load, &g);
        free(g.v);
        return rc;
    }
    if (book)
        for (size_t i = 0; i < g.n; i++) book(ctx, order_ix, g.v[i].line, g.v[i].resource, g.v[i].day, g.v[i].work);
    free(g.v);
    order->finish = finish;
    return finish;
}

/* 1 when order a is placed after order b: priority class, then due day, then seq. */
static int after(const otd_sched_order *a, const otd_sched_order *b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    if (a->due != b->due) return a->due > b->due;
    return a->seq > b->seq;
}

void otd_sched_sort(const otd_sched_order *orders, size_t n, size_t *idx) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    if (n < 2) return;
    /* a bottom-up merge sort on idx (stable, reentrant: no file-static comparator base as qsort would need) */
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) { /* fallback: insertion sort */
        for (size_t i = 1; i < n; i++) {
            size_t v = idx[i], j = i;
            while (j > 0) {
                if (!after(&orders[idx[j - 1]], &orders[v])) break;
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
        return;
    }
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                tmp[k++] = after(&orders[idx[i]], &orders[idx[j]]) ? idx[j++] : idx[i++];
            }
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    free(tmp);
}

long otd_sched_run(otd_sched_load *load, otd_sched_order *orders, size_t n, size_t *idx, otd_sched_book_fn book,
                   void *ctx) {
    otd_sched_sort(orders, n, idx);
    long placed = 0;
    for (size_t k = 0; k < n; k++) {
        int f = otd_sched_place_order(load, &orders[idx[k]], idx[k], book, ctx);
        if (f == -2) return -1;
        if (f >= 0) placed++;
    }
    return placed;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int otd_sched_date_add(const char *ymd, int days, char out[11]) {
    int y, m, d;
    if (!ymd || sscanf(ymd, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    int64_t z = days_from_civil(y, m, d) + days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1), mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    yy += mm <= 2;
    if (yy < 1 || yy > 9999) return -1;
    snprintf(out, 11, "%04d-%02d-%02d", (int)yy, mm, dd);
    return 0;
}
