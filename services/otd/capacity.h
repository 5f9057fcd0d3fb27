/* services/otd/capacity.h - finite-capacity scheduling arithmetic of OTD: which days of the horizon are working days
 * and how an order's work fills a resource's free capacity. Pure: no database, no allocation, no dependency beyond
 * <stdint.h>, so that it can be unit-tested on its own (tests/unit/otd/test_scheduling.c). */
#ifndef LTC_OTD_CAPACITY_H
#define LTC_OTD_CAPACITY_H

#include <stdint.h>

/* Scheduling horizon: working days from tomorrow up to this many calendar days ahead. */
#define OTD_HORIZON_DAYS 366

/* Marks the n days after today (day i = today + i + 1) as working (Monday to Friday: 1) or not (0), today being ISO
 * weekday `iso_dow_today` (Monday 1 .. Sunday 7). Nothing is written when iso_dow_today is out of range or n < 1. */
void otd_working_days(int iso_dow_today, int n, int *is_working_day);

/* Finite-capacity fill: places `work` units on consecutive days 0..horizon_days-1, taking on each working day
 * (is_working_day[i] != 0) whatever capacity is left (daily_capacity - booked_per_day[i], never below 0), earliest
 * days first. booked_per_day may be NULL (nothing booked). alloc_per_day, when not NULL, receives the units placed on
 * each of the horizon_days days (0 after the finish day).
 * Returns the index of the day the work finishes on, or -1 when it does not fit in the horizon, or when work,
 * daily_capacity or horizon_days is not positive or is_working_day is NULL (alloc_per_day is then all zero). */
int otd_fill_capacity(int64_t work, int64_t daily_capacity, const int64_t *booked_per_day, int horizon_days,
                      const int *is_working_day, int64_t *alloc_per_day);

#endif
