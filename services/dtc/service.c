/* services/dtc/main.c - the DTC process (deliver to cash, 回款): order accounts, invoices, payments and closure.
 * Serves ltc.dtc.v1.DeliveryToCashService and ltc.dtc.v1.FinanceService (clients, through the gateway) and ltc.dtc.v1.IntakeService (OTD's
 * accepted-delivery hand-off); hands closures back to BTO and LTB through its outbox. */
#include "dtc.h"
#include "ledger.h"
#include "ltc/dtc/v1/credit_service.pb-c.h"
#include "ltc/dtc/v1/finance_service.pb-c.h"
#include "ltc/service.h"

/* The services served, by their protoc-c service descriptors (proto/ltc/dtc/v1): the method table below must
 * name each of their RPCs once (ltc/methods.h checks it at start). */
#define DTC_SVC ltc__dtc__v1__delivery_to_cash_service__descriptor
#define DTC_INTAKE ltc__dtc__v1__intake_service__descriptor
#define DTC_CREDIT ltc__dtc__v1__credit_service__descriptor
#define DTC_FINANCE ltc__dtc__v1__finance_service__descriptor

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define ACCOUNT_SQL "SELECT account_owner, solution_owner, fulfilment_owner FROM order_accounts WHERE id = $1"
#define INVOICE_SQL                                                                                                    \
    "SELECT a.account_owner, a.solution_owner, a.fulfilment_owner FROM invoices i "                                    \
    "JOIN order_accounts a ON a.id = i.account_id WHERE i.id = $1"
static const ltc_owner_lookup ACCOUNT = {"name", ACCOUNT_SQL}, ACCOUNT_OF_ORDER = {"order", ACCOUNT_SQL},
                              INVOICE = {"name", INVOICE_SQL};

static const ltc_method METHODS[] = {
    LTC_READ(DTC_SVC, GetOrderAccount, dtc_get_order_account, &ACCOUNT),
    LTC_READ(DTC_SVC, GetInvoice, dtc_get_invoice, &INVOICE),
    LTC_READ(DTC_SVC, ListInvoices, dtc_list_invoices, &ACCOUNT_OF_ORDER),
    /* finance only (ltc/access.h): no ownership */
    LTC_WRITE(DTC_SVC, RecordPayment, dtc_record_payment, NULL),
    /* receivables and cash (docs/receivables.md): finance only; every money write requires its request_id */
    LTC_WRITE(DTC_SVC, RecordReceipt, dtc_record_receipt, NULL),
    LTC_WRITE(DTC_SVC, ApplyReceipt, dtc_apply_receipt, NULL),
    LTC_WRITE(DTC_SVC, ReverseAllocation, dtc_reverse_allocation, NULL),
    LTC_WRITE(DTC_SVC, BounceReceipt, dtc_bounce_receipt, NULL),
    LTC_WRITE(DTC_SVC, RefundReceipt, dtc_refund_receipt, NULL),
    LTC_READ(DTC_SVC, GetReceipt, dtc_get_receipt, NULL),
    LTC_READ(DTC_SVC, ListReceipts, dtc_list_receipts, NULL),
    LTC_WRITE(DTC_SVC, IssueCreditNote, dtc_issue_credit_note, NULL),
    LTC_READ(DTC_SVC, GetCreditNote, dtc_get_credit_note, NULL),
    LTC_READ(DTC_SVC, ListCreditNotes, dtc_list_credit_notes, NULL),
    LTC_WRITE(DTC_SVC, SetInvoiceDispute, dtc_set_invoice_dispute, NULL),
    LTC_READ(DTC_SVC, GetAgingReport, dtc_get_aging_report, NULL),
    LTC_WRITE(DTC_SVC, RunDunning, dtc_run_dunning, NULL),
    LTC_READ(DTC_SVC, ListDunningNotices, dtc_list_dunning_notices, NULL),
    LTC_READ(DTC_SVC, GetDunningPolicy, dtc_get_dunning_policy, NULL),
    LTC_WRITE(DTC_SVC, UpdateDunningPolicy, dtc_update_dunning_policy, NULL),
    LTC_WRITE(DTC_SVC, RunBilling, dtc_run_billing, NULL),
    LTC_WRITE(DTC_SVC, ReleaseRetention, dtc_release_retention, NULL),
    LTC_WRITE(DTC_SVC, ReportBillingMilestone, dtc_report_billing_milestone, NULL),
    LTC_READ(DTC_SVC, GetBillingPolicy, dtc_get_billing_policy, NULL),
    LTC_WRITE(DTC_SVC, UpdateBillingPolicy, dtc_update_billing_policy, NULL),
    LTC_HANDOFF(DTC_INTAKE, AcceptDelivery, dtc_accept_delivery, "otd"),
    /* credit (docs/credit.md); sales owners are checked by the handlers (NOT_ACCOUNT_OWNER) */
    LTC_READ(DTC_SVC, GetCreditAccount, dtc_get_credit_account, NULL),
    LTC_READ(DTC_SVC, ListCreditAccounts, dtc_list_credit_accounts, NULL),
    /* a read that evaluates the automatic holds under the account's lock: a transaction, nothing to replay */
    {.handler = dtc_get_credit_exposure, .flags = LTC_METHOD_WRITE, .service = &DTC_SVC, .rpc = "GetCreditExposure"},
    LTC_WRITE(DTC_SVC, RequestCreditLimitChange, dtc_request_credit_limit_change, NULL),
    LTC_WRITE(DTC_SVC, ApproveCreditLimitChange, dtc_approve_credit_limit_change, NULL),
    LTC_WRITE(DTC_SVC, RejectCreditLimitChange, dtc_reject_credit_limit_change, NULL),
    LTC_READ(DTC_SVC, ListCreditLimitChanges, dtc_list_credit_limit_changes, NULL),
    LTC_WRITE(DTC_SVC, PlaceCreditHold, dtc_place_credit_hold, NULL),
    LTC_WRITE(DTC_SVC, ReleaseCreditHold, dtc_release_credit_hold, NULL),
    LTC_READ(DTC_SVC, ListCreditHolds, dtc_list_credit_holds, NULL),
    LTC_READ(DTC_SVC, ListCreditDecisions, dtc_list_credit_decisions, NULL),
    LTC_READ(DTC_SVC, GetCreditPolicy, dtc_get_credit_policy, NULL),
    LTC_WRITE(DTC_SVC, UpdateCreditPolicy, dtc_update_credit_policy, NULL),
    /* internal: decided live every time, never replayed by request_id (the reservation is keyed by reference) */
    {.handler = dtc_check_credit,
     .flags = LTC_METHOD_WRITE,
     .callers = "ltb,bto,otd",
     .service = &DTC_CREDIT,
     .rpc = "CheckCredit"},
    LTC_HANDOFF(DTC_INTAKE, AcceptOrderPlaced, dtc_accept_order_placed, "bto"),
    LTC_HANDOFF(DTC_INTAKE, AcceptCustomerChanged, dtc_accept_customer_changed, "ltb"),
    LTC_HANDOFF(DTC_INTAKE, AcceptOpportunityClosed, dtc_accept_opportunity_closed, "ltb"),
    LTC_HANDOFF(DTC_INTAKE, AcceptOrderCancelled, dtc_accept_order_cancelled, "otd,bto"),
    LTC_HANDOFF(DTC_INTAKE, AcceptReturn, dtc_accept_return, "otd"),
    LTC_HANDOFF(DTC_INTAKE, AcceptShipment, dtc_accept_shipment, "otd"),
    /* finance close (docs/finance.md): the subledger's reads, the chart and the periods */
    LTC_READ(DTC_FINANCE, GetChartOfAccounts, dtc_get_chart_of_accounts, NULL),
    LTC_WRITE(DTC_FINANCE, UpdateLedgerAccount, dtc_update_ledger_account, NULL),
    LTC_READ(DTC_FINANCE, ListJournalEntries, dtc_list_journal_entries, NULL),
    LTC_READ(DTC_FINANCE, GetTrialBalance, dtc_get_trial_balance, NULL),
    LTC_READ(DTC_FINANCE, GetJournalExport, dtc_get_journal_export, NULL),
    LTC_READ(DTC_FINANCE, ListPeriods, dtc_list_periods, NULL),
    LTC_WRITE(DTC_FINANCE, ClosePeriod, dtc_close_period, NULL),
    LTC_WRITE(DTC_FINANCE, RequestPeriodReopen, dtc_request_period_reopen, NULL),
    LTC_WRITE(DTC_FINANCE, ApprovePeriodReopen, dtc_approve_period_reopen, NULL),
    LTC_WRITE(DTC_FINANCE, RunRevenueRecognition, dtc_run_revenue_recognition, NULL),
    LTC_READ(DTC_FINANCE, GetRevenueSchedule, dtc_get_revenue_schedule, NULL),
    LTC_READ(DTC_FINANCE, GetRevenueSummary, dtc_get_revenue_summary, NULL),
    /* foreign exchange (docs/finance.md, "Foreign exchange") */
    LTC_WRITE(DTC_FINANCE, SetExchangeRate, dtc_set_exchange_rate, NULL),
    LTC_READ(DTC_FINANCE, ListExchangeRates, dtc_list_exchange_rates, NULL),
    LTC_WRITE(DTC_FINANCE, RunRevaluation, dtc_run_revaluation, NULL),
    LTC_HANDOFF(DTC_INTAKE, AcceptContractSigned, dtc_accept_contract_signed, "bto"),
    /* doubtful debt (docs/finance.md): provisions, write-offs (a second person decides), recoveries */
    LTC_READ(DTC_FINANCE, GetProvisionPolicy, dtc_get_provision_policy, NULL),
    LTC_WRITE(DTC_FINANCE, UpdateProvisionPolicy, dtc_update_provision_policy, NULL),
    LTC_WRITE(DTC_FINANCE, SetSpecificProvision, dtc_set_specific_provision, NULL),
    LTC_WRITE(DTC_FINANCE, RunProvision, dtc_run_provision, NULL),
    LTC_WRITE(DTC_FINANCE, RequestWriteOff, dtc_request_write_off, NULL),
    LTC_WRITE(DTC_FINANCE, ApproveWriteOff, dtc_approve_write_off, NULL),
    LTC_WRITE(DTC_FINANCE, RejectWriteOff, dtc_reject_write_off, NULL),
    LTC_WRITE(DTC_FINANCE, RecordRecovery, dtc_record_recovery, NULL),
};

static const char *const HEALTH[] = {"ltc.dtc.v1.DeliveryToCashService", "ltc.dtc.v1.IntakeService",
                                     "ltc.dtc.v1.CreditService", "ltc.dtc.v1.FinanceService", NULL};
static const char *const PEERS[] = {"bto", "ltb", NULL};

/* The DTC service: its method table, health names, hand-off peers and migrations. */
ltc_service_def dtc_service(void) {
    ltc_service_def def = {
        .name = "dtc",
        .default_listen = "127.0.0.1:50064",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
