"""Finance close (issue #17, docs/finance.md), through the gateway: every financial event of DTC posts a balanced
journal entry in its own transaction (invoice, receipt, allocation, reversal, refund, bounce, credit note, dunning
charge), with the chart's codes; the control accounts equal the subledger (receivables = open invoices, unapplied
cash = receipts' unapplied cash) and the trial balance sums to zero; the export a GL imports; periods: nothing posts
into a CLOSED period (the event moves to the first open one, keeping its date), reopening needs a second person.

The hand-offs (AcceptOrderPlaced, AcceptDelivery) go to DTC's IntakeService on its own port. Each run uses dates in
a year of its own in the past (1990-2019), so that periods it closes and dunning runs it makes touch no other run's
or suite's records. The plaintext stack has one principal ("anonymous") at the gateway: the second person of a
reopen approval calls DTC's own port with an x-ltc-principal header, as the gateway forwards it."""
import csv
import io
import random
import uuid

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2

import harness as h
import ltc_client as lc

dtc, fin, K = lc.dtc, lc.finance, lc.types
C = grpc.StatusCode
CUR = "CNY"
YEAR = random.SystemRandom().randint(1990, 2019)


def money(minor):
    return lc.money(minor, CUR)


def minor(m):
    return lc.to_minor(m, m.currency_code) if m.currency_code else 0


def day(iso):
    y, m, d = (int(x) for x in iso.split("-"))
    return K.Date(year=y, month=m, day=d)


def iso(d):
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def ts(iso_day):
    import datetime
    return timestamp_pb2.Timestamp(seconds=int(datetime.datetime.fromisoformat(iso_day + "T09:00:00+00:00").timestamp()))


def rid():
    return lc.new_id()


def park_behind_unknown_deals():
    """As test_receivables: the deals of these hand-offs are unknown to LTB, so DTC's milestones of them park there
    and hold back the deal's later ones; park those too, so that the outboxes are quiet for the suites after."""
    h.sql("UPDATE dtc.outbox o SET parked_time = now(), last_error = 'behind a parked hand-off (test deal)' "
          "WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND EXISTS (SELECT FROM dtc.outbox p "
          "WHERE p.deal_id = o.deal_id AND p.destination = o.destination AND p.parked_time IS NOT NULL "
          "AND p.seq < o.seq)")


class Finance(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")
        cls.own = grpc.insecure_channel(h.target("dtc"))   # DTC's own port: a second principal (plaintext only)
        cls.direct = lc.finance_grpc.FinanceServiceStub(cls.own)

    @classmethod
    def tearDownClass(cls):
        park_behind_unknown_deals()
        cls.own.close()
        cls.intake.close()
        super().tearDownClass()

    # --- helpers ------------------------------------------------------------------------------------------------

    def customer(self):
        cid = str(uuid.uuid4())
        return K.CustomerSnapshot(customer=f"customers/{cid}", legal_name=f"Ledger {cid[:8]}", country_code="CN",
                                  billing_currency=CUR, account_owner="ar.fin")

    def place(self, snap, total, terms, on, lines=()):
        tri = K.IronTriangle(account_owner="ar.fin", solution_owner="sr.fin", fulfilment_owner="fr.fin")
        f = dict(order=f"orders/{uuid.uuid4()}", contract=f"contracts/{uuid.uuid4()}", deal=f"deals/{uuid.uuid4()}",
                 iron_triangle=tri, order_total=money(total),
                 payment_terms=[K.PaymentTerm(kind=K.PaymentTermKind.Value(k), share_bps=b, due_days=d)
                                for k, b, d in terms])
        self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(handoff_id=rid(), customer=snap,
                                                                       place_time=ts(on), lines=list(lines), **f))
        return f

    def accept(self, f, snap, amount, on, fully=False):
        req = dtc.AcceptDeliveryRequest(handoff_id=rid(), shipment=f"shipments/{uuid.uuid4()}",
                                        customer_name=snap.legal_name, accepted_amount=money(amount),
                                        order_fully_accepted=fully, customer=snap, accept_time=ts(on), **f)
        return list(self.intake.dtc.AcceptDelivery(req).invoices)

    def invoices(self, f):
        return list(self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=f["order"], page_size=500)).invoices)

    def receipt(self, snap, amount, on):
        r = dtc.Receipt(customer=snap.customer, amount=money(amount), bank_account="ICBC-FIN",
                        bank_reference=f"FIN-{uuid.uuid4()}", value_date=day(on))
        return self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(receipt=r, request_id=rid())).receipt

    def entries(self, **filters):
        out, token = [], ""
        while True:
            r = self.stubs.finance.ListJournalEntries(fin.ListJournalEntriesRequest(page_size=100, page_token=token,
                                                                                     **filters))
            out += list(r.entries)
            token = r.next_page_token
            if not token:
                return out

    def one_entry(self, source, event):
        es = self.entries(source=source)
        self.assertEqual([e.event for e in es], [event], f"entries of {source}")
        e = es[0]
        self.assertBalanced(e)
        return e

    def assertBalanced(self, e):
        self.assertGreaterEqual(len(e.lines), 2)
        for ln in e.lines:
            self.assertTrue((minor(ln.debit) > 0) != (minor(ln.credit) > 0), f"one side per line: {ln}")
        self.assertEqual(sum(minor(ln.debit) for ln in e.lines), sum(minor(ln.credit) for ln in e.lines), str(e))
        if e.functional_currency == CUR:
            self.assertEqual(sum(minor(ln.functional_debit) for ln in e.lines),
                             sum(minor(ln.functional_credit) for ln in e.lines))

    def assertLines(self, e, expected):
        """expected: [(code, debit, credit)] in minor units."""
        got = [(ln.account_code, minor(ln.debit), minor(ln.credit)) for ln in e.lines]
        self.assertEqual(sorted(got), sorted(expected), str(e))

    def trial(self, period):
        return self.stubs.finance.GetTrialBalance(fin.GetTrialBalanceRequest(period=period))

    def assertControlsMatch(self):
        """Through the gateway, the whole ledger up to 2099-12: each currency sums to zero; receivables = the open
        invoice amounts and unapplied cash = the receipts' unapplied cash (the subledger, read in the database)."""
        tb = self.trial("2099-12")
        by = {}
        for r in tb.rows:
            by.setdefault(r.closing_balance.currency_code, {})[r.account_role] = minor(r.closing_balance)
        self.assertTrue(by, "the ledger is empty")
        for cur, rows in by.items():
            self.assertEqual(sum(rows.values()), 0, f"trial balance of {cur}: {rows}")
            open_ = h.sql_int("SELECT coalesce(sum(amount_minor - paid_minor - credited_minor - written_off_minor), 0) "
                              "FROM dtc.invoices WHERE currency = :'c'", c=cur)
            unapplied = h.sql_int("SELECT coalesce(sum(unapplied_minor), 0) FROM dtc.receipts WHERE currency = :'c'",
                                  c=cur)
            self.assertEqual(rows.get("RECEIVABLES", 0), open_, f"receivables of {cur}")
            self.assertEqual(-rows.get("UNAPPLIED_CASH", 0), unapplied, f"unapplied cash of {cur}")

    # --- the events ---------------------------------------------------------------------------------------------

    def test_every_event_posts_a_balanced_entry(self):
        Y = YEAR
        snap = self.customer()
        f = self.place(snap, 100_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 3000, 10),
                                          ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 7000, 30)], on=f"{Y}-03-05")
        (a,) = self.invoices(f)
        self.assertEqual(minor(a.amount), 30_000_00)
        e = self.one_entry(a.name, "INVOICE")
        self.assertLines(e, [("1100", 30_000_00, 0), ("2200", 0, 30_000_00)])
        self.assertEqual((iso(e.event_date), iso(e.posting_date), e.period), (f"{Y}-03-05", f"{Y}-03-05", f"{Y}-03"))
        self.assertEqual(e.customer, snap.customer)

        r1 = self.receipt(snap, 40_000_00, f"{Y}-03-20")
        self.assertLines(self.one_entry(r1.name, "RECEIPT"), [("1010", 40_000_00, 0), ("2100", 0, 40_000_00)])
        ap = self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(
            name=r1.name, request_id=rid(), apply_date=day(f"{Y}-03-20"),
            allocations=[dtc.AllocationRequest(invoice=a.name, amount=money(30_000_00))]))
        alloc = ap.receipt.allocations[0].name
        e = self.one_entry(alloc, "ALLOCATION")
        self.assertLines(e, [("2100", 30_000_00, 0), ("1100", 0, 30_000_00)])
        self.assertEqual(e.customer, snap.customer)   # the receipt's customer

        self.stubs.dtc.ReverseAllocation(dtc.ReverseAllocationRequest(name=alloc, reason="wrong invoice",
                                                                      reverse_date=day(f"{Y}-03-21"), request_id=rid()))
        es = self.entries(source=alloc)
        self.assertEqual([x.event for x in es], ["ALLOCATION", "ALLOCATION_REVERSAL"])
        self.assertBalanced(es[1])
        self.assertLines(es[1], [("1100", 30_000_00, 0), ("2100", 0, 30_000_00)])
        self.assertEqual(iso(es[1].event_date), f"{Y}-03-21")

        rf = self.stubs.dtc.RefundReceipt(dtc.RefundReceiptRequest(name=r1.name, amount=money(5_000_00),
                                                                   reason="overpaid", refund_date=day(f"{Y}-03-22"),
                                                                   request_id=rid())).receipt
        self.assertLines(self.one_entry(rf.refunds[0].name, "REFUND"), [("2100", 5_000_00, 0), ("1010", 0, 5_000_00)])

        r2 = self.receipt(snap, 1_000_00, f"{Y}-03-23")
        self.stubs.dtc.BounceReceipt(dtc.BounceReceiptRequest(name=r2.name, reason="returned by the bank",
                                                              bounce_date=day(f"{Y}-03-24"), request_id=rid()))
        es = self.entries(source=r2.name)
        self.assertEqual([x.event for x in es], ["RECEIPT", "BOUNCE"])
        self.assertLines(es[1], [("2100", 1_000_00, 0), ("1010", 0, 1_000_00)])

        self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(
            name=r1.name, request_id=rid(), apply_date=day(f"{Y}-03-25"),
            allocations=[dtc.AllocationRequest(invoice=a.name, amount=money(30_000_00))]))
        # a price correction on the paid invoice: nothing open, so all of it is customer credit
        cn = self.stubs.dtc.IssueCreditNote(dtc.IssueCreditNoteRequest(
            invoice=a.name, amount=money(2_000_00), reason="agreed discount", issue_date=day(f"{Y}-03-26"),
            request_id=rid())).credit_note
        self.assertLines(self.one_entry(cn.name, "CREDIT_NOTE"), [("2200", 2_000_00, 0), ("2100", 0, 2_000_00)])

        # half the order accepted: an ON_ACCEPTANCE invoice of 35,000.00, due 30 days later; a correction of 1,000.00
        # on it credits its open amount
        (b,) = self.accept(f, snap, 50_000_00, on=f"{Y}-04-10")
        self.assertLines(self.one_entry(b, "INVOICE"), [("1100", 35_000_00, 0), ("2200", 0, 35_000_00)])
        cn2 = self.stubs.dtc.IssueCreditNote(dtc.IssueCreditNoteRequest(
            invoice=b, amount=money(1_000_00), reason="price error", issue_date=day(f"{Y}-04-11"),
            request_id=rid())).credit_note
        self.assertLines(self.one_entry(cn2.name, "CREDIT_NOTE"), [("2200", 1_000_00, 0), ("1100", 0, 1_000_00)])

        # dunning with a fee of 50.00 (the policy restored after): B is 41 days past due on Y-06-20
        pol = self.stubs.dtc.GetDunningPolicy(dtc.GetDunningPolicyRequest(name="dunningPolicy")).dunning_policy
        upd = dtc.DunningPolicy(name="dunningPolicy", fee_minor=50_00)
        self.stubs.dtc.UpdateDunningPolicy(dtc.UpdateDunningPolicyRequest(
            dunning_policy=upd, request_id=rid(), update_mask=field_mask_pb2.FieldMask(paths=["fee_minor"])))
        try:
            notices = self.stubs.dtc.RunDunning(dtc.RunDunningRequest(as_of_date=day(f"{Y}-06-20"),
                                                                      request_id=rid())).notices
        finally:
            self.stubs.dtc.UpdateDunningPolicy(dtc.UpdateDunningPolicyRequest(
                dunning_policy=dtc.DunningPolicy(name="dunningPolicy", fee_minor=pol.fee_minor), request_id=rid(),
                update_mask=field_mask_pb2.FieldMask(paths=["fee_minor"])))
        mine = [n for n in notices if n.invoice == b]
        self.assertEqual(len(mine), 1)
        e = self.one_entry(mine[0].name, "DUNNING_CHARGE")
        self.assertLines(e, [("1120", 50_00, 0), ("4100", 0, 50_00)])
        self.assertEqual(iso(e.event_date), f"{Y}-06-20")

        # the customer's entries, filtered by the gateway's ListJournalEntries, all balance; by event and account
        es = self.entries(customer=snap.customer)
        self.assertEqual(len(es), 12)
        for x in es:
            self.assertBalanced(x)
        self.assertEqual({x.event for x in self.entries(customer=snap.customer, event="ALLOCATION")}, {"ALLOCATION"})
        cash = self.entries(customer=snap.customer, account_code="1010")
        self.assertEqual(sorted(x.event for x in cash), ["BOUNCE", "RECEIPT", "RECEIPT", "REFUND"])
        # paging: one entry a page gives the same entries
        seen, token = [], ""
        while True:
            r = self.stubs.finance.ListJournalEntries(fin.ListJournalEntriesRequest(customer=snap.customer,
                                                                                     page_size=1, page_token=token))
            seen += [x.name for x in r.entries]
            token = r.next_page_token
            if not token:
                break
        self.assertEqual(seen, [x.name for x in es])
        self.assertControlsMatch()

    def test_trial_balance_and_export(self):
        snap = self.customer()
        f = self.place(snap, 10_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 10)], on=f"{YEAR}-07-01")
        (a,) = self.invoices(f)
        r = self.receipt(snap, 10_000_00, f"{YEAR}-07-02")
        self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(name=r.name, request_id=rid(),
                                                            apply_date=day(f"{YEAR}-07-02")))
        period = f"{YEAR}-07"
        tb = self.trial(period)
        self.assertEqual((tb.period, tb.state), (period, "OPEN"))
        per = {}
        for row in tb.rows:
            if row.period_debit.currency_code == CUR:
                per[row.account_code] = (minor(row.period_debit), minor(row.period_credit))
        self.assertEqual(sum(d for d, _ in per.values()), sum(c for _, c in per.values()))
        for code in ("1010", "1100", "2100", "2200"):
            self.assertIn(code, per)
        ex = self.stubs.finance.GetJournalExport(fin.GetJournalExportRequest(period=period))
        rows = list(csv.DictReader(io.StringIO(ex.csv)))
        self.assertEqual(list(rows[0].keys()), [
            "entry_id", "posting_date", "event_date", "period", "event", "source", "customer_id", "line_no",
            "account_code", "currency", "debit_minor", "credit_minor", "functional_currency", "functional_debit_minor",
            "functional_credit_minor"])
        self.assertEqual(len(rows), ex.line_count)
        self.assertEqual(len({x["entry_id"] for x in rows}), ex.entry_count)
        self.assertTrue(all(x["period"] == period for x in rows))
        mine = [x for x in rows if x["source"] in (a.name, r.name)]
        self.assertEqual(len(mine), 4)
        by_cur = {}
        for x in rows:
            d, c = by_cur.get(x["currency"], (0, 0))
            by_cur[x["currency"]] = (d + int(x["debit_minor"]), c + int(x["credit_minor"]))
        for cur, (d, c) in by_cur.items():
            self.assertEqual(d, c, cur)
        # the export's debits per account equal the trial balance's period debits
        debit_1100 = sum(int(x["debit_minor"]) for x in rows if x["account_code"] == "1100" and x["currency"] == CUR)
        self.assertEqual(debit_1100, per["1100"][0])
        for bad in ("2026-13", "26-01", "", "2026-1"):
            d = h.expect_error(lambda: self.trial(bad), C.INVALID_ARGUMENT)
            self.assertDetails(d, reason=None, fields=["period"])
        self.assertControlsMatch()

    # --- the chart of accounts ------------------------------------------------------------------------------------

    def test_chart_of_accounts_codes_are_configurable(self):
        chart = self.stubs.finance.GetChartOfAccounts(fin.GetChartOfAccountsRequest(name="chartOfAccounts")).accounts
        codes = {x.role: x.code for x in chart}
        self.assertEqual(codes["RECEIVABLES"], "1100")
        self.assertEqual(codes["UNAPPLIED_CASH"], "2100")
        self.assertEqual(len(chart), 14)
        fees = next(x for x in chart if x.role == "CHARGES_INCOME")
        new_code = f"41{random.randint(10, 99)}"
        upd = self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
            ledger_account=fin.LedgerAccount(name=fees.name, code=new_code, etag=fees.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid())).account
        try:
            self.assertEqual((upd.code, upd.display_name), (new_code, fees.display_name))
            self.assertNotEqual(upd.etag, fees.etag)
            # a stale etag, a taken code, a bad code, an unknown account
            d = h.expect_error(lambda: self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
                ledger_account=fin.LedgerAccount(name=fees.name, code="4100", etag=fees.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid())), C.ABORTED)
            self.assertDetails(d, reason="ETAG_MISMATCH")
            d = h.expect_error(lambda: self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
                ledger_account=fin.LedgerAccount(name=fees.name, code="1100"),
                update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid())), C.ALREADY_EXISTS)
            self.assertDetails(d, reason="ACCOUNT_CODE_TAKEN")
            d = h.expect_error(lambda: self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
                ledger_account=fin.LedgerAccount(name=fees.name, code="41 00"),
                update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid())), C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["ledger_account.code"])
            d = h.expect_error(lambda: self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
                ledger_account=fin.LedgerAccount(name="ledgerAccounts/PETTY_CASH", code="1000"),
                update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid())), C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["ledger_account.name"])
            # a dunning charge posted now carries the new code
            snap = self.customer()
            f = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 1)], on=f"{YEAR}-11-02")
            (a,) = self.invoices(f)
            self.assertLines(self.one_entry(a.name, "INVOICE"), [("1100", 1_000_00, 0), ("2200", 0, 1_000_00)])
        finally:
            self.stubs.finance.UpdateLedgerAccount(fin.UpdateLedgerAccountRequest(
                ledger_account=fin.LedgerAccount(name=fees.name, code="4100"),
                update_mask=field_mask_pb2.FieldMask(paths=["code"]), request_id=rid()))

    # --- periods --------------------------------------------------------------------------------------------------

    def test_nothing_posts_into_a_closed_period(self):
        Y = YEAR
        period, nxt = f"{Y}-09", f"{Y}-10"
        snap = self.customer()
        f = self.place(snap, 20_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 5000, 10),
                                         ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 5000, 10)], on=f"{Y}-09-03")
        (a,) = self.invoices(f)
        self.assertEqual(self.one_entry(a.name, "INVOICE").period, period)
        # closing needs the period's revenue recognition first
        d = h.expect_error(lambda: self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(
            period=period, request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="REVENUE_NOT_RECOGNISED")
        self.stubs.finance.RunRevenueRecognition(fin.RunRevenueRecognitionRequest(period=period, request_id=rid()))
        closed = self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(period=period, request_id=rid())).period
        self.assertEqual((closed.period, closed.state), (period, "CLOSED"))
        self.assertEqual(self.trial(period).state, "CLOSED")
        # closing again answers the period as it is
        again = self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(period=period, request_id=rid())).period
        self.assertEqual((again.state, again.version), ("CLOSED", closed.version))
        # a receipt and an acceptance dated in the closed period post on the first day of the next one
        r = self.receipt(snap, 10_000_00, f"{Y}-09-20")
        e = self.one_entry(r.name, "RECEIPT")
        self.assertEqual((iso(e.event_date), iso(e.posting_date), e.period), (f"{Y}-09-20", f"{Y}-10-01", nxt))
        (b,) = self.accept(f, snap, 20_000_00, on=f"{Y}-09-25", fully=True)
        e = self.one_entry(b, "INVOICE")
        self.assertEqual((iso(e.event_date), e.period), (f"{Y}-09-25", nxt))
        self.assertEqual(self.entries(period=period, customer=snap.customer)[0].source, a.name)
        self.assertEqual(len(self.entries(period=period, customer=snap.customer)), 1)
        # the closed period's trial balance does not move
        before = {(x.account_code, x.closing_balance.currency_code): minor(x.closing_balance)
                  for x in self.trial(period).rows}
        self.receipt(snap, 1_00, f"{Y}-09-21")
        after = {(x.account_code, x.closing_balance.currency_code): minor(x.closing_balance)
                 for x in self.trial(period).rows}
        self.assertEqual(before, after)

        # reopening: a request, and an approval by someone else
        d = h.expect_error(lambda: self.stubs.finance.ApprovePeriodReopen(fin.ApprovePeriodReopenRequest(
            period=period, request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="NO_REOPEN_REQUEST")
        req = self.stubs.finance.RequestPeriodReopen(fin.RequestPeriodReopenRequest(
            period=period, reason="a receipt was booked in the wrong month", request_id=rid())).period
        self.assertEqual((req.state, req.reopen_requested_by), ("CLOSED", "anonymous"))
        d = h.expect_error(lambda: self.stubs.finance.ApprovePeriodReopen(fin.ApprovePeriodReopenRequest(
            period=period, request_id=rid())), C.PERMISSION_DENIED)
        self.assertDetails(d, reason="APPROVER_IS_REQUESTER")
        opened = self.direct.ApprovePeriodReopen(fin.ApprovePeriodReopenRequest(period=period, request_id=rid()),
                                                 metadata=[("x-ltc-principal", "fin.controller"),
                                                           ("x-ltc-roles", "finance")], timeout=10).period
        self.assertEqual((opened.state, opened.reopened_by, opened.reopen_requested_by),
                         ("OPEN", "fin.controller", "anonymous"))
        r3 = self.receipt(snap, 2_00, f"{Y}-09-22")
        self.assertEqual(self.one_entry(r3.name, "RECEIPT").period, period)
        listed = {p.period: p.state for p in self.stubs.finance.ListPeriods(fin.ListPeriodsRequest(page_size=500)).periods}
        self.assertEqual((listed[period], listed[nxt]), ("OPEN", "OPEN"))
        # refusals
        d = h.expect_error(lambda: self.stubs.finance.RequestPeriodReopen(fin.RequestPeriodReopenRequest(
            period=period, reason="again", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PERIOD_NOT_CLOSED")
        import datetime
        today = datetime.date.today()
        d = h.expect_error(lambda: self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(
            period=f"{today.year:04d}-{today.month:02d}", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PERIOD_NOT_ENDED")
        d = h.expect_error(lambda: self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(period="2019-00")),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["period", "request_id"])
        self.assertControlsMatch()

    # --- revenue recognition (IFRS 15) ------------------------------------------------------------------------------

    def recognise(self, period):
        return self.stubs.finance.RunRevenueRecognition(fin.RunRevenueRecognitionRequest(period=period,
                                                                                         request_id=rid()))

    def revenue_entries(self, f, period):
        return [e for e in self.entries(source=f"orders/{f['order'].split('/')[1]}") if e.period == period]

    def test_revenue_recognition_worked_example(self):
        """docs/finance.md's worked example: equipment 100,000.00 and installation 20,000.00 (point in time), support
        12 months 30,000.00 (over time), an order discount of 15,000.00: transaction price 135,000.00, allocated
        90,000.00 / 18,000.00 / 27,000.00. Terms 10% in advance, 90% retention (billed at final acceptance):
        recognition runs ahead of billing (a contract asset) until the retention is invoiced."""
        Y = YEAR
        snap = self.customer()
        line = lambda sku, kind, months, listp, net: dtc.PlacedOrderLine(  # noqa: E731
            product=f"products/{uuid.uuid4()}", sku=sku, quantity=1, product_version=1,
            revenue_type=kind, service_months=months, list_price=money(listp),
            net_amount=money(net))
        lines = [line("EQ-1", "REVENUE_TYPE_POINT_IN_TIME", 0, 100_000_00, 90_000_00),
                 line("INST-1", "REVENUE_TYPE_POINT_IN_TIME", 0, 20_000_00, 18_000_00),
                 line("SUP-12", "REVENUE_TYPE_OVER_TIME", 12, 30_000_00, 27_000_00)]
        f = self.place(snap, 135_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 1000, 10),
                                          ("PAYMENT_TERM_KIND_RETENTION", 9000, 30)], on=f"{Y}-01-10", lines=lines)
        order = f["order"]
        sched = self.stubs.finance.GetRevenueSchedule(fin.GetRevenueScheduleRequest(order=order))
        self.assertEqual(minor(sched.transaction_price), 135_000_00)
        got = [(o.line, o.sku, minor(o.standalone_price), minor(o.allocated), minor(o.recognised), minor(o.deferred))
               for o in sched.obligations]
        self.assertEqual(got, [(1, "EQ-1", 100_000_00, 90_000_00, 0, 90_000_00),
                               (2, "INST-1", 20_000_00, 18_000_00, 0, 18_000_00),
                               (3, "SUP-12", 30_000_00, 27_000_00, 0, 27_000_00)])
        self.assertEqual(list(sched.obligations[2].schedule), [])   # not started before the order's acceptance

        # January: placed and billed 13,500.00 in advance, nothing accepted: nothing to recognise
        self.recognise(f"{Y}-01")
        self.assertEqual(self.revenue_entries(f, f"{Y}-01"), [])

        # February: 60,000.00 of 135,000.00 accepted (4/9): 4/9 of each point-in-time obligation, 48,000.00; the
        # advance's 13,500.00 out of the contract liability, 34,500.00 a contract asset (recognised, not billed)
        self.accept(f, snap, 60_000_00, on=f"{Y}-02-20")
        self.recognise(f"{Y}-02")
        (e,) = self.revenue_entries(f, f"{Y}-02")
        self.assertEqual((e.event, iso(e.event_date), e.customer), ("REVENUE", f"{Y}-02-28" if Y % 4 else f"{Y}-02-29",
                                                                   snap.customer))
        self.assertBalanced(e)
        self.assertLines(e, [("2200", 13_500_00, 0), ("1150", 34_500_00, 0), ("4000", 0, 48_000_00)])
        # a rerun posts nothing
        self.recognise(f"{Y}-02")
        self.assertEqual(len(self.revenue_entries(f, f"{Y}-02")), 1)

        # March: fully accepted on the 5th, which bills the retention (121,500.00): the rest of the point-in-time
        # obligations (60,000.00) and the support's first month (2,250.00); the asset is netted against the new
        # invoice's liability first
        self.accept(f, snap, 75_000_00, on=f"{Y}-03-05", fully=True)
        self.recognise(f"{Y}-03")
        es = self.revenue_entries(f, f"{Y}-03")
        self.assertEqual([x.event for x in es], ["CONTRACT_NETTING", "REVENUE"])
        self.assertLines(es[0], [("2200", 34_500_00, 0), ("1150", 0, 34_500_00)])
        self.assertLines(es[1], [("2200", 62_250_00, 0), ("4000", 0, 62_250_00)])
        self.assertEqual(iso(es[1].event_date), f"{Y}-03-31")

        # April: one month, 2,250.00; December: months 2..10, 18,000.00 more; February next year: the last 4,500.00
        self.recognise(f"{Y}-04")
        (e,) = self.revenue_entries(f, f"{Y}-04")
        self.assertLines(e, [("2200", 2_250_00, 0), ("4000", 0, 2_250_00)])
        self.recognise(f"{Y}-12")
        (e,) = self.revenue_entries(f, f"{Y}-12")
        self.assertLines(e, [("2200", 18_000_00, 0), ("4000", 0, 18_000_00)])
        self.recognise(f"{Y + 1}-02")
        (e,) = self.revenue_entries(f, f"{Y + 1}-02")
        self.assertLines(e, [("2200", 4_500_00, 0), ("4000", 0, 4_500_00)])
        # reruns post nothing new
        before = len(self.entries(source=f"orders/{order.split('/')[1]}"))
        self.recognise(f"{Y}-12")
        self.recognise(f"{Y + 1}-02")
        self.assertEqual(len(self.entries(source=f"orders/{order.split('/')[1]}")), before)

        sched = self.stubs.finance.GetRevenueSchedule(fin.GetRevenueScheduleRequest(order=order))
        self.assertEqual((minor(sched.recognised), minor(sched.deferred)), (135_000_00, 0))
        sup = sched.obligations[2]
        self.assertEqual(iso(sup.start_date), f"{Y}-03-05")
        self.assertEqual([(m.period, minor(m.amount)) for m in sup.schedule],
                         [(f"{Y + (2 + k) // 12}-{(2 + k) % 12 + 1:02d}", 2_250_00) for k in range(12)])
        # the order's contract balances are gone: 4000 took all of it, 2200 and 1150 are back to zero
        by = {}
        for x in self.entries(customer=snap.customer):
            for ln in x.lines:
                by[ln.account_code] = by.get(ln.account_code, 0) + minor(ln.debit) - minor(ln.credit)
        self.assertEqual((by.get("2200"), by.get("1150"), by.get("4000")), (0, 0, -135_000_00))

        # the summary for this customer: per period, recognised by the run and to date, the rest deferred
        def summary(period):
            r = self.stubs.finance.GetRevenueSummary(fin.GetRevenueSummaryRequest(period=period,
                                                                                   customer=snap.customer))
            self.assertTrue(r.recognition_run)
            (row,) = r.rows
            return minor(row.recognised_in_period), minor(row.recognised_to_date), minor(row.deferred)
        self.assertEqual(summary(f"{Y}-01"), (0, 0, 135_000_00))
        self.assertEqual(summary(f"{Y}-02"), (48_000_00, 48_000_00, 87_000_00))
        self.assertEqual(summary(f"{Y}-03"), (62_250_00, 110_250_00, 24_750_00))
        self.assertEqual(summary(f"{Y}-12"), (18_000_00, 130_500_00, 4_500_00))

        # refusals
        import datetime
        today = datetime.date.today()
        d = h.expect_error(lambda: self.recognise(f"{today.year:04d}-{today.month:02d}"), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PERIOD_NOT_ENDED")
        d = h.expect_error(lambda: self.stubs.finance.RunRevenueRecognition(fin.RunRevenueRecognitionRequest(
            period="2019-13")), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["period", "request_id"])
        d = h.expect_error(lambda: self.stubs.finance.GetRevenueSchedule(fin.GetRevenueScheduleRequest(
            order=f"orders/{uuid.uuid4()}")), C.NOT_FOUND)
        self.assertDetails(d, reason="ORDER_ACCOUNT_NOT_FOUND")
        d = h.expect_error(lambda: self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(
            handoff_id=rid(), customer=snap, order=f"orders/{uuid.uuid4()}", contract=f["contract"], deal=f["deal"],
            iron_triangle=f["iron_triangle"], order_total=money(100), payment_terms=f["payment_terms"],
            lines=[line("X", "REVENUE_TYPE_OVER_TIME", 0, 100, 100)])), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lines[0].service_months"])
        self.assertControlsMatch()


if __name__ == "__main__":
    h.main()
