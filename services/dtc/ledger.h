/* services/dtc/ledger.h - the finance subledger (ledger.c) and its periods (periods.c): what the other DTC files
 * call to post a financial event in their own transaction, and the FinanceService handlers (docs/finance.md). */
#ifndef LTC_DTC_LEDGER_H
#define LTC_DTC_LEDGER_H

#include <stdint.h>

#include "ledger_engine.h"
#include "ltc/dtc/v1/finance_service.pb-c.h"
#include "ltc/server.h"
#include "ltc/status.h"

/* A financial event to post. */
typedef struct dtc_posting {
    dtc_ledger_event event;
    int64_t a, b;         /* the amounts of ledger_engine.h's event */
    const char *source;   /* the record that made it: "invoices/{id}", "allocations/{id}", ... */
    const char *customer; /* a UUID, or NULL/"" (then the customer of `receipt`, if any) */
    const char *receipt;  /* a receipt's UUID whose customer is the entry's when customer is NULL; may be NULL */
    const char *currency; /* the event's currency */
    const char *date;     /* the event's business date "YYYY-MM-DD", NULL: today */
    const char *invoice;  /* ALLOCATION: the invoice's UUID (its side converts at the invoice's rate); may be NULL */
    int64_t rate;         /* FX_REVALUATION(_REVERSAL): the rate valued at (a and b are functional amounts) */
} dtc_posting;

/* Posts the balanced entry of `p` in the caller's transaction: the lines of dtc_entry_build with the chart's codes,
 * dated in the first period not CLOSED on or after the event's date (that period's row held FOR SHARE, so a
 * ClosePeriod waits for it). Nothing when every amount is zero. 0 or -1. */
int dtc_ledger_post(ltc_call *c, ltc_status *st, const dtc_posting *p);

/* The rate of `currency` to `functional` on `day` (the latest on or before it) into *rate: 0, or -1 with FAILED_PRECONDITION
 * EXCHANGE_RATE_MISSING naming both. */
int dtc_fx_rate_on(ltc_call *c, ltc_status *st, const char *currency, const char *day, const char *functional,
                   int64_t *rate);

/* Checks a period "YYYY-MM" (required or may be empty). 0, or -1 with INVALID_ARGUMENT naming `field`. */
int dtc_period_parse(const char *s, const char *field, int required, ltc_status *st);

/* ledger.c */
int dtc_get_chart_of_accounts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_update_ledger_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_journal_entries(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_trial_balance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_journal_export(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* periods.c */
int dtc_list_periods(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_close_period(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_request_period_reopen(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_approve_period_reopen(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* fx.c */
int dtc_set_exchange_rate(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_exchange_rates(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_run_revaluation(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* 1 when foreign-currency invoices dated on or before the period's end are open and its revaluation has not run */
int dtc_revaluation_missing(ltc_call *c, ltc_status *st, const char *period);

/* Reports in the functional currency (GetAgingReport, GetCreditExposure): the rate of each currency on `day`, looked
 * up once per report. */
#define DTC_FX_REPORT_MAX 32
typedef struct dtc_fx_report {
    const char *functional, *day;
    int n;
    char cur[DTC_FX_REPORT_MAX][4];
    int found[DTC_FX_REPORT_MAX];
    int64_t rate[DTC_FX_REPORT_MAX];
    const char *rate_date[DTC_FX_REPORT_MAX];
} dtc_fx_report;
int dtc_fx_report_init(ltc_call *c, ltc_status *st, dtc_fx_report *rep, const char *day);
/* `minor` of `currency` in the functional currency into *out: 0, 1 when the currency has no rate, -1 on error. */
int dtc_fx_report_convert(ltc_call *c, ltc_status *st, dtc_fx_report *rep, const char *currency, int64_t minor,
                          int64_t *out);
/* The rates used and the currencies without one, for the response. */
void dtc_fx_report_rates(ltc_call *c, const dtc_fx_report *rep, Ltc__Dtc__V1__ConversionRate ***rates, size_t *n_rates,
                         char ***unconverted, size_t *n_unconverted);

/* revenue.c */
int dtc_run_revenue_recognition(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_revenue_schedule(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_revenue_summary(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* provisions.c: doubtful debt */
int dtc_get_provision_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_update_provision_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_set_specific_provision(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_run_provision(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_request_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_approve_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_reject_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_record_recovery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

#endif
