/* services/dtc/billing.c - invoices raised by each payment term's own event (docs/receivables.md): after an event
 * changed an order account's progress (placed, shipped, accepted), dtc_bill_account raises what each term has now
 * earned (dtc_bill_terms, split.c), reports each invoice to LTB (INVOICED milestone) and applies the order's advance
 * receipts to the new invoices (receipts.c). Called by the intake handlers inside their transaction, with the
 * customer's credit account and the order account already locked. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dtc.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_PROGRESS[] =
    "SELECT deal_id::text, currency, order_total_minor, placed_handoff_id IS NOT NULL, shipped_minor, "
    "fully_shipped, accepted_minor, fully_accepted, coalesce(customer_id::text, '') FROM order_accounts "
    "WHERE id = $1";
static const char SQL_TERMS[] = "SELECT position, kind, share_bps, due_days, invoiced_minor FROM account_terms "
                                "WHERE account_id = $1 ORDER BY position";
/* $9: the business date (NULL: today) */
static const char SQL_INVOICE_INSERT[] =
    "INSERT INTO invoices (id, account_id, shipment_id, term_position, term_kind, currency, amount_minor, "
    "invoice_date, due_date, billing_event) VALUES ($1, $2, $3::uuid, $4::integer, $5, $6, $7::bigint, "
    "coalesce($9::date, current_date), coalesce($9::date, current_date) + $8::integer, $10) "
    "RETURNING " LTC_SQL_DATE("due_date");
static const char SQL_TERM_BILL[] =
    "UPDATE account_terms SET invoiced_minor = invoiced_minor + $3::bigint, update_time = now() "
    "WHERE account_id = $1 AND position = $2::integer";
static const char SQL_ACCOUNT_BILL[] =
    "UPDATE order_accounts SET invoiced_minor = invoiced_minor + $2::bigint, update_time = now() WHERE id = $1";

/* --- business dates ----------------------------------------------------------------------------------------------- */

const char *dtc_date_of(ltc_call *c, const Google__Protobuf__Timestamp *t) {
    if (!t) return NULL;
    time_t s = (time_t)t->seconds;
    struct tm tm;
    if (!gmtime_r(&s, &tm)) return NULL;
    return ltc_call_printf(c, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* --- billing ------------------------------------------------------------------------------------------------------ */

int dtc_bill_account(ltc_call *c, ltc_status *st, const char *account, const char *event, const char *shipment,
                     const char *date, dtc_invoice_list *out) {
    const char *p[] = {account};
    PGresult *a = ltc_call_query(c, st, SQL_PROGRESS, 1, p);
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order account %s not found", account);
    PGresult *t = ltc_call_query(c, st, SQL_TERMS, 1, p);
    if (!t) return -1;
    int n = PQntuples(t);
    if (n < 1 || n > DTC_MAX_TERMS)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "order account %s has %d terms", account, n);
    int32_t bps[DTC_MAX_TERMS];
    int kinds[DTC_MAX_TERMS];
    int64_t invoiced[DTC_MAX_TERMS], amounts[DTC_MAX_TERMS];
    for (int i = 0; i < n; i++) {
        kinds[i] = (int)ltc_term_kind_from_db(ltc_pg_str(t, i, 1));
        bps[i] = (int32_t)ltc_pg_i64(t, i, 2);
        invoiced[i] = ltc_pg_i64(t, i, 4);
    }
    const char *deal = ltc_pg_str(a, 0, 0), *currency = ltc_pg_str(a, 0, 1);
    int64_t total = ltc_pg_i64(a, 0, 2);
    dtc_bill_progress prog = {.placed = ltc_pg_bool(a, 0, 3),
                              .shipped = ltc_pg_i64(a, 0, 4),
                              .fully_shipped = ltc_pg_bool(a, 0, 5),
                              .accepted = ltc_pg_i64(a, 0, 6),
                              .fully_accepted = ltc_pg_bool(a, 0, 7)};
    if (dtc_bill_terms(total, bps, kinds, n, &prog, invoiced, amounts) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "invoice split failed for order %s", account);

    for (int i = 0; i < n; i++) {
        if (amounts[i] == 0) continue;
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *kind = ltc_pg_str(t, i, 1);
        const char *ip[] = {
            id,   account, shipment, ltc_sql_i64(c, i), kind, currency, ltc_sql_i64(c, amounts[i]), ltc_pg_str(t, i, 3),
            date, event};
        PGresult *r = ltc_call_query(c, st, SQL_INVOICE_INSERT, 10, ip);
        if (!r) return -1;
        const char *bp[] = {account, ltc_sql_i64(c, i), ltc_sql_i64(c, amounts[i])};
        if (!ltc_call_query(c, st, SQL_TERM_BILL, 3, bp)) return -1;
        /* the account's invoiced amount first: an advance applied below raises its paid amount (CHECK paid <= invoiced) */
        const char *up[] = {account, ltc_sql_i64(c, amounts[i])};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_BILL, 2, up)) return -1;
        ltc_money m;
        snprintf(m.currency, sizeof m.currency, "%s", currency);
        m.minor = amounts[i];
        ltc_milestone ms = {.deal_id = deal,
                            .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                            .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_INVOICED,
                            .record = ltc_call_printf(c, "invoices/%s", id),
                            .actor = "dtc",
                            .amount = &m,
                            .date = ltc_pg_str(r, 0, 0),
                            .detail = ltc_call_printf(c, "%s term, raised by %s", kind, event)};
        if (ltc_milestone_put(c, st, &ms) != 0) return -1;
        if (out && out->n < DTC_MAX_TERMS) snprintf(out->ids[out->n++], LTC_UUID_LEN + 1, "%s", id);
        if (dtc_apply_advances(c, st, id) != 0) return -1;
    }
    return 0;
}
