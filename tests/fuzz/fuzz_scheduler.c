/* fuzz_scheduler.c - libFuzzer target for OTD's finite-capacity scheduler (services/otd/scheduler.c, pure). Input:
 * a calendar (weekday, working mask, capacity, overrides) for 1 to 4 resources and 1 to 24 orders of 1 to 3 lines
 * (quantity, lead time, alternatives with work per unit, priority, due), all from the bytes. Properties, besides no
 * crash / UB / leak:
 *   no resource-day is booked beyond its capacity (so nothing on a holiday or before tomorrow);
 *   no line is worked before its lead time;
 *   an order placed has its promise on its last booked day and every line finished by it; an order not placed books
 *     nothing;
 *   the load left is the calendar less what was booked;
 *   the per-resource cursor changes nothing (the same run without it gives the same promises);
 *   a re-promise of one order, its bookings given back, never ends later than the run's promise for it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "scheduler.h"

#define H OTD_SCHED_HORIZON
#define MAX_R 4
#define MAX_O 24

typedef struct reader {
    const uint8_t *d;
    size_t n, at;
} reader;

static unsigned u8(reader *r) { return r->at < r->n ? r->d[r->at++] : 0; }
static unsigned u16(reader *r) { return u8(r) << 8 | u8(r); }

typedef struct seen {
    int64_t work[MAX_R][H];
    int last[MAX_O];
    int early; /* a line worked before its start day */
    const otd_sched_order *orders;
    int64_t mine[MAX_R][H]; /* what order `only` booked */
    size_t only;
} seen;

static void on_book(void *ctx, size_t order, size_t line, int resource, int day, int64_t work) {
    seen *s = ctx;
    FUZZ_REQUIRE(order < MAX_O && resource >= 0 && resource < MAX_R && day >= 0 && day < H && work > 0,
                 "booking out of range: order %zu resource %d day %d work %lld", order, resource, day, (long long)work);
    s->work[resource][day] += work;
    if (day > s->last[order]) s->last[order] = day;
    if (day < otd_sched_start_day(&s->orders[order].lines[line])) s->early = 1;
    if (order == s->only) s->mine[resource][day] += work;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    int n_res = 1 + (int)(u8(&r) % MAX_R), dow = 1 + (int)(u8(&r) % 7);
    static int64_t cap[MAX_R][H], free1[MAX_R * H], free2[MAX_R * H];
    for (int i = 0; i < n_res; i++) {
        otd_cal_override ov[6];
        size_t n_ov = u8(&r) % 7;
        for (size_t k = 0; k < n_ov; k++)
            ov[k] = (otd_cal_override){(int)(u16(&r) % (H + 5)) - 2, u8(&r) % 4 ? 0 : u8(&r)};
        int rc = otd_sched_calendar(dow, (int)(u8(&r) & 127), 1 + u8(&r) % 30, ov, n_ov, H, cap[i]);
        FUZZ_REQUIRE(rc == 0, "calendar refused valid input");
        FUZZ_REQUIRE(cap[i][0] == 0, "capacity today");
        memcpy(free1 + i * H, cap[i], sizeof cap[i]);
    }
    memcpy(free2, free1, sizeof free1);
    static otd_sched_alt alts[MAX_O][3][MAX_R];
    static otd_sched_line lines[MAX_O][3], lines2[MAX_O][3];
    static otd_sched_order orders[MAX_O], orders2[MAX_O];
    size_t n = 1 + u8(&r) % MAX_O;
    for (size_t i = 0; i < n; i++) {
        size_t nl = 1 + u8(&r) % 3;
        for (size_t l = 0; l < nl; l++) {
            size_t na = u8(&r) % (size_t)(n_res + 1); /* 0: a line nothing can make */
            for (size_t a = 0; a < na; a++) alts[i][l][a] = (otd_sched_alt){(int)a, 1 + u8(&r) % 5};
            lines[i][l] = (otd_sched_line){
                .quantity = 1 + u16(&r) % 300, .lead_days = (int)(u16(&r) % 400) - 5, .alts = alts[i][l], .n_alts = na};
        }
        orders[i] = (otd_sched_order){.priority = 1 + (int)(u8(&r) % 3),
                                      .due = (int)(u16(&r) % 500) - 50,
                                      .seq = (int64_t)i,
                                      .lines = lines[i],
                                      .n_lines = nl};
    }
    memcpy(lines2, lines, sizeof lines);
    memcpy(orders2, orders, sizeof orders);
    for (size_t i = 0; i < n; i++) orders2[i].lines = lines2[i];

    static seen s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < MAX_O; i++) s.last[i] = -1;
    s.orders = orders;
    s.only = n / 2;
    int cursor[MAX_R] = {0};
    size_t idx[MAX_O];
    otd_sched_load load = {n_res, H, free1, cursor};
    FUZZ_REQUIRE(otd_sched_run(&load, orders, n, idx, on_book, &s) >= 0, "out of memory");
    otd_sched_load plain = {n_res, H, free2, NULL};
    FUZZ_REQUIRE(otd_sched_run(&plain, orders2, n, idx, NULL, NULL) >= 0, "out of memory");
    FUZZ_REQUIRE(!s.early, "a line worked before its lead time or tomorrow");
    for (int i = 0; i < n_res; i++)
        for (int d = 0; d < H; d++) {
            FUZZ_REQUIRE(s.work[i][d] <= cap[i][d], "resource %d day %d: %lld booked, capacity %lld", i, d,
                         (long long)s.work[i][d], (long long)cap[i][d]);
            FUZZ_REQUIRE(free1[i * H + d] == cap[i][d] - s.work[i][d], "load left differs from calendar - booked");
            FUZZ_REQUIRE(free1[i * H + d] == free2[i * H + d], "the cursor changed the load");
        }
    for (size_t i = 0; i < n; i++) {
        FUZZ_REQUIRE(orders[i].finish == orders2[i].finish, "the cursor changed order %zu's promise", i);
        if (orders[i].finish < 0) {
            FUZZ_REQUIRE(s.last[i] == -1, "order %zu not placed but booked", i);
            continue;
        }
        FUZZ_REQUIRE(orders[i].finish == s.last[i], "order %zu: promise %d, last booked day %d", i, orders[i].finish,
                     s.last[i]);
        for (size_t l = 0; l < orders[i].n_lines; l++)
            FUZZ_REQUIRE(orders[i].lines[l].finish <= orders[i].finish, "a line after its order's promise");
    }
    /* re-promise the middle order alone, its bookings given back: never later than before */
    size_t k = s.only;
    if (orders[k].finish >= 0) {
        int before = orders[k].finish;
        for (int i = 0; i < n_res; i++)
            for (int d = 0; d < H; d++) {
                free1[i * H + d] += s.mine[i][d];
                if (s.mine[i][d] && cursor[i] > d) cursor[i] = d;
            }
        int after = otd_sched_place_order(&load, &orders[k], k, NULL, NULL);
        FUZZ_REQUIRE(after >= 0 && after <= before, "re-promise of order %zu: %d, was %d", k, after, before);
    }
    return 0;
}
