/* services/dtc/fx.c - foreign exchange in DTC (docs/finance.md, "Foreign exchange"): the exchange rates finance sets
 * (SetExchangeRate, ListExchangeRates), the period-end revaluation of open foreign-currency receivables and its
 * reversal (RunRevaluation), and the check ClosePeriod makes that it ran. The arithmetic is fx_engine.c; the
 * conversion of each posted entry and the realised gain or loss of an allocation are dtc_ledger_post (ledger.c). */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "fx_engine.h"
#include "ledger.h"
#include "ltc/audit.h"
#include "ltc/money.h"

static const char SQL_FUNCTIONAL[] = "SELECT coalesce((SELECT functional_currency::text FROM credit_policy), 'CNY')";

/* the table of 002_credit.sql (numeric rate), read at 10 decimals */
#define RATE_COLS                                                                                                      \
    "currency::text, " LTC_SQL_DATE("valid_from") ", round(rate * 10000000000)::bigint, set_by, seq, "                 \
                                                  "functional_currency::text"
/* $3: the rate scaled by 10^10 */
static const char SQL_RATE_SET[] =
    "WITH old AS (SELECT round(rate * 10000000000)::bigint AS r FROM exchange_rates WHERE currency = $1 AND "
    "functional_currency = $5 AND valid_from = $2::date FOR UPDATE) INSERT INTO exchange_rates AS x (currency, "
    "functional_currency, valid_from, rate, set_by) VALUES ($1, $5, $2::date, $3::numeric / 10000000000, $4) "
    "ON CONFLICT (currency, functional_currency, valid_from) DO UPDATE SET rate = EXCLUDED.rate, set_by = "
    "EXCLUDED.set_by, version = x.version + 1, update_time = now() RETURNING " RATE_COLS ", (SELECT r FROM old)";
static const char SQL_RATES[] = "SELECT " RATE_COLS " FROM exchange_rates WHERE ($1::bigint = 0 OR seq < $1::bigint) "
                                "AND ($3::text IS NULL OR currency = $3) ORDER BY seq DESC LIMIT $2::integer";

static Ltc__Dtc__V1__ExchangeRate *rate_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__ExchangeRate *x = LTC_NEW(c, Ltc__Dtc__V1__ExchangeRate, LTC__DTC__V1__EXCHANGE_RATE__INIT);
    char buf[32];
    x->currency = ltc_call_strdup(c, ltc_pg_str(r, i, 0));
    x->rate_date = ltc_date_from_pg(c, r, i, 1);
    x->name = ltc_call_printf(c, "exchangeRates/%s/%s", x->currency, ltc_pg_str(r, i, 1));
    dtc_fx_rate_format(ltc_pg_i64(r, i, 2), buf);
    x->rate = ltc_call_strdup(c, buf);
    x->functional_currency = ltc_call_strdup(c, ltc_pg_str(r, i, 5));
    x->set_by = ltc_call_strdup(c, ltc_pg_str(r, i, 3));
    return x;
}

static const char *functional_currency(ltc_call *c, ltc_status *st) {
    PGresult *f = ltc_call_query(c, st, SQL_FUNCTIONAL, 0, NULL);
    return f ? ltc_call_strdup(c, ltc_pg_str(f, 0, 0)) : NULL;
}

/* FinanceService/SetExchangeRate: see the proto. */
int dtc_set_exchange_rate(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__SetExchangeRateRequest *req = (const void *)m;
    const Ltc__Dtc__V1__ExchangeRate *x = req->exchange_rate;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    if (!x) return ltc_status_bad_field(st, "exchange_rate", "required");
    const char *functional = functional_currency(c, st);
    if (!functional) return -1;
    char day[11];
    int64_t rate = 0;
    if (ltc_currency_digits(x->currency) < 0)
        ltc_status_bad_field(st, "exchange_rate.currency", "not an ISO 4217 currency");
    else if (strcmp(x->currency, functional) == 0)
        ltc_status_bad_field(st, "exchange_rate.currency", "is the functional currency: its rate is 1");
    ltc_date_to_text(x->rate_date, "exchange_rate.rate_date", 0, day, st);
    if (dtc_fx_rate_parse(x->rate, &rate) != 0)
        ltc_status_bad_field(st, "exchange_rate.rate", "a decimal > 0 like \"0.0482\", at most 10 decimals");
    if (st->code != LTC_OK) return -1;
    const char *sp[] = {x->currency, day, ltc_sql_i64(c, rate), dtc_principal(c), functional};
    PGresult *r = ltc_call_query(c, st, SQL_RATE_SET, 5, sp);
    if (!r) return -1;
    Ltc__Dtc__V1__SetExchangeRateResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__SetExchangeRateResponse, LTC__DTC__V1__SET_EXCHANGE_RATE_RESPONSE__INIT);
    resp->exchange_rate = rate_from_row(c, r, 0);
    char old[32] = "";
    if (!ltc_pg_isnull(r, 0, 6)) dtc_fx_rate_format(ltc_pg_i64(r, 0, 6), old);
    ltc_audit_change(c, resp->exchange_rate->name, "rate", old[0] ? old : NULL, resp->exchange_rate->rate);
    *out = &resp->base;
    return 0;
}

/* FinanceService/ListExchangeRates: see the proto. */
int dtc_list_exchange_rates(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListExchangeRatesRequest *req = (const void *)m;
    if (req->currency[0] && ltc_currency_digits(req->currency) < 0)
        ltc_status_bad_field(st, "currency", "not an ISO 4217 currency");
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *functional = functional_currency(c, st);
    if (!functional) return -1;
    PGresult *r = ltc_call_query(
        c, st, SQL_RATES, 3,
        (const char *[]){ltc_sql_i64(c, after), ltc_sql_i64(c, limit), req->currency[0] ? req->currency : NULL});
    if (!r) return -1;
    Ltc__Dtc__V1__ListExchangeRatesResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListExchangeRatesResponse, LTC__DTC__V1__LIST_EXCHANGE_RATES_RESPONSE__INIT);
    int n = PQntuples(r), shown = n < limit ? n : limit - 1;
    resp->exchange_rates = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__ExchangeRate *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->exchange_rates[resp->n_exchange_rates++] = rate_from_row(c, r, i);
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 4));
    *out = &resp->base;
    return 0;
}

/* --- revaluation -------------------------------------------------------------------------------------------------- */

/* $1 the period's last day, $2 the next period's first day, $3 ended */
static const char SQL_PERIOD_DAYS[] =
    "SELECT to_char(((($1 || '-01')::date + interval '1 month') - interval '1 day')::date, 'YYYY-MM-DD'), "
    "to_char((($1 || '-01')::date + interval '1 month')::date, 'YYYY-MM-DD'), "
    "(($1 || '-01')::date + interval '1 month')::date <= current_date";
/* held for the run: concurrent runs of a period wait for each other */
static const char SQL_RUN_MARK[] = "INSERT INTO fx_revaluation_runs (period, run_by) VALUES ($1, $2) "
                                   "ON CONFLICT (period) DO UPDATE SET last_run_time = now()";
/* the foreign-currency invoices open at the period's end ($1 the last day, $2 the functional currency) not yet
 * revalued for the period ($3): open = amount - credited - allocations applied by then and not reversed by then */
#define OPEN_AT_END                                                                                                     \
    "i.amount_minor - i.credited_minor - coalesce((SELECT sum(a.amount_minor) FROM allocations a WHERE a.invoice_id = " \
    "i.id AND a.apply_date <= $1::date AND (a.state = 'ACTIVE' OR a.reverse_date > $1::date)), 0)"
static const char SQL_OPEN_FOREIGN[] =
    "SELECT i.id::text, i.currency::text, " OPEN_AT_END ", e.fx_rate_scaled, coalesce(e.customer_id::text, '') "
    "FROM invoices i LEFT JOIN LATERAL (SELECT fx_rate_scaled, customer_id FROM journal_entries WHERE source = "
    "'invoices/' || i.id AND event = 'INVOICE' ORDER BY seq LIMIT 1) e ON true WHERE i.currency <> $2 "
    "AND i.invoice_date <= $1::date AND " OPEN_AT_END " > 0 AND NOT EXISTS (SELECT FROM fx_revaluations v "
    "WHERE v.period = $3 AND v.invoice_id = i.id) ORDER BY i.currency, i.invoice_date, i.id";
static const char SQL_REVALUED[] =
    "INSERT INTO fx_revaluations (period, invoice_id, currency, open_minor, rate_scaled, carried_minor, "
    "unrealised_minor) VALUES ($1, $2::uuid, $3, $4::bigint, $5::bigint, $6::bigint, $7::bigint)";

/* FinanceService/RunRevaluation: see the proto and docs/finance.md, "Foreign exchange". */
int dtc_run_revaluation(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RunRevaluationRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    if (st->code != LTC_OK) return -1;
    PGresult *d = ltc_call_query(c, st, SQL_PERIOD_DAYS, 1, (const char *[]){req->period});
    if (!d) return -1;
    if (!ltc_pg_bool(d, 0, 2))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_ENDED",
                              "period %s has not ended yet: it is revalued from its next month on", req->period);
    const char *end = ltc_call_strdup(c, ltc_pg_str(d, 0, 0)), *next = ltc_call_strdup(c, ltc_pg_str(d, 0, 1));
    const char *functional = functional_currency(c, st);
    if (!functional) return -1;
    if (!ltc_call_query(c, st, SQL_RUN_MARK, 2, (const char *[]){req->period, dtc_principal(c)})) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_OPEN_FOREIGN, 3, (const char *[]){end, functional, req->period});
    if (!r) return -1;
    int to = ltc_currency_digits(functional), invoices = 0, entries = 0, unconverted = 0;
    int64_t net = 0, rate = 0;
    char cur[4] = "";
    for (int i = 0; i < PQntuples(r); i++) {
        const char *inv = ltc_pg_str(r, i, 0), *currency = ltc_pg_str(r, i, 1);
        int64_t open = ltc_pg_i64(r, i, 2), carried, delta;
        if (ltc_pg_isnull(r, i, 3)) { /* invoiced without a rate: no functional amount to revalue */
            unconverted++;
            continue;
        }
        if (strcmp(cur, currency) != 0) { /* a currency with converted open invoices needs the period end's rate */
            if (dtc_fx_rate_on(c, st, currency, end, functional, &rate) != 0) return -1;
            snprintf(cur, sizeof cur, "%s", currency);
        }
        int from = ltc_currency_digits(currency);
        if (from < 0 || to < 0 || dtc_fx_convert(open, from, to, ltc_pg_i64(r, i, 3), &carried) != 0 ||
            dtc_fx_unrealised(open, carried, from, to, rate, &delta) != 0)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "invoice %s: cannot revalue", inv);
        const char *source = ltc_call_printf(c, "invoices/%s", inv), *customer = ltc_pg_str(r, i, 4);
        const char *vp[] = {
            req->period,          inv, currency, ltc_sql_i64(c, open), ltc_sql_i64(c, rate), ltc_sql_i64(c, carried),
            ltc_sql_i64(c, delta)};
        if (!ltc_call_query(c, st, SQL_REVALUED, 7, vp)) return -1;
        invoices++;
        if (delta == 0) continue;
        int64_t gain = delta > 0 ? delta : 0, loss = delta < 0 ? -delta : 0;
        dtc_posting p = {.event = DTC_EV_FX_REVAL,
                         .a = gain,
                         .b = loss,
                         .source = source,
                         .customer = customer,
                         .currency = currency,
                         .date = end,
                         .rate = rate};
        if (dtc_ledger_post(c, st, &p) != 0) return -1;
        p.event = DTC_EV_FX_REVAL_REV, p.date = next;
        if (dtc_ledger_post(c, st, &p) != 0) return -1;
        entries += 2, net += delta;
    }
    Ltc__Dtc__V1__RunRevaluationResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RunRevaluationResponse, LTC__DTC__V1__RUN_REVALUATION_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->invoice_count = invoices;
    resp->entry_count = entries;
    resp->unrealised = ltc_money_msg(c, functional, net);
    resp->unconverted_count = unconverted;
    *out = &resp->base;
    return 0;
}

static const char SQL_REVALUATION_MISSING[] =
    "SELECT NOT EXISTS (SELECT FROM fx_revaluation_runs WHERE period = $1) AND EXISTS (SELECT FROM invoices i "
    "WHERE i.currency <> coalesce((SELECT functional_currency FROM credit_policy), 'CNY') AND i.invoice_date < "
    "(($1 || '-01')::date + interval '1 month')::date AND i.amount_minor - i.paid_minor - i.credited_minor > 0 "
    "AND EXISTS (SELECT FROM journal_entries e WHERE e.source = 'invoices/' || i.id AND e.event = 'INVOICE' "
    "AND e.fx_rate_scaled IS NOT NULL))";

int dtc_revaluation_missing(ltc_call *c, ltc_status *st, const char *period) {
    PGresult *r = ltc_call_query(c, st, SQL_REVALUATION_MISSING, 1, (const char *[]){period});
    return r ? ltc_pg_bool(r, 0, 0) : -1;
}

/* --- reports in the functional currency (aging, exposure) --------------------------------------------------------- */

static const char SQL_REPORT_RATE[] = "SELECT round(rate * 10000000000)::bigint, " LTC_SQL_DATE(
    "valid_from") " FROM exchange_rates WHERE currency = $1 "
                  "AND functional_currency = $3 AND valid_from <= $2::date ORDER BY valid_from DESC LIMIT 1";

int dtc_fx_report_init(ltc_call *c, ltc_status *st, dtc_fx_report *rep, const char *day) {
    memset(rep, 0, sizeof *rep);
    rep->functional = functional_currency(c, st);
    rep->day = ltc_call_strdup(c, day);
    return rep->functional ? 0 : -1;
}

int dtc_fx_report_convert(ltc_call *c, ltc_status *st, dtc_fx_report *rep, const char *currency, int64_t minor,
                          int64_t *out) {
    if (strcmp(currency, rep->functional) == 0) {
        *out = minor;
        return 0;
    }
    int k = 0;
    while (k < rep->n && strcmp(rep->cur[k], currency) != 0) k++;
    if (k == rep->n) {
        if (rep->n == DTC_FX_REPORT_MAX) return ltc_status_set(st, LTC_INTERNAL, NULL, "more than 32 currencies");
        PGresult *r = ltc_call_query(c, st, SQL_REPORT_RATE, 3, (const char *[]){currency, rep->day, rep->functional});
        if (!r) return -1;
        snprintf(rep->cur[k], sizeof rep->cur[k], "%s", currency);
        rep->found[k] = PQntuples(r) == 1;
        rep->rate[k] = rep->found[k] ? ltc_pg_i64(r, 0, 0) : 0;
        rep->rate_date[k] = rep->found[k] ? ltc_call_strdup(c, ltc_pg_str(r, 0, 1)) : NULL;
        rep->n++;
    }
    if (!rep->found[k]) return 1;
    int from = ltc_currency_digits(currency), to = ltc_currency_digits(rep->functional);
    if (from < 0 || to < 0 || dtc_fx_convert(minor, from, to, rep->rate[k], out) != 0)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "%s: cannot convert to %s", currency, rep->functional);
    return 0;
}

static Ltc__Type__V1__Date *date_msg(ltc_call *c, const char *iso) {
    Ltc__Type__V1__Date *d = LTC_NEW(c, Ltc__Type__V1__Date, LTC__TYPE__V1__DATE__INIT);
    int y = 0, m = 0, dd = 0;
    sscanf(iso, "%d-%d-%d", &y, &m, &dd);
    d->year = y, d->month = m, d->day = dd;
    return d;
}

void dtc_fx_report_rates(ltc_call *c, const dtc_fx_report *rep, Ltc__Dtc__V1__ConversionRate ***rates, size_t *n_rates,
                         char ***unconverted, size_t *n_unconverted) {
    *rates = ltc_call_alloc(c, sizeof(void *) * (size_t)(rep->n ? rep->n : 1));
    *unconverted = ltc_call_alloc(c, sizeof(char *) * (size_t)(rep->n ? rep->n : 1));
    *n_rates = *n_unconverted = 0;
    for (int k = 0; k < rep->n; k++) {
        if (!rep->found[k]) {
            (*unconverted)[(*n_unconverted)++] = ltc_call_strdup(c, rep->cur[k]);
            continue;
        }
        Ltc__Dtc__V1__ConversionRate *x = LTC_NEW(c, Ltc__Dtc__V1__ConversionRate, LTC__DTC__V1__CONVERSION_RATE__INIT);
        char buf[32];
        dtc_fx_rate_format(rep->rate[k], buf);
        x->currency_code = ltc_call_strdup(c, rep->cur[k]);
        x->functional_currency = ltc_call_strdup(c, rep->functional);
        x->rate = ltc_call_strdup(c, buf);
        x->rate_date = date_msg(c, rep->rate_date[k]);
        x->as_of_date = date_msg(c, rep->day);
        (*rates)[(*n_rates)++] = x;
    }
}
