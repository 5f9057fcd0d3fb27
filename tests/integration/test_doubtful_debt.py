"""Doubtful and bad debt (坏账/呆账, issue #17, docs/finance.md "Doubtful debt"), through the gateway: the provision
policy by aging bucket and a specific provision set the allowance at a period's end to the cent, and only the
difference posts (a rerun posts nothing); a write-off needs a second person (the requester is refused), takes the
invoice out of aging and dunning (all of it, or ages only what is left), and posts against the invoice's allowance
first; later cash on it is a recovery, posted to bad-debt recovery; the trial balance stays zero and the control
accounts (receivables = open invoices net of write-offs, allowance = the invoices' allowances, recovery = what was
recovered) hold.

RunProvision is global (every open invoice of every currency), so the run uses a currency no other suite invoices in
and that has nothing open in this stack yet (chosen at the start), and dates in a year of its own (1990-2019) as
test_finance.py does. The second person calls DTC's own port with x-ltc-principal, as the gateway forwards it."""
import random
import uuid

import grpc

import harness as h
import ltc_client as lc
import test_finance as tf

dtc, fin, K = lc.dtc, lc.finance, lc.types
C = grpc.StatusCode
YEAR = random.SystemRandom().randint(1990, 2019)
CANDIDATES = ["MUR", "NPR", "PGK", "SCR", "TTD", "WST", "XCD", "ZMW", "FJD", "BWP", "GYD", "JMD", "LKR", "MOP",
              "NAD", "SBD", "SZL", "TOP", "VES", "BND"]
MANAGER = [("x-ltc-principal", "fin.manager"), ("x-ltc-roles", "manager")]


def rid():
    return lc.new_id()


def minor(m):
    return tf.minor(m)


def day(iso):
    return tf.day(iso)


class DoubtfulDebt(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")
        cls.own = grpc.insecure_channel(h.target("dtc"))
        cls.direct = lc.finance_grpc.FinanceServiceStub(cls.own)
        free = [c for c in CANDIDATES if h.sql_int("SELECT count(*) FROM dtc.invoices WHERE currency = :'c'", c=c) == 0]
        if not free:
            raise RuntimeError("no unused currency left: wipe the stack's state dir")
        cls.cur = random.SystemRandom().choice(free)

    @classmethod
    def tearDownClass(cls):
        tf.park_behind_unknown_deals()
        cls.own.close()
        cls.intake.close()
        super().tearDownClass()

    # --- helpers ----------------------------------------------------------------------------------------------------

    def money(self, m):
        return lc.money(m, self.cur)

    def customer(self):
        cid = str(uuid.uuid4())
        return K.CustomerSnapshot(customer=f"customers/{cid}", legal_name=f"Bad debt {cid[:8]}", country_code="CN",
                                  billing_currency=self.cur, account_owner="ar.fin")

    def invoice(self, snap, amount, on, due_days):
        """An order billed 100% in advance on `on`, due `due_days` later: its one invoice."""
        tri = K.IronTriangle(account_owner="ar.fin", solution_owner="sr.fin", fulfilment_owner="fr.fin")
        f = dict(order=f"orders/{uuid.uuid4()}", contract=f"contracts/{uuid.uuid4()}", deal=f"deals/{uuid.uuid4()}",
                 iron_triangle=tri, order_total=self.money(amount),
                 payment_terms=[K.PaymentTerm(kind=K.PaymentTermKind.Value("PAYMENT_TERM_KIND_ADVANCE"),
                                              share_bps=10000, due_days=due_days)])
        self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(handoff_id=rid(), customer=snap,
                                                                       place_time=tf.ts(on), **f))
        (inv,) = self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=f["order"], page_size=10)).invoices
        self.assertEqual(minor(inv.amount), amount)
        return inv.name

    def get(self, name):
        return self.stubs.dtc.GetInvoice(dtc.GetInvoiceRequest(name=name)).invoice

    def entries(self, **filters):
        out, token = [], ""
        while True:
            r = self.stubs.finance.ListJournalEntries(fin.ListJournalEntriesRequest(page_size=100, page_token=token,
                                                                                     **filters))
            out += list(r.entries)
            token = r.next_page_token
            if not token:
                return out

    def lines(self, e):
        return sorted((ln.account_code, minor(ln.debit), minor(ln.credit)) for ln in e.lines)

    def provision(self, period):
        r = self.stubs.finance.RunProvision(fin.RunProvisionRequest(period=period, request_id=rid()))
        (mine,) = [x for x in r.currencies if x.required.currency_code == self.cur]
        return r, mine

    def buckets(self, pc):
        return {b.bucket: (minor(b.open_amount), b.percentage_bps, minor(b.required), b.invoice_count)
                for b in pc.buckets}

    def request(self, invoice, amount, on, reason="customer insolvent"):
        return self.stubs.finance.RequestWriteOff(fin.RequestWriteOffRequest(
            invoice=invoice, amount=self.money(amount), reason=reason, write_off_date=day(on),
            request_id=rid())).write_off

    def approve(self, name):
        return self.direct.ApproveWriteOff(fin.ApproveWriteOffRequest(name=name, note="ok, court ruling attached",
                                                                      request_id=rid()),
                                           metadata=MANAGER, timeout=10).write_off

    def aging(self, snap, iso):
        r = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(as_of_date=day(iso), customer=snap.customer))
        if not r.rows:
            return 0, [], 0
        row = r.rows[0]
        return minor(row.not_due), [minor(b) for b in row.past_due], minor(row.total)

    def assertControls(self):
        """The currency's trial balance sums to zero; receivables = open invoices net of write-offs; unapplied cash =
        the receipts'; allowance = the invoices' allowances; bad-debt recovery = what was recovered."""
        rows = {}
        for r in self.stubs.finance.GetTrialBalance(fin.GetTrialBalanceRequest(period="2099-12")).rows:
            if r.closing_balance.currency_code == self.cur:
                rows[r.account_role] = minor(r.closing_balance)
        self.assertEqual(sum(rows.values()), 0, rows)
        q = lambda sql: h.sql_int(sql, c=self.cur)   # noqa: E731
        self.assertEqual(rows.get("RECEIVABLES", 0), q(
            "SELECT coalesce(sum(amount_minor - paid_minor - credited_minor - written_off_minor), 0) "
            "FROM dtc.invoices WHERE currency = :'c'"))
        self.assertEqual(-rows.get("UNAPPLIED_CASH", 0),
                         q("SELECT coalesce(sum(unapplied_minor), 0) FROM dtc.receipts WHERE currency = :'c'"))
        self.assertEqual(-rows.get("ALLOWANCE", 0),
                         q("SELECT coalesce(sum(allowance_minor), 0) FROM dtc.invoices WHERE currency = :'c'"))
        self.assertEqual(-rows.get("BAD_DEBT_RECOVERY", 0),
                         q("SELECT coalesce(sum(recovered_minor), 0) FROM dtc.invoices WHERE currency = :'c'"))

    # --- the policy -------------------------------------------------------------------------------------------------

    def test_policy_is_versioned_and_checked(self):
        pol = self.stubs.finance.GetProvisionPolicy(fin.GetProvisionPolicyRequest(name="provisionPolicy"))
        pol = pol.provision_policy
        self.assertEqual(len(pol.percentages_bps), len(pol.bucket_bounds) + 2)
        new = fin.ProvisionPolicy(bucket_bounds=list(pol.bucket_bounds), percentages_bps=list(pol.percentages_bps),
                                  etag=pol.etag)
        upd = self.stubs.finance.UpdateProvisionPolicy(fin.UpdateProvisionPolicyRequest(
            provision_policy=new, request_id=rid())).provision_policy
        self.assertNotEqual(upd.etag, pol.etag)
        self.assertEqual(upd.update_by, "anonymous")
        d = h.expect_error(lambda: self.stubs.finance.UpdateProvisionPolicy(fin.UpdateProvisionPolicyRequest(
            provision_policy=new, request_id=rid())), C.ABORTED)   # the old etag
        self.assertDetails(d, reason="ETAG_MISMATCH")
        for bounds, bps, field in (([30, 60], [0, 100, 500], "provision_policy.percentages_bps"),   # 4 needed
                                   ([60, 30], [0, 1, 2, 3], "provision_policy.bucket_bounds"),
                                   ([30], [0, 500, 100], "provision_policy.percentages_bps"),
                                   ([30], [0, 100, 10001], "provision_policy.percentages_bps")):
            d = h.expect_error(lambda: self.stubs.finance.UpdateProvisionPolicy(fin.UpdateProvisionPolicyRequest(
                provision_policy=fin.ProvisionPolicy(bucket_bounds=bounds, percentages_bps=bps),
                request_id=rid())), C.INVALID_ARGUMENT)
            self.assertDetails(d, reason=None, fields=[field])
        d = h.expect_error(lambda: self.stubs.finance.RunProvision(fin.RunProvisionRequest(
            period="2099-01", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PERIOD_NOT_ENDED")

    # --- the whole flow ---------------------------------------------------------------------------------------------

    def test_provision_write_off_and_recovery(self):
        Y, cur = YEAR, self.cur
        fs = self.stubs.finance
        pol = fs.GetProvisionPolicy(fin.GetProvisionPolicyRequest()).provision_policy
        fs.UpdateProvisionPolicy(fin.UpdateProvisionPolicyRequest(provision_policy=fin.ProvisionPolicy(
            bucket_bounds=[30, 60, 90], percentages_bps=[0, 100, 500, 2000, 5000], etag=pol.etag), request_id=rid()))
        snap = self.customer()
        # at the end of June: A not due (due 07-10), E 19 days past due (1%), B 50 days (5%), D 61 days (20%, but a
        # specific 80%), C 111 days (50%)
        a = self.invoice(snap, 10_000_00, f"{Y}-06-20", 20)
        e = self.invoice(snap, 1_000_00, f"{Y}-06-01", 10)
        b = self.invoice(snap, 3_333_33, f"{Y}-05-01", 10)
        d_ = self.invoice(snap, 8_000_00, f"{Y}-04-20", 10)
        c = self.invoice(snap, 12_345_67, f"{Y}-03-01", 10)
        sp = fs.SetSpecificProvision(fin.SetSpecificProvisionRequest(
            invoice=d_, percentage_bps=8000, reason="customer in administration", request_id=rid())).specific_provision
        self.assertEqual((sp.invoice, sp.percentage_bps, sp.set_by), (d_, 8000, "anonymous"))
        err = h.expect_error(lambda: fs.SetSpecificProvision(fin.SetSpecificProvisionRequest(
            invoice=d_, percentage_bps=10001, reason="x", request_id=rid())), C.INVALID_ARGUMENT)
        self.assertDetails(err, reason=None, fields=["percentage_bps"])

        r, pc = self.provision(f"{Y}-06")
        self.assertEqual(self.buckets(pc), {
            "NOT_DUE": (10_000_00, 0, 0, 1),
            "1-30": (1_000_00, 100, 10_00, 1),
            "31-60": (3_333_33, 500, 166_67, 1),        # 166.6665 rounded half up
            "61-90": (0, 2000, 0, 0),                   # D has its specific provision
            "91+": (12_345_67, 5000, 6_172_84, 1),      # 6,172.835
            "SPECIFIC": (8_000_00, 0, 6_400_00, 1)})
        total = 10_00 + 166_67 + 6_172_84 + 6_400_00
        self.assertEqual((minor(pc.previous), minor(pc.required), minor(pc.raised), minor(pc.released)),
                         (0, total, total, 0))
        (pe,) = [x for x in self.entries(source=f"provisionRuns/{Y}-06") if x.lines[0].debit.currency_code == cur]
        self.assertEqual(pe.event, "PROVISION")
        self.assertEqual(tf.iso(pe.event_date), f"{Y}-06-30")
        self.assertEqual(self.lines(pe), [("1190", 0, total), ("6100", total, 0)])
        # a rerun: nothing new
        r, pc = self.provision(f"{Y}-06")
        self.assertEqual((minor(pc.previous), minor(pc.required), minor(pc.raised), minor(pc.released)),
                         (total, total, 0, 0))
        self.assertEqual(len([x for x in self.entries(source=f"provisionRuns/{Y}-06") if x.lines[0].debit.currency_code == cur]), 1)
        self.assertControls()

        # --- write-off of C: requested by finance, the requester cannot approve, a manager does ---------------------
        err = h.expect_error(lambda: self.request(c, 12_345_68, f"{Y}-07-05"), C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="WRITE_OFF_EXCEEDS_OPEN")
        wo = self.request(c, 12_345_67, f"{Y}-07-05")
        self.assertEqual((wo.state, wo.requested_by), ("REQUESTED", "anonymous"))
        err = h.expect_error(lambda: self.request(c, 1_00, f"{Y}-07-05"), C.ALREADY_EXISTS)
        self.assertDetails(err, reason="WRITE_OFF_PENDING")
        err = h.expect_error(lambda: fs.ApproveWriteOff(fin.ApproveWriteOffRequest(name=wo.name, request_id=rid())),
                             C.PERMISSION_DENIED)
        self.assertDetails(err, reason="APPROVER_IS_REQUESTER")
        self.assertEqual(self.entries(source=wo.name), [])
        # the database holds it too: the requester cannot be the one who decided
        with self.assertRaisesRegex(RuntimeError, "write_offs_four_eyes"):
            h.sql("UPDATE dtc.write_offs SET state = 'REJECTED', decided_by = requested_by, decide_time = now() "
                  "WHERE id = :'id'", id=wo.name.split("/")[1])
        done = self.approve(wo.name)
        self.assertEqual((done.state, done.decided_by), ("APPROVED", "fin.manager"))
        # the allowance held for C (6,172.84) first, the rest an expense
        self.assertEqual((minor(done.from_allowance), minor(done.expense)), (6_172_84, 6_172_83))
        (we,) = self.entries(source=wo.name)
        self.assertEqual((we.event, tf.iso(we.event_date), we.customer), ("WRITE_OFF", f"{Y}-07-05", snap.customer))
        self.assertEqual(self.lines(we), [("1100", 0, 12_345_67), ("1190", 6_172_84, 0), ("6100", 6_172_83, 0)])
        inv = self.get(c)
        self.assertEqual((inv.state, minor(inv.written_off_amount), minor(inv.open_amount), inv.overdue),
                         (dtc.INVOICE_STATE_WRITTEN_OFF, 12_345_67, 0, False))
        err = h.expect_error(lambda: self.approve(wo.name), C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="WRITE_OFF_DECIDED")

        # a rejected request posts nothing; a partial write-off of B (1,000.00: 166.67 from its allowance)
        rej = self.request(e, 1_000_00, f"{Y}-07-05")
        rej = self.direct.RejectWriteOff(fin.RejectWriteOffRequest(name=rej.name, note="still paying",
                                                                   request_id=rid()), metadata=MANAGER,
                                         timeout=10).write_off
        self.assertEqual(rej.state, "REJECTED")
        self.assertEqual(self.entries(source=rej.name), [])
        part = self.approve(self.request(b, 1_000_00, f"{Y}-07-05").name)
        self.assertEqual((minor(part.from_allowance), minor(part.expense)), (166_67, 833_33))
        inv = self.get(b)
        self.assertEqual((inv.state, minor(inv.written_off_amount), minor(inv.open_amount)),
                         (dtc.INVOICE_STATE_UNPAID, 1_000_00, 2_333_33))
        self.assertControls()

        # aging: C is gone, B ages its remaining 2,333.33 (60 days past due on 07-10), A 0-30, E 0-30, D 61-90
        self.assertEqual(self.aging(snap, f"{Y}-07-10"),
                         (0, [10_000_00 + 1_000_00, 2_333_33, 8_000_00, 0], 21_333_33))
        # before the write-off's date the report still shows C
        self.assertEqual(self.aging(snap, f"{Y}-07-04")[2], 21_333_33 + 1_000_00 + 12_345_67)
        # dunning: no notice for C; B's asks for what is left
        notices = self.stubs.dtc.RunDunning(dtc.RunDunningRequest(as_of_date=day(f"{Y}-07-10"),
                                                                  request_id=rid())).notices
        mine = {n.invoice: minor(n.open_amount) for n in notices if n.invoice in (a, b, c, d_, e)}
        self.assertNotIn(c, mine)
        self.assertEqual(mine[b], 2_333_33)

        # July's run: C holds nothing now; B 2,333.33 at 81 days (20%), A 21 days (1%), E 50 days (5%), D 80%
        r, pc = self.provision(f"{Y}-07")
        before = 6_400_00 + 10_00
        need = 466_67 + 100_00 + 50_00 + 6_400_00
        self.assertEqual((minor(pc.previous), minor(pc.required), minor(pc.raised), minor(pc.released)),
                         (before, need, need - before, 0))
        self.assertEqual(self.buckets(pc)["61-90"], (2_333_33, 2000, 466_67, 1))
        # D's specific provision cleared: at the end of August D (123 days) and B (112 days) are 91+, 50%
        fs.SetSpecificProvision(fin.SetSpecificProvisionRequest(invoice=d_, clear=True, request_id=rid()))
        r, pc = self.provision(f"{Y}-08")
        self.assertNotIn("SPECIFIC", self.buckets(pc))
        self.assertEqual(self.buckets(pc)["91+"], (2_333_33 + 8_000_00, 5000, 1_166_67 + 4_000_00, 2))
        self.assertControls()

        # --- recovery: cash later received on C ------------------------------------------------------------------
        rc = self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(receipt=dtc.Receipt(
            customer=snap.customer, amount=self.money(5_000_00), bank_account="ICBC-BAD",
            bank_reference=f"BD-{uuid.uuid4()}", value_date=day(f"{Y}-09-01")), request_id=rid())).receipt
        err = h.expect_error(lambda: self.stubs.dtc.ApplyReceipt(dtc.ApplyReceiptRequest(
            name=rc.name, request_id=rid(), allocations=[dtc.AllocationRequest(invoice=c,
                                                                               amount=self.money(1_00))])),
            C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="INVOICE_WRITTEN_OFF")
        rec = fs.RecordRecovery(fin.RecordRecoveryRequest(invoice=c, receipt=rc.name, amount=self.money(5_000_00),
                                                          recovery_date=day(f"{Y}-09-02"), request_id=rid()))
        self.assertEqual((minor(rec.written_off), minor(rec.recovered)), (12_345_67, 5_000_00))
        (re_,) = self.entries(source=rec.name)
        self.assertEqual((re_.event, tf.iso(re_.event_date)), ("RECOVERY", f"{Y}-09-02"))
        self.assertEqual(self.lines(re_), [("2100", 5_000_00, 0), ("4200", 0, 5_000_00)])
        inv = self.get(c)
        self.assertEqual((minor(inv.recovered_amount), minor(inv.open_amount)), (5_000_00, 0))
        self.assertEqual(minor(self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=rc.name)).receipt
                               .unapplied_amount), 0)
        err = h.expect_error(lambda: fs.RecordRecovery(fin.RecordRecoveryRequest(
            invoice=c, receipt=rc.name, amount=self.money(7_345_68), request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="RECOVERY_EXCEEDS_WRITTEN_OFF")
        err = h.expect_error(lambda: fs.RecordRecovery(fin.RecordRecoveryRequest(
            invoice=c, receipt=rc.name, amount=self.money(1_00), request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="INSUFFICIENT_UNAPPLIED_CASH")
        err = h.expect_error(lambda: self.stubs.dtc.BounceReceipt(dtc.BounceReceiptRequest(
            name=rc.name, reason="returned", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertDetails(err, reason="RECEIPT_HAS_RECOVERY")
        self.assertControls()


if __name__ == "__main__":
    h.main()
