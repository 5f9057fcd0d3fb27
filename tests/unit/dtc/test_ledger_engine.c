/* Unit tests of DTC's double entry (services/dtc/ledger_engine.c): the lines of each event, refusals, and a property
 * test: random sequences of the receivables events (invoices, receipts, allocations, reversals, bounces, refunds,
 * credit notes, dunning charges), applied to a model of the subledger, always leave balanced books whose control
 * accounts equal the subledger (receivables = open invoice amounts, unapplied cash = receipts' unapplied cash, cash =
 * bank receipts not bounced less every refund). With FX: the same sequences in JPY converted to CNY (each document at
 * its own rate, allocations realising the difference, rates moving and revaluations with their reversals) balance in
 * functional currency entry by entry and in total. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fx_engine.h"
#include "ledger_engine.h"

static int64_t bal[DTC_ACC_COUNT];
/* The functional-currency books of the same events (docs/finance.md, "Foreign exchange"): the transaction currency
 * is JPY (0 digits), the functional CNY (2); each document converts at its own rate, the rest at the day's rate. */
static int64_t fbal[DTC_ACC_COUNT];
static int64_t day_rate;
static int64_t last_fx[2]; /* the FX line of the last functional entry: debit, credit */

/* Converts the event's lines: a line of role `r1` as a slice (before1) at rate1, of `r2` at rate2 (before2; -1: not a
 * slice), the others at the day's rate; closes the difference on FX_REALISED; checks the entry balances in functional
 * currency and adds it to fbal. */
static void fpost_at(dtc_ledger_event ev, int64_t a, int64_t b, int r1, int64_t rate1, int64_t before1, int r2,
                     int64_t rate2, int64_t before2) {
    dtc_jline l[DTC_MAX_JLINES];
    int n = -1;
    assert_int_equal(dtc_entry_build(ev, a, b, l, &n), 0);
    int64_t fd[DTC_MAX_JLINES + 1] = {0}, fc[DTC_MAX_JLINES + 1] = {0}, f, fxd, fxc;
    for (int i = 0; i < n; i++) {
        int64_t amount = l[i].debit + l[i].credit, rate = day_rate, before = -1;
        if ((int)l[i].account == r1) rate = rate1, before = before1;
        if ((int)l[i].account == r2) rate = rate2, before = before2;
        if (before >= 0)
            assert_int_equal(dtc_fx_slice(before, amount, 0, 2, rate, &f), 0);
        else
            assert_int_equal(dtc_fx_convert(amount, 0, 2, rate, &f), 0);
        fd[i] = l[i].debit ? f : 0, fc[i] = l[i].credit ? f : 0;
    }
    assert_int_equal(dtc_fx_close(fd, fc, n, &fxd, &fxc), 0);
    fd[n] = fxd, fc[n] = fxc;
    int64_t sd = 0, sc = 0;
    for (int i = 0; i <= n; i++) sd += fd[i], sc += fc[i];
    assert_int_equal(sd, sc); /* balanced in functional currency */
    for (int i = 0; i < n; i++) fbal[l[i].account] += fd[i] - fc[i];
    fbal[DTC_ACC_FX_REALISED] += fxd - fxc;
    last_fx[0] = fxd, last_fx[1] = fxc;
}

static void fpost(dtc_ledger_event ev, int64_t a, int64_t b) { fpost_at(ev, a, b, -1, 0, -1, -1, 0, -1); }

/* Builds the event's entry, checks it balances, adds it to the balances (debit positive). Returns its line count. */
static int post(dtc_ledger_event ev, int64_t a, int64_t b) {
    dtc_jline l[DTC_MAX_JLINES];
    int n = -1;
    assert_int_equal(dtc_entry_build(ev, a, b, l, &n), 0);
    if (n == 0) return 0;
    assert_true(dtc_entry_balanced(l, n));
    for (int i = 0; i < n; i++) bal[l[i].account] += l[i].debit - l[i].credit;
    return n;
}

static void test_each_event(void **state) {
    (void)state;
    dtc_jline l[DTC_MAX_JLINES];
    int n;
    assert_int_equal(dtc_entry_build(DTC_EV_INVOICE, 500, 0, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].account, DTC_ACC_RECEIVABLES);
    assert_int_equal(l[0].debit, 500);
    assert_int_equal(l[1].account, DTC_ACC_CONTRACT_LIABILITY);
    assert_int_equal(l[1].credit, 500);
    assert_int_equal(dtc_entry_build(DTC_EV_CREDIT_NOTE, 300, 200, l, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(l[0].account, DTC_ACC_CONTRACT_LIABILITY);
    assert_int_equal(l[0].debit, 500);
    assert_int_equal(l[1].account, DTC_ACC_RECEIVABLES);
    assert_int_equal(l[1].credit, 300);
    assert_int_equal(l[2].account, DTC_ACC_UNAPPLIED_CASH);
    assert_int_equal(l[2].credit, 200);
    /* a credit note wholly against open invoices has no customer-credit line */
    assert_int_equal(dtc_entry_build(DTC_EV_CREDIT_NOTE, 300, 0, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dtc_entry_build(DTC_EV_DUNNING_CHARGE, 1000, 37, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].account, DTC_ACC_CHARGES_RECEIVABLE);
    assert_int_equal(l[0].debit, 1037);
    assert_int_equal(l[1].account, DTC_ACC_CHARGES_INCOME);
    /* revenue: out of the liability, the rest a contract asset; netting an asset against the liability */
    assert_int_equal(dtc_entry_build(DTC_EV_REVENUE, 1350, 3450, l, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(l[0].account, DTC_ACC_CONTRACT_LIABILITY);
    assert_int_equal(l[0].debit, 1350);
    assert_int_equal(l[1].account, DTC_ACC_CONTRACT_ASSET);
    assert_int_equal(l[1].debit, 3450);
    assert_int_equal(l[2].account, DTC_ACC_REVENUE);
    assert_int_equal(l[2].credit, 4800);
    assert_int_equal(dtc_entry_build(DTC_EV_CONTRACT_NETTING, 3450, 0, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].account, DTC_ACC_CONTRACT_LIABILITY);
    assert_int_equal(l[1].account, DTC_ACC_CONTRACT_ASSET);
    assert_int_equal(l[1].credit, 3450);
    assert_string_equal(dtc_ledger_event_name(DTC_EV_REVENUE), "REVENUE");
    /* doubtful debt: a provision raised, released; a write-off against the allowance and expense; a recovery */
    assert_int_equal(dtc_entry_build(DTC_EV_PROVISION, 500, 0, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].account, DTC_ACC_BAD_DEBT), assert_int_equal(l[0].debit, 500);
    assert_int_equal(l[1].account, DTC_ACC_ALLOWANCE), assert_int_equal(l[1].credit, 500);
    assert_int_equal(dtc_entry_build(DTC_EV_PROVISION, 0, 200, l, &n), 0);
    assert_int_equal(l[0].account, DTC_ACC_BAD_DEBT), assert_int_equal(l[0].credit, 200);
    assert_int_equal(l[1].account, DTC_ACC_ALLOWANCE), assert_int_equal(l[1].debit, 200);
    assert_int_equal(dtc_entry_build(DTC_EV_PROVISION, 1, 1, l, &n), -1); /* never both ways */
    assert_int_equal(dtc_entry_build(DTC_EV_WRITE_OFF, 2500, 7500, l, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(l[0].account, DTC_ACC_ALLOWANCE), assert_int_equal(l[0].debit, 2500);
    assert_int_equal(l[1].account, DTC_ACC_BAD_DEBT), assert_int_equal(l[1].debit, 7500);
    assert_int_equal(l[2].account, DTC_ACC_RECEIVABLES), assert_int_equal(l[2].credit, 10000);
    assert_int_equal(dtc_entry_build(DTC_EV_WRITE_OFF, 0, 300, l, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dtc_entry_build(DTC_EV_RECOVERY, 400, 0, l, &n), 0);
    assert_int_equal(l[0].account, DTC_ACC_UNAPPLIED_CASH), assert_int_equal(l[0].debit, 400);
    assert_int_equal(l[1].account, DTC_ACC_BAD_DEBT_RECOVERY), assert_int_equal(l[1].credit, 400);
    assert_string_equal(dtc_ledger_event_name(DTC_EV_WRITE_OFF), "WRITE_OFF");
    assert_string_equal(dtc_account_role_name(DTC_ACC_BAD_DEBT_RECOVERY), "BAD_DEBT_RECOVERY");
    /* nothing to post */
    assert_int_equal(dtc_entry_build(DTC_EV_DUNNING_CHARGE, 0, 0, l, &n), 0);
    assert_int_equal(n, 0);
    for (int ev = 0; ev < DTC_EV_COUNT; ev++) {
        assert_int_equal(dtc_entry_build((dtc_ledger_event)ev, 7, ev == DTC_EV_CREDIT_NOTE ? 3 : 0, l, &n), 0);
        assert_true(n >= 2);
        assert_true(dtc_entry_balanced(l, n));
        assert_non_null(dtc_ledger_event_name((dtc_ledger_event)ev));
    }
}

static void test_refusals(void **state) {
    (void)state;
    dtc_jline l[DTC_MAX_JLINES];
    int n;
    assert_int_equal(dtc_entry_build(DTC_EV_INVOICE, -1, 0, l, &n), -1);
    assert_int_equal(dtc_entry_build(DTC_EV_CREDIT_NOTE, INT64_MAX, 1, l, &n), -1);
    assert_int_equal(dtc_entry_build(DTC_EV_COUNT, 1, 0, l, &n), -1);
    dtc_jline bad[2] = {{DTC_ACC_CASH, 5, 0}, {DTC_ACC_RECEIVABLES, 0, 4}};
    assert_false(dtc_entry_balanced(bad, 2));
    dtc_jline both[2] = {{DTC_ACC_CASH, 5, 5}, {DTC_ACC_RECEIVABLES, 0, 0}};
    assert_false(dtc_entry_balanced(both, 2));
    dtc_jline one[1] = {{DTC_ACC_CASH, 5, 0}};
    assert_false(dtc_entry_balanced(one, 1));
    assert_int_equal(dtc_account_role_parse("UNAPPLIED_CASH"), DTC_ACC_UNAPPLIED_CASH);
    assert_int_equal(dtc_account_role_parse("unapplied_cash"), -1);
    assert_null(dtc_account_role_name(DTC_ACC_COUNT));
    for (int r = 0; r < DTC_ACC_COUNT; r++) assert_int_equal(dtc_account_role_parse(dtc_account_role_name(r)), r);
}

/* --- the property test -------------------------------------------------------------------------------------------- */

#define MAX_INV 40
#define MAX_REC 40
#define MAX_ALLOC 200
typedef struct {
    int64_t amount, paid, credited, rate;
} inv_t;
typedef struct {
    int64_t amount, unapplied, refunded, rate, applied;
    int cash, bounced; /* cash: a bank receipt (not a credit note's customer credit) */
} rec_t;
typedef struct {
    int receipt, invoice, active;
    int64_t amount, f_inv, f_rec; /* the functional amounts of its two sides (a reversal mirrors them) */
} alloc_t;

static inv_t inv[MAX_INV];
static rec_t rec[MAX_REC];
static alloc_t al[MAX_ALLOC];
static int ninv, nrec, nal;
static int64_t charges;

static int64_t open_of(int i) { return inv[i].amount - inv[i].paid - inv[i].credited; }

static void check_controls(void) {
    int64_t sum = 0, open = 0, unapplied = 0, cash = 0;
    for (int k = 0; k < DTC_ACC_COUNT; k++) sum += bal[k];
    assert_int_equal(sum, 0); /* the trial balance sums to zero */
    for (int k = 0; k < DTC_ACC_COUNT; k++) sum += fbal[k];
    assert_int_equal(sum, 0); /* and in functional currency */
    for (int i = 0; i < ninv; i++) open += open_of(i);
    for (int r = 0; r < nrec; r++) {
        unapplied += rec[r].unapplied;
        if (rec[r].cash && !rec[r].bounced) cash += rec[r].amount;
        cash -= rec[r].refunded; /* a refund of a credit note's customer credit pays cash out too */
    }
    assert_int_equal(bal[DTC_ACC_RECEIVABLES], open);
    assert_int_equal(-bal[DTC_ACC_UNAPPLIED_CASH], unapplied);
    assert_int_equal(bal[DTC_ACC_CASH], cash);
    assert_int_equal(bal[DTC_ACC_CHARGES_RECEIVABLE], charges);
}

static void reverse(int k) {
    al[k].active = 0;
    inv[al[k].invoice].paid -= al[k].amount;
    rec[al[k].receipt].unapplied += al[k].amount;
    rec[al[k].receipt].applied -= al[k].amount;
    post(DTC_EV_ALLOCATION_REVERSAL, al[k].amount, 0);
    /* the allocation's functional amounts mirrored: its realised FX reversed */
    int64_t fd[2] = {al[k].f_inv, 0}, fc[2] = {0, al[k].f_rec}, fxd, fxc;
    assert_int_equal(dtc_fx_close(fd, fc, 2, &fxd, &fxc), 0);
    fbal[DTC_ACC_RECEIVABLES] += al[k].f_inv, fbal[DTC_ACC_UNAPPLIED_CASH] -= al[k].f_rec;
    fbal[DTC_ACC_FX_REALISED] += fxd - fxc;
}

static void one_run(unsigned seed) {
    srand(seed);
    for (int k = 0; k < DTC_ACC_COUNT; k++) bal[k] = fbal[k] = 0;
    ninv = nrec = nal = 0;
    day_rate = 400000000 + rand() % 200000000; /* around 0.05 CNY per JPY */
    charges = 0;
    for (int step = 0; step < 300; step++) {
        int what = rand() % 9;
        if (what == 0 && ninv < MAX_INV) { /* invoice */
            int64_t a = 1 + rand() % 100000;
            inv[ninv++] = (inv_t){a, 0, 0, day_rate};
            post(DTC_EV_INVOICE, a, 0);
            fpost(DTC_EV_INVOICE, a, 0);
        } else if (what == 1 && nrec < MAX_REC) { /* receipt */
            int64_t a = 1 + rand() % 100000;
            rec[nrec++] = (rec_t){a, a, 0, day_rate, 0, 1, 0};
            post(DTC_EV_RECEIPT, a, 0);
            fpost(DTC_EV_RECEIPT, a, 0);
        } else if (what == 2 && nrec > 0 && ninv > 0 && nal < MAX_ALLOC) { /* allocation */
            int r = rand() % nrec, i = rand() % ninv;
            int64_t a = rec[r].unapplied < open_of(i) ? rec[r].unapplied : open_of(i);
            if (a <= 0 || rec[r].bounced) continue;
            a = 1 + rand() % a;
            int64_t fi, fr;
            assert_int_equal(dtc_fx_slice(inv[i].paid, a, 0, 2, inv[i].rate, &fi), 0);
            assert_int_equal(dtc_fx_slice(rec[r].applied, a, 0, 2, rec[r].rate, &fr), 0);
            fpost_at(DTC_EV_ALLOCATION, a, 0, DTC_ACC_RECEIVABLES, inv[i].rate, inv[i].paid, DTC_ACC_UNAPPLIED_CASH,
                     rec[r].rate, rec[r].applied);
            assert_int_equal(last_fx[1] - last_fx[0], fr - fi); /* realised = cash side - invoice side */
            rec[r].unapplied -= a, inv[i].paid += a, rec[r].applied += a;
            al[nal++] = (alloc_t){r, i, 1, a, fi, fr};
            post(DTC_EV_ALLOCATION, a, 0);
        } else if (what == 3 && nal > 0) { /* reversal */
            int k = rand() % nal;
            if (al[k].active) reverse(k);
        } else if (what == 4 && nrec > 0) { /* refund */
            int r = rand() % nrec;
            if (rec[r].unapplied <= 0 || rec[r].bounced) continue;
            int64_t a = 1 + rand() % rec[r].unapplied;
            rec[r].unapplied -= a, rec[r].refunded += a;
            post(DTC_EV_REFUND, a, 0);
            fpost(DTC_EV_REFUND, a, 0);
        } else if (what == 5 && nrec > 0) { /* bounce: a bank receipt, never refunded */
            int r = rand() % nrec;
            if (!rec[r].cash || rec[r].bounced || rec[r].refunded > 0) continue;
            for (int k = 0; k < nal; k++)
                if (al[k].active && al[k].receipt == r) reverse(k);
            assert_int_equal(rec[r].unapplied, rec[r].amount);
            post(DTC_EV_BOUNCE, rec[r].amount, 0);
            fpost(DTC_EV_BOUNCE, rec[r].amount, 0);
            rec[r].unapplied = 0, rec[r].bounced = 1;
        } else if (what == 6 && ninv > 0 && nrec < MAX_REC) { /* credit note: open first, the rest customer credit */
            int i = rand() % ninv;
            int64_t room = inv[i].amount - inv[i].credited;
            if (room <= 0) continue;
            int64_t a = 1 + rand() % room, credited = a < open_of(i) ? a : open_of(i), left = a - credited;
            if (left > inv[i].paid) left = inv[i].paid, a = credited + left;
            if (a <= 0) continue;
            inv[i].credited += credited;
            if (left > 0) rec[nrec++] = (rec_t){left, left, 0, day_rate, 0, 0, 0};
            post(DTC_EV_CREDIT_NOTE, credited, left);
            fpost(DTC_EV_CREDIT_NOTE, credited, left);
        } else if (what == 7) { /* dunning charge */
            int64_t fee = rand() % 3 ? 0 : 1500, interest = rand() % 400;
            charges += fee + interest;
            post(DTC_EV_DUNNING_CHARGE, fee, interest);
            if (fee + interest) fpost(DTC_EV_DUNNING_CHARGE, fee, interest);
        } else if (what == 8) { /* the day's rate moves; a revaluation of the open invoices and its reversal */
            day_rate += (rand() % 40000001) - 20000000;
            if (day_rate < 1) day_rate = 1;
            int64_t gain = 0, loss = 0;
            for (int i = 0; i < ninv; i++) {
                int64_t carried, d;
                if (open_of(i) <= 0) continue;
                assert_int_equal(dtc_fx_convert(open_of(i), 0, 2, inv[i].rate, &carried), 0);
                assert_int_equal(dtc_fx_unrealised(open_of(i), carried, 0, 2, day_rate, &d), 0);
                if (d > 0)
                    gain += d;
                else
                    loss -= d;
            }
            dtc_jline l[DTC_MAX_JLINES];
            int n;
            int64_t before[DTC_ACC_COUNT];
            for (int k = 0; k < DTC_ACC_COUNT; k++) before[k] = fbal[k];
            for (int rev = 0; rev < 2; rev++) { /* functional-only lines, balanced; the reversal restores the books */
                assert_int_equal(dtc_entry_build(rev ? DTC_EV_FX_REVAL_REV : DTC_EV_FX_REVAL, gain, loss, l, &n), 0);
                if (n == 0) break;
                assert_true(dtc_entry_balanced(l, n));
                for (int k = 0; k < n; k++) fbal[l[k].account] += l[k].debit - l[k].credit;
                if (!rev) assert_int_equal(fbal[DTC_ACC_FX_UNREALISED] - before[DTC_ACC_FX_UNREALISED], loss - gain);
            }
            for (int k = 0; k < DTC_ACC_COUNT; k++) assert_int_equal(fbal[k], before[k]);
        }
        check_controls();
    }
}

static void test_random_sequences_keep_books_balanced(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 200; seed++) one_run(seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_event),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_random_sequences_keep_books_balanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
