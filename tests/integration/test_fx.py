"""Foreign exchange in DTC's subledger (issue #17, docs/finance.md "Foreign exchange"), through the gateway: exchange
rates by date (SetExchangeRate, ListExchangeRates), every entry in JPY converted to the functional currency CNY at
its date's rate, the realised gain or loss of receipts applied to a JPY invoice at other rates (to the fen), the
period-end revaluation of the open invoice and its reversal on the next period's first day, ClosePeriod refused
until the revaluation ran, an invoice in a currency without a rate (posted without functional amounts; revaluation
refused naming the currency and date), and the functional trial balance summing to zero.

Each run uses a year of its own in 1970-1989 (test_finance uses 1990-2019), and settles every invoice it opens, so
that no later ClosePeriod of another suite finds them open."""
import random
import uuid

import grpc
from google.protobuf import timestamp_pb2

import harness as h
import ltc_client as lc

dtc, fin, K = lc.dtc, lc.finance, lc.types
C = grpc.StatusCode
YEAR = random.SystemRandom().randint(1970, 1989)


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


class ForeignExchange(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")

    @classmethod
    def tearDownClass(cls):
        h.sql("UPDATE dtc.outbox o SET parked_time = now(), last_error = 'behind a parked hand-off (test deal)' "
              "WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND EXISTS (SELECT FROM dtc.outbox p "
              "WHERE p.deal_id = o.deal_id AND p.destination = o.destination AND p.parked_time IS NOT NULL "
              "AND p.seq < o.seq)")
        cls.intake.close()
        super().tearDownClass()

    def customer(self, cur):
        cid = str(uuid.uuid4())
        return K.CustomerSnapshot(customer=f"customers/{cid}", legal_name=f"FX {cid[:8]}", country_code="JP",
                                  billing_currency=cur, account_owner="ar.fx")

    def invoice_in_advance(self, snap, total, cur, on):
        """An order billed 100% in advance on `on`: its one invoice."""
        tri = K.IronTriangle(account_owner="ar.fx", solution_owner="sr.fx", fulfilment_owner="fr.fx")
        order = f"orders/{uuid.uuid4()}"
        self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(
            handoff_id=rid(), customer=snap, place_time=ts(on), order=order, contract=f"contracts/{uuid.uuid4()}",
            deal=f"deals/{uuid.uuid4()}", iron_triangle=tri, order_total=lc.money(total, cur),
            payment_terms=[K.PaymentTerm(kind=K.PaymentTermKind.Value("PAYMENT_TERM_KIND_ADVANCE"), share_bps=10000,
                                         due_days=30)]))
        (inv,) = self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=order, page_size=10)).invoices
        return inv

    def pay(self, snap, inv, amount, cur, on):
        r = dtc.Receipt(customer=snap.customer, amount=lc.money(amount, cur), bank_account="MUFG-FX",
                        bank_reference=f"FX-{uuid.uuid4()}", value_date=day(on))
        rc = self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(receipt=r, request_id=rid())).receipt
        ap = self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(
            name=rc.name, request_id=rid(), apply_date=day(on),
            allocations=[dtc.AllocationRequest(invoice=inv.name, amount=lc.money(amount, cur))]))
        return rc, ap.receipt.allocations[-1].name

    def set_rate(self, cur, on, rate):
        x = fin.ExchangeRate(currency=cur, rate_date=day(on), rate=rate)
        return self.stubs.finance.SetExchangeRate(fin.SetExchangeRateRequest(exchange_rate=x, request_id=rid()))

    def entries(self, **filters):
        out, token = [], ""
        while True:
            r = self.stubs.finance.ListJournalEntries(fin.ListJournalEntriesRequest(page_size=100, page_token=token,
                                                                                     **filters))
            out += list(r.entries)
            token = r.next_page_token
            if not token:
                return out

    def functional(self, e):
        """[(code, transaction debit, credit, functional debit, credit)], sorted; checks both balances."""
        got = sorted((ln.account_code, minor(ln.debit), minor(ln.credit), minor(ln.functional_debit),
                      minor(ln.functional_credit)) for ln in e.lines)
        self.assertEqual(sum(x[1] for x in got), sum(x[2] for x in got), f"transaction balance: {e}")
        self.assertEqual(sum(x[3] for x in got), sum(x[4] for x in got), f"functional balance: {e}")
        self.assertEqual(e.functional_currency, "CNY")
        return got

    def test_jpy_invoice_realised_revaluation_and_close(self):
        Y = YEAR
        jan, feb = f"{Y}-01", f"{Y}-02"
        # rates: set, replaced, listed
        self.set_rate("JPY", f"{Y}-01-01", "0.05")
        x = self.set_rate("JPY", f"{Y}-01-01", "0.0482").exchange_rate
        self.assertEqual((x.name, x.currency, x.rate, x.functional_currency),
                         (f"exchangeRates/JPY/{Y}-01-01", "JPY", "0.0482", "CNY"))
        self.set_rate("JPY", f"{Y}-01-31", "0.0490")
        self.set_rate("JPY", f"{Y}-02-10", "0.0475")
        self.set_rate("JPY", f"{Y}-03-05", "0.049")
        listed = self.stubs.finance.ListExchangeRates(fin.ListExchangeRatesRequest(currency="JPY", page_size=500))
        mine = {iso(r.rate_date): r.rate for r in listed.exchange_rates if r.rate_date.year == Y and r.rate_date.month <= 3}
        self.assertEqual(mine, {f"{Y}-01-01": "0.0482", f"{Y}-01-31": "0.049", f"{Y}-02-10": "0.0475",
                                f"{Y}-03-05": "0.049"})

        # the invoice: 1,000,000 JPY on 15 January at 0.0482 (the latest rate on or before): 48,200.00 CNY
        snap = self.customer("JPY")
        inv = self.invoice_in_advance(snap, 1_000_000, "JPY", f"{Y}-01-15")
        (e,) = [x for x in self.entries(source=inv.name) if x.event == "INVOICE"]
        self.assertEqual(e.fx_rate, "0.0482")
        self.assertEqual(self.functional(e), [("1100", 1_000_000, 0, 48_200_00, 0), ("2200", 0, 1_000_000, 0, 48_200_00)])

        # closing January: revenue recognition first, then the revaluation (a JPY invoice is open)
        self.stubs.finance.RunRevenueRecognition(fin.RunRevenueRecognitionRequest(period=jan, request_id=rid()))
        d = h.expect_error(lambda: self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(period=jan, request_id=rid())),
                           C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="REVALUATION_NOT_RUN")
        # revaluation at 31 January's 0.0490: 49,000.00 - 48,200.00 = 800.00 unrealised gain, reversed on 1 February
        run = self.stubs.finance.RunRevaluation(fin.RunRevaluationRequest(period=jan, request_id=rid()))
        self.assertEqual(run.unrealised.currency_code, "CNY")
        es = [x for x in self.entries(source=inv.name) if x.event.startswith("FX_REVALUATION")]
        self.assertEqual([(x.event, iso(x.event_date), x.period, x.fx_rate) for x in es],
                         [("FX_REVALUATION", f"{Y}-01-31", jan, "0.049"),
                          ("FX_REVALUATION_REVERSAL", f"{Y}-02-01", feb, "0.049")])
        self.assertEqual(self.functional(es[0]), [("1100", 0, 0, 800_00, 0), ("7110", 0, 0, 0, 800_00)])
        self.assertEqual(self.functional(es[1]), [("1100", 0, 0, 0, 800_00), ("7110", 0, 0, 800_00, 0)])
        # a rerun posts nothing new
        again = self.stubs.finance.RunRevaluation(fin.RunRevaluationRequest(period=jan, request_id=rid()))
        self.assertEqual((again.invoice_count, again.entry_count, minor(again.unrealised)), (0, 0, 0))
        self.assertEqual(len([x for x in self.entries(source=inv.name) if x.event.startswith("FX_")]), 2)
        closed = self.stubs.finance.ClosePeriod(fin.ClosePeriodRequest(period=jan, request_id=rid())).period
        self.assertEqual(closed.state, "CLOSED")

        # 400,000 JPY received and applied on 10 February at 0.0475: cash 19,000.00 CNY against 19,280.00 of the
        # invoice at its own rate: a realised loss of 280.00
        rc1, a1 = self.pay(snap, inv, 400_000, "JPY", f"{Y}-02-10")
        (r1,) = [x for x in self.entries(source=rc1.name) if x.event == "RECEIPT"]
        self.assertEqual(self.functional(r1), [("1010", 400_000, 0, 19_000_00, 0), ("2100", 0, 400_000, 0, 19_000_00)])
        (al1,) = self.entries(source=a1)
        self.assertEqual(self.functional(al1), [("1100", 0, 400_000, 0, 19_280_00), ("2100", 400_000, 0, 19_000_00, 0),
                                                ("7100", 0, 0, 280_00, 0)])
        # the rest, 600,000 JPY on 5 March at 0.0490: 29,400.00 against 28,920.00: a realised gain of 480.00
        rc2, a2 = self.pay(snap, inv, 600_000, "JPY", f"{Y}-03-05")
        (al2,) = self.entries(source=a2)
        self.assertEqual(self.functional(al2), [("1100", 0, 600_000, 0, 28_920_00), ("2100", 600_000, 0, 29_400_00, 0),
                                                ("7100", 0, 0, 0, 480_00)])
        # the invoice is settled: its receivable is zero in JPY and in CNY (revaluation reversed, parts at its rate)
        mine = self.entries(customer=snap.customer)
        rec = [ln for x in mine for ln in x.lines if ln.account_code == "1100"]
        self.assertEqual(sum(minor(ln.debit) - minor(ln.credit) for ln in rec), 0)
        self.assertEqual(sum(minor(ln.functional_debit) - minor(ln.functional_credit) for ln in rec), 0)
        realised = sum(minor(ln.functional_debit) - minor(ln.functional_credit) for x in mine for ln in x.lines
                       if ln.account_code == "7100")
        self.assertEqual(realised, 280_00 - 480_00)   # a net gain of 200.00 (a credit)

        # a reversal mirrors the allocation, its realised gain included; applying again realises it again
        self.stubs.dtc.ReverseAllocation(dtc.ReverseAllocationRequest(name=a2, reason="wrong invoice",
                                                                      reverse_date=day(f"{Y}-03-06"), request_id=rid()))
        rev = [x for x in self.entries(source=a2) if x.event == "ALLOCATION_REVERSAL"][0]
        self.assertEqual(self.functional(rev), [("1100", 600_000, 0, 28_920_00, 0), ("2100", 0, 600_000, 0, 29_400_00),
                                                ("7100", 0, 0, 480_00, 0)])
        ap = self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(
            name=rc2.name, request_id=rid(), apply_date=day(f"{Y}-03-06"),
            allocations=[dtc.AllocationRequest(invoice=inv.name, amount=lc.money(600_000, "JPY"))]))
        (al3,) = [x for x in self.entries(source=ap.receipt.allocations[-1].name)]
        self.assertEqual(self.functional(al3)[2], ("7100", 0, 0, 0, 480_00))

        # the functional trial balance sums to zero, this customer's periods included
        for period in (jan, feb, f"{Y}-03", "2099-12"):
            tb = self.stubs.finance.GetTrialBalance(fin.GetTrialBalanceRequest(period=period))
            self.assertTrue(tb.functional_rows)
            self.assertEqual({r.closing_balance.currency_code for r in tb.functional_rows}, {"CNY"})
            self.assertEqual(sum(minor(r.closing_balance) for r in tb.functional_rows), 0, period)
            for cur in {r.closing_balance.currency_code for r in tb.rows}:
                self.assertEqual(sum(minor(r.closing_balance) for r in tb.rows if r.closing_balance.currency_code == cur),
                                 0, f"{period} {cur}")

    def test_a_currency_without_a_rate(self):
        # HKD has no rate in any suite: the invoice posts without functional amounts, the revaluation skips it, the
        # reports list it as unconverted; the customer is invoiced in JPY too
        Y = YEAR
        snap = self.customer("HKD")
        inv = self.invoice_in_advance(snap, 12_345_67, "HKD", f"{Y}-05-10")
        (e,) = [x for x in self.entries(source=inv.name) if x.event == "INVOICE"]
        self.assertEqual(e.fx_rate, "")
        self.assertTrue(all(not ln.HasField("functional_debit") for ln in e.lines))
        self.set_rate("JPY", f"{Y}-05-01", "0.05")
        jpy = self.invoice_in_advance(snap, 10_000, "JPY", f"{Y}-05-11")
        (j,) = [x for x in self.entries(source=jpy.name) if x.event == "INVOICE"]
        self.assertEqual(self.functional(j), [("1100", 10_000, 0, 500_00, 0), ("2200", 0, 10_000, 0, 500_00)])
        tb = self.stubs.finance.GetTrialBalance(fin.GetTrialBalanceRequest(period=f"{Y}-05"))
        self.assertGreaterEqual(tb.unconverted_entry_count, 1)
        # the revaluation skips the HKD invoice (no functional amount to revalue) and revalues the JPY one:
        # 10,000 JPY at 0.051 = 510.00 against 500.00 carried, a gain of 10.00
        self.set_rate("JPY", f"{Y}-05-31", "0.051")
        run = self.stubs.finance.RunRevaluation(fin.RunRevaluationRequest(period=f"{Y}-05", request_id=rid()))
        self.assertGreaterEqual(run.unconverted_count, 1)
        self.assertEqual([x.event for x in self.entries(source=inv.name)], ["INVOICE"])
        es = [x for x in self.entries(source=jpy.name) if x.event == "FX_REVALUATION"]
        self.assertEqual([self.functional(x) for x in es], [[("1100", 0, 0, 10_00, 0), ("7110", 0, 0, 0, 10_00)]])
        # aging and exposure in the functional currency at the report date's rate, saying which
        ag = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(as_of_date=day(f"{Y}-05-31"),
                                                                     customer=snap.customer))
        self.assertEqual([(r.currency_code, minor(r.total)) for r in ag.rows], [("HKD", 12_345_67), ("JPY", 10_000)])
        self.assertEqual([(r.customer, r.currency_code, minor(r.total)) for r in ag.functional_rows],
                         [(snap.customer, "CNY", 510_00)])
        self.assertEqual([(r.currency_code, r.rate, iso(r.rate_date), iso(r.as_of_date)) for r in ag.rates],
                         [("JPY", "0.051", f"{Y}-05-31", f"{Y}-05-31")])
        self.assertEqual(list(ag.unconverted_currencies), ["HKD"])
        ex = self.stubs.dtc.GetCreditExposure(dtc.GetCreditExposureRequest(customer=snap.customer,
                                                                           as_of_date=day(f"{Y}-05-31")))
        jpy_total = [minor(e.total) for e in ex.exposures if e.currency_code == "JPY"][0]
        self.assertEqual(minor(ex.functional_total), round(jpy_total * 0.051 * 100))
        self.assertEqual(ex.functional_total.currency_code, "CNY")
        self.assertEqual([(r.currency_code, r.rate) for r in ex.rates], [("JPY", "0.051")])
        self.assertEqual(list(ex.unconverted_currencies), ["HKD"])
        # settle both, so no later ClosePeriod finds them open
        self.pay(snap, inv, 12_345_67, "HKD", f"{Y}-05-20")
        self.pay(snap, jpy, 10_000, "JPY", f"{Y}-05-20")

    def test_bad_input(self):
        bad = fin.ExchangeRate(currency="CNY", rate_date=day(f"{YEAR}-01-01"), rate="7")
        d = h.expect_error(lambda: self.stubs.finance.SetExchangeRate(fin.SetExchangeRateRequest(
            exchange_rate=bad, request_id=rid())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["exchange_rate.currency"])
        for rate in ("0", "-1", "1e3", "0.00000000001", "7,1", ""):
            x = fin.ExchangeRate(currency="USD", rate_date=day(f"{YEAR}-01-01"), rate=rate)
            d = h.expect_error(lambda: self.stubs.finance.SetExchangeRate(fin.SetExchangeRateRequest(
                exchange_rate=x, request_id=rid())), C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["exchange_rate.rate"])
        x = fin.ExchangeRate(currency="XYZ", rate="1")
        d = h.expect_error(lambda: self.stubs.finance.SetExchangeRate(fin.SetExchangeRateRequest(exchange_rate=x)),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["exchange_rate.currency", "exchange_rate.rate_date", "request_id"])
        d = h.expect_error(lambda: self.stubs.finance.RunRevaluation(fin.RunRevaluationRequest(period="1980-13")),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["period", "request_id"])
        d = h.expect_error(lambda: self.stubs.finance.RunRevaluation(fin.RunRevaluationRequest(
            period="2099-01", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PERIOD_NOT_ENDED")


if __name__ == "__main__":
    h.main()
