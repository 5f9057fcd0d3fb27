/* Unit tests of OTD's finite-capacity scheduler (services/otd/scheduler.c), a pure function: calendars, lead times,
 * alternative resources sharing load, earliest due date within priority classes, whole-or-nothing placement, and
 * property checks over random loads (no day over capacity, no work before the lead time or on a holiday, every
 * promise on or after its last booked day). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

#define H OTD_SCHED_HORIZON

/* The bookings reported, summed per resource and day, and the last day booked per order. */
typedef struct booked {
    int64_t work[4][H];
    int last_day[64];
    int lead_violation;
    const otd_sched_order *orders;
} booked;

static void on_book(void *ctx, size_t order, size_t line, int resource, int day, int64_t work) {
    booked *b = ctx;
    b->work[resource][day] += work;
    if (day > b->last_day[order]) b->last_day[order] = day;
    if (day < otd_sched_start_day(&b->orders[order].lines[line])) b->lead_violation = 1;
}

static void flat_load(otd_sched_load *load, int64_t *free, int *cursor, int n_res, const int64_t *cap_per_res) {
    load->n_resources = n_res;
    load->horizon = H;
    load->free = free;
    load->first_free = cursor;
    for (int r = 0; r < n_res; r++) {
        for (int d = 0; d < H; d++) free[r * H + d] = d == 0 ? 0 : cap_per_res[r];
        if (cursor) cursor[r] = 0;
    }
}

/* Weekends, holidays and overrides: Friday's calendar starts with a weekend; a holiday is 0; overtime raises one day. */
static void test_calendar(void **state) {
    (void)state;
    int64_t cap[H];
    otd_cal_override ov[2] = {{3, 0}, {4, 25}};
    assert_int_equal(otd_sched_calendar(5, OTD_WEEKDAYS_MASK, 10, ov, 2, H, cap), 0); /* today Friday */
    assert_int_equal(cap[0], 0);                                                      /* today */
    assert_int_equal(cap[1], 0);                                                      /* Saturday */
    assert_int_equal(cap[2], 0);                                                      /* Sunday */
    assert_int_equal(cap[3], 0);                                                      /* Monday: a holiday */
    assert_int_equal(cap[4], 25);                                                     /* Tuesday: overtime */
    assert_int_equal(cap[5], 10);
    assert_int_equal(cap[8], 0); /* Saturday again */
    /* seven-day working */
    assert_int_equal(otd_sched_calendar(1, 127, 3, NULL, 0, H, cap), 0);
    for (int d = 1; d < H; d++) assert_int_equal(cap[d], 3);
    assert_int_equal(otd_sched_calendar(0, 31, 3, NULL, 0, H, cap), -1);
    assert_int_equal(otd_sched_calendar(1, 200, 3, NULL, 0, H, cap), -1);
}

/* A line's work spreads over days; the lead time moves its start. */
static void test_lead_time_moves_start(void **state) {
    (void)state;
    static int64_t free[H];
    int cursor[1];
    const int64_t cap[1] = {10};
    otd_sched_load load;
    flat_load(&load, free, cursor, 1, cap);
    otd_sched_alt alt = {0, 1};
    otd_sched_line line = {.quantity = 25, .lead_days = 0, .alts = &alt, .n_alts = 1};
    otd_sched_order o = {.priority = 2, .due = 30, .seq = 1, .lines = &line, .n_lines = 1};
    assert_int_equal(otd_sched_place_order(&load, &o, 0, NULL, NULL), 3); /* 10 + 10 + 5 on days 1..3 */
    assert_int_equal(free[3], 5);
    otd_sched_line l2 = {.quantity = 5, .lead_days = 20, .alts = &alt, .n_alts = 1};
    otd_sched_order o2 = {.priority = 2, .due = 30, .seq = 2, .lines = &l2, .n_lines = 1};
    assert_int_equal(otd_sched_place_order(&load, &o2, 1, NULL, NULL), 20); /* not before day 20 though day 3 is free */
    assert_int_equal(free[3], 5);
}

/* Two alternative resources share one line: it finishes in half the days. */
static void test_alternatives_share_load(void **state) {
    (void)state;
    static int64_t free[2 * H];
    int cursor[2];
    const int64_t cap[2] = {10, 10};
    otd_sched_load load;
    flat_load(&load, free, cursor, 2, cap);
    otd_sched_alt alts[2] = {{0, 1}, {1, 2}}; /* resource 1 takes twice the work per unit */
    otd_sched_line line = {.quantity = 30, .lead_days = 0, .alts = alts, .n_alts = 2};
    otd_sched_order o = {.priority = 2, .due = 5, .seq = 1, .lines = &line, .n_lines = 1};
    /* per day: 10 units on r0 + 5 units on r1 = 15: two days */
    assert_int_equal(otd_sched_place_order(&load, &o, 0, NULL, NULL), 2);
    assert_int_equal(free[1], 0);
    assert_int_equal(free[H + 2], 0);
}

/* Earliest due date first within a priority class, the class first: a later, more urgent order goes first. */
static void test_edd_with_priority(void **state) {
    (void)state;
    static int64_t free[H];
    int cursor[1];
    const int64_t cap[1] = {10};
    otd_sched_load load;
    flat_load(&load, free, cursor, 1, cap);
    otd_sched_alt alt = {0, 1};
    otd_sched_line lines[3] = {{.quantity = 10, .alts = &alt, .n_alts = 1},
                               {.quantity = 10, .alts = &alt, .n_alts = 1},
                               {.quantity = 10, .alts = &alt, .n_alts = 1}};
    otd_sched_order orders[3] = {{.priority = 2, .due = 30, .seq = 1, .lines = &lines[0], .n_lines = 1},
                                 {.priority = 2, .due = 5, .seq = 2, .lines = &lines[1], .n_lines = 1},
                                 {.priority = 1, .due = 60, .seq = 3, .lines = &lines[2], .n_lines = 1}};
    size_t idx[3];
    assert_int_equal(otd_sched_run(&load, orders, 3, idx, NULL, NULL), 3);
    assert_int_equal(orders[2].finish, 1); /* priority 1 first */
    assert_int_equal(orders[1].finish, 2); /* then the earliest due */
    assert_int_equal(orders[0].finish, 3);
}

/* An order that does not fit in the horizon books nothing, not even its lines that fit. */
static void test_whole_or_nothing(void **state) {
    (void)state;
    static int64_t free[H];
    int cursor[1];
    const int64_t cap[1] = {1};
    otd_sched_load load;
    flat_load(&load, free, cursor, 1, cap);
    otd_sched_alt alt = {0, 1};
    otd_sched_line lines[2] = {{.quantity = 2, .alts = &alt, .n_alts = 1},
                               {.quantity = 1000, .alts = &alt, .n_alts = 1}};
    otd_sched_order o = {.priority = 2, .due = 5, .seq = 1, .lines = lines, .n_lines = 2};
    assert_int_equal(otd_sched_place_order(&load, &o, 0, NULL, NULL), -1);
    assert_int_equal(o.finish, -1);
    assert_int_equal(lines[0].finish, 2);
    assert_int_equal(lines[1].finish, -1);
    for (int d = 1; d < H; d++) assert_int_equal(free[d], 1);
    assert_true(cursor[0] <= 1);
    /* no alternative, no quantity: does not fit */
    otd_sched_line none = {.quantity = 1, .alts = NULL, .n_alts = 0};
    otd_sched_order o2 = {.priority = 2, .lines = &none, .n_lines = 1};
    assert_int_equal(otd_sched_place_order(&load, &o2, 0, NULL, NULL), -1);
}

/* Properties over random loads: no day over capacity, no work before the lead time or on a day without capacity
 * (a holiday), every promise on or after its last booked day, and the same answer with and without the cursor. */
static void test_properties_random(void **state) {
    (void)state;
    srand(15);
    for (int round = 0; round < 40; round++) {
        static int64_t cap[4][H], free[4 * H], free2[4 * H];
        int cursor[4];
        int n_res = 1 + rand() % 4, dow = 1 + rand() % 7;
        for (int r = 0; r < n_res; r++) {
            otd_cal_override ov[5];
            for (int k = 0; k < 5; k++) ov[k] = (otd_cal_override){1 + rand() % 60, rand() % 3 ? 0 : 40};
            assert_int_equal(otd_sched_calendar(dow, 1 + rand() % 127, 1 + rand() % 20, ov, 5, H, cap[r]), 0);
            memcpy(free + r * H, cap[r], sizeof cap[r]);
        }
        memcpy(free2, free, sizeof free);
        static otd_sched_alt alts[64][4];
        static otd_sched_line lines[64][2];
        static otd_sched_order orders[64], orders2[64];
        static otd_sched_line lines2[64][2];
        int n = 1 + rand() % 60;
        for (int i = 0; i < n; i++) {
            size_t na = 1 + (size_t)(rand() % n_res);
            for (size_t a = 0; a < na; a++) alts[i][a] = (otd_sched_alt){(int)a, 1 + rand() % 3};
            size_t nl = 1 + (size_t)(rand() % 2);
            for (size_t l = 0; l < nl; l++)
                lines[i][l] = (otd_sched_line){
                    .quantity = 1 + rand() % 40, .lead_days = rand() % 30, .alts = alts[i], .n_alts = na};
            orders[i] = (otd_sched_order){
                .priority = 1 + rand() % 3, .due = rand() % 90, .seq = i, .lines = lines[i], .n_lines = nl};
        }
        memcpy(lines2, lines, sizeof lines);
        memcpy(orders2, orders, sizeof orders);
        for (int i = 0; i < n; i++) orders2[i].lines = lines2[i];
        static booked b;
        memset(&b, 0, sizeof b);
        for (int i = 0; i < 64; i++) b.last_day[i] = -1;
        b.orders = orders;
        otd_sched_load load = {n_res, H, free, cursor};
        for (int r = 0; r < n_res; r++) cursor[r] = 0;
        size_t idx[64];
        assert_true(otd_sched_run(&load, orders, (size_t)n, idx, on_book, &b) >= 0);
        otd_sched_load plain = {n_res, H, free2, NULL};
        assert_true(otd_sched_run(&plain, orders2, (size_t)n, idx, NULL, NULL) >= 0);
        assert_false(b.lead_violation);
        for (int r = 0; r < n_res; r++)
            for (int d = 0; d < H; d++) {
                assert_true(b.work[r][d] <= cap[r][d]); /* never over capacity, none on a holiday */
                assert_int_equal(free[r * H + d], cap[r][d] - b.work[r][d]);
                assert_int_equal(free[r * H + d], free2[r * H + d]); /* the cursor changes nothing */
            }
        for (int i = 0; i < n; i++) {
            assert_int_equal(orders[i].finish, orders2[i].finish);
            if (orders[i].finish >= 0) {
                assert_int_equal(orders[i].finish, b.last_day[i]); /* the promise is its last booked day */
                for (size_t l = 0; l < orders[i].n_lines; l++)
                    assert_true(orders[i].lines[l].finish >= otd_sched_start_day(&orders[i].lines[l]));
            } else {
                assert_int_equal(b.last_day[i], -1); /* nothing booked for an order that does not fit */
            }
        }
    }
}

/* Dates: month and year ends, leap days. */
static void test_date_add(void **state) {
    (void)state;
    char out[11];
    assert_int_equal(otd_sched_date_add("2026-12-06", 1, out), 0);
    assert_string_equal(out, "2026-12-07");
    assert_int_equal(otd_sched_date_add("2026-12-06", 26, out), 0);
    assert_string_equal(out, "2027-01-01");
    assert_int_equal(otd_sched_date_add("2028-02-28", 1, out), 0);
    assert_string_equal(out, "2028-02-29");
    assert_int_equal(otd_sched_date_add("2027-02-28", 1, out), 0);
    assert_string_equal(out, "2027-03-01");
    assert_int_equal(otd_sched_date_add("2026-12-06", 366, out), 0);
    assert_string_equal(out, "2027-12-07");
    assert_int_equal(otd_sched_date_add("2026-03-01", -1, out), 0);
    assert_string_equal(out, "2026-02-28");
    assert_int_equal(otd_sched_date_add("junk", 1, out), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_lead_time_moves_start),
        cmocka_unit_test(test_alternatives_share_load),
        cmocka_unit_test(test_edd_with_priority),
        cmocka_unit_test(test_whole_or_nothing),
        cmocka_unit_test(test_properties_random),
        cmocka_unit_test(test_date_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
