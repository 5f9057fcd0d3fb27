/* services/otd/scheduler.h - OTD's finite-capacity scheduler as a pure function (no database, no allocation of its
 * own): resource calendars, routings with alternative resources and a material lead time, and the placement of
 * orders on the capacity left, earliest due date first within priority classes (docs/planning.md).
 *
 * Days are indices from the planning date: day 0 is today, day d is today + d. Work never starts before day 1
 * (tomorrow) nor before the line's material lead time (day lead_days), and only on a day a resource has capacity
 * (its calendar: working weekdays, holidays at 0, per-day overrides). The horizon is OTD_SCHED_HORIZON days. */
#ifndef LTC_OTD_SCHEDULER_H
#define LTC_OTD_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

/* Days planned: today and the 366 days after it. */
#define OTD_SCHED_HORIZON 367

/* Bit of ISO weekday `dow` (Monday 1 .. Sunday 7) in a working-days mask; Monday to Friday is 31. */
#define OTD_DOW_BIT(dow) (1 << ((dow)-1))
#define OTD_WEEKDAYS_MASK 31

/* One calendar override of a resource: day `day` (index) has `capacity` (0: a holiday or the resource down). */
typedef struct otd_cal_override {
    int day;
    int64_t capacity;
} otd_cal_override;

/* Fills cap[0..horizon) with a resource's capacity per day: `daily_capacity` on the weekdays of `working_mask`
 * (today being ISO weekday iso_dow_today), 0 on the others, then the overrides applied (those outside the horizon
 * ignored). Day 0 (today) has no capacity: work starts tomorrow. -1 on a bad argument (nothing written), else 0. */
int otd_sched_calendar(int iso_dow_today, int working_mask, int64_t daily_capacity, const otd_cal_override *ov,
                       size_t n_ov, int horizon, int64_t *cap);

/* One resource a line may use, with the work one unit of product takes on it. */
typedef struct otd_sched_alt {
    int resource;          /* index into the load */
    int64_t work_per_unit; /* >= 1 */
} otd_sched_alt;

/* One line to place: `quantity` units, none worked before day `lead_days`, on any of its alternatives. */
typedef struct otd_sched_line {
    int64_t quantity;
    int lead_days;
    const otd_sched_alt *alts;
    size_t n_alts;
    int finish; /* out: the day its last unit is done, -1 when it does not fit in the horizon */
} otd_sched_line;

/* One order to place. Orders are placed by (priority ascending: 1 first), then due day, then seq. */
typedef struct otd_sched_order {
    int priority;
    int due;     /* the requested date as a day index (may be beyond the horizon or negative) */
    int64_t seq; /* tie-break: the order received first */
    otd_sched_line *lines;
    size_t n_lines;
    int finish; /* out: the latest of its lines' finish days (the promise), -1 when one line does not fit */
} otd_sched_order;

/* The capacity left, per resource and day: free[r * horizon + d]. */
typedef struct otd_sched_load {
    int n_resources;
    int horizon;
    int64_t *free;
    int *first_free; /* per resource: no capacity is left on any day before it (a cursor; may be all 0) */
} otd_sched_load;

/* A booking the scheduler made: `work` units of work of line `line` of order `order` on `resource` on `day`. */
typedef void (*otd_sched_book_fn)(void *ctx, size_t order, size_t line, int resource, int day, int64_t work);

/* The earliest day a line could start: the later of day 1 and its lead time. */
int otd_sched_start_day(const otd_sched_line *line);

/* Places one order alone on the load, as otd_sched_run does for each order (the incremental re-promise and the
 * available-to-promise answer use it): every line forward from otd_sched_start_day; every day, from the earliest
 * on, each alternative takes as many whole units as its capacity left allows, until the quantity is placed (so a
 * line is split across days and across alternatives, and two resources share the load). Returns the order's finish
 * day, -1 when it does not fit (the load unchanged), -2 when out of memory. */
int otd_sched_place_order(otd_sched_load *load, otd_sched_order *order, size_t order_ix, otd_sched_book_fn book,
                          void *ctx);

/* Sorts idx[0..n) (indices into orders) into placing order: priority, due, seq. */
void otd_sched_sort(const otd_sched_order *orders, size_t n, size_t *idx);

/* Schedules orders[0..n) on the load in placing order (idx: caller's scratch of n). An order is placed whole or not
 * at all: when one of its lines does not fit in the horizon, what its other lines took is given back and its finish
 * is -1 (its lines' finish days then say which ones fit). Bookings are reported to `book` once the order is placed.
 * Returns the number of orders placed, or -1 when out of memory (the load then unchanged by the order at hand). */
long otd_sched_run(otd_sched_load *load, otd_sched_order *orders, size_t n, size_t *idx, otd_sched_book_fn book,
                   void *ctx);

/* The date `days` after ymd ("YYYY-MM-DD", proleptic Gregorian) into out. 0, or -1 when ymd is malformed or the
 * result leaves years 1..9999. */
int otd_sched_date_add(const char *ymd, int days, char out[11]);

#endif
