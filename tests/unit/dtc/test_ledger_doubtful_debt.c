/* Unit tests of DTC's double entry with doubtful debt (services/dtc/ledger_engine.c), a property test: random
 * sequences of the receivables events (invoices, receipts, allocations, reversals, bounces, refunds, credit notes,
 * dunning charges) with provision runs, write-offs and recoveries, applied to a model of the subledger, always leave
 * balanced books whose control accounts equal the subledger (receivables = open invoice amounts net of write-offs,
 * unapplied cash = receipts' unapplied cash, cash = bank receipts not bounced less every refund, allowance = the
 * invoices' allowances, bad-debt recovery = what was recovered). The entries of each event are checked one by one in
 * test_ledger_engine.c, whose property test runs the same events in a foreign currency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ledger_engine.h"

static int64_t bal[DTC_ACC_COUNT];

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

/* --- the property test -------------------------------------------------------------------------------------------- */

#define MAX_INV 40
#define MAX_REC 40
#define MAX_ALLOC 200
typedef struct {
    int64_t amount, paid, credited, written_off, recovered, allowance;
} inv_t;
typedef struct {
    int64_t amount, unapplied, refunded;
    int cash, bounced; /* cash: a bank receipt (not a credit note's customer credit) */
    int recovered;     /* took part in a recovery: never bounced (BounceReceipt refuses it) */
} rec_t;
typedef struct {
    int receipt, invoice, active;
    int64_t amount;
} alloc_t;

static inv_t inv[MAX_INV];
static rec_t rec[MAX_REC];
static alloc_t al[MAX_ALLOC];
static int ninv, nrec, nal;
static int64_t charges, recovered;

static int64_t open_of(int i) { return inv[i].amount - inv[i].paid - inv[i].credited - inv[i].written_off; }

static void check_controls(void) {
    int64_t sum = 0, open = 0, unapplied = 0, cash = 0, allowance = 0;
    for (int k = 0; k < DTC_ACC_COUNT; k++) sum += bal[k];
    assert_int_equal(sum, 0); /* the trial balance sums to zero */
    for (int i = 0; i < ninv; i++) open += open_of(i), allowance += inv[i].allowance;
    for (int r = 0; r < nrec; r++) {
        unapplied += rec[r].unapplied;
        if (rec[r].cash && !rec[r].bounced) cash += rec[r].amount;
        cash -= rec[r].refunded; /* a refund of a credit note's customer credit pays cash out too */
    }
    assert_int_equal(bal[DTC_ACC_RECEIVABLES], open);
    assert_int_equal(-bal[DTC_ACC_UNAPPLIED_CASH], unapplied);
    assert_int_equal(bal[DTC_ACC_CASH], cash);
    assert_int_equal(bal[DTC_ACC_CHARGES_RECEIVABLE], charges);
    assert_int_equal(-bal[DTC_ACC_ALLOWANCE], allowance);
    assert_int_equal(-bal[DTC_ACC_BAD_DEBT_RECOVERY], recovered);
}

static void reverse(int k) {
    al[k].active = 0;
    inv[al[k].invoice].paid -= al[k].amount;
    rec[al[k].receipt].unapplied += al[k].amount;
    post(DTC_EV_ALLOCATION_REVERSAL, al[k].amount, 0);
}

static void one_run(unsigned seed) {
    srand(seed);
    for (int k = 0; k < DTC_ACC_COUNT; k++) bal[k] = 0;
    ninv = nrec = nal = 0;
    charges = recovered = 0;
    for (int step = 0; step < 300; step++) {
        int what = rand() % 11;
        if (what == 0 && ninv < MAX_INV) { /* invoice */
            int64_t a = 1 + rand() % 100000;
            inv[ninv++] = (inv_t){a, 0, 0, 0, 0, 0};
            post(DTC_EV_INVOICE, a, 0);
        } else if (what == 1 && nrec < MAX_REC) { /* receipt */
            int64_t a = 1 + rand() % 100000;
            rec[nrec++] = (rec_t){a, a, 0, 1, 0, 0};
            post(DTC_EV_RECEIPT, a, 0);
        } else if (what == 2 && nrec > 0 && ninv > 0 && nal < MAX_ALLOC) { /* allocation */
            int r = rand() % nrec, i = rand() % ninv;
            int64_t a = rec[r].unapplied < open_of(i) ? rec[r].unapplied : open_of(i);
            if (a <= 0 || rec[r].bounced) continue;
            a = 1 + rand() % a;
            rec[r].unapplied -= a, inv[i].paid += a;
            al[nal++] = (alloc_t){r, i, 1, a};
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
        } else if (what == 5 && nrec > 0) { /* bounce: a bank receipt, never refunded */
            int r = rand() % nrec;
            if (!rec[r].cash || rec[r].bounced || rec[r].refunded > 0 || rec[r].recovered) continue;
            for (int k = 0; k < nal; k++)
                if (al[k].active && al[k].receipt == r) reverse(k);
            assert_int_equal(rec[r].unapplied, rec[r].amount);
            post(DTC_EV_BOUNCE, rec[r].amount, 0);
            rec[r].unapplied = 0, rec[r].bounced = 1;
        } else if (what == 6 && ninv > 0 && nrec < MAX_REC) { /* credit note: open first, the rest customer credit */
            int i = rand() % ninv;
            int64_t room = inv[i].amount - inv[i].credited;
            if (room <= 0) continue;
            int64_t a = 1 + rand() % room, credited = a < open_of(i) ? a : open_of(i), left = a - credited;
            if (left > inv[i].paid) left = inv[i].paid, a = credited + left;
            if (a <= 0) continue;
            inv[i].credited += credited;
            if (left > 0) rec[nrec++] = (rec_t){left, left, 0, 0, 0, 0};
            post(DTC_EV_CREDIT_NOTE, credited, left);
        } else if (what == 7) { /* dunning charge */
            int64_t fee = rand() % 3 ? 0 : 1500, interest = rand() % 400;
            charges += fee + interest;
            post(DTC_EV_DUNNING_CHARGE, fee, interest);
        } else if (what == 8) { /* provision run: every invoice's allowance set to a share of its open amount */
            int64_t before = 0, after = 0;
            for (int i = 0; i < ninv; i++) {
                before += inv[i].allowance;
                inv[i].allowance = open_of(i) * (rand() % 101) / 100;
                after += inv[i].allowance;
            }
            post(DTC_EV_PROVISION, after > before ? after - before : 0, before > after ? before - after : 0);
        } else if (what == 9 && ninv > 0) { /* write-off of part or all of an open amount */
            int i = rand() % ninv;
            if (open_of(i) <= 0) continue;
            int64_t a = 1 + rand() % open_of(i), from = a < inv[i].allowance ? a : inv[i].allowance;
            inv[i].written_off += a, inv[i].allowance -= from;
            post(DTC_EV_WRITE_OFF, from, a - from);
        } else if (what == 10 && ninv > 0 && nrec > 0) { /* recovery: unapplied cash on written-off debt */
            int i = rand() % ninv, r = rand() % nrec;
            int64_t room = inv[i].written_off - inv[i].recovered;
            if (room <= 0 || rec[r].unapplied <= 0 || rec[r].bounced) continue;
            int64_t a = 1 + rand() % (room < rec[r].unapplied ? room : rec[r].unapplied);
            inv[i].recovered += a, rec[r].unapplied -= a, rec[r].recovered = 1, recovered += a;
            post(DTC_EV_RECOVERY, a, 0);
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
        cmocka_unit_test(test_random_sequences_keep_books_balanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
