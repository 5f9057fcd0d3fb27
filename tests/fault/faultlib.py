"""faultlib - a Jepsen-style "set" check of the lead-to-cash flow under faults, on real processes (scripts/stack).

A workload drives N deals through all four stages (LTB lead -> won bid, BTO quote -> contract -> order, OTD review ->
schedule -> shipment -> acceptance, DTC invoices -> payments) with W client threads through the gateway, while a fault
schedule runs: crash points inside the services (LTC_FAULT_POINTS: SIGKILL before a COMMIT, between a COMMIT and its
reply, between a relay's send and its mark), PostgreSQL killed -9 and restarted, a receiver stopped for longer than the
relay's retry cap, every hand-off delivered twice, concurrent conflicting client calls. A supervisor thread restarts
any stage process found dead (scripts/stack start NAME), as an orchestrator would.

Every client write is logged with its outcome:
  ok       the service answered OK (possibly after retries);
  fail     a definite refusal (FAILED_PRECONDITION, INVALID_ARGUMENT, ...): the write did not happen;
  unknown  only UNAVAILABLE / DEADLINE_EXCEEDED / UNKNOWN / INTERNAL / CANCELLED / RESOURCE_EXHAUSTED answers until the
           operation's time budget ran out: it may or may not have happened.
An attempt that ends "unknown" is retried with the SAME request_id, as a real client does (ABORTED too: the
transaction rolled back); the idempotency key makes the retry return the first answer if the first attempt committed.

After the workload, the faults stop, every process is restarted clean, and the outboxes are given a settle period to
drain. Then every service is read as the PostgreSQL superuser (harness.sql) and checked:
  - no acknowledged write lost: every ok op's effect is there, exactly once (a unique key per op: the lead's company
    name, the payment's reference, and one row per deal in every stage table);
  - no failed write applied, every unknown resolved to 0 or 1 effect;
  - nothing lost between stages: LTB won <=> BTO deal, BTO order <=> OTD order, OTD accepted shipment <=> DTC delivery,
    DTC closed account <=> BTO order closed <=> LTB cash collected;
  - amounts conserved: won = ordered (BTO) = received (OTD) = delivered = invoiced; collected = paid invoices =
    payments = BTO collected = LTB collected;
  - exactly one outbox row per hand-off event (won bid, order to OTD, order placed to DTC, delivery, closures), no
    outbox row pending, none parked; every placed order has its DTC order account;
  - the finance subledger (docs/finance.md): every journal entry balances, each currency's trial balance is zero,
    receivables = open invoices and unapplied cash = receipts' unapplied cash.

Used by run_fault.py (the CLI and ctest entry); see docs/testing.md.
"""

import collections
import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE.parent / "integration"))

import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

# These tests drive the stack in plaintext without authentication (the security tests run it secure: tests/security).
os.environ.setdefault("LTC_STACK_SECURITY", "off")

C = grpc.StatusCode
SERVICES = h.SERVICES                     # ("ltb", "bto", "otd", "dtc")
CURRENCY = "CNY"
# The catalogue of a run: two products; a deal buys QTY_A of A and QTY_B of B.
PRICE_A, PRICE_B = 123456, 50000
QTY_A, QTY_B = 2, 1
DEAL_TOTAL = PRICE_A * QTY_A + PRICE_B * QTY_B
TERMS = (("PAYMENT_TERM_KIND_ADVANCE", 3000, 0), ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 6000, 30),
         ("PAYMENT_TERM_KIND_RETENTION", 1000, 365))

UNKNOWN_CODES = frozenset({C.UNAVAILABLE, C.DEADLINE_EXCEEDED, C.UNKNOWN, C.INTERNAL, C.CANCELLED,
                           C.RESOURCE_EXHAUSTED})
CALL_TIMEOUT_S = 5.0          # deadline of one attempt
OP_BUDGET_S = 90.0            # an op is retried (same request_id) for this long before it is left "unknown"
WAIT_BUDGET_S = 120.0         # a deal waits this long for a hand-off to land
SETTLE_S = 90.0               # after the faults: time for the outboxes to drain

# The hand-off events of one completed deal, per sender: (schema, method suffix) -> rows.
HANDOFFS = (("ltb", "/ltc.bto.v1.IntakeService/AcceptWonBid"),
            ("bto", "/ltc.otd.v1.IntakeService/AcceptOrder"),
            ("otd", "/ltc.dtc.v1.IntakeService/AcceptDelivery"),
            ("dtc", "/ltc.bto.v1.IntakeService/AcceptOrderClosure"),
            ("dtc", "/ltc.ltb.v1.IntakeService/AcceptCashCollected"),
            ("bto", "/ltc.dtc.v1.IntakeService/AcceptOrderPlaced"))
MARGIN_BPS = 2500             # the expected margin given at admission: above the policy's default minimum (1000)


def say(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------------------------------------------------------
# History
# ------------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Op:
    """One client write and what the client learnt of it."""
    deal: int
    kind: str                 # CreateLead, MarkBidWon, RecordPayment, ...
    request_id: str
    key: str = ""             # the op's own unique effect key (company name, payment reference), when it has one
    outcome: str = "pending"  # ok | fail | unknown
    code: str = ""            # final gRPC code name
    attempts: int = 0
    unknowns: int = 0         # attempts answered with an outcome-unknown code
    aborts: int = 0           # attempts answered ABORTED (rolled back, retried)
    conflict: str = ""        # the conflict pair this op belongs to ("" when none)
    t0: float = 0.0
    t1: float = 0.0


class History:
    """Every op of a run, thread-safe, written as JSON lines at the end."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.events = []        # (t, what): faults and supervisor actions
        self.t0 = time.monotonic()

    def add(self, op):
        with self.lock:
            self.ops.append(op)

    def event(self, what):
        t = time.monotonic() - self.t0
        with self.lock:
            self.events.append((round(t, 3), what))
        say(f"  [{t:7.2f}s] {what}")

    def write(self, path):
        with open(path, "w") as f:
            for t, what in self.events:
                f.write(json.dumps({"event": what, "t": t}) + "\n")
            for op in self.ops:
                f.write(json.dumps(dataclasses.asdict(op)) + "\n")


class Abandon(Exception):
    """A deal cannot go on: an op ended fail/unknown, or a hand-off never landed. `op`: the op, when one ended so."""

    def __init__(self, msg, op=None):
        super().__init__(msg)
        self.op = op


# ------------------------------------------------------------------------------------------------------------------
# Client calls: writes with the same request_id on unknown outcomes, reads that wait for hand-offs
# ------------------------------------------------------------------------------------------------------------------

class Client:
    def __init__(self, stubs, history, stop_event):
        self.s = stubs
        self.hist = history
        self.stop = stop_event

    def write(self, deal, kind, method, req, key="", conflict="", budget=OP_BUDGET_S, barrier=None):
        """Calls `method(req)` until it answers OK or a definite error, retrying outcome-unknown answers and ABORTED
        with the same request (same request_id). Returns the response; raises Abandon on fail/unknown."""
        op = Op(deal=deal, kind=kind, request_id=req.request_id, key=key, conflict=conflict, t0=time.monotonic())
        self.hist.add(op)
        deadline = op.t0 + budget
        delay = 0.05
        if barrier is not None:
            barrier.wait()
        while True:
            op.attempts += 1
            try:
                resp = method(req, timeout=CALL_TIMEOUT_S)
                op.outcome, op.code, op.t1 = "ok", "OK", time.monotonic()
                return resp
            except grpc.RpcError as e:
                code = e.code()
                op.code = code.name
                if code in UNKNOWN_CODES:
                    op.unknowns += 1
                elif code == C.ABORTED:
                    op.aborts += 1
                else:
                    op.outcome, op.t1 = "fail", time.monotonic()
                    raise Abandon(f"{kind} {lc.describe_error(e)}", op) from None
                if time.monotonic() >= deadline or self.stop.is_set():
                    # ABORTED only: nothing committed. Any unknown answer: it may have.
                    op.outcome = "unknown" if op.unknowns else "fail"
                    op.t1 = time.monotonic()
                    raise Abandon(f"{kind} still {code.name} after {op.attempts} attempts", op) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)

    def read(self, fn, what, budget=WAIT_BUDGET_S, pred=None):
        """Calls fn() until it returns something (and pred(result) holds), tolerating NOT_FOUND (the hand-off has not
        landed) and outcome-unknown codes (a process restarting)."""
        deadline = time.monotonic() + budget
        delay = 0.02
        last = ""
        while True:
            try:
                v = fn()
                if pred is None or pred(v):
                    return v
                last = "condition not met"
            except grpc.RpcError as e:
                if e.code() != C.NOT_FOUND and e.code() not in UNKNOWN_CODES and e.code() != C.ABORTED:
                    raise Abandon(f"waiting for {what}: {lc.describe_error(e)}") from None
                last = lc.describe_error(e)
            if time.monotonic() >= deadline or self.stop.is_set():
                raise Abandon(f"timed out waiting for {what} ({last})")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


# ------------------------------------------------------------------------------------------------------------------
# The workload: one deal from lead to cash
# ------------------------------------------------------------------------------------------------------------------

def rid():
    return lc.new_id()


class Workload:
    """Drives `n` deals with `workers` threads. `conflict_share` of the deals (chosen by the seeded RNG) run one of
    the conflict pairs at their step: two MarkBidWon, two RecordAcceptance, two full payments of one invoice (each
    with its own request_id), or the same payment sent twice at once with the same request_id."""

    CONFLICTS = ("mark_won_twice", "accept_twice", "pay_twice", "same_payment_twice")

    def __init__(self, stubs, history, tag, n, workers, seed, conflict_share=0.0, time_limit_s=600.0):
        self.s = stubs
        self.hist = history
        self.tag = tag
        self.n = n
        self.workers = workers
        self.seed = seed
        self.conflict_share = conflict_share
        self.time_limit_s = time_limit_s
        self.stop = threading.Event()
        self.cl = Client(stubs, history, self.stop)
        self.lock = threading.Lock()
        self.next = 0
        self.done = 0                       # deals finished (complete or abandoned)
        self.complete = []                  # indices of deals paid in full
        self.abandoned = {}                 # index -> reason
        self.deals = {}                     # index -> dict of names and amounts
        self.conflicts = collections.Counter()
        self.conflict_results = collections.Counter()   # (kind, "ok+FAILED_PRECONDITION") -> n
        self.products = None

    # --- set-up: the catalogue and a production line of the run ---
    def prepare(self):
        prods = []
        for suffix, price, lead in (("A", PRICE_A, 20), ("B", PRICE_B, 10)):
            req = lc.bto.CreateProductRequest(
                product=lc.bto.Product(sku=f"FLT-{self.tag}-{suffix}", display_name=f"Fault product {suffix}",
                                       list_price=lc.money(price, CURRENCY), unit_cost=lc.money(price // 2, CURRENCY),
                                       lead_time_days=lead), request_id=rid())
            prods.append(self.cl.write(-1, "CreateProduct", self.s.bto.CreateProduct, req).product.name)
        self.products = prods
        req = lc.otd.CreateResourceRequest(resource=lc.otd.Resource(display_name=f"Fault line {self.tag}",
                                                                    daily_capacity=1000000000), request_id=rid())
        self.cl.write(-1, "CreateResource", self.s.otd.CreateResource, req)

    def company(self, i):
        return f"FaultCo {self.tag} {i:06d}"

    def _conflict_of(self, i):
        r = random.Random(self.seed * 1000003 + i)
        if self.conflict_share and r.random() < self.conflict_share:
            return r.choice(self.CONFLICTS)
        return ""

    def _pair(self, i, kind, method, req_a, req_b, label, keys=("", "")):
        """Sends two requests at once (a barrier releases both); returns [(outcome, code, resp)] in order."""
        barrier = threading.Barrier(2)
        out = [None, None]

        def one(k, req):
            try:
                out[k] = ("ok", "OK", self.cl.write(i, kind, method, req, key=keys[k], conflict=label,
                                                    barrier=barrier))
            except Abandon as e:
                out[k] = (e.op.outcome, e.op.code, None) if e.op else ("unknown", "?", None)

        ts = [threading.Thread(target=one, args=(k, r)) for k, r in enumerate((req_a, req_b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = "+".join(sorted(o[1] for o in out))
        with self.lock:
            self.conflicts[label] += 1
            self.conflict_results[(label, codes)] += 1
        return out

    def _one_winner(self, i, label, out, loser_codes=("FAILED_PRECONDITION", "ABORTED")):
        """A conflict pair: exactly one OK; the other refused with one of loser_codes (checked again in the DB)."""
        oks = [o for o in out if o[0] == "ok"]
        if len(oks) != 1:
            raise AssertionError(f"deal {i} {label}: {len(oks)} winners: {[(o[0], o[1]) for o in out]}")
        loser = [o for o in out if o[0] != "ok"][0]
        if loser[0] == "unknown":
            return oks[0][2]    # the checker resolves it (0 or 1 effect); the winner's deal goes on
        if loser[1] not in loser_codes:
            raise AssertionError(f"deal {i} {label}: the loser got {loser[1]}, expected one of {loser_codes}")
        return oks[0][2]

    def run_deal(self, i):
        s, w, d = self.s, self.cl.write, {}
        self.deals[i] = d
        conflict = self._conflict_of(i)
        d["conflict"] = conflict
        d["company"] = self.company(i)
        # LTB
        lead = w(i, "CreateLead", s.ltb.CreateLead, lc.ltb.CreateLeadRequest(
            lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_REFERRAL, company_name=d["company"], contact_name="Li Lei"),
            request_id=rid()), key=d["company"]).lead
        d["lead"] = lead.name
        opp = w(i, "QualifyLead", s.ltb.QualifyLead, lc.ltb.QualifyLeadRequest(
            name=lead.name, opportunity_title="Sorting line",
            iron_triangle=lc.types.IronTriangle(account_owner="ar.f", solution_owner="sr.f", fulfilment_owner="fr.f"),
            expected_amount=lc.money(DEAL_TOTAL, CURRENCY), expected_close_date=lc.days_ahead(30),
            win_probability_bps=5000,
            requirements=[lc.ltb.Requirement(code="CELLS", description="two cells", quantity=2)],
            customer_country_code="CN", request_id=rid())).opportunity   # the customer is created from the lead
        d["deal"] = "deals/" + lc.name_id(opp.name)
        d["deal_id"] = lc.name_id(opp.name)
        # the order-admission gate before the bid; DTC down answers REFUSED (CREDIT_SERVICE_UNAVAILABLE): ask again
        self._credit_gate(
            i, "RequestOrderAdmission", s.ltb.RequestOrderAdmission,
            lambda: lc.ltb.RequestOrderAdmissionRequest(opportunity=opp.name, amount=lc.money(DEAL_TOTAL, CURRENCY),
                                                        expected_margin_bps=MARGIN_BPS, request_id=rid()),
            passed=lambda r: r.decision.outcome == lc.ltb.ADMISSION_OUTCOME_ADMITTED,
            reasons=lambda r: [x for c in r.decision.checks if not c.passed for x in c.reasons])
        bid = w(i, "CreateBid", s.ltb.CreateBid, lc.ltb.CreateBidRequest(
            bid=lc.ltb.Bid(opportunity=opp.name, amount=lc.money(DEAL_TOTAL, CURRENCY)), request_id=rid())).bid
        d["bid"] = bid.name
        if conflict == "mark_won_twice":
            out = self._pair(i, "MarkBidWon", s.ltb.MarkBidWon, lc.ltb.MarkBidWonRequest(name=bid.name, request_id=rid()),
                             lc.ltb.MarkBidWonRequest(name=bid.name, request_id=rid()), conflict)
            self._one_winner(i, conflict, out)
        else:
            w(i, "MarkBidWon", s.ltb.MarkBidWon, lc.ltb.MarkBidWonRequest(name=bid.name, request_id=rid()))
        d["won"] = True
        # BTO
        self.cl.read(lambda: s.bto.GetDeal(lc.bto.GetDealRequest(name=d["deal"]), timeout=CALL_TIMEOUT_S),
                     f"BTO deal {d['deal']}")
        a, b = self.products
        q = w(i, "CreateQuote", s.bto.CreateQuote, lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=d["deal"], valid_until=lc.days_ahead(30),
                               lines=[lc.bto.QuoteLine(product=a, quantity=QTY_A),
                                      lc.bto.QuoteLine(product=b, quantity=QTY_B)]),
            request_id=rid())).quote
        if lc.to_minor(q.total) != DEAL_TOTAL:
            raise AssertionError(f"deal {i}: quote total {lc.to_minor(q.total)} != {DEAL_TOTAL}")
        w(i, "AcceptQuote", s.bto.AcceptQuote, lc.bto.AcceptQuoteRequest(name=q.name, request_id=rid()))
        terms = [lc.types.PaymentTerm(kind=lc.types.PaymentTermKind.Value(k), share_bps=bps, due_days=days)
                 for k, bps, days in TERMS]
        c = w(i, "CreateContract", s.bto.CreateContract, lc.bto.CreateContractRequest(
            contract=lc.bto.Contract(quote=q.name, payment_terms=terms, requested_delivery_date=lc.days_ahead(60)),
            request_id=rid())).contract
        w(i, "SignContract", s.bto.SignContract, lc.bto.SignContractRequest(name=c.name, signed_by="Zhao Min",
                                                                              request_id=rid()))
        o = w(i, "CreateOrder", s.bto.CreateOrder, lc.bto.CreateOrderRequest(contract=c.name, request_id=rid())).order
        d["order"] = o.name
        d["ordered"] = lc.to_minor(o.total)
        # OTD
        oo = self.cl.read(lambda: s.otd.GetOrder(lc.otd.GetOrderRequest(name=o.name), timeout=CALL_TIMEOUT_S).order,
                          f"OTD order {o.name}")
        lines = [(ln.product, ln.quantity) for ln in oo.lines]
        w(i, "ReviewOrder", s.otd.ReviewOrder, lc.otd.ReviewOrderRequest(name=o.name, approved=True, comment="ok",
                                                                          request_id=rid()))
        # DTC down at release: the order waits in CREDIT_HOLD (CREDIT_SERVICE_UNAVAILABLE), an OK answer: ask again
        self._credit_gate(i, "ReleaseOrder", s.otd.ReleaseOrder,
                          lambda: lc.otd.ReleaseOrderRequest(name=o.name, request_id=rid()),
                          passed=lambda r: r.order.state == lc.otd.ORDER_STATE_RELEASED,
                          reasons=lambda r: list(r.order.credit_hold_reasons))
        w(i, "ScheduleOrder", s.otd.ScheduleOrder, lc.otd.ScheduleOrderRequest(name=o.name, request_id=rid()))
        sh = w(i, "CreateShipment", s.otd.CreateShipment, lc.otd.CreateShipmentRequest(
            shipment=lc.otd.Shipment(order=o.name, lines=[lc.otd.ShipmentLine(product=p, quantity=n)
                                                          for p, n in lines]),
            request_id=rid())).shipment
        d["shipment"] = sh.name
        acc = lambda: lc.otd.RecordAcceptanceRequest(name=sh.name, accepted=True, note="accepted",  # noqa: E731
                                                     request_id=rid())
        if conflict == "accept_twice":
            self._one_winner(i, conflict, self._pair(i, "RecordAcceptance", s.otd.RecordAcceptance, acc(), acc(),
                                                     conflict))
        else:
            w(i, "RecordAcceptance", s.otd.RecordAcceptance, acc())
        d["accepted"] = True
        # DTC
        invs = self.cl.read(lambda: self._invoices(o.name), f"DTC invoices of {o.name}",
                            pred=lambda v: sum(lc.to_minor(x.amount) for x in v) == DEAL_TOTAL)
        d["invoices"] = [(x.name, lc.to_minor(x.amount)) for x in invs]
        pay_conflict_at = len(invs) - 1      # the pair goes on the last invoice: it also races the closure
        for k, inv in enumerate(invs):
            amount = lc.to_minor(inv.amount)

            def pay(ref, req_id=None):
                return lc.dtc.RecordPaymentRequest(payment=lc.dtc.Payment(invoice=inv.name,
                                                                          amount=lc.money(amount, CURRENCY),
                                                                          reference=ref), request_id=req_id or rid())
            ref = f"P-{self.tag}-{i}-{k}"
            if k == pay_conflict_at and conflict == "pay_twice":
                self._one_winner(i, conflict, self._pair(i, "RecordPayment", s.dtc.RecordPayment, pay(ref + "a"),
                                                         pay(ref + "b"), conflict, keys=(ref + "a", ref + "b")))
            elif k == pay_conflict_at and conflict == "same_payment_twice":
                same = pay(ref)
                out = self._pair(i, "RecordPayment", s.dtc.RecordPayment, same, same, conflict, keys=(ref, ref))
                if [o[0] for o in out] != ["ok", "ok"] or out[0][2] != out[1][2]:
                    raise AssertionError(f"deal {i} {conflict}: {[(o[0], o[1]) for o in out]}, responses "
                                         f"{'equal' if out[0][2] == out[1][2] else 'differ'}")
            else:
                w(i, "RecordPayment", s.dtc.RecordPayment, pay(ref), key=ref)
        d["paid"] = True

    def _credit_gate(self, i, kind, method, make_req, passed, reasons, budget=OP_BUDGET_S):
        """A write whose OK answer may still say no because DTC did not answer the credit check (an admission
        REFUSED, an order in CREDIT_HOLD, with CREDIT_SERVICE_UNAVAILABLE): asked again with a new request_id until
        it passes. Any other reason is a violation: these deals' customers have no limit and no hold."""
        deadline = time.monotonic() + budget
        while True:
            resp = self.cl.write(i, kind, method, make_req())
            if passed(resp):
                return resp
            why = sorted(set(reasons(resp)))
            if why != ["CREDIT_SERVICE_UNAVAILABLE"]:
                raise AssertionError(f"deal {i}: {kind} refused for {why}")
            if time.monotonic() >= deadline or self.stop.is_set():
                raise Abandon(f"{kind}: the credit service did not answer for {budget:.0f} s")
            time.sleep(0.5)

    def _invoices(self, order):
        return list(self.s.dtc.ListInvoices(lc.dtc.ListInvoicesRequest(order=order, page_size=100),
                                            timeout=CALL_TIMEOUT_S).invoices)

    def _worker(self, t_end):
        while True:
            with self.lock:
                if self.next >= self.n or time.monotonic() > t_end or self.stop.is_set():
                    return
                i = self.next
                self.next += 1
            try:
                self.run_deal(i)
                with self.lock:
                    self.complete.append(i)
            except Abandon as e:
                with self.lock:
                    self.abandoned[i] = str(e)
                say(f"  deal {i} abandoned: {e}")
            except AssertionError as e:
                with self.lock:
                    self.abandoned[i] = "VIOLATION " + str(e)
                say(f"  deal {i}: VIOLATION {e}")
            except Exception as e:    # a bug in the test itself: keep the run going, fail at the end
                with self.lock:
                    self.abandoned[i] = f"ERROR {type(e).__name__}: {e}"
                say(f"  deal {i}: ERROR {type(e).__name__}: {e}")
            with self.lock:
                self.done += 1

    def progress(self):
        with self.lock:
            return self.done / self.n if self.n else 1.0

    def run(self):
        t_end = time.monotonic() + self.time_limit_s
        ts = [threading.Thread(target=self._worker, args=(t_end,), daemon=True) for _ in range(self.workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


# ------------------------------------------------------------------------------------------------------------------
# The stack: processes with a per-case environment, a supervisor, and fault actions
# ------------------------------------------------------------------------------------------------------------------

def stack_run(args, env=None, check=True, timeout=120):
    e = os.environ.copy()
    e.update(env or {})
    p = subprocess.run([str(h.STACK), *args], env=e, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"scripts/stack {' '.join(args)} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def pid_alive(pid):
    """True when process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


REPLICA_PORT_STEP = 15      # scripts/stack: replica K of a process (ltb2, gateway3 ...) listens on its port + 15 x (K - 1)
REPLICA_NAMES = tuple(f"{x}{k}" for k in (2, 3) for x in SERVICES + ("gateway",))


def base_of(name):
    """The process of a replica's name: ltb2, ltb3 -> ltb; gateway2 -> gateway."""
    return name[:-1] if name in REPLICA_NAMES else name


def replica_of(name):
    """K of replica K (ltb3 -> 3); 1 for a process's own name."""
    return int(name[-1]) if name in REPLICA_NAMES else 1


def replicas():
    """How many replicas of each process the stack runs (scripts/stack records it at `up`)."""
    try:
        return int((h.state_dir() / "run" / "replicas").read_text().strip() or 1)
    except (OSError, ValueError):
        return 1


def stage_procs():
    """The stage processes of the stack: every service, and its further replicas when it runs several."""
    return SERVICES + tuple(f"{x}{k}" for k in range(2, replicas() + 1) for x in SERVICES)


def gateway_procs():
    """The gateway and its further replicas."""
    return ("gateway",) + tuple(f"gateway{k}" for k in range(2, replicas() + 1))


def pid_of(name):
    """The pid of a stack process when it is alive (not a zombie) and really ltc-NAME, else None."""
    try:
        pid = int((h.state_dir() / "run" / f"{name}.pid").read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return None
    if not any(a.rsplit(b"/", 1)[-1] == f"ltc-{base_of(name)}".encode() for a in cmd[:2]):
        return None
    return pid


ENV_FILE = "fault-env.json"


def stack_ports(name=None):
    """The ports a process of this stack listens on (gRPC and metrics), or all of the stack's with PostgreSQL."""
    o = h.offset()
    names = [name] if name else list(h.PROCESSES) + list(REPLICA_NAMES)
    ports = []
    for n in names:
        if base_of(n) != n:     # a replica: no metrics endpoint
            ports.append(h.DEFAULT_PORTS[base_of(n)] + o + REPLICA_PORT_STEP * (replica_of(n) - 1))
            continue
        ports += [h.DEFAULT_PORTS[n] + o, h.DEFAULT_PORTS[n] + o + 1000]
    if not name:
        ports.append(h.DEFAULT_PORTS["postgres"] + o)
    return ports


def busy_ports(ports):
    """The ports of `ports` something already listens on (127.0.0.1)."""
    import socket
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sk:
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sk.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def require_free_ports(ports, what, wait_s=10.0):
    """Fails when another program holds one of the ports (after `wait_s`: a process of ours that was just killed may
    still be closing its sockets): a stack on a colliding LTC_PORT_OFFSET would otherwise answer for ours (its health
    probe would pass) and the test would drive someone else's processes."""
    t_end = time.monotonic() + wait_s
    while True:
        busy = busy_ports(ports)
        if not busy or time.monotonic() >= t_end:
            break
        time.sleep(0.2)
    if busy:
        raise RuntimeError(f"{what}: ports {busy} are already in use (another stack on a colliding LTC_PORT_OFFSET?"
                           f" offsets that differ by 1-3, 10-13 or 987-1013 share ports); choose another offset")


class Stack:
    """The processes' environments (per service) and a supervisor that restarts dead stage processes."""

    def __init__(self, history):
        self.hist = history
        self.env = {}                           # service -> extra environment it runs with
        self.held = set()                       # deliberately down: not restarted
        self.pg_down = threading.Event()
        self.sup_busy = threading.Lock()        # held by the supervisor while it restarts something
        self.restarts = collections.Counter()
        self.sup_stop = threading.Event()
        self.sup = None
        self.pauses = []                        # (name, from, to) of each pause, in the database's clock
        self.proxy = None                       # PgProxy between the services and PostgreSQL (db_partition)
        self.partition_probes = []              # (service, code, seconds) of the calls made during a partition
        self.lock = threading.Lock()
        try:
            self.running_env = json.loads((h.state_dir() / ENV_FILE).read_text())
        except (OSError, ValueError):
            self.running_env = {}

    def _save(self):
        (h.state_dir() / ENV_FILE).write_text(json.dumps(self.running_env, sort_keys=True))

    def start(self, name, check=True):
        if not pid_of(name):
            require_free_ports(stack_ports(name), f"starting {name}")
        p = stack_run(["start", name], env=self.env.get(name, {}), check=False)
        if p.returncode == 0 or pid_of(name):
            with self.lock:
                self.running_env[name] = self.env.get(name, {})
                self._save()
        elif check:
            raise RuntimeError(f"scripts/stack start {name} failed:\n{p.stdout}{p.stderr}")
        return p.returncode == 0

    def apply(self, env_by_service, base_env):
        """Restarts (SIGTERM, then start) every stage process whose environment differs from what it should run
        with; the processes are restarted side by side."""
        todo = []
        for name in stage_procs():
            want = dict(base_env)
            want.update(env_by_service.get(base_of(name), {}))
            self.env[name] = want
            if self.running_env.get(name) != want or not pid_of(name):
                todo.append(name)

        def restart(name):
            stack_run(["stop", name], check=False)
            self.start(name, check=False)

        ts = [threading.Thread(target=restart, args=(n,)) for n in todo]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for name in todo:
            if not pid_of(name):
                self.start(name)          # once more, and fail loudly this time
        for name in SERVICES + ("gateway",):
            h.wait_ready(name)

    def supervise(self):
        self.sup_stop.clear()
        self.sup = threading.Thread(target=self._supervisor, daemon=True)
        self.sup.start()

    def unsupervise(self):
        self.sup_stop.set()
        if self.sup:
            self.sup.join()

    def _supervisor(self):
        while not self.sup_stop.wait(0.2):
            with self.sup_busy:
                if self.pg_down.is_set():
                    continue
                for name in stage_procs():
                    if name in self.held or pid_of(name):
                        continue
                    self.restarts[name] += 1
                    self.hist.event(f"supervisor: {name} dead, restarting")
                    try:
                        self.start(name, check=False)
                    except Exception as e:      # never let the supervisor die: the next round tries again
                        self.hist.event(f"supervisor: restarting {name} failed: {e}")

    # --- fault actions for the schedule ---
    def kill_postgres(self, down_s):
        """SIGKILL of PostgreSQL (postmaster and every backend at once), started again `down_s` later. The supervisor
        holds off while PostgreSQL is down, and resumes whatever happens here: a failed start is retried, and the
        flag is always cleared (a start that raised once left it set, and no dead service was restarted again)."""
        self.pg_down.set()
        # a restart already under way finishes first: PostgreSQL killed during its migrations would leave it waiting
        # for the database while holding scripts/stack's set-up lock (scripts/stack now starts PostgreSQL again in that
        # case, but the fault here is PostgreSQL's death, not that race)
        with self.sup_busy:
            pass
        try:
            self.hist.event("kill -9 postgres")
            stack_run(["kill", "postgres"])
            time.sleep(down_s)
            for attempt in range(3):
                p = stack_run(["start", "postgres"], check=False)
                if p.returncode == 0:
                    break
                self.hist.event(f"start postgres failed (attempt {attempt + 1}): {(p.stdout + p.stderr)[-300:]}")
                time.sleep(1.0)
            else:
                raise RuntimeError("scripts/stack start postgres failed three times")
            self.hist.event("postgres restarted")
        finally:
            self.pg_down.clear()

    def outage(self, name, down_s):
        self.held.add(name)
        self.hist.event(f"stop {name} for {down_s:.1f} s")
        stack_run(["stop", name])
        time.sleep(down_s)
        self.start(name, check=False)
        self.held.discard(name)
        self.hist.event(f"{name} back")

    def kill(self, name):
        self.hist.event(f"kill -9 {name}")
        stack_run(["kill", name], check=False)

    def partition(self, down_s):
        """The database path goes silent for `down_s` (self.proxy: the services reach PostgreSQL through it). Probes
        through the gateway (reads on BTO and DTC, a 20 s deadline) measure how long a call takes to answer
        UNAVAILABLE (self.partition_probes: (service, code, seconds))."""
        self.proxy.partition()
        self.hist.event(f"database partitioned for {down_s:.1f} s")
        t_end = time.monotonic() + down_s
        stubs = h.gateway()

        def probe(svc, fn):
            t0 = time.monotonic()
            try:
                fn()
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            self.partition_probes.append((svc, code, round(time.monotonic() - t0, 2)))

        missing = "00000000-0000-4000-8000-00000000dead"
        ps = [threading.Thread(target=probe, args=("bto", lambda: stubs.bto.GetDeal(
                  lc.bto.GetDealRequest(name=f"deals/{missing}"), timeout=20))),
              threading.Thread(target=probe, args=("dtc", lambda: stubs.dtc.ListInvoices(
                  lc.dtc.ListInvoicesRequest(order=f"orders/{missing}", page_size=1), timeout=20)))]
        time.sleep(0.5)              # idle connections too: the probes' statements are sent into the silence
        for t in ps:
            t.start()
        for t in ps:
            t.join()
        stubs.close()
        time.sleep(max(0.0, t_end - time.monotonic()))
        self.proxy.heal()
        self.hist.event("database partition healed")

    def pause(self, name, paused_s):
        """SIGSTOP of a stage process for `paused_s`, then SIGCONT: a receiver that hangs (its connections stay open,
        calls to it wait for their deadline) rather than one that is down. Records the pause in the database's clock
        (self.pauses: (name, from, to)), so that hand-off latencies can be judged against it."""
        pid = pid_of(name)
        if not pid:
            raise RuntimeError(f"pause {name}: not running")
        self.held.add(name)
        t0 = h.sql_value("SELECT now()")
        os.kill(pid, signal.SIGSTOP)
        self.hist.event(f"SIGSTOP {name} for {paused_s:.1f} s")
        try:
            time.sleep(paused_s)
        finally:
            os.kill(pid, signal.SIGCONT)
            t1 = h.sql_value("SELECT now()")
            self.held.discard(name)
            self.pauses.append((name, t0, t1))
            self.hist.event(f"SIGCONT {name}")


class PgProxy:
    """A TCP proxy on loopback between the services and PostgreSQL that can partition them: `partition()` makes it a
    black hole (it keeps accepting connections and reading, and forwards nothing either way: PostgreSQL is neither
    stopped nor refusing, it just never answers, as behind a cut network path), `heal()` resets the connections it
    swallowed (as the peers' TCP stacks would give up on them) and forwards again."""

    def __init__(self, listen_port, pg_port):
        import socket
        self.pg_port = pg_port
        self.port = listen_port
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", listen_port))
        self.ls.listen(128)
        self.silent = threading.Event()
        self.stopped = threading.Event()
        self.conns = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.stopped.is_set():
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.pg_port), timeout=5)
                up.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns.add((c, up))
            threading.Thread(target=self._pump, args=(c, up), daemon=True).start()

    def _pump(self, a, b):
        import select
        try:
            while not self.stopped.is_set():
                r, _, _ = select.select([a, b], [], [], 0.2)
                for src in r:
                    data = src.recv(65536)
                    if not data:
                        return
                    if not self.silent.is_set():
                        (b if src is a else a).sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.discard((a, b))
            for sk in (a, b):
                try:
                    sk.close()
                except OSError:
                    pass

    def _reset_all(self):
        import socket
        import struct
        with self.lock:
            conns = list(self.conns)
        for a, b in conns:
            for sk in (a, b):
                try:
                    sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sk.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def partition(self):
        self.silent.set()

    def heal(self):
        self._reset_all()
        self.silent.clear()

    def close(self):
        self.stopped.set()
        self._reset_all()
        try:
            self.ls.close()
        except OSError:
            pass


def handoff_latency(sender, destination, t_from, t_to):
    """(rows, p50 s, max s) of the hand-offs `sender` wrote to `destination` between the database times t_from and
    t_to: the time from the row's transaction to its delivery."""
    r = h.sql(f"SELECT count(*), coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lat), 0),"
              f" coalesce(max(lat), 0) FROM (SELECT extract(epoch FROM delivered_time - create_time) AS lat"
              f" FROM {sender}.outbox WHERE destination = :'d' AND create_time BETWEEN :'a' AND :'b'"
              f" AND delivered_time IS NOT NULL) x", d=destination, a=t_from, b=t_to)[0]
    return int(r[0]), round(float(r[1]), 3), round(float(r[2]), 3)


def log_offsets(names=None):
    """The size of each process's log (the stage processes', or those named), to read what they log from here."""
    out = {}
    for name in names or stage_procs():
        p = h.state_dir() / "logs" / f"{name}.log"
        out[name] = p.stat().st_size if p.exists() else 0
    return out


def rpc_counts(since):
    """How many calls each process of `since` (its log offsets) logged since then (its "event":"rpc" lines)."""
    n = {}
    for name, off in since.items():
        p = h.state_dir() / "logs" / f"{name}.log"
        n[name] = 0
        if p.exists():
            with open(p, "rb") as f:
                f.seek(off)
                n[name] = sum(1 for line in f if b'"event":"rpc"' in line)
    return n


def crash_counts(since):
    """Crash points that fired since the log offsets `since`, per service and point (from the services' logs)."""
    n = collections.Counter()
    for name in stage_procs():
        p = h.state_dir() / "logs" / f"{name}.log"
        if not p.exists():
            continue
        with open(p, "rb") as f:
            f.seek(since.get(name, 0))
            for line in f:
                if b"fault_crash" in line:
                    m = re.search(rb"crash point ([a-z_.]+)", line)
                    n[(base_of(name), m.group(1).decode() if m else "?")] += 1
    return n


def intake_served(since):
    """How many times each hand-off was served OK by its receiver since the log offsets `since`: {handoff_id: n}.
    (The relay sends a hand-off's id as the call's x-request-id, which the receiver logs with every call.)"""
    n = collections.Counter()
    rx = re.compile(r"/ltc\.[a-z]+\.v1\.IntakeService/[A-Za-z]+")
    for name in stage_procs():
        p = h.state_dir() / "logs" / f"{name}.log"
        if not p.exists():
            continue
        with open(p, "rb") as f:
            f.seek(since.get(name, 0))
            for line in f:
                if b"IntakeService" in line and b'"event":"rpc"' in line:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue   # a line cut by a crash
                    if e.get("code") == "OK" and rx.fullmatch(e.get("method", "")) and e.get("request_id"):
                        n[e["request_id"]] += 1
    return n


# ------------------------------------------------------------------------------------------------------------------
# Reading the services and checking
# ------------------------------------------------------------------------------------------------------------------

def outbox_state():
    """{schema: (pending, parked, total)} over the whole outbox of each sender."""
    out = {}
    for s in SERVICES:
        r = h.sql(f"SELECT count(*) FILTER (WHERE delivered_time IS NULL AND parked_time IS NULL),"
                  f" count(*) FILTER (WHERE parked_time IS NOT NULL), count(*) FROM {s}.outbox")[0]
        out[s] = tuple(int(x) for x in r)
    return out


def handoff_order():
    """Per-deal order at every receiver: for each sender, receiver and deal with more than one hand-off, the receiver
    must have applied them (its idempotency key's time, the applying transaction's start) in the order of the
    sender's outbox. Returns (pairs checked, [violations])."""
    pairs, bad = 0, []
    for sender in SERVICES:
        for dest in SERVICES:
            if dest == sender:
                continue
            rows = h.sql(f"SELECT o.deal_id, o.seq, extract(epoch FROM k.create_time) FROM {sender}.outbox o"
                         f" JOIN {dest}.idempotency_keys k ON k.key = o.handoff_id::text AND k.method = o.method"
                         f" WHERE o.destination = '{dest}' AND o.deal_id IN (SELECT deal_id FROM {sender}.outbox"
                         f"   WHERE destination = '{dest}' GROUP BY deal_id HAVING count(*) > 1)"
                         f" ORDER BY o.deal_id, o.seq")
            last = {}
            for deal, seq, applied in rows:
                applied = float(applied)
                if deal in last:
                    pairs += 1
                    if applied < last[deal][1]:
                        bad.append(f"{sender}->{dest} deal {deal}: hand-off {seq} applied before {last[deal][0]}")
                last[deal] = (seq, applied)
    return pairs, bad


def settle(history, budget=SETTLE_S):
    """Waits until no outbox row is pending in any sender (parked rows are not waited for: they are a failure)."""
    t0 = time.monotonic()
    while True:
        st = outbox_state()
        pending = sum(v[0] for v in st.values())
        if pending == 0:
            history.event(f"settled in {time.monotonic() - t0:.1f} s: outbox {st}")
            return st
        if time.monotonic() - t0 > budget:
            history.event(f"NOT settled after {budget:.0f} s: outbox {st}")
            return st
        time.sleep(0.25)


def _rows(q):
    return h.sql(q)


class Checker:
    """Reads every service's tables for the run's deals and checks the set properties."""

    def __init__(self, wl, history):
        self.wl = wl
        self.hist = history
        self.errors = []
        self.figures = {}

    def _check_money(self, run_deals):
        """Money conserved per customer of the run's orders (docs/receivables.md): receipts = allocations +
        refunds + unapplied (each receipt's applied amount = its ACTIVE allocations); invoices = paid + open +
        credited (each invoice's paid amount = its ACTIVE allocations + v1 payments without a receipt); order total =
        invoiced + not yet invoiced (the terms' totals less what they billed), account amounts = their invoices'."""
        accts = f"(SELECT a.id FROM dtc.order_accounts a WHERE a.deal_id IN {run_deals})"
        custs = f"(SELECT DISTINCT customer_id FROM dtc.order_accounts WHERE id IN {accts} AND customer_id IS NOT NULL)"
        for r in _rows(
                "SELECT r.customer_id, sum(r.amount_minor) FILTER (WHERE r.state = 'RECEIVED'),"
                " sum(r.applied_minor + r.refunded_minor + r.unapplied_minor) FILTER (WHERE r.state = 'RECEIVED'),"
                " sum(r.applied_minor), sum((SELECT coalesce(sum(l.amount_minor), 0) FROM dtc.allocations l"
                "   WHERE l.receipt_id = r.id AND l.state = 'ACTIVE')),"
                " sum(r.refunded_minor), sum((SELECT coalesce(sum(f.amount_minor), 0) FROM dtc.refunds f"
                "   WHERE f.receipt_id = r.id))"
                f" FROM dtc.receipts r WHERE r.customer_id IN {custs} GROUP BY 1"):
            cid, amount, parts, applied, allocs, refunded, refunds = r[0], *map(int, r[1:])
            if amount != parts or applied != allocs or refunded != refunds:
                self.err(f"money not conserved: customer {cid} receipts {amount} != applied + refunded + unapplied"
                         f" {parts}, or applied {applied} != allocations {allocs}, or refunded {refunded} != refunds"
                         f" {refunds}")
        for r in _rows(
                "SELECT a.customer_id, sum(i.amount_minor), sum(i.paid_minor + i.credited_minor"
                "   + (i.amount_minor - i.paid_minor - i.credited_minor)),"
                " sum(i.paid_minor), sum((SELECT coalesce(sum(l.amount_minor), 0) FROM dtc.allocations l"
                "   WHERE l.invoice_id = i.id AND l.state = 'ACTIVE') + (SELECT coalesce(sum(p.amount_minor), 0)"
                "   FROM dtc.payments p WHERE p.invoice_id = i.id AND NOT EXISTS (SELECT FROM dtc.receipts x"
                "   WHERE x.id = p.id))),"
                " sum(i.credited_minor), sum((SELECT coalesce(sum(cl.amount_minor), 0) FROM dtc.credit_note_lines cl"
                "   WHERE cl.invoice_id = i.id)),"
                " count(*) FILTER (WHERE i.paid_minor + i.credited_minor > i.amount_minor OR i.paid_minor < 0)"
                f" FROM dtc.invoices i JOIN dtc.order_accounts a ON a.id = i.account_id WHERE a.id IN {accts}"
                " GROUP BY 1"):
            cid, amount, parts, paid, allocs, credited, lines, bad = r[0], *map(int, r[1:])
            if amount != parts or paid != allocs or credited != lines or bad:
                self.err(f"money not conserved: customer {cid} invoices {amount} != paid + open + credited {parts},"
                         f" or paid {paid} != allocations and payments {allocs}, or credited {credited} != credit"
                         f" note lines {lines}, or {bad} invoices over-settled")
        for r in _rows(
                "SELECT a.customer_id, sum(a.order_total_minor), sum(a.invoiced_minor + (SELECT coalesce(sum("
                "   t.total_minor - t.invoiced_minor), 0) FROM dtc.account_terms t WHERE t.account_id = a.id)),"
                " sum(a.invoiced_minor), sum((SELECT coalesce(sum(i.amount_minor), 0) FROM dtc.invoices i"
                "   WHERE i.account_id = a.id)),"
                " sum(a.paid_minor), sum((SELECT coalesce(sum(i.paid_minor), 0) FROM dtc.invoices i"
                "   WHERE i.account_id = a.id)),"
                " sum((SELECT coalesce(sum(t.total_minor), 0) FROM dtc.account_terms t WHERE t.account_id = a.id))"
                f" FROM dtc.order_accounts a WHERE a.id IN {accts} GROUP BY 1"):
            cid, total, parts, invoiced, invs, paid, inv_paid, terms = r[0], *map(int, r[1:])
            if total != parts or invoiced != invs or paid != inv_paid or total != terms:
                self.err(f"money not conserved: customer {cid} order total {total} != invoiced + not yet invoiced"
                         f" {parts} (terms {terms}), or invoiced {invoiced} != invoices {invs}, or paid {paid} !="
                         f" invoices paid {inv_paid}")

    def _check_ledger(self):
        """The finance subledger after the faults (docs/finance.md): every journal entry balances (in its currency and
        in the functional currency), each currency's trial balance sums to zero, and the control accounts equal the
        subledger: receivables (1100) = the open amounts of all invoices, unapplied cash (2100) = the receipts'
        unapplied cash. Over the whole database: each
        event posts in its own transaction, so a crash or a replay can leave neither an event without its entry nor
        an entry twice."""
        for r in _rows("SELECT e.id, e.total_minor, sum(l.debit_minor), sum(l.credit_minor) FROM dtc.journal_entries e"
                       " JOIN dtc.journal_lines l ON l.entry_id = e.id GROUP BY 1, 2"
                       " HAVING sum(l.debit_minor) <> sum(l.credit_minor) OR sum(l.debit_minor) <> e.total_minor"):
            self.err(f"journal entry {r[0]} does not balance: total {r[1]}, debits {r[2]}, credits {r[3]}")
        for r in _rows("SELECT e.id FROM dtc.journal_entries e JOIN dtc.journal_lines l ON l.entry_id = e.id GROUP BY 1"
                       " HAVING sum(l.functional_debit_minor) IS DISTINCT FROM sum(l.functional_credit_minor)"):
            self.err(f"journal entry {r[0]} does not balance in the functional currency")
        ledger = {}
        for cur, role, bal in _rows("SELECT e.currency, l.account_role, sum(l.debit_minor - l.credit_minor)"
                                    " FROM dtc.journal_lines l JOIN dtc.journal_entries e ON e.id = l.entry_id"
                                    " GROUP BY 1, 2"):
            ledger.setdefault(cur, {})[role] = int(bal)
        open_ = {c: int(v) for c, v in _rows("SELECT currency, sum(amount_minor - paid_minor - credited_minor"
                                              " - written_off_minor) FROM dtc.invoices GROUP BY 1")}
        unapplied = {c: int(v) for c, v in _rows("SELECT currency, sum(unapplied_minor) FROM dtc.receipts GROUP BY 1")}
        for cur in set(ledger) | set(open_) | set(unapplied):
            roles = ledger.get(cur, {})
            if sum(roles.values()) != 0:
                self.err(f"trial balance of {cur} sums to {sum(roles.values())}, not 0: {roles}")
            if roles.get("RECEIVABLES", 0) != open_.get(cur, 0):
                self.err(f"receivables account of {cur} {roles.get('RECEIVABLES', 0)} != open invoices"
                         f" {open_.get(cur, 0)}")
            if -roles.get("UNAPPLIED_CASH", 0) != unapplied.get(cur, 0):
                self.err(f"unapplied cash account of {cur} {-roles.get('UNAPPLIED_CASH', 0)} != receipts' unapplied"
                         f" cash {unapplied.get(cur, 0)}")

    def err(self, msg):
        if len(self.errors) < 200:
            self.errors.append(msg)

    def run(self):
        like = f"FaultCo {self.wl.tag} %"
        run_deals = (f"(SELECT o.id FROM ltb.opportunities o JOIN ltb.leads l ON l.id = o.lead_id"
                     f" WHERE l.company_name LIKE '{like}')")
        # --- per op: acknowledged exactly once, failed never, unknown 0 or 1 ---
        leads = collections.Counter({r[0]: int(r[1]) for r in _rows(
            f"SELECT company_name, count(*) FROM ltb.leads WHERE company_name LIKE '{like}' GROUP BY 1")})
        pays = collections.Counter({r[0]: int(r[1]) for r in _rows(
            f"SELECT reference, count(*) FROM dtc.payments WHERE reference LIKE 'P-{self.wl.tag}-%' GROUP BY 1")})
        unknown_resolved = collections.Counter()
        for op in self.hist.ops:
            if op.kind == "CreateLead":
                n = leads.get(op.key, 0)
            elif op.kind == "RecordPayment" and op.key:
                n = pays.get(op.key, 0)
            else:
                continue
            if op.outcome == "ok" and n != 1:
                self.err(f"{op.kind} {op.key} acknowledged but found {n} times")
            elif op.outcome == "fail" and n != 0:
                self.err(f"{op.kind} {op.key} refused ({op.code}) but found {n} times")
            elif op.outcome == "unknown":
                if n > 1:
                    self.err(f"{op.kind} {op.key} unknown but found {n} times")
                unknown_resolved[n] += 1
        self.figures["unknown_ops_resolved_in_db"] = dict(unknown_resolved)

        # --- every stage, per deal ---
        ltb = {r[0]: r for r in _rows(
            "SELECT o.id, o.stage, o.collected_minor,"
            " (SELECT count(*) FROM ltb.bids b WHERE b.opportunity_id = o.id),"
            " (SELECT coalesce(sum(amount_minor), 0) FROM ltb.bids b WHERE b.opportunity_id = o.id AND b.state = 'WON'),"
            " (SELECT count(*) FROM ltb.collected_orders c WHERE c.opportunity_id = o.id),"
            " (SELECT coalesce(sum(amount_minor), 0) FROM ltb.collected_orders c WHERE c.opportunity_id = o.id)"
            f" FROM ltb.opportunities o WHERE o.id IN {run_deals}")}
        bto = {r[0]: r for r in _rows(
            "SELECT d.id, d.state, d.expected_minor,"
            " (SELECT count(*) FROM bto.quotes q WHERE q.deal_id = d.id),"
            " (SELECT count(*) FROM bto.contracts c WHERE c.deal_id = d.id),"
            " (SELECT count(*) FROM bto.contracts c WHERE c.deal_id = d.id AND c.state = 'CLOSED'),"
            " (SELECT count(*) FROM bto.orders x WHERE x.deal_id = d.id),"
            " (SELECT coalesce(sum(total_minor), 0) FROM bto.orders x WHERE x.deal_id = d.id),"
            " (SELECT count(*) FROM bto.orders x WHERE x.deal_id = d.id AND x.state = 'CLOSED'),"
            " (SELECT coalesce(sum(collected_minor), 0) FROM bto.orders x WHERE x.deal_id = d.id),"
            " (SELECT string_agg(x.id::text, ',') FROM bto.orders x WHERE x.deal_id = d.id)"
            f" FROM bto.deals d WHERE d.id IN {run_deals}")}
        ship = ("(SELECT {} FROM otd.shipments s JOIN otd.orders b ON b.id = s.order_id"
                " WHERE b.deal_id = o.deal_id{})")
        otd = {r[0]: r for r in _rows(
            "SELECT o.deal_id, count(*), sum(o.total_minor), string_agg(o.id::text, ','), "
            + ship.format("count(*)", "") + ", "
            + ship.format("count(*)", " AND s.state = 'ACCEPTED'") + ", "
            + ship.format("coalesce(sum(s.amount_minor), 0)", " AND s.state = 'ACCEPTED'") + ", "
            + ship.format("string_agg(s.id::text, ',')", " AND s.state = 'ACCEPTED'")
            + f" FROM otd.orders o WHERE o.deal_id IN {run_deals} GROUP BY o.deal_id")}
        dtc = {r[0]: r for r in _rows(
            "SELECT a.deal_id, count(*), sum(a.order_total_minor), sum(a.invoiced_minor), sum(a.paid_minor),"
            " count(*) FILTER (WHERE a.state = 'CLOSED'),"
            " (SELECT count(*) FROM dtc.deliveries v JOIN dtc.order_accounts b ON b.id = v.account_id"
            "   WHERE b.deal_id = a.deal_id),"
            " (SELECT coalesce(sum(v.accepted_minor), 0) FROM dtc.deliveries v JOIN dtc.order_accounts b"
            "   ON b.id = v.account_id WHERE b.deal_id = a.deal_id),"
            " (SELECT coalesce(sum(i.amount_minor), 0) FROM dtc.invoices i JOIN dtc.order_accounts b"
            "   ON b.id = i.account_id WHERE b.deal_id = a.deal_id),"
            " (SELECT coalesce(sum(i.paid_minor), 0) FROM dtc.invoices i JOIN dtc.order_accounts b"
            "   ON b.id = i.account_id WHERE b.deal_id = a.deal_id AND i.state = 'PAID'),"
            " (SELECT coalesce(sum(p.amount_minor), 0) FROM dtc.payments p JOIN dtc.order_accounts b"
            "   ON b.id = p.account_id WHERE b.deal_id = a.deal_id),"
            " (SELECT count(*) FROM dtc.closures c WHERE c.deal_id = a.deal_id AND c.kind = 'ORDER'),"
            " string_agg(a.id::text, ','),"
            " (SELECT string_agg(v.shipment_id::text, ',') FROM dtc.deliveries v JOIN dtc.order_accounts b"
            "   ON b.id = v.account_id WHERE b.deal_id = a.deal_id)"
            f" FROM dtc.order_accounts a WHERE a.deal_id IN {run_deals} GROUP BY a.deal_id")}
        outbox = collections.Counter()
        for s, method in HANDOFFS:
            for r in _rows(f"SELECT regexp_replace(deal_id, '^(deals|milestones)/', ''), count(*) FROM {s}.outbox"
                           f" WHERE method = '{method}' AND regexp_replace(deal_id, '^(deals|milestones)/', '') IN"
                           f" (SELECT id::text FROM {run_deals} x) GROUP BY 1"):
                outbox[(r[0], method)] = int(r[1])

        sums = collections.Counter()
        for i, d in sorted(self.wl.deals.items()):
            did = d.get("deal_id")
            if not did:
                continue
            self._check_deal(i, d, ltb.get(did), bto.get(did), otd.get(did), dtc.get(did), outbox, sums)
        for a, b in (("won", "bto_deal_amount"), ("won", "ordered"), ("ordered", "otd_received"),
                     ("ordered", "delivered"), ("delivered", "dtc_delivered"), ("delivered", "invoiced"),
                     ("collected_dtc_payments", "collected_paid_invoices"),
                     ("collected_dtc_payments", "collected_bto"), ("collected_dtc_payments", "collected_ltb")):
            if sums[a] != sums[b]:
                self.err(f"amounts not conserved: {a} {sums[a]} != {b} {sums[b]}")
        self.figures["amounts"] = dict(sums)
        self._check_milestones(run_deals)
        self._check_money(run_deals)
        self._check_ledger()
        # --- liveness: every deal went through (a violation seen by the client is an error too) ---
        for i, why in sorted(self.wl.abandoned.items()):
            self.err(f"deal {i} did not complete: {why}")

        # --- the outboxes: nothing pending, nothing parked ---
        st = outbox_state()
        self.figures["outbox"] = {k: {"pending": v[0], "parked": v[1], "rows": v[2]} for k, v in st.items()}
        for s, (pending, parked, _) in st.items():
            if pending:
                self.err(f"{s}.outbox: {pending} rows still pending after the settle period")
            if parked:
                rows = _rows(f"SELECT method, last_error FROM {s}.outbox WHERE parked_time IS NOT NULL LIMIT 3")
                self.err(f"{s}.outbox: {parked} parked rows, e.g. {rows}")
        return not self.errors

    def _check_milestones(self, run_deals):
        """The milestone hand-offs to the CRM hub (issue #18): every AcceptMilestone row a stage's outbox holds for a
        deal of the run is in ltb.deal_milestones exactly once (by hand-off id, with that stage), and each deal's
        milestones from one stage arrived in the order that stage wrote them (deal_milestones.seq follows the
        sender's outbox seq)."""
        method = "/ltc.ltb.v1.IntakeService/AcceptMilestone"
        hub = {}
        for r in _rows("SELECT m.handoff_id::text, m.deal_id::text, m.stage, m.seq FROM ltb.deal_milestones m"
                       f" WHERE m.deal_id IN {run_deals}"):
            if r[0] in hub:
                self.err(f"milestone hand-off {r[0]} stored twice in LTB")
            hub[r[0]] = (r[1], r[2], int(r[3]))
        sent = 0
        for s in ("bto", "otd", "dtc"):
            by_deal = collections.defaultdict(list)
            for r in _rows(f"SELECT handoff_id::text, regexp_replace(deal_id, '^(deals|milestones)/', ''), seq FROM {s}.outbox"
                           f" WHERE method = '{method}' AND regexp_replace(deal_id, '^(deals|milestones)/', '') IN"
                           f" (SELECT id::text FROM {run_deals} x) ORDER BY seq"):
                sent += 1
                got = hub.get(r[0])
                if got is None:
                    self.err(f"{s} milestone hand-off {r[0]} of deal {r[1]} is not in ltb.deal_milestones (lost)")
                    continue
                if got[0] != r[1] or got[1] != s.upper():
                    self.err(f"{s} milestone hand-off {r[0]}: stored for deal {got[0]} stage {got[1]}")
                by_deal[r[1]].append(got[2])
            for deal, seqs in by_deal.items():
                if seqs != sorted(seqs):
                    self.err(f"deal {deal}: {s}'s milestones arrived out of order (LTB seq {seqs})")
        stored = sum(1 for v in hub.values())
        if stored != sent:
            self.err(f"{stored} milestones in LTB for {sent} AcceptMilestone outbox rows of the run's deals")
        self.figures["milestones"] = {"sent": sent, "stored": stored}

    def _check_deal(self, i, d, L, B, O, D, outbox, sums):
        """One deal across the four services. L/B/O/D are its rows (None when the service has nothing)."""
        did = d["deal_id"]
        won = L is not None and L[1] in ("WON", "CASH_COLLECTED")
        if L is None:
            self.err(f"deal {i}: opportunity {did} acknowledged by QualifyLead but not in LTB")
            return
        if int(L[3]) > 1 or (d.get("bid") and int(L[3]) != 1):
            self.err(f"deal {i}: {L[3]} bids in LTB")
        if d.get("won") and not won:
            self.err(f"deal {i}: MarkBidWon acknowledged but the opportunity is {L[1]}")
        # LTB won <=> BTO has the deal (the won-bid hand-off, exactly once)
        if won != (B is not None):
            self.err(f"deal {i}: LTB stage {L[1]} but BTO deal {'present' if B else 'missing'} (hand-off lost?)")
        n_won = outbox[(did, HANDOFFS[0][1])]
        if n_won != (1 if won else 0):
            self.err(f"deal {i}: {n_won} AcceptWonBid outbox rows in LTB")
        if won:
            sums["won"] += int(L[4])
        if B is None:
            return
        sums["bto_deal_amount"] += int(B[2])
        n_quotes, n_contracts, n_orders = int(B[3]), int(B[4]), int(B[6])
        if n_quotes > 1 or n_contracts > 1 or n_orders > 1:
            self.err(f"deal {i}: duplicated in BTO: {n_quotes} quotes, {n_contracts} contracts, {n_orders} orders")
        if d.get("order") and n_orders != 1:
            self.err(f"deal {i}: CreateOrder acknowledged, {n_orders} orders in BTO")
        sums["ordered"] += int(B[7])
        if outbox[(did, HANDOFFS[1][1])] != n_orders:
            self.err(f"deal {i}: {outbox[(did, HANDOFFS[1][1])]} AcceptOrder outbox rows for {n_orders} orders")
        # BTO order <=> DTC order account from placement (AcceptOrderPlaced, exactly once: issue #13)
        if outbox[(did, HANDOFFS[5][1])] != n_orders:
            self.err(f"deal {i}: {outbox[(did, HANDOFFS[5][1])]} AcceptOrderPlaced outbox rows for {n_orders} orders")
        if n_orders and (D is None or int(D[1]) != 1):
            self.err(f"deal {i}: BTO placed an order but DTC has {D[1] if D else 0} order accounts (hand-off lost?)")
        # BTO order <=> OTD order
        bto_orders = set(filter(None, (B[10] or "").split(",")))
        otd_orders = set(filter(None, ((O[3] if O else "") or "").split(",")))
        if bto_orders != otd_orders:
            self.err(f"deal {i}: BTO orders {sorted(bto_orders)} != OTD orders {sorted(otd_orders)}")
        if O is None:
            return
        sums["otd_received"] += int(O[2])
        n_ship, n_acc = int(O[4]), int(O[5])
        if int(O[1]) != 1 or n_ship > 1:
            self.err(f"deal {i}: duplicated in OTD: {O[1]} orders, {n_ship} shipments")
        if d.get("accepted") and n_acc != 1:
            self.err(f"deal {i}: RecordAcceptance acknowledged, {n_acc} accepted shipments")
        sums["delivered"] += int(O[6])
        if outbox[(did, HANDOFFS[2][1])] != n_acc:
            self.err(f"deal {i}: {outbox[(did, HANDOFFS[2][1])]} AcceptDelivery outbox rows for {n_acc} acceptances")
        # OTD accepted shipment <=> DTC delivery
        accepted = set(filter(None, (O[7] or "").split(",")))
        delivered = set(filter(None, ((D[13] if D else "") or "").split(",")))
        if accepted != delivered:
            self.err(f"deal {i}: OTD accepted shipments {sorted(accepted)} != DTC deliveries {sorted(delivered)}")
        if D is None:
            return
        n_acct, order_total, invoiced, paid, closed = int(D[1]), int(D[2]), int(D[3]), int(D[4]), int(D[5])
        if n_acct != 1:
            self.err(f"deal {i}: {n_acct} DTC order accounts")
        sums["dtc_delivered"] += int(D[7])
        sums["invoiced"] += int(D[8])
        if invoiced != int(D[8]):
            self.err(f"deal {i}: account invoiced {invoiced} != invoices {D[8]}")
        if order_total != int(B[7]):
            self.err(f"deal {i}: DTC order total {order_total} != BTO {B[7]}")
        sums["collected_paid_invoices"] += int(D[9])
        sums["collected_dtc_payments"] += int(D[10])
        if int(D[10]) != paid:
            self.err(f"deal {i}: payments {D[10]} != account paid {paid}")
        if d.get("paid") and not closed:
            self.err(f"deal {i}: every invoice paid (acknowledged) but the DTC account is open")
        n_closure = int(D[11])
        if n_closure != closed:
            self.err(f"deal {i}: {n_closure} order closures for {closed} closed accounts")
        # DTC closed <=> BTO order closed and LTB cash collected, each hand-off exactly once
        for s, method in HANDOFFS[3:5]:
            if outbox[(did, method)] != closed:
                self.err(f"deal {i}: {outbox[(did, method)]} {method.rsplit('/', 1)[-1]} outbox rows, {closed} closed")
        if int(B[8]) != closed or int(B[5]) != closed:
            self.err(f"deal {i}: DTC closed {closed}, BTO orders closed {B[8]}, contracts closed {B[5]}")
        if (L[1] == "CASH_COLLECTED") != bool(closed) or int(L[5]) != closed:
            self.err(f"deal {i}: DTC closed {closed}, LTB stage {L[1]} with {L[5]} collected orders")
        if closed and not (paid == order_total == DEAL_TOTAL):
            self.err(f"deal {i}: closed with paid {paid}, order total {order_total}, expected {DEAL_TOTAL}")
        if closed:
            sums["collected_bto"] += int(B[9])
            sums["collected_ltb"] += int(L[2])
            if int(L[2]) != int(L[6]) or int(L[2]) != paid:
                self.err(f"deal {i}: LTB collected {L[2]} (orders {L[6]}) != DTC paid {paid}")


def snapshot():
    """A fingerprint of every table of every service (outbox excluded: replays change its delivery columns; the audit
    trail and its hash chain's head too: a replayed hand-off is a call, recorded as an IDEMPOTENT_REPLAY row that
    extends the chain, see audit_since)."""
    tables = _rows("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN"
                   " ('ltb', 'bto', 'otd', 'dtc') AND table_type = 'BASE TABLE'"
                   " AND table_name NOT IN ('outbox', 'audit_log', 'audit_chain_head') ORDER BY 1, 2")
    parts = [f"SELECT '{s}.{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
             f" FROM {s}.{t} x" for s, t in tables]
    return {r[0]: (int(r[1]), r[2]) for r in _rows(" UNION ALL ".join(parts))}


def audit_mark():
    """The last audit_log sequence of each service."""
    return {s: int(_rows(f"SELECT coalesce(max(seq), 0) FROM {s}.audit_log")[0][0]) for s in SERVICES}


def audit_since(mark):
    """(rows, rows that are not an answered replay) of the audit trails after `mark`."""
    total = other = 0
    for s in SERVICES:
        r = _rows(f"SELECT count(*), count(*) FILTER (WHERE code <> 'OK' OR reason <> 'IDEMPOTENT_REPLAY')"
                  f" FROM {s}.audit_log WHERE seq > {mark[s]}")[0]
        total += int(r[0])
        other += int(r[1])
    return total, other


def replay_all(history):
    """Marks every delivered outbox row undelivered in every sender, so the relays send everything again."""
    n = 0
    for s in SERVICES:
        r = h.sql(f"WITH u AS (UPDATE {s}.outbox SET delivered_time = NULL, next_attempt_time = now()"
                  f" WHERE delivered_time IS NOT NULL RETURNING 1) SELECT count(*) FROM u")
        n += int(r[0][0])
    history.event(f"replay: {n} outbox rows marked undelivered")
    return n
