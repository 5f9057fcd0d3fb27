/* services/dtc/ledger_engine.c - the pure double entry of DTC's events: see ledger_engine.h. */
#include "ledger_engine.h"

#include <string.h>

static const char *const ROLES[DTC_ACC_COUNT] = {
    "CASH",           "RECEIVABLES",        "CHARGES_RECEIVABLE", "CONTRACT_ASSET",   "ALLOWANCE",
    "UNAPPLIED_CASH", "CONTRACT_LIABILITY", "TAX_PAYABLE",        "REVENUE",          "CHARGES_INCOME",
    "BAD_DEBT",       "FX_REALISED",        "FX_UNREALISED",      "BAD_DEBT_RECOVERY"};
static const char *const EVENTS[DTC_EV_COUNT] = {
    "INVOICE",     "RECEIPT",        "ALLOCATION", "ALLOCATION_REVERSAL", "BOUNCE",         "REFUND",
    "CREDIT_NOTE", "DUNNING_CHARGE", "REVENUE",    "CONTRACT_NETTING",    "FX_REVALUATION", "FX_REVALUATION_REVERSAL",
    "PROVISION",   "WRITE_OFF",      "RECOVERY"};

const char *dtc_ledger_event_name(dtc_ledger_event ev) { return (unsigned)ev < DTC_EV_COUNT ? EVENTS[ev] : NULL; }

const char *dtc_account_role_name(dtc_account_role r) { return (unsigned)r < DTC_ACC_COUNT ? ROLES[r] : NULL; }

int dtc_account_role_parse(const char *name) {
    for (int i = 0; name && i < DTC_ACC_COUNT; i++)
        if (strcmp(name, ROLES[i]) == 0) return i;
    return -1;
}

static void put(dtc_jline *out, int *n, dtc_account_role acc, int64_t debit, int64_t credit) {
    if (debit == 0 && credit == 0) return;
    out[(*n)++] = (dtc_jline){acc, debit, credit};
}

int dtc_entry_build(dtc_ledger_event ev, int64_t a, int64_t b, dtc_jline out[DTC_MAX_JLINES], int *n) {
    *n = 0;
    if (a < 0 || b < 0 || a > INT64_MAX - b) return -1;
    switch (ev) {
        case DTC_EV_INVOICE: /* billed ahead of recognition: a contract liability */
            put(out, n, DTC_ACC_RECEIVABLES, a, 0), put(out, n, DTC_ACC_CONTRACT_LIABILITY, 0, a);
            break;
        case DTC_EV_RECEIPT: put(out, n, DTC_ACC_CASH, a, 0), put(out, n, DTC_ACC_UNAPPLIED_CASH, 0, a); break;
        case DTC_EV_ALLOCATION:
            put(out, n, DTC_ACC_UNAPPLIED_CASH, a, 0), put(out, n, DTC_ACC_RECEIVABLES, 0, a);
            break;
        case DTC_EV_ALLOCATION_REVERSAL:
            put(out, n, DTC_ACC_RECEIVABLES, a, 0), put(out, n, DTC_ACC_UNAPPLIED_CASH, 0, a);
            break;
        case DTC_EV_BOUNCE:
        case DTC_EV_REFUND: put(out, n, DTC_ACC_UNAPPLIED_CASH, a, 0), put(out, n, DTC_ACC_CASH, 0, a); break;
        case DTC_EV_CREDIT_NOTE: /* the invoices' entry reversed for the credited part; what was paid is customer credit */
            put(out, n, DTC_ACC_CONTRACT_LIABILITY, a + b, 0);
            put(out, n, DTC_ACC_RECEIVABLES, 0, a), put(out, n, DTC_ACC_UNAPPLIED_CASH, 0, b);
            break;
        case DTC_EV_DUNNING_CHARGE:
            put(out, n, DTC_ACC_CHARGES_RECEIVABLE, a + b, 0), put(out, n, DTC_ACC_CHARGES_INCOME, 0, a + b);
            break;
        case DTC_EV_REVENUE: /* recognised: out of the liability billed first, the rest a contract asset */
            put(out, n, DTC_ACC_CONTRACT_LIABILITY, a, 0), put(out, n, DTC_ACC_CONTRACT_ASSET, b, 0);
            put(out, n, DTC_ACC_REVENUE, 0, a + b);
            break;
        case DTC_EV_CONTRACT_NETTING:
            put(out, n, DTC_ACC_CONTRACT_LIABILITY, a, 0), put(out, n, DTC_ACC_CONTRACT_ASSET, 0, a);
            break;
        case DTC_EV_FX_REVAL: /* receivables valued at the period end's rate (functional amounts) */
            put(out, n, DTC_ACC_RECEIVABLES, a, 0), put(out, n, DTC_ACC_FX_UNREALISED, 0, a);
            put(out, n, DTC_ACC_FX_UNREALISED, b, 0), put(out, n, DTC_ACC_RECEIVABLES, 0, b);
            break;
        case DTC_EV_FX_REVAL_REV:
            put(out, n, DTC_ACC_FX_UNREALISED, a, 0), put(out, n, DTC_ACC_RECEIVABLES, 0, a);
            put(out, n, DTC_ACC_RECEIVABLES, b, 0), put(out, n, DTC_ACC_FX_UNREALISED, 0, b);
            break;
        case DTC_EV_PROVISION: /* raise (a) or release (b) the allowance, never both in one entry */
            if (a > 0 && b > 0) return -1;
            put(out, n, DTC_ACC_BAD_DEBT, a, b), put(out, n, DTC_ACC_ALLOWANCE, b, a);
            break;
        case DTC_EV_WRITE_OFF: /* the receivable out: first against its allowance, the rest an expense */
            put(out, n, DTC_ACC_ALLOWANCE, a, 0), put(out, n, DTC_ACC_BAD_DEBT, b, 0);
            put(out, n, DTC_ACC_RECEIVABLES, 0, a + b);
            break;
        case DTC_EV_RECOVERY:
            put(out, n, DTC_ACC_UNAPPLIED_CASH, a, 0), put(out, n, DTC_ACC_BAD_DEBT_RECOVERY, 0, a);
            break;
        default: return -1;
    }
    return 0;
}

int dtc_entry_balanced(const dtc_jline *lines, int n) {
    if (n < 2) return 0;
    int64_t d = 0, cr = 0;
    for (int i = 0; i < n; i++) {
        if ((unsigned)lines[i].account >= DTC_ACC_COUNT) return 0;
        if (lines[i].debit < 0 || lines[i].credit < 0 || (lines[i].debit > 0) == (lines[i].credit > 0)) return 0;
        if (lines[i].debit > INT64_MAX - d || lines[i].credit > INT64_MAX - cr) return 0;
        d += lines[i].debit, cr += lines[i].credit;
    }
    return d == cr;
}
