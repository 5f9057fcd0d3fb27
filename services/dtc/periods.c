/* services/dtc/periods.c - monthly accounting periods (docs/finance.md, "Periods"): OPEN -> CLOSED by finance's
 * ClosePeriod; back to OPEN only by a reopen request and an approval by another person. dtc_ledger_post (ledger.c)
 * holds the row of the period it posts into FOR SHARE, so closing waits for the postings under way and nothing posts
 * into a CLOSED period (it moves to the first open one after it). */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ledger.h"

#define PERIOD_COLS                                                                                                    \
    "period::text, state, coalesce(closed_by, ''), coalesce(reopen_requested_by, ''), coalesce(reopen_reason, ''), "   \
    "coalesce(reopened_by, ''), version"
/* newest first, before the page token's month ($1, YYYYMM as an integer; 0: from the newest) */
static const char SQL_PERIODS[] =
    "SELECT " PERIOD_COLS ", replace(period, '-', '')::bigint FROM ledger_periods "
    "WHERE $1::bigint = 0 OR replace(period, '-', '')::bigint < $1::bigint ORDER BY period DESC LIMIT $2::integer";
static const char SQL_ENSURE[] = "INSERT INTO ledger_periods (period) VALUES ($1) ON CONFLICT DO NOTHING";
static const char SQL_LOCK[] =
    "SELECT " PERIOD_COLS ", (($1 || '-01')::date + interval '1 month')::date <= current_date "
    "FROM ledger_periods WHERE period = $1 FOR UPDATE";
static const char SQL_RECOGNISED[] = "SELECT EXISTS (SELECT FROM revenue_runs WHERE period = $1)";
static const char SQL_CLOSE[] =
    "UPDATE ledger_periods SET state = 'CLOSED', closed_by = $2, close_time = now(), reopen_requested_by = NULL, "
    "reopen_reason = NULL, reopen_request_time = NULL, reopened_by = NULL, reopen_time = NULL, version = version + 1 "
    "WHERE period = $1 RETURNING " PERIOD_COLS;
static const char SQL_REQUEST[] =
    "UPDATE ledger_periods SET reopen_requested_by = $2, reopen_reason = $3, reopen_request_time = now(), "
    "version = version + 1 WHERE period = $1 RETURNING " PERIOD_COLS;
static const char SQL_REOPEN[] =
    "UPDATE ledger_periods SET state = 'OPEN', reopened_by = $2, reopen_time = now(), version = version + 1 "
    "WHERE period = $1 RETURNING " PERIOD_COLS;

static Ltc__Dtc__V1__Period *period_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__Period *p = LTC_NEW(c, Ltc__Dtc__V1__Period, LTC__DTC__V1__PERIOD__INIT);
    p->period = ltc_call_strdup(c, ltc_pg_str(r, i, 0));
    p->state = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
    p->closed_by = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
    p->reopen_requested_by = ltc_call_strdup(c, ltc_pg_str(r, i, 3));
    p->reopen_reason = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
    p->reopened_by = ltc_call_strdup(c, ltc_pg_str(r, i, 5));
    p->version = ltc_pg_i64(r, i, 6);
    return p;
}

/* The period's row, created OPEN if it has none, locked FOR UPDATE. */
static PGresult *lock_period(ltc_call *c, ltc_status *st, const char *period) {
    if (!ltc_call_query(c, st, SQL_ENSURE, 1, (const char *[]){period})) return NULL;
    return ltc_call_query(c, st, SQL_LOCK, 1, (const char *[]){period});
}

/* FinanceService/ListPeriods: newest first; the page token is the last month shown. */
int dtc_list_periods(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListPeriodsRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_PERIODS, 2, (const char *[]){ltc_sql_i64(c, after), ltc_sql_i64(c, limit)});
    if (!r) return -1;
    Ltc__Dtc__V1__ListPeriodsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListPeriodsResponse, LTC__DTC__V1__LIST_PERIODS_RESPONSE__INIT);
    int n = PQntuples(r), shown = n < limit ? n : limit - 1;
    resp->periods = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Period *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->periods[resp->n_periods++] = period_from_row(c, r, i);
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 7));
    *out = &resp->base;
    return 0;
}

/* FinanceService/ClosePeriod: see the proto. */
int dtc_close_period(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ClosePeriodRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r = lock_period(c, st, req->period);
    if (!r) return -1;
    if (strcmp(ltc_pg_str(r, 0, 1), "OPEN") == 0) {
        if (!ltc_pg_bool(r, 0, 7))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_ENDED",
                                  "period %s has not ended yet: it can be closed from its next month on", req->period);
        PGresult *rr = ltc_call_query(c, st, SQL_RECOGNISED, 1, (const char *[]){req->period});
        if (!rr) return -1;
        if (!ltc_pg_bool(rr, 0, 0))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "REVENUE_NOT_RECOGNISED",
                                  "revenue recognition has not run for period %s: run RunRevenueRecognition first",
                                  req->period);
        int missing = dtc_revaluation_missing(c, st, req->period);
        if (missing < 0) return -1;
        if (missing)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "REVALUATION_NOT_RUN",
                                  "foreign-currency invoices are open and the revaluation has not run for period %s: "
                                  "run RunRevaluation first",
                                  req->period);
        r = ltc_call_query(c, st, SQL_CLOSE, 2, (const char *[]){req->period, dtc_principal(c)});
        if (!r) return -1;
    }
    Ltc__Dtc__V1__ClosePeriodResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ClosePeriodResponse, LTC__DTC__V1__CLOSE_PERIOD_RESPONSE__INIT);
    resp->period = period_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* FinanceService/RequestPeriodReopen: see the proto. */
int dtc_request_period_reopen(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RequestPeriodReopenRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r = lock_period(c, st, req->period);
    if (!r) return -1;
    if (strcmp(ltc_pg_str(r, 0, 1), "CLOSED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_CLOSED", "period %s is open", req->period);
    r = ltc_call_query(c, st, SQL_REQUEST, 3, (const char *[]){req->period, dtc_principal(c), req->reason});
    if (!r) return -1;
    Ltc__Dtc__V1__RequestPeriodReopenResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RequestPeriodReopenResponse, LTC__DTC__V1__REQUEST_PERIOD_REOPEN_RESPONSE__INIT);
    resp->period = period_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* FinanceService/ApprovePeriodReopen: see the proto. */
int dtc_approve_period_reopen(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ApprovePeriodReopenRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r = lock_period(c, st, req->period);
    if (!r) return -1;
    if (strcmp(ltc_pg_str(r, 0, 1), "CLOSED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_CLOSED", "period %s is open", req->period);
    const char *requester = ltc_pg_str(r, 0, 3);
    if (!requester[0])
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_REOPEN_REQUEST",
                              "nobody asked for period %s to be reopened", req->period);
    if (strcmp(requester, dtc_principal(c)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "APPROVER_IS_REQUESTER",
                              "%s asked for period %s to be reopened: someone else must approve it", requester,
                              req->period);
    r = ltc_call_query(c, st, SQL_REOPEN, 2, (const char *[]){req->period, dtc_principal(c)});
    if (!r) return -1;
    Ltc__Dtc__V1__ApprovePeriodReopenResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ApprovePeriodReopenResponse, LTC__DTC__V1__APPROVE_PERIOD_REOPEN_RESPONSE__INIT);
    resp->period = period_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}
