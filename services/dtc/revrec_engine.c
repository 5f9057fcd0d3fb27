/* services/dtc/revrec_engine.c - the pure arithmetic of revenue recognition: see revrec_engine.h. */
#include "revrec_engine.h"

int dtc_revrec_allocate(int64_t price, const int64_t *ssp, int n, int64_t *out) {
    if (price < 0 || !ssp || !out || n < 1 || n > DTC_REVREC_MAX_LINES) return -1;
    __int128 sum = 0;
    for (int i = 0; i < n; i++) {
        if (ssp[i] < 0) return -1;
        sum += ssp[i];
    }
    if (sum <= 0) return -1;
    int64_t parts[DTC_REVREC_MAX_LINES];
    __int128 rem[DTC_REVREC_MAX_LINES];
    int64_t given = 0;
    for (int i = 0; i < n; i++) {
        __int128 p = (__int128)price * ssp[i];
        parts[i] = (int64_t)(p / sum);
        rem[i] = p % sum;
        given += parts[i];
    }
    /* fewer than n units are left (each floor drops less than one): one each to the largest remainders */
    for (int64_t left = price - given; left > 0; left--) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (rem[i] >= 0 && (best < 0 || rem[i] > rem[best])) best = i;
        if (best < 0) return -1;
        parts[best]++;
        rem[best] = -1; /* at most one extra unit each */
    }
    for (int i = 0; i < n; i++) out[i] = parts[i];
    return 0;
}

int64_t dtc_revrec_recognised(int64_t amount, int months, int elapsed) {
    if (amount < 0 || months < 1 || months > DTC_REVREC_MAX_MONTHS) return -1;
    if (elapsed <= 0) return 0;
    if (elapsed >= months) return amount;
    return (int64_t)((__int128)amount * elapsed / months);
}

int dtc_revrec_schedule(int64_t amount, int months, int64_t *out) {
    if (!out || amount < 0 || months < 1 || months > DTC_REVREC_MAX_MONTHS) return -1;
    for (int k = 0; k < months; k++)
        out[k] = dtc_revrec_recognised(amount, months, k + 1) - dtc_revrec_recognised(amount, months, k);
    return 0;
}

int64_t dtc_revrec_point_in_time(int64_t amount, int64_t accepted, int64_t total, int fully) {
    if (amount < 0 || total < 0) return -1;
    if (fully) return amount;
    if (total == 0 || accepted <= 0) return 0;
    if (accepted >= total) return amount;
    return (int64_t)((__int128)amount * accepted / total);
}

int dtc_revrec_contract(int64_t revenue, int64_t liability, int64_t asset, int64_t *from_liability, int64_t *to_asset,
                        int64_t *netting) {
    if (revenue < 0 || liability < 0 || asset < 0 || !from_liability || !to_asset || !netting) return -1;
    __int128 net = (__int128)liability - asset - revenue; /* > 0: a liability is left, < 0: an asset */
    int64_t l1 = net > 0 ? (int64_t)net : 0, a1 = net < 0 ? (int64_t)-net : 0;
    *netting = asset > a1 ? asset - a1 : 0;
    *to_asset = a1 > asset ? a1 - asset : 0;
    *from_liability = liability - l1 - *netting;
    return 0;
}
