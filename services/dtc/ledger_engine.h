/* services/dtc/ledger_engine.h - the pure double entry of DTC's financial events (docs/finance.md, "What each event
 * posts"): which accounts each event debits and credits, by account role (the chart of accounts maps a role to its
 * configurable code). No database: ledger.c posts what this builds; tests/unit/dtc/test_ledger_engine.c checks that
 * every entry balances and that random event sequences keep the control accounts equal to the subledger. */
#ifndef LTC_DTC_LEDGER_ENGINE_H
#define LTC_DTC_LEDGER_ENGINE_H

#include <stdint.h>

/* The account roles of the chart of accounts (table ledger_accounts; default codes in docs/finance.md). */
typedef enum dtc_account_role {
    DTC_ACC_CASH,               /* 1010 cash clearing (bank) */
    DTC_ACC_RECEIVABLES,        /* 1100 accounts receivable (control): open invoice amounts */
    DTC_ACC_CHARGES_RECEIVABLE, /* 1120 dunning fees and interest charged, not invoiced */
    DTC_ACC_CONTRACT_ASSET,     /* 1150 revenue recognised, not yet billed */
    DTC_ACC_ALLOWANCE,          /* 1190 allowance for doubtful debts (contra-asset) */
    DTC_ACC_UNAPPLIED_CASH,     /* 2100 unapplied cash / customer credit (control): receipts' unapplied cash */
    DTC_ACC_CONTRACT_LIABILITY, /* 2200 billed, not yet recognised (deferred revenue) */
    DTC_ACC_TAX_PAYABLE,        /* 2300 output tax payable */
    DTC_ACC_REVENUE,            /* 4000 revenue */
    DTC_ACC_CHARGES_INCOME,     /* 4100 dunning fees and interest */
    DTC_ACC_BAD_DEBT,           /* 6100 bad-debt expense */
    DTC_ACC_FX_REALISED,        /* 7100 realised FX gain/loss */
    DTC_ACC_FX_UNREALISED,      /* 7110 unrealised FX gain/loss */
    DTC_ACC_BAD_DEBT_RECOVERY,  /* 4200 bad-debt recovery (income): cash on written-off debt */
    DTC_ACC_COUNT
} dtc_account_role;

/* The events that post. */
typedef enum dtc_ledger_event {
    DTC_EV_INVOICE,             /* a: the invoice's amount */
    DTC_EV_RECEIPT,             /* a: cash received */
    DTC_EV_ALLOCATION,          /* a: unapplied cash applied to an invoice */
    DTC_EV_ALLOCATION_REVERSAL, /* a: an allocation reversed (the cash unapplied again) */
    DTC_EV_BOUNCE,              /* a: the receipt's cash the bank took back (after its allocations were reversed) */
    DTC_EV_REFUND,              /* a: unapplied cash paid back */
    DTC_EV_CREDIT_NOTE,         /* a: credited against open invoice amounts, b: the rest, customer credit */
    DTC_EV_DUNNING_CHARGE,      /* a: a notice's fee, b: its interest */
    DTC_EV_REVENUE,             /* a: revenue out of the contract liability, b: revenue ahead of billing (asset) */
    DTC_EV_CONTRACT_NETTING,    /* a: an order's contract asset set off against its contract liability */
    DTC_EV_FX_REVAL,            /* functional amounts only: a: unrealised gain on receivables, b: unrealised loss */
    DTC_EV_FX_REVAL_REV,        /* the revaluation reversed on the next period's first day: a gain, b loss */
    DTC_EV_PROVISION,           /* a: allowance raised (expense), b: allowance released; one of the two is 0 */
    DTC_EV_WRITE_OFF,           /* a: written off against the invoice's allowance, b: the rest, bad-debt expense */
    DTC_EV_RECOVERY,            /* a: unapplied cash taken as recovery of written-off debt */
    DTC_EV_COUNT
} dtc_ledger_event;

/* One line: a role debited or credited (exactly one of the two is positive). */
typedef struct dtc_jline {
    dtc_account_role account;
    int64_t debit, credit;
} dtc_jline;

#define DTC_MAX_JLINES 4

/* The lines of event `ev` with amounts a and b (see dtc_ledger_event; b is 0 where unused), zero lines left out.
 * Writes up to DTC_MAX_JLINES lines and their count (0: nothing to post). 0, or -1 on a negative amount, an unknown
 * event or an overflow. */
int dtc_entry_build(dtc_ledger_event ev, int64_t a, int64_t b, dtc_jline out[DTC_MAX_JLINES], int *n);
/* 1 when the lines' debits equal their credits, every line has exactly one positive side and n >= 2. */
int dtc_entry_balanced(const dtc_jline *lines, int n);
/* "INVOICE", "RECEIPT", ... (the journal's event column); NULL for an unknown event. */
const char *dtc_ledger_event_name(dtc_ledger_event ev);
/* "CASH", "RECEIVABLES", ... (the chart's role column); NULL for an unknown role. */
const char *dtc_account_role_name(dtc_account_role r);
/* The role named `name`, or -1. */
int dtc_account_role_parse(const char *name);

#endif
