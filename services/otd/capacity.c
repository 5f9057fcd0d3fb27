/* services/otd/capacity.c - working days and the finite-capacity fill (see capacity.h). */
#include "capacity.h"

#include <string.h>

void otd_working_days(int iso_dow_today, int n, int *is_working_day) {
    if (iso_dow_today < 1 || iso_dow_today > 7 || n < 1 || !is_working_day) return;
    for (int i = 0; i < n; i++) is_working_day[i] = ((iso_dow_today + i) % 7) + 1 <= 5; /* day i = today + i + 1 */
}

int otd_fill_capacity(int64_t work, int64_t daily_capacity, const int64_t *booked_per_day, int horizon_days,
                      const int *is_working_day, int64_t *alloc_per_day) {
    if (alloc_per_day && horizon_days > 0) memset(alloc_per_day, 0, (size_t)horizon_days * sizeof *alloc_per_day);
    if (work <= 0 || daily_capacity <= 0 || horizon_days <= 0 || !is_working_day) return -1;
    int64_t left = work;
    for (int i = 0; i < horizon_days; i++) {
        if (!is_working_day[i]) continue;
        int64_t booked = booked_per_day && booked_per_day[i] > 0 ? booked_per_day[i] : 0;
        int64_t free = booked < daily_capacity ? daily_capacity - booked : 0;
        int64_t take = free < left ? free : left;
        if (take == 0) continue;
        if (alloc_per_day) alloc_per_day[i] = take;
        left -= take;
        if (left == 0) return i;
    }
    if (alloc_per_day) memset(alloc_per_day, 0, (size_t)horizon_days * sizeof *alloc_per_day);
    return -1;
}
