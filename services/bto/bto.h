/* bto.h - private declarations of the BTO service (bid to order, 标后): the handlers of BidToOrderService and
 * IntakeService, the loaders that build a resource message from the database (shared by the Get and the state
 * changes), and a few small helpers. Everything a loader or helper returns lives in the call's arena.
 * Files: intake.c (what the stage receives: its IntakeService handlers), handoffs.c (what it sends: each hand-off
 * built from the stage's rows and queued with ltc_outbox_put), one file per resource (handlers, loader
 * <stage>_load_<resource>), and main.c/service.c. Functions that query take (c, st, ...); validators take st last,
 * like ltc_check_text. Resources: catalogue.c, deals.c, quotes.c, contracts.c, orders.c;
 * util.c holds the few BTO-only helpers. */
#ifndef LTC_BTO_H
#define LTC_BTO_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "ltc/bto/v1/bto_service.pb-c.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/dtc/v1/credit_service.pb-c.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/customer.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/type/v1/revenue.pb-c.h"

#define BTO_MAX_QUOTE_LINES 200
#define BTO_MAX_PAYMENT_TERMS 10

/* --- handlers (catalogue.c) ------------------------------------------------------------------------------ */
int bto_create_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_list_products(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_update_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (pricebooks.c): price books and tax rates ----------------------------------------------------- */
int bto_create_price_book(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_price_book(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_set_tax_rate(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_list_tax_rates(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (configuration.c): configuration rules ----------------------------------------------------- */
int bto_create_configuration_rule(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_validate_configuration(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* One broken rule, ready for a response or a BadRequest (strings in the arena). */
typedef struct bto_config_violation {
    size_t line; /* index of the configured product the rule is about */
    const char *rule, *product, *other, *description;
    int kind; /* ltc.bto.v1.RuleKind */
} bto_config_violation;
/* Checks products ids[0..n) (lower-case UUIDs) with quantities against the rules about them (rules.c): fills *out
 * with every broken rule (up to 100) and *n_out (0: valid). 0, or -1 with st set by the database. */
int bto_configuration_check(ltc_call *c, ltc_status *st, const char *const *ids, const int64_t *qty, size_t n,
                            bto_config_violation **out, size_t *n_out);
/* The rules about any of products ids[0..n) into the arena (rules.h's bto_rule; names "configurationRules/{id}").
 * 0 or -1. */
struct bto_rule;
int bto_rules_load(ltc_call *c, ltc_status *st, const char *const *ids, size_t n, struct bto_rule **out, size_t *n_out);
int bto_suggest_configurations(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* Turns n > 0 violations into FAILED_PRECONDITION "CONFIGURATION_INVALID": a BadRequest entry per broken rule
 * ("<line_field>[i].product": its description) and ErrorInfo metadata "broken_rules" (the rule names, comma
 * separated). Returns -1. */
int bto_configuration_fail(ltc_call *c, ltc_status *st, const char *line_field, const bto_config_violation *v,
                           size_t n);

/* --- handlers (deals.c) ---------------------------------------------------------------------------------- */
int bto_accept_won_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_deal(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_set_deal_customer_group(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_list_deals(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (quotes.c) --------------------------------------------------------------------------------- */
int bto_create_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_accept_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_send_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_reject_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_approve_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_deny_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_discount_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_set_discount_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (contracts.c) ------------------------------------------------------------------------------ */
int bto_create_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_sign_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_cancel_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_amend_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (orders.c) --------------------------------------------------------------------------------- */
int bto_create_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_accept_order_closure(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (customers.c) ------------------------------------------------------------------------------ */
int bto_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- customers (customers.c): the snapshot LTB hands over with a deal and keeps current -------------------- */

/* SQL columns of a deal's customer snapshot (alias `d`), read by ltc_customer_from_pg (ltc/customer.h). */
#define BTO_CUSTOMER_COLS LTC_CUSTOMER_COLS("d.")

/* --- credit (credit.c): the question to DTC at placement ------------------------------------------------- */

enum {
    BTO_CREDIT_APPROVED = 1,
    BTO_CREDIT_REFUSED = 2,
    BTO_CREDIT_UNANSWERED = 3, /* no answer in time, an error status, or a malformed decision: fail closed */
};
typedef struct bto_credit_answer {
    int outcome;
    char decision_id[LTC_UUID_LEN + 1]; /* DTC's decision (lower case); "" when unanswered */
    char reasons[512];                  /* REFUSED: the CreditRefusalReason names, comma separated; UNANSWERED: why */
} bto_credit_answer;

/* Reads DTC's answer (pure): APPROVED (no reasons) or REFUSED (at least one reason known to this build) with a
 * "creditDecisions/{uuid}" name; 0. Anything else leaves a->outcome UNANSWERED and returns -1. */
int bto_credit_read(const Ltc__Dtc__V1__CheckCreditResponse *resp, bto_credit_answer *a);
/* The status a non-approving answer turns into for CreateOrder of `contract` (pure): REFUSED -> FAILED_PRECONDITION
 * CREDIT_REFUSED (decision and reasons in the message and in the ErrorInfo metadata "credit_decision",
 * "credit_reasons"), UNANSWERED -> UNAVAILABLE CREDIT_SERVICE_UNAVAILABLE;
 * returns -1 with st set, or 0 for APPROVED. */
int bto_credit_fail(const bto_credit_answer *a, const char *contract, ltc_status *st);
/* Asks DTC CheckCredit(stage ORDER_PLACEMENT, reference "contracts/{contract_id}", deal, amount the order total) with
 * the deadline LTC_CREDIT_DEADLINE_MS (default 2000 ms; bounded by the caller's), and reads the answer into *a. Never
 * fails: no answer is outcome UNANSWERED (the peer's code in a->reasons). Returns 0. */
int bto_credit_check(ltc_call *c, const Ltc__Type__V1__CustomerSnapshot *customer, const char *contract_id,
                     const char *deal_id, const char *currency, int64_t total_minor, bto_credit_answer *a);

/* --- available to promise (atp.c): the question to OTD when a quote is sent ------------------------------------- */

typedef struct bto_atp_answer {
    int known;        /* 1: OTD answered with a date */
    char date[11];    /* earliest promise date, YYYY-MM-DD (known) */
    int meets;        /* on or before the requested date, or none asked (known) */
    char reason[256]; /* not known: why (the status code and reason OTD or the runtime gave) */
} bto_atp_answer;
struct Ltc__Otd__V1__CheckAvailabilityResponse;
/* Reads OTD's answer (pure): known with the date, or not known (a missing or malformed date) with a reason: -1. */
int bto_atp_read(const struct Ltc__Otd__V1__CheckAvailabilityResponse *resp, bto_atp_answer *a);
/* Asks OTD CheckAvailability for the quote's lines and the requested date ("" for none), with the deadline
 * LTC_ATP_DEADLINE_MS (default 2000 ms; bounded by the caller's). No answer is not an error: a->known 0 with the
 * reason. -1 only when reading the quote's lines failed (st set). */
int bto_atp_check(ltc_call *c, ltc_status *st, const char *quote_id, const char *deal_id, const char *requested,
                  bto_atp_answer *a);

/* --- loaders (one per resource file): the resource with its children into *out, in the arena. 0, or -1 with st
 * set (NOT_FOUND "<THING>_NOT_FOUND", or the database's status) -------------------------------------------------- */
int bto_load_deal(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Deal **out);
int bto_load_quote(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Quote **out);
int bto_load_contract(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Contract **out);
int bto_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Order **out);

/* --- hand-offs BTO sends (handoffs.c): built from BTO's records in the caller's transaction and queued there ---- */

/* The order `order_id` just placed (with its lines, its deal's customer snapshot and iron triangle, its contract's
 * payment terms and requested delivery date) to OTD, AcceptOrder, and to DTC, AcceptOrderPlaced (its account opens
 * there at once: the order counts in the customer's exposure), each with a new hand-off id. 0 or -1. */
int bto_handoff_order(ltc_call *c, ltc_status *st, const char *order_id);
/* The contract `contract_id` just signed (with its order id to be, customer, iron triangle, total, payment terms and
 * sign time) to DTC, AcceptContractSigned, with a new hand-off id. 0 or -1. */
int bto_handoff_contract_signed(ltc_call *c, ltc_status *st, const char *contract_id);
/* A signed contract cancelled before its order `order_id` (the id fixed at signature) was placed, to DTC,
 * AcceptOrderCancelled, with a new hand-off id. 0 or -1. */
int bto_handoff_contract_cancelled(ltc_call *c, ltc_status *st, const char *contract_id, const char *order_id,
                                   const char *deal_id, const char *reason);

/* --- helpers (util.c) ------------------------------------------------------------------------------------ */
/* "collection/id", or "" when id is NULL. */
char *bto_name(ltc_call *c, const char *collection, const char *id);
/* Validates an optional Timestamp (NULL -> *present = 0) between 1970 and 9999 and converts it to microseconds
 * since the epoch. INVALID_ARGUMENT naming `field` when out of range. */
int bto_ts_micros(const Google__Protobuf__Timestamp *ts, const char *field, int64_t *micros, int *present,
                  ltc_status *st);
/* 1 when s is 1 to max characters of [A-Z0-9_] (tax classes, customer groups). */
int bto_code_valid(const char *s, size_t max);
/* A PostgreSQL text[] literal of n items, each double-quoted and escaped (empty strings and commas survive;
 * ltc_sql_array does not quote). In the arena. */
char *bto_sql_text_array(ltc_call *c, const char *const *items, size_t n);
/* Queues a BTO milestone of deal `deal_id` to LTB (ltc_milestone_put) in the call's transaction: `kind` a
 * ltc.type.v1.MilestoneKind, `record` "contracts/{id}"..., an amount when currency is not NULL, date "" or NULL for
 * none, detail NULL for none. 0 or -1. */
int bto_milestone(ltc_call *c, ltc_status *st, const char *deal_id, int kind, const char *record, const char *currency,
                  int64_t minor, const char *date, const char *detail);
/* Checks a required UUID field (a hand-off id). */
int bto_check_uuid(const char *s, const char *field, ltc_status *st);
/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def bto_service(void);

/* OTD's order events (intake.c). */
int bto_accept_order_cancelled(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_accept_promise_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

#endif
