/* services/dtc/dtc.h - private declarations of the DTC service (deliver to cash, 回款): intake.c (what DTC receives),
 * accounts.c (order accounts and their closure), invoices.c, payments.c, handoffs.c (what DTC sends: closures back
 * to BTO and LTB), split.h (the pure invoice split), credit.c (CheckCredit, the credit account lock, exposure and
 * automatic holds), credit_admin.c (finance's credit RPCs) and credit_engine.h (the pure credit arithmetic). Calls
 * go one way: intake.c and payments.c use accounts.c, invoices.c (loaders, closure) and credit.c; accounts.c uses
 * handoffs.c; accounts.c never calls payments.c. */
#ifndef LTC_DTC_H
#define LTC_DTC_H

#include <stdint.h>

#include "ltc/dtc/v1/dtc_service.pb-c.h"
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/dtc/v1/resources.pb-c.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"
#include "split.h"

struct dtc_exposure_parts;

/* --- handlers (see the comments at their definitions) ------------------------------------------------------------ */

/* intake.c */
int dtc_accept_delivery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* accounts.c */
int dtc_get_order_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* invoices.c */
int dtc_get_invoice(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_invoices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* payments.c */
int dtc_record_payment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* intake.c (issue #13) */
int dtc_accept_order_placed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_accept_contract_signed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_accept_opportunity_closed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* credit.c */
int dtc_check_credit(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_credit_decisions(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* credit_admin.c */
int dtc_get_credit_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_credit_accounts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_credit_exposure(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_request_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_approve_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_reject_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_credit_limit_changes(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_place_credit_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_release_credit_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_credit_holds(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_credit_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_update_credit_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- loaders (the resource file of each): a new message in the call's arena --------------------------------------- */

/* The order account `account_id` (a UUID) with its terms (accounts.c). 0, -1 with NOT_FOUND
 * "ORDER_ACCOUNT_NOT_FOUND", or -1 with the database's status. */
int dtc_load_account(ltc_call *c, ltc_status *st, const char *account_id, Ltc__Dtc__V1__OrderAccount **out);
/* One invoice (a UUID) (invoices.c). 0, -1 with NOT_FOUND "INVOICE_NOT_FOUND", or -1 with the database's status. */
int dtc_load_invoice(ltc_call *c, ltc_status *st, const char *invoice_id, Ltc__Dtc__V1__Invoice **out);

/* --- the account's closure (accounts.c) --------------------------------------------------------------------------- */

/* Closes the OPEN account `account_id` (already locked FOR UPDATE by the caller) when it is fully accepted, fully
 * invoiced and every invoice is PAID: state CLOSED with close_time, the order closure (and the contract closure when
 * none of the contract's accounts is open any more) recorded, and its hand-offs queued (dtc_handoff_closure), all in
 * the call's transaction. Sets *closed to 1 when it closed now, else 0. 0 or -1. */
int dtc_close_account_if_settled(ltc_call *c, ltc_status *st, const char *account_id, int *closed);

/* --- hand-offs DTC sends (handoffs.c): built from DTC's records in the caller's transaction and queued there ------ */

/* The closure of account `account_id` (CLOSED in this transaction) to BTO (AcceptOrderClosure) and LTB
 * (AcceptCashCollected), each with a new hand-off id, the deal's id ordering them. 0 or -1. */
int dtc_handoff_closure(ltc_call *c, ltc_status *st, const char *account_id);

/* --- credit (credit.c): the customer's credit account, policy, exposure and automatic holds ---------------------- */

/* The credit policy row. */
typedef struct dtc_credit_policy {
    int check_admission, check_placement, check_release, count_admitted, require_limit;
    int overdue_days, ttl_seconds;
    char functional_currency[4];
    int64_t version;
} dtc_credit_policy;
int dtc_credit_policy_load(ltc_call *c, ltc_status *st, dtc_credit_policy *p);

/* A locked credit account. */
typedef struct dtc_credit_locked {
    char id[LTC_UUID_LEN + 1]; /* the customer id the account resolved to (a survivor after merges) */
    int blocked;
    char account_owner[129];
} dtc_credit_locked;
enum {
    DTC_LOCK_CREATE = 1u << 0,        /* INSERT ... ON CONFLICT DO NOTHING first (from the snapshot, if any) */
    DTC_LOCK_FOLLOW_MERGES = 1u << 1, /* a tombstone resolves to its survivor; else CUSTOMER_MERGED */
};
/* Locks the credit account of `customer` (a UUID) FOR UPDATE. 0, or -1 with NOT_FOUND CREDIT_ACCOUNT_NOT_FOUND,
 * FAILED_PRECONDITION CUSTOMER_MERGED (without DTC_LOCK_FOLLOW_MERGES) or the database's status. */
int dtc_credit_account_lock(ltc_call *c, ltc_status *st, const char *customer,
                            const Ltc__Type__V1__CustomerSnapshot *snap, unsigned flags, dtc_credit_locked *out);
/* PERMISSION_DENIED NOT_ACCOUNT_OWNER when the caller is deal-scoped (sales) and not the account's owner. */
int dtc_credit_check_owner(ltc_call *c, ltc_status *st, const dtc_credit_locked *acc);
/* Evaluates the automatic holds of the locked account `customer` as of `as_of` ("YYYY-MM-DD", NULL: today): lapses
 * expired placement reservations, places or releases OVERDUE and OVER_LIMIT holds ("system"); `cause` (may be NULL)
 * goes into a release's reason. 0 or -1. */
int dtc_credit_evaluate_holds(ltc_call *c, ltc_status *st, const char *customer, const char *as_of,
                              const dtc_credit_policy *pol, const char *cause);
/* The exposure of `customer` per currency (columns: currency, the five parts, limit or NULL), without the order
 * account `without_account` and the reservation of `without_reference` (each NULL: none), of `currency` only
 * (NULL: all). */
PGresult *dtc_credit_exposure_query(ltc_call *c, ltc_status *st, const char *customer, const char *without_account,
                                    const char *without_reference, const char *currency);
void dtc_credit_exposure_row(const PGresult *r, int row, struct dtc_exposure_parts *parts, int *has_limit,
                             int64_t *limit);
/* The most days an open invoice of `customer` is past due as of `as_of` (NULL: today), and the oldest such invoice
 * (NULL: none; `invoice` may be NULL). */
int dtc_credit_overdue(ltc_call *c, ltc_status *st, const char *customer, const char *as_of, int *days,
                       const char **invoice);
/* The caller's principal; "anonymous" when none (plaintext development). */
const char *dtc_principal(ltc_call *c);
/* The credit account `customer` (not locked) with its limits and active holds. 0 or -1 (CREDIT_ACCOUNT_NOT_FOUND). */
int dtc_load_credit_account(ltc_call *c, ltc_status *st, const char *customer, Ltc__Dtc__V1__CreditAccount **out);

/* --- billing (billing.c): invoices raised by each term's own event ----------------------------------------------- */

/* The invoices one call raised (their UUIDs). */
typedef struct dtc_invoice_list {
    int n;
    char ids[DTC_MAX_TERMS][LTC_UUID_LEN + 1];
} dtc_invoice_list;
/* Raises the invoices the terms of the locked account `account` have earned with its current progress
 * (dtc_bill_terms): each dated `date` ("YYYY-MM-DD", NULL: today), due its term's due days later, raised by `event`
 * ("ORDER_PLACED", "CONTRACT_SIGNED", "MILESTONE" or "RETENTION_DUE" with shipment NULL, "SHIPMENT" or
 * "ACCEPTANCE" with the shipment's UUID); adds them to the terms
 * and the account, queues an INVOICED milestone for each and applies the order's advance receipts to them. Appends
 * the new ids to `out` (may be NULL). 0 or -1. */
int dtc_bill_account(ltc_call *c, ltc_status *st, const char *account, const char *event, const char *shipment,
                     const char *date, dtc_invoice_list *out);
/* The billing policy's advance_billing as stored ("AT_ORDER_PLACEMENT" or "AT_CONTRACT_SIGNATURE"); NULL on error. */
const char *dtc_advance_billing(ltc_call *c, ltc_status *st);
int dtc_run_billing(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_release_retention(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_report_billing_milestone(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_billing_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_update_billing_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* "YYYY-MM-DD" (UTC) of a Timestamp, NULL when absent. */
const char *dtc_date_of(ltc_call *c, const Google__Protobuf__Timestamp *t);

/* --- receipts and cash application (receipts.c) ------------------------------------------------------------------- */

/* Applies the unapplied cash of the advance receipts of the new invoice's order to it, oldest receipt first
 * (allocations of method ADVANCE). The customer and the order account are locked by the caller. 0 or -1. */
int dtc_apply_advances(ltc_call *c, ltc_status *st, const char *invoice);

/* v1's RecordPayment as a receipt (origin PAYMENT) applied to its invoice (payments.c -> receipts.c). */
typedef struct dtc_payment_in {
    const char *invoice, *account, *customer; /* UUIDs; customer "" for an account without one */
    const char *currency, *bank_account, *reference, *request_id;
    int64_t amount;
} dtc_payment_in;
/* The receipt an earlier RecordPayment recorded with the same bank account and reference: *found = 1 and its id
 * when the facts match (payer, amount, currency, the same invoice), ALREADY_EXISTS DUPLICATE_BANK_REFERENCE when they
 * differ, *found = 0 when the reference is new (or empty). */
int dtc_payment_replay(ltc_call *c, ltc_status *st, const dtc_payment_in *p, char receipt_out[LTC_UUID_LEN + 1],
                       int *found);
/* Records the receipt and its allocation (locks held, the amount checked by the caller). */
int dtc_payment_record(ltc_call *c, ltc_status *st, const dtc_payment_in *p, char receipt_out[LTC_UUID_LEN + 1]);
/* Reverses the ACTIVE allocation `alloc` with a reason and business date (NULL: today): its receipt's cash is
 * unapplied again, the invoice's and the account's paid amounts drop. The customer and the receipt are locked by the
 * caller; the order account and the invoice are locked here. FAILED_PRECONDITION ALLOCATION_ALREADY_REVERSED,
 * ORDER_ACCOUNT_CLOSED (a closed order's payments are final). */
int dtc_reverse_locked(ltc_call *c, ltc_status *st, const char *alloc, const char *reason, const char *date,
                       const char *by);

/* --- credit notes (creditnotes.c) ---------------------------------------------------------------------------------- */

/* What a credit note credits and why. */
typedef struct dtc_credit_in {
    const char *account;         /* the order account (locked by the caller, with its customer) */
    const char *kind;            /* "RETURN", "CANCELLATION", "PRICE_CORRECTION" */
    int64_t amount;              /* > 0, in the account's currency */
    const char *first_invoice;   /* credited first (a correction: only this one); NULL: none */
    const char *first_shipment;  /* a return: the shipment's invoices first; NULL: none */
    const char *reason, *source; /* source: "returns/..", "orders/..", "invoices/.." */
    const char *handoff_id;      /* NULL for finance's RPC */
    const char *date;            /* "YYYY-MM-DD", NULL: today */
} dtc_credit_in;
/* Issues a credit note: the open amounts of the account's invoices are credited (first_invoice only, or
 * first_shipment's invoices then the newest others), the rest becomes customer credit (a receipt of origin
 * CREDIT_NOTE), a CREDIT_NOTE_ISSUED milestone goes to LTB and the account closes if that settled it. Writes the
 * note's id. 0 or -1. */
int dtc_issue_credit(ltc_call *c, ltc_status *st, const dtc_credit_in *in, char id_out[LTC_UUID_LEN + 1]);
int dtc_issue_credit_note(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_credit_note(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_credit_notes(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* aging.c */
int dtc_set_invoice_dispute(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_aging_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_run_dunning(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_dunning_notices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_dunning_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_update_dunning_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_record_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_apply_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_reverse_allocation(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_bounce_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_refund_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_receipts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def dtc_service(void);

/* OTD's order events (intake.c). */
int dtc_accept_order_cancelled(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_accept_return(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_accept_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

#endif
