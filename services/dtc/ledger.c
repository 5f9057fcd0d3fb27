/* services/dtc/ledger.c - the finance subledger (docs/finance.md): dtc_ledger_post, which every financial event of
 * DTC calls in its own transaction (the lines from ledger_engine.c, the posting date from the periods), and the
 * FinanceService reads of the chart of accounts, the journal, the trial balance and the export for the general
 * ledger. The periods' RPCs are periods.c. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ltc/fieldmask.h"
#include "ledger.h"
#include "ledger_engine.h"
#include "fx_engine.h"
#include "ltc/money.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

/* the event's day and period, the functional currency, and the period's state, locked FOR SHARE until the transaction
 * ends (a ClosePeriod waits for the postings under way); NULL state: the period has no row yet */
static const char SQL_EVENT_DATE[] =
    "SELECT to_char(d, 'YYYY-MM-DD'), to_char(d, 'YYYY-MM'), coalesce((SELECT functional_currency::text "
    "FROM credit_policy), 'CNY'), (SELECT state FROM ledger_periods WHERE period = to_char(d, 'YYYY-MM') FOR SHARE) "
    "FROM (SELECT coalesce($1::date, current_date) AS d) x";
static const char SQL_PERIOD_ENSURE[] = "INSERT INTO ledger_periods (period) VALUES ($1) ON CONFLICT DO NOTHING";
static const char SQL_PERIOD_SHARE[] = "SELECT state FROM ledger_periods WHERE period = $1 FOR SHARE";
static const char SQL_NEXT_MONTH[] =
    "SELECT to_char(m, 'YYYY-MM-DD'), to_char(m, 'YYYY-MM') FROM (SELECT (($1 || '-01')::date + interval '1 month')::date "
    "AS m) x";
/* the entry and its lines in one statement: $1-$13 the entry; $14 roles, $15 debits, $16 credits, $17 functional
 * debits, $18 functional credits, $19 whether converted. The count of rows is the lines'. */
static const char SQL_ENTRY_INSERT[] =
    "WITH e AS (INSERT INTO journal_entries (id, event, source, customer_id, currency, functional_currency, "
    "event_date, posting_date, period, total_minor, posted_by, fx_rate_scaled) VALUES ($1, $2, $3, coalesce($4::uuid, "
    "(SELECT customer_id FROM receipts WHERE id = $5::uuid)), $6, $7, $8::date, $9::date, $10, $11::bigint, $12, "
    "$13::bigint) RETURNING id) "
    "INSERT INTO journal_lines (entry_id, line_no, account_role, account_code, debit_minor, credit_minor, "
    "functional_debit_minor, functional_credit_minor) SELECT e.id, t.n, t.role, a.code, t.d, t.c, "
    "CASE WHEN $19::boolean THEN t.fd END, CASE WHEN $19::boolean THEN t.fc END "
    "FROM e, unnest($14::text[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[]) WITH ORDINALITY "
    "AS t(role, d, c, fd, fc, n) JOIN ledger_accounts a ON a.role = t.role";
/* the rate of a currency for a day: the latest on or before it */
static const char SQL_RATE_OF_DAY[] =
    "SELECT round(rate * 10000000000)::bigint FROM exchange_rates WHERE currency = $1 AND functional_currency = $3 "
    "AND valid_from <= $2::date ORDER BY valid_from DESC LIMIT 1";
/* an allocation's two documents: the invoice's rate and paid amount, the receipt's rate and applied amount (both
 * already raised by this allocation) */
static const char SQL_ALLOC_DOCS[] =
    "SELECT (SELECT fx_rate_scaled FROM journal_entries WHERE source = 'invoices/' || $1 AND event = 'INVOICE' "
    "ORDER BY seq LIMIT 1), (SELECT paid_minor FROM invoices WHERE id = $1::uuid), (SELECT fx_rate_scaled FROM "
    "journal_entries WHERE source = 'receipts/' || $2 AND event = 'RECEIPT' ORDER BY seq LIMIT 1), (SELECT "
    "applied_minor FROM receipts WHERE id = $2::uuid)";
/* the functional amounts of the allocation entry a reversal mirrors */
static const char SQL_ALLOC_ENTRY[] =
    "SELECT l.account_role, l.functional_debit_minor, l.functional_credit_minor FROM journal_lines l JOIN "
    "journal_entries e ON e.id = l.entry_id WHERE e.source = $1 AND e.event = 'ALLOCATION' "
    "AND l.functional_debit_minor IS NOT NULL ORDER BY e.seq DESC, l.line_no";

/* --- posting ------------------------------------------------------------------------------------------------------ */

/* The rate of `currency` on `day` into *rate; 0 found, 1 none, -1 error. */
static int rate_of_day(ltc_call *c, ltc_status *st, const char *currency, const char *day, const char *functional,
                       int64_t *rate) {
    PGresult *r = ltc_call_query(c, st, SQL_RATE_OF_DAY, 3, (const char *[]){currency, day, functional});
    if (!r) return -1;
    if (PQntuples(r) == 0) return 1;
    *rate = ltc_pg_i64(r, 0, 0);
    return 0;
}

int dtc_fx_rate_on(ltc_call *c, ltc_status *st, const char *currency, const char *day, const char *functional,
                   int64_t *rate) {
    int k = rate_of_day(c, st, currency, day, functional, rate);
    if (k > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "EXCHANGE_RATE_MISSING",
                              "no exchange rate of %s on or before %s: set one with SetExchangeRate", currency, day);
    return k;
}

/* The functional amounts of the lines of a foreign-currency event (rate: the event day's, 0 if none). Sets *converted
 * (0: some rate is missing, the entry is posted without functional amounts) and *used (the rate recorded). */
static int convert_lines(ltc_call *c, ltc_status *st, const dtc_posting *p, const char *functional,
                         const dtc_jline *lines, int n, int64_t rate, int64_t *fd, int64_t *fc, int *converted,
                         int64_t *used) {
    int from = ltc_currency_digits(p->currency), to = ltc_currency_digits(functional);
    *converted = 0, *used = rate;
    if (from < 0 || to < 0) return 0;
    int64_t rates[DTC_MAX_JLINES + 1], before[DTC_MAX_JLINES + 1];
    for (int i = 0; i < n; i++) rates[i] = rate, before[i] = -1;
    if (p->event == DTC_EV_ALLOCATION && p->invoice && p->receipt) {
        /* the invoice's side at the invoice's rate, the receipt's at the receipt's: the difference is realised */
        PGresult *d = ltc_call_query(c, st, SQL_ALLOC_DOCS, 2, (const char *[]){p->invoice, p->receipt});
        if (!d) return -1;
        for (int i = 0; i < n; i++) {
            int inv = lines[i].account == DTC_ACC_RECEIVABLES, rec = lines[i].account == DTC_ACC_UNAPPLIED_CASH;
            int col = inv ? 0 : rec ? 2 : -1;
            if (col < 0 || ltc_pg_isnull(d, 0, col)) continue;
            rates[i] = ltc_pg_i64(d, 0, col);
            before[i] = ltc_pg_i64(d, 0, col + 1) - (lines[i].debit + lines[i].credit);
        }
    } else if (p->event == DTC_EV_ALLOCATION_REVERSAL) {
        /* the allocation's entry mirrored: its realised gain or loss is reversed with it */
        PGresult *o = ltc_call_query(c, st, SQL_ALLOC_ENTRY, 1, (const char *[]){p->source});
        if (!o) return -1;
        int found = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < PQntuples(o) && k < 2 * (DTC_MAX_JLINES + 1); k++)
                if (strcmp(ltc_pg_str(o, k, 0), dtc_account_role_name(lines[i].account)) == 0) {
                    fd[i] = ltc_pg_i64(o, k, 2), fc[i] = ltc_pg_i64(o, k, 1), found++;
                    break;
                }
        if (found == n) {
            *converted = 1;
            return 0;
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t amount = lines[i].debit + lines[i].credit, f;
        if (rates[i] <= 0) return 0; /* no rate: not converted */
        int bad = before[i] >= 0 ? dtc_fx_slice(before[i], amount, from, to, rates[i], &f)
                                 : dtc_fx_convert(amount, from, to, rates[i], &f);
        if (bad) return ltc_status_set(st, LTC_INTERNAL, NULL, "%s: functional amount overflows", p->source);
        fd[i] = lines[i].debit ? f : 0, fc[i] = lines[i].credit ? f : 0;
    }
    *converted = 1;
    return 0;
}

int dtc_ledger_post(ltc_call *c, ltc_status *st, const dtc_posting *p) {
    dtc_jline lines[DTC_MAX_JLINES + 1];
    int n, fx_only = p->event == DTC_EV_FX_REVAL || p->event == DTC_EV_FX_REVAL_REV;
    if (dtc_entry_build(p->event, p->a, p->b, lines, &n) != 0 || (n > 0 && !dtc_entry_balanced(lines, n)))
        return ltc_status_set(st, LTC_INTERNAL, "LEDGER_ENTRY_UNBALANCED", "%s of %s: amounts %lld, %lld",
                              dtc_ledger_event_name(p->event), p->source, (long long)p->a, (long long)p->b);
    if (n == 0) return 0;
    PGresult *d = ltc_call_query(c, st, SQL_EVENT_DATE, 1, (const char *[]){p->date});
    if (!d) return -1;
    const char *event_date = ltc_call_strdup(c, ltc_pg_str(d, 0, 0)), *functional = ltc_pg_str(d, 0, 2);
    const char *posting = event_date, *period = ltc_call_strdup(c, ltc_pg_str(d, 0, 1));
    functional = ltc_call_strdup(c, functional);
    /* a CLOSED period takes nothing: the first day of the first period after it that is not closed. The first
     * period's state came with the date (locked); a period without a row yet is made, then locked. */
    const char *state = ltc_pg_isnull(d, 0, 3) ? NULL : ltc_call_strdup(c, ltc_pg_str(d, 0, 3));
    for (int guard = 0;; guard++) {
        if (guard > 1200)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_OPEN_PERIOD", "no open period after %s", event_date);
        if (!state) {
            if (!ltc_call_query(c, st, SQL_PERIOD_ENSURE, 1, (const char *[]){period})) return -1;
            PGresult *s = ltc_call_query(c, st, SQL_PERIOD_SHARE, 1, (const char *[]){period});
            if (!s) return -1;
            state = PQntuples(s) == 1 ? ltc_call_strdup(c, ltc_pg_str(s, 0, 0)) : "";
        }
        if (strcmp(state, "OPEN") == 0) break;
        PGresult *m = ltc_call_query(c, st, SQL_NEXT_MONTH, 1, (const char *[]){period});
        if (!m) return -1;
        posting = ltc_call_strdup(c, ltc_pg_str(m, 0, 0)), period = ltc_call_strdup(c, ltc_pg_str(m, 0, 1));
        state = NULL;
    }
    /* functional amounts: the same in the functional currency; converted at the event day's rate otherwise (an
     * allocation's sides at their documents' rates), the difference on FX_REALISED; a revaluation's are its own */
    int64_t fd[DTC_MAX_JLINES + 1], fc[DTC_MAX_JLINES + 1], rate = DTC_FX_SCALE;
    int converted = 1;
    if (fx_only) {
        for (int i = 0; i < n; i++)
            fd[i] = lines[i].debit, fc[i] = lines[i].credit, lines[i].debit = lines[i].credit = 0;
        rate = p->rate;
    } else if (strcmp(functional, p->currency) == 0) {
        for (int i = 0; i < n; i++) fd[i] = lines[i].debit, fc[i] = lines[i].credit;
    } else {
        int64_t day_rate = 0;
        if (rate_of_day(c, st, p->currency, event_date, functional, &day_rate) < 0) return -1;
        if (convert_lines(c, st, p, functional, lines, n, day_rate, fd, fc, &converted, &rate) != 0) return -1;
        int64_t fxd = 0, fxc = 0;
        if (converted && dtc_fx_close(fd, fc, n, &fxd, &fxc) != 0)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "%s: functional amounts overflow", p->source);
        if (fxd || fxc) lines[n] = (dtc_jline){DTC_ACC_FX_REALISED, 0, 0}, fd[n] = fxd, fc[n] = fxc, n++;
        if (!converted) rate = 0;
    }
    int64_t total = 0;
    const char *roles[DTC_MAX_JLINES + 1];
    int64_t debits[DTC_MAX_JLINES + 1], credits[DTC_MAX_JLINES + 1];
    for (int i = 0; i < n; i++) {
        roles[i] = dtc_account_role_name(lines[i].account);
        debits[i] = lines[i].debit, credits[i] = lines[i].credit;
        total += lines[i].debit;
        if (!converted) fd[i] = fc[i] = 0;
    }
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *ep[] = {id,
                        dtc_ledger_event_name(p->event),
                        p->source,
                        p->customer && p->customer[0] ? p->customer : NULL,
                        p->receipt,
                        p->currency,
                        functional,
                        event_date,
                        posting,
                        period,
                        ltc_sql_i64(c, total),
                        dtc_principal(c),
                        converted ? ltc_sql_i64(c, rate) : NULL,
                        ltc_sql_text_array(c, roles, (size_t)n),
                        ltc_sql_i64_array(c, debits, (size_t)n),
                        ltc_sql_i64_array(c, credits, (size_t)n),
                        ltc_sql_i64_array(c, fd, (size_t)n),
                        ltc_sql_i64_array(c, fc, (size_t)n),
                        converted ? "true" : "false"};
    PGresult *l = ltc_call_query(c, st, SQL_ENTRY_INSERT, 19, ep);
    if (!l) return -1;
    if (strcmp(PQcmdTuples(l), ltc_sql_i64(c, n)) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "LEDGER_ACCOUNT_MISSING", "the chart of accounts lacks a role of %s",
                              dtc_ledger_event_name(p->event));
    return 0;
}

/* --- validation --------------------------------------------------------------------------------------------------- */

int dtc_period_parse(const char *s, const char *field, int required, ltc_status *st) {
    if (!s || !s[0]) return required ? ltc_status_bad_field(st, field, "required, YYYY-MM") : 0;
    int ok = strlen(s) == 7 && s[4] == '-';
    for (int i = 0; ok && i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9')) ok = 0;
    if (ok) {
        int month = (s[5] - '0') * 10 + (s[6] - '0');
        ok = month >= 1 && month <= 12 && s[0] != '0';
    }
    return ok ? 0 : ltc_status_bad_field(st, field, "must be YYYY-MM (a month)");
}

/* --- the chart of accounts ---------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNTS[] = "SELECT role, code, name, kind, version FROM ledger_accounts ORDER BY code";
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT role, code, name, kind, version FROM ledger_accounts WHERE role = $1 FOR UPDATE";
static const char SQL_CODE_TAKEN[] = "SELECT role FROM ledger_accounts WHERE code = $1 AND role <> $2";
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE ledger_accounts SET code = $2, name = $3, update_by = $4, version = version + 1, update_time = now() "
    "WHERE role = $1 RETURNING role, code, name, kind, version";

static Ltc__Dtc__V1__LedgerAccount *account_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__LedgerAccount *a = LTC_NEW(c, Ltc__Dtc__V1__LedgerAccount, LTC__DTC__V1__LEDGER_ACCOUNT__INIT);
    a->name = ltc_call_printf(c, "ledgerAccounts/%s", ltc_pg_str(r, i, 0));
    a->role = ltc_call_strdup(c, ltc_pg_str(r, i, 0));
    a->code = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
    a->display_name = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
    a->kind = ltc_call_strdup(c, ltc_pg_str(r, i, 3));
    a->etag = ltc_call_printf(c, "v%s", ltc_pg_str(r, i, 4));
    return a;
}

/* FinanceService/GetChartOfAccounts. */
int dtc_get_chart_of_accounts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetChartOfAccountsRequest *req = (const void *)m;
    if (req->name[0] && strcmp(req->name, "chartOfAccounts") != 0)
        return ltc_status_bad_field(st, "name", "must be \"chartOfAccounts\"");
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNTS, 0, NULL);
    if (!r) return -1;
    Ltc__Dtc__V1__GetChartOfAccountsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetChartOfAccountsResponse, LTC__DTC__V1__GET_CHART_OF_ACCOUNTS_RESPONSE__INIT);
    int n = PQntuples(r);
    resp->accounts = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__LedgerAccount *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->accounts[resp->n_accounts++] = account_from_row(c, r, i);
    *out = &resp->base;
    return 0;
}

static int code_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 20) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static const char *const UPDATABLE[] = {"code", "display_name"};

/* FinanceService/UpdateLedgerAccount (AIP-134): see the proto. */
int dtc_update_ledger_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__UpdateLedgerAccountRequest *req = (const void *)m;
    const Ltc__Dtc__V1__LedgerAccount *x = req->ledger_account;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    if (!x) return ltc_status_bad_field(st, "ledger_account", "required");
    const char *role = strncmp(x->name, "ledgerAccounts/", 15) == 0 ? x->name + 15 : "";
    if (dtc_account_role_parse(role) < 0)
        ltc_status_bad_field(st, "ledger_account.name", "ledgerAccounts/{role} of a role of the chart of accounts");
    unsigned bits = ltc_update_mask_bits(req->update_mask, &ltc__dtc__v1__ledger_account__descriptor, UPDATABLE, 2, st);
    if ((bits & 1u) && !code_ok(x->code)) ltc_status_bad_field(st, "ledger_account.code", "1-20 of [0-9A-Za-z._-]");
    if (bits & 2u) ltc_check_text(x->display_name, "ledger_account.display_name", 1, 100, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){role});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "LEDGER_ACCOUNT_NOT_FOUND", "account %s not found", x->name);
    if (x->etag[0] && strcmp(x->etag, ltc_call_printf(c, "v%s", ltc_pg_str(r, 0, 4))) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH", "account %s changed since etag %.40s: read it again",
                              x->name, x->etag);
    const char *code = (bits & 1u) ? x->code : ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    const char *name = (bits & 2u) ? x->display_name : ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
    PGresult *t = ltc_call_query(c, st, SQL_CODE_TAKEN, 2, (const char *[]){code, role});
    if (!t) return -1;
    if (PQntuples(t) > 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "ACCOUNT_CODE_TAKEN", "code %s is the account of %s", code,
                              ltc_pg_str(t, 0, 0));
    PGresult *u = ltc_call_query(c, st, SQL_ACCOUNT_UPDATE, 4, (const char *[]){role, code, name, dtc_principal(c)});
    if (!u) return -1;
    Ltc__Dtc__V1__UpdateLedgerAccountResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__UpdateLedgerAccountResponse, LTC__DTC__V1__UPDATE_LEDGER_ACCOUNT_RESPONSE__INIT);
    resp->account = account_from_row(c, u, 0);
    *out = &resp->base;
    return 0;
}

/* --- the journal -------------------------------------------------------------------------------------------------- */

#define ENTRY_COLS                                                                                                       \
    "e.id::text, e.event, e.source, coalesce(e.customer_id::text, ''), " LTC_SQL_DATE("e.event_date") ", " LTC_SQL_DATE( \
        "e.posting_date") ", e.period, e.functional_currency, e.currency, e.posted_by, e.seq, e.fx_rate_scaled"
static const char SQL_ENTRIES[] =
    "SELECT " ENTRY_COLS " FROM journal_entries e WHERE e.seq > $1::bigint AND ($3::text IS NULL OR e.period = $3) "
    "AND ($4::text IS NULL OR e.source = $4) AND ($5::uuid IS NULL OR e.customer_id = $5::uuid) "
    "AND ($6::text IS NULL OR e.event = $6) AND ($7::text IS NULL OR EXISTS (SELECT FROM journal_lines l "
    "WHERE l.entry_id = e.id AND l.account_code = $7)) ORDER BY e.seq LIMIT $2::integer";
static const char SQL_LINES_OF[] =
    "SELECT entry_id::text, account_role, account_code, debit_minor, credit_minor, functional_debit_minor, "
    "functional_credit_minor FROM journal_lines WHERE entry_id = ANY ($1::uuid[]) ORDER BY entry_id, line_no";

/* FinanceService/ListJournalEntries: see the proto. */
int dtc_list_journal_entries(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListJournalEntriesRequest *req = (const void *)m;
    char customer[LTC_UUID_LEN + 1] = "";
    dtc_period_parse(req->period, "period", 0, st);
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    if (req->event[0]) {
        int ok = 0;
        for (int e = 0; e < DTC_EV_COUNT; e++) ok |= !strcmp(req->event, dtc_ledger_event_name((dtc_ledger_event)e));
        if (!ok) ltc_status_bad_field(st, "event", "not an event of the journal");
    }
    ltc_check_text(req->source, "source", 0, 200, st);
    ltc_check_text(req->account_code, "account_code", 0, 20, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, after),
                       ltc_sql_i64(c, limit),
                       req->period[0] ? req->period : NULL,
                       req->source[0] ? req->source : NULL,
                       customer[0] ? customer : NULL,
                       req->event[0] ? req->event : NULL,
                       req->account_code[0] ? req->account_code : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_ENTRIES, 7, p);
    if (!r) return -1;
    int n = PQntuples(r), shown = n < limit ? n : limit - 1;
    Ltc__Dtc__V1__ListJournalEntriesResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListJournalEntriesResponse, LTC__DTC__V1__LIST_JOURNAL_ENTRIES_RESPONSE__INIT);
    resp->entries = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__JournalEntry *) * (size_t)(shown > 0 ? shown : 1));
    const char **ids = ltc_call_alloc(c, sizeof(char *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) {
        Ltc__Dtc__V1__JournalEntry *e = LTC_NEW(c, Ltc__Dtc__V1__JournalEntry, LTC__DTC__V1__JOURNAL_ENTRY__INIT);
        ids[i] = ltc_call_strdup(c, ltc_pg_str(r, i, 0));
        e->name = ltc_call_printf(c, "journalEntries/%s", ids[i]);
        e->event = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
        e->source = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
        if (ltc_pg_str(r, i, 3)[0]) e->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, 3));
        e->event_date = ltc_date_from_pg(c, r, i, 4);
        e->posting_date = ltc_date_from_pg(c, r, i, 5);
        e->period = ltc_call_strdup(c, ltc_pg_str(r, i, 6));
        e->functional_currency = ltc_call_strdup(c, ltc_pg_str(r, i, 7));
        e->posted_by = ltc_call_strdup(c, ltc_pg_str(r, i, 9));
        e->lines = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__JournalLine *) * (DTC_MAX_JLINES + 1));
        if (!ltc_pg_isnull(r, i, 11)) {
            char rate[32];
            dtc_fx_rate_format(ltc_pg_i64(r, i, 11), rate);
            e->fx_rate = ltc_call_strdup(c, rate);
        }
        resp->entries[resp->n_entries++] = e;
    }
    if (shown > 0) {
        PGresult *l = ltc_call_query(c, st, SQL_LINES_OF, 1, (const char *[]){ltc_sql_array(c, ids, (size_t)shown)});
        if (!l) return -1;
        for (int k = 0; k < PQntuples(l); k++)
            for (int i = 0; i < shown; i++) {
                Ltc__Dtc__V1__JournalEntry *e = resp->entries[i];
                if (strcmp(ids[i], ltc_pg_str(l, k, 0)) != 0 || e->n_lines > DTC_MAX_JLINES) continue;
                const char *cur = ltc_pg_str(r, i, 8);
                Ltc__Dtc__V1__JournalLine *x = LTC_NEW(c, Ltc__Dtc__V1__JournalLine, LTC__DTC__V1__JOURNAL_LINE__INIT);
                x->account_role = ltc_call_strdup(c, ltc_pg_str(l, k, 1));
                x->account_code = ltc_call_strdup(c, ltc_pg_str(l, k, 2));
                x->debit = ltc_money_msg(c, cur, ltc_pg_i64(l, k, 3));
                x->credit = ltc_money_msg(c, cur, ltc_pg_i64(l, k, 4));
                if (!ltc_pg_isnull(l, k, 5)) {
                    x->functional_debit = ltc_money_msg(c, e->functional_currency, ltc_pg_i64(l, k, 5));
                    x->functional_credit = ltc_money_msg(c, e->functional_currency, ltc_pg_i64(l, k, 6));
                }
                e->lines[e->n_lines++] = x;
            }
    }
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 10));
    *out = &resp->base;
    return 0;
}

/* --- the trial balance -------------------------------------------------------------------------------------------- */

/* per account role and currency: the period's debits and credits, the balance up to its end (periods are "YYYY-MM"
 * text, ordered as months) */
static const char SQL_TRIAL[] =
    "SELECT a.code, a.role, a.name, e.currency::text, "
    "coalesce(sum(l.debit_minor) FILTER (WHERE e.period = $1), 0)::bigint, "
    "coalesce(sum(l.credit_minor) FILTER (WHERE e.period = $1), 0)::bigint, "
    "sum(l.debit_minor - l.credit_minor)::bigint "
    "FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN ledger_accounts a ON a.role = l.account_role "
    "WHERE e.period <= $1 GROUP BY a.code, a.role, a.name, e.currency ORDER BY e.currency, a.code";
/* the same in the functional currency, over every converted entry whatever its currency */
static const char SQL_TRIAL_FUNCTIONAL[] =
    "SELECT a.code, a.role, a.name, e.functional_currency::text, "
    "coalesce(sum(l.functional_debit_minor) FILTER (WHERE e.period = $1), 0)::bigint, "
    "coalesce(sum(l.functional_credit_minor) FILTER (WHERE e.period = $1), 0)::bigint, "
    "sum(l.functional_debit_minor - l.functional_credit_minor)::bigint "
    "FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN ledger_accounts a ON a.role = l.account_role "
    "WHERE e.period <= $1 AND l.functional_debit_minor IS NOT NULL "
    "GROUP BY a.code, a.role, a.name, e.functional_currency ORDER BY e.functional_currency, a.code";
static const char SQL_UNCONVERTED[] =
    "SELECT count(*) FROM journal_entries WHERE period <= $1 AND fx_rate_scaled IS NULL AND currency <> functional_currency";
static const char SQL_PERIOD_STATE[] = "SELECT coalesce((SELECT state FROM ledger_periods WHERE period = $1), 'OPEN')";

static Ltc__Dtc__V1__TrialBalanceRow *trial_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__TrialBalanceRow *x = LTC_NEW(c, Ltc__Dtc__V1__TrialBalanceRow, LTC__DTC__V1__TRIAL_BALANCE_ROW__INIT);
    const char *cur = ltc_pg_str(r, i, 3);
    x->account_code = ltc_call_strdup(c, ltc_pg_str(r, i, 0));
    x->account_role = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
    x->account_name = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
    x->period_debit = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 4));
    x->period_credit = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 5));
    x->closing_balance = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 6));
    return x;
}

/* FinanceService/GetTrialBalance: see the proto. */
int dtc_get_trial_balance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetTrialBalanceRequest *req = (const void *)m;
    if (dtc_period_parse(req->period, "period", 1, st) != 0) return -1;
    PGresult *s = ltc_call_query(c, st, SQL_PERIOD_STATE, 1, (const char *[]){req->period});
    if (!s) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_TRIAL, 1, (const char *[]){req->period});
    if (!r) return -1;
    Ltc__Dtc__V1__GetTrialBalanceResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetTrialBalanceResponse, LTC__DTC__V1__GET_TRIAL_BALANCE_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->state = ltc_call_strdup(c, ltc_pg_str(s, 0, 0));
    PGresult *f = ltc_call_query(c, st, SQL_TRIAL_FUNCTIONAL, 1, (const char *[]){req->period});
    if (!f) return -1;
    PGresult *u = ltc_call_query(c, st, SQL_UNCONVERTED, 1, (const char *[]){req->period});
    if (!u) return -1;
    resp->unconverted_entry_count = (int32_t)ltc_pg_i64(u, 0, 0);
    int n = PQntuples(r), nf = PQntuples(f);
    resp->rows = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__TrialBalanceRow *) * (size_t)(n ? n : 1));
    resp->functional_rows = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__TrialBalanceRow *) * (size_t)(nf ? nf : 1));
    for (int i = 0; i < nf; i++) resp->functional_rows[resp->n_functional_rows++] = trial_row(c, f, i);
    for (int i = 0; i < n; i++) resp->rows[resp->n_rows++] = trial_row(c, r, i);
    *out = &resp->base;
    return 0;
}

/* --- the export --------------------------------------------------------------------------------------------------- */

/* One CSV row per line; text fields quoted by PostgreSQL's own CSV rules (format %L is not CSV: build it here). */
static const char SQL_EXPORT[] = "SELECT e.id::text, " LTC_SQL_DATE("e.posting_date") ", " LTC_SQL_DATE(
    "e.event_date") ", e.period, e.event, e.source, coalesce(e.customer_id::text, ''), l.line_no, l.account_code, "
                    "e.currency, l.debit_minor, l.credit_minor, e.functional_currency, "
                    "coalesce(l.functional_debit_minor::text, ''), coalesce(l.functional_credit_minor::text, '') "
                    "FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id WHERE e.period = $1 "
                    "ORDER BY e.seq, l.line_no";

static const char EXPORT_HEADER[] = "entry_id,posting_date,event_date,period,event,source,customer_id,line_no,"
                                    "account_code,currency,debit_minor,credit_minor,functional_currency,"
                                    "functional_debit_minor,functional_credit_minor\n";

/* Appends `s` to the buffer as a CSV field (quoted when it holds a comma, quote or line end). */
static void csv_field(char **buf, size_t *len, size_t *cap, ltc_call *c, const char *s, int last) {
    size_t need = strlen(s) * 2 + 4;
    if (*len + need + 1 > *cap) {
        size_t ncap = (*cap + need) * 2;
        char *nb = ltc_call_alloc(c, ncap);
        memcpy(nb, *buf, *len);
        *buf = nb, *cap = ncap;
    }
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) (*buf)[(*len)++] = '"';
    for (const char *p = s; *p; p++) {
        if (*p == '"') (*buf)[(*len)++] = '"';
        (*buf)[(*len)++] = *p;
    }
    if (quote) (*buf)[(*len)++] = '"';
    (*buf)[(*len)++] = last ? '\n' : ',';
    (*buf)[*len] = '\0';
}

/* FinanceService/GetJournalExport: see the proto and docs/finance.md, "Export". */
int dtc_get_journal_export(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetJournalExportRequest *req = (const void *)m;
    if (dtc_period_parse(req->period, "period", 1, st) != 0) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_EXPORT, 1, (const char *[]){req->period});
    if (!r) return -1;
    size_t cap = 4096, len = 0;
    char *buf = ltc_call_alloc(c, cap);
    memcpy(buf, EXPORT_HEADER, sizeof EXPORT_HEADER);
    len = sizeof EXPORT_HEADER - 1;
    int n = PQntuples(r), entries = 0;
    const char *last = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(last, ltc_pg_str(r, i, 0)) != 0) entries++, last = ltc_pg_str(r, i, 0);
        for (int k = 0; k < 15; k++) csv_field(&buf, &len, &cap, c, ltc_pg_str(r, i, k), k == 14);
    }
    Ltc__Dtc__V1__GetJournalExportResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetJournalExportResponse, LTC__DTC__V1__GET_JOURNAL_EXPORT_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->csv = buf;
    resp->entry_count = entries;
    resp->line_count = n;
    *out = &resp->base;
    return 0;
}
