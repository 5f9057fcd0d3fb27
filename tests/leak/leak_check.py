#!/usr/bin/python3
"""leak_check - one integration run with every process checked for leaks at exit.

    leak_check.py asan       the processes of a sanitizer build (-DLTC_SANITIZE=ON: ASan with LeakSanitizer)
    leak_check.py valgrind   the processes of a plain build under valgrind memcheck (suppressions: gateway... see
                             tests/leak/valgrind.supp, each entry explained)

PostgreSQL comes from scripts/stack (LTC_STATE_DIR, LTC_PORT_OFFSET, LTC_BIN_DIR from the environment); the four
stage services and the gateway are started by this script as its own children, with the stack's environment
(`scripts/stack env`) and the security settings scripts/stack would give them (TLS, mTLS, tokens; the development
PKI of scripts/pki), so that their exit codes are seen. The run: several deals from lead to cash through the
gateway, bad requests of every kind (undecodable bytes, unknown methods, invalid fields, unknown resources, a reused
request_id), customers, admission and credit (duplicates, four-eyes limits, holds, an overridden admission, a
block), a hand-off while its receiver is down, and PostgreSQL killed -9 and restarted under load (reconnection
paths). Then every process gets SIGTERM and must exit 0 within its grace period, with no leak report (LeakSanitizer
"detected memory leaks", valgrind "definitely/indirectly lost" beyond the suppressions) and no sanitizer or memcheck
error in its output. Exit status 0 only then.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE.parent / "integration"))
import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

# The processes run as in production: TLS at the gateway, mTLS between them, tokens (so the leak check covers the
# TLS, token, ownership and audit paths); the development PKI of scripts/pki, in the state folder.
for _v in ("LTC_PLAINTEXT", "LTC_GATEWAY_AUTH"):
    os.environ.pop(_v, None)
os.environ["LTC_STACK_SECURITY"] = "on"
PKI_SCRIPT = HERE.parents[1] / "scripts" / "pki"

PROCS = ("ltb", "bto", "otd", "dtc", "gateway")
STOP_WAIT_S = 60          # SIGTERM to exit: the grace period plus the sanitizer's or valgrind's exit work
BAD_PATTERNS = [
    (re.compile(r"ERROR: LeakSanitizer"), "LeakSanitizer report"),
    (re.compile(r"ERROR: AddressSanitizer"), "AddressSanitizer error"),
    (re.compile(r"runtime error:"), "UndefinedBehaviorSanitizer error"),
    (re.compile(r"definitely lost: [1-9]"), "valgrind: definitely lost"),
    (re.compile(r"indirectly lost: [1-9]"), "valgrind: indirectly lost"),
    (re.compile(r"ERROR SUMMARY: [1-9]"), "valgrind: errors"),
]


def say(*a):
    print(*a, flush=True)


def stack_env():
    env = os.environ.copy()
    for k, v in h.stack_env(refresh=True).items():
        env[k] = v
    return env


def pki():
    return h.state_dir() / "pki"


def tls_env(name):
    """What scripts/stack gives process `name` when it runs secure (its proc_env)."""
    e = {"LTC_TLS_CERT": str(pki() / f"{name}.crt"), "LTC_TLS_KEY": str(pki() / f"{name}.key"),
         "LTC_TLS_CA": str(pki() / "mesh-ca.crt")}
    if name == "gateway":
        e.update(LTC_GATEWAY_TLS_CERT=str(pki() / "gateway-public.crt"),
                 LTC_GATEWAY_TLS_KEY=str(pki() / "gateway-public.key"),
                 LTC_GATEWAY_TLS_CA=str(pki() / "edge-ca.crt"),   # what its --health-probe verifies the port with
                 LTC_GATEWAY_JWT_KEYS=str(pki() / "jwt" / "keys.json"))
    return e


def token(subject, roles):
    return subprocess.run([str(PKI_SCRIPT), "token", str(pki()), subject, roles], check=True, capture_output=True,
                          text=True).stdout.strip()


def gateway_stubs(subject, roles, timeout):
    return lc.Stubs(h.target("gateway"), timeout=timeout, ca_file=str(pki() / "ca.crt"), token=token(subject, roles))


class Proc:
    def __init__(self, name, mode, env, logdir, run=1):
        self.name = name
        self.log = logdir / (f"{name}.log" if run == 1 else f"{name}-{run}.log")
        self.rc = None
        cmd = [str(Path(env["LTC_BIN_DIR"]) / f"ltc-{name}")]
        e = {k: v for k, v in env.items() if k not in ("LTC_PLAINTEXT", "LTC_GATEWAY_AUTH")}
        e.update(tls_env(name))
        if mode == "asan":
            # leaks at exit are reported (ASan's LeakSanitizer) and make the exit code non-zero
            e["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=23:abort_on_error=0"
            e["LSAN_OPTIONS"] = f"exitcode=23:suppressions={HERE / 'lsan.supp'}:print_suppressions=0"
            e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        else:
            cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-origins=no",
                   f"--suppressions={HERE / 'valgrind.supp'}", "--num-callers=30", "--child-silent-after-fork=yes",
                   ] + cmd
        self.f = open(self.log, "wb")
        self.p = subprocess.Popen(cmd, env=e, stdout=self.f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  cwd=str(logdir))

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        """SIGTERM, then its exit code (or a text saying it had to be killed). Once."""
        if self.rc is not None:
            return self.rc
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
        try:
            self.rc = self.p.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            self.rc = "did not stop within %d s (killed)" % STOP_WAIT_S
        self.f.close()
        return self.rc

    def unblocked_threads(self):
        """Threads that do not block SIGTERM and SIGINT: the process waits for them with sigwait in its main thread
        (which the kernel shows unblocked while it waits), so any other thread with them unblocked may take the
        signal and be killed by it, skipping the graceful stop."""
        bad = []
        for st in Path(f"/proc/{self.p.pid}/task").glob("*/status"):
            if st.parent.name == str(self.p.pid):
                continue
            try:
                fields = dict(ln.split(":\t", 1) for ln in st.read_text().splitlines() if ":\t" in ln)
            except OSError:
                continue
            blocked = int(fields.get("SigBlk", "0").strip(), 16)
            if not (blocked >> (signal.SIGTERM - 1) & 1 and blocked >> (signal.SIGINT - 1) & 1):
                bad.append(f"{fields.get('Name', '?').strip()} (tid {st.parent.name})")
        return bad

    def problems(self):
        text = self.log.read_text(errors="replace")
        found = [what for rx, what in BAD_PATTERNS if rx.search(text)]
        return found, text


def wait_serving(procs, timeout):
    t_end = time.monotonic() + timeout
    for p in procs:
        while True:
            if not p.alive():
                raise RuntimeError(f"ltc-{p.name} exited with {p.p.returncode} at start; see {p.log}")
            # the process's own health probe over mTLS, as scripts/stack and the container health checks do
            e = {k: v for k, v in stack_env().items() if k not in ("LTC_PLAINTEXT", "LTC_GATEWAY_AUTH")}
            e.update(tls_env(p.name))
            probe = subprocess.run([str(Path(e["LTC_BIN_DIR"]) / f"ltc-{p.name}"), "--health-probe"], env=e,
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                break
            time.sleep(0.3)
            if True:
                if time.monotonic() > t_end:
                    raise RuntimeError(f"ltc-{p.name} not serving after {timeout} s; see {p.log}")


def expect_error(fn, codes):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() not in codes:
            raise AssertionError(f"expected {codes}, got {lc.describe_error(e)}")
        return
    raise AssertionError(f"expected an error in {codes}")


def bad_requests(stubs):
    C = grpc.StatusCode
    expect_error(lambda: stubs.call_raw("/ltc.ltb.v1.LeadToBidService/CreateLead", b"\xff\xff\xff"),
                 (C.INVALID_ARGUMENT,))
    expect_error(lambda: stubs.call_raw("/ltc.ltb.v1.LeadToBidService/NoSuchMethod", b""), (C.UNIMPLEMENTED,))
    expect_error(lambda: stubs.call_raw("/no.such.Service/X", b""), (C.UNIMPLEMENTED,))
    expect_error(lambda: stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(company_name="")),
                                              timeout=30), (C.INVALID_ARGUMENT,))
    expect_error(lambda: stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name="leads/" + lc.new_id()), timeout=30),
                 (C.NOT_FOUND,))
    expect_error(lambda: stubs.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
        payment=lc.dtc.Payment(invoice="invoices/" + lc.new_id(), amount=lc.money(100)), request_id=lc.new_id()),
        timeout=30), (C.NOT_FOUND,))
    rid = lc.new_id()
    req = lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_INBOUND,
                                                    company_name=f"Leak Co {rid[:8]}"),   # not a DUPLICATE_LEAD
                                   request_id=rid)
    stubs.ltb.CreateLead(req, timeout=30)
    stubs.ltb.CreateLead(req, timeout=30)          # the stored answer
    req.lead.company_name = "Other Co"
    expect_error(lambda: stubs.ltb.CreateLead(req, timeout=30), (C.ALREADY_EXISTS,))
    with lc.IntakeStubs(h.target("bto"), ca_file=str(pki() / "ca.crt"), cert_file=str(pki() / "ltb.crt"),
                        key_file=str(pki() / "ltb.key"), server_name="ltc-bto") as intake:
        expect_error(lambda: intake.bto.AcceptWonBid(lc.bto.AcceptWonBidRequest(handoff_id="x"), timeout=30),
                     (C.INVALID_ARGUMENT,))
    stubs.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=2), timeout=30)
    expect_error(lambda: stubs.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_token="nope"), timeout=30),
                 (C.INVALID_ARGUMENT,))
    # refused callers: no token, a bad one, a role without the right, another user's deal
    with lc.Stubs(h.target("gateway"), timeout=30, ca_file=str(pki() / "ca.crt")) as anon:
        expect_error(lambda: anon.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1)), (C.UNAUTHENTICATED,))
    with lc.Stubs(h.target("gateway"), timeout=30, ca_file=str(pki() / "ca.crt"), token="a.b.c") as bad:
        expect_error(lambda: bad.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1)), (C.UNAUTHENTICATED,))
    with gateway_stubs("leak.auditor", "auditor", 30) as auditor:
        expect_error(lambda: auditor.ltb.CreateLead(req), (C.PERMISSION_DENIED,))
        auditor.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage="ltb", page_size=5))
    with gateway_stubs("leak.stranger", "sales", 30) as stranger:
        opp = stubs.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(page_size=1), timeout=30).opportunities
        if opp:
            expect_error(lambda: stranger.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=opp[0].name)),
                         (C.PERMISSION_DENIED,))


def customers_and_credit(timeout):
    """The paths of issue #13 (docs/credit.md), each person with a token of their own: a customer and its duplicate,
    a lead refused as a duplicate, a limit set with four eyes, exposure, a manual hold placed and released, an
    admission refused on margin and overridden by a manager, a block and its lifting by another person."""
    C = grpc.StatusCode
    u = uuid.uuid4().hex[:8]
    people = {k: gateway_stubs(f"leak.{k}", role, timeout) for k, role in
              (("sales", "sales"), ("fin1", "finance"), ("fin2", "finance"), ("mgr1", "manager"), ("mgr2", "manager"))}
    sales, fin1, fin2, mgr1, mgr2 = (people[k] for k in ("sales", "fin1", "fin2", "mgr1", "mgr2"))
    try:
        email = f"li.wei.{u}@leak.example"
        cust = sales.ltb.CreateCustomer(lc.ltb.CreateCustomerRequest(customer=lc.ltb.Customer(
            legal_name=f"Leak Trading {u} Co., Ltd.", country_code="CN", billing_currency="CNY",
            account_owner="leak.sales", contacts=[lc.ltb.Contact(display_name="Li Wei", email=email,
                                                                 phone=f"021 5{int(u, 16) % 10_000_000:07d}")]),
            request_id=lc.new_id())).customer
        expect_error(lambda: sales.ltb.CreateCustomer(lc.ltb.CreateCustomerRequest(customer=lc.ltb.Customer(
            legal_name=f"LEAK-TRADING {u.upper()} LTD", country_code="CN", billing_currency="CNY",
            account_owner="leak.sales"), request_id=lc.new_id())), (C.ALREADY_EXISTS,))
        sales.ltb.FindDuplicateCustomers(lc.ltb.FindDuplicateCustomersRequest(
            company_name=f"leak trading {u}", email=email.upper(), country_code="CN"))
        expect_error(lambda: sales.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
            source=lc.ltb.LEAD_SOURCE_INBOUND, company_name=f"Someone {u}", contact_email=email),
            request_id=lc.new_id())), (C.ALREADY_EXISTS,))
        change = fin1.dtc.RequestCreditLimitChange(lc.dtc.RequestCreditLimitChangeRequest(
            credit_limit_change=lc.dtc.CreditLimitChange(customer=cust.name, new_limit=lc.money(1_000_000_00),
                                                         reason="leak check"),
            request_id=lc.new_id())).credit_limit_change
        expect_error(lambda: fin1.dtc.ApproveCreditLimitChange(lc.dtc.ApproveCreditLimitChangeRequest(
            name=change.name, request_id=lc.new_id())), (C.PERMISSION_DENIED,))
        fin2.dtc.ApproveCreditLimitChange(lc.dtc.ApproveCreditLimitChangeRequest(name=change.name, comment="ok",
                                                                                 request_id=lc.new_id()))
        fin1.dtc.GetCreditExposure(lc.dtc.GetCreditExposureRequest(customer=cust.name, currency_code="CNY"))
        hold = fin1.dtc.PlaceCreditHold(lc.dtc.PlaceCreditHoldRequest(
            credit_hold=lc.dtc.CreditHold(customer=cust.name, reason="leak check"),
            request_id=lc.new_id())).credit_hold
        fin2.dtc.ReleaseCreditHold(lc.dtc.ReleaseCreditHoldRequest(name=hold.name, reason="settled",
                                                                   request_id=lc.new_id()))
        fin1.dtc.ListCreditHolds(lc.dtc.ListCreditHoldsRequest(customer=cust.name, page_size=5))
        lead = sales.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
            source=lc.ltb.LEAD_SOURCE_INBOUND, company_name=cust.legal_name, customer=cust.name),
            request_id=lc.new_id())).lead
        opp = sales.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=lead.name, opportunity_title="leak line", expected_amount=lc.money(100_000_00),
            iron_triangle=lc.types.IronTriangle(account_owner="leak.sales", solution_owner="leak.sr",
                                                fulfilment_owner="leak.fr"),
            request_id=lc.new_id())).opportunity
        d = sales.ltb.RequestOrderAdmission(lc.ltb.RequestOrderAdmissionRequest(
            opportunity=opp.name, expected_margin_bps=500, request_id=lc.new_id())).decision
        if d.outcome != lc.ltb.ADMISSION_OUTCOME_REFUSED:
            raise AssertionError(f"a 5% margin admitted: {d}")
        mgr1.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(opportunity=opp.name, reason="leak",
                                                                             request_id=lc.new_id()))
        sales.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(opportunity=opp.name))
        mgr1.ltb.BlockCustomer(lc.ltb.BlockCustomerRequest(
            name=cust.name, block_reason=lc.ltb.CUSTOMER_BLOCK_REASON_COMPLIANCE, note="leak check",
            request_id=lc.new_id()))
        expect_error(lambda: mgr1.ltb.UnblockCustomer(lc.ltb.UnblockCustomerRequest(
            name=cust.name, note="mine", request_id=lc.new_id())), (C.PERMISSION_DENIED,))
        mgr2.ltb.UnblockCustomer(lc.ltb.UnblockCustomerRequest(name=cust.name, note="cleared",
                                                               request_id=lc.new_id()))
    finally:
        for stubs in people.values():
            stubs.close()


def lc_deal(stubs, wait_s):
    return h.lead_to_cash.Deal(stubs, log=None, wait_s=wait_s)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "asan"
    if mode not in ("asan", "valgrind"):
        raise SystemExit("usage: leak_check.py asan|valgrind")
    slow = mode == "valgrind"
    h.stack("down", check=False)
    sys.path.insert(0, str(HERE.parent / "fault"))
    import faultlib
    faultlib.require_free_ports(faultlib.stack_ports(), f"the leak check at LTC_PORT_OFFSET={h.offset()}")
    h.stack("start", "postgres", timeout=300)
    subprocess.run([str(PKI_SCRIPT), "init", str(pki())], check=True, capture_output=True)
    env = stack_env()
    logdir = h.state_dir() / f"leak-{mode}"
    logdir.mkdir(parents=True, exist_ok=True)
    procs = []          # every process started, including stopped ones: each is checked at the end
    ok = True
    try:
        for name in PROCS:
            procs.append(Proc(name, mode, env, logdir))
        wait_serving(procs, 300 if slow else 60)
        say(f"leak ({mode}): every process serving")
        if not slow:   # (valgrind runs the threads itself: the kernel's view of their masks means nothing then)
            for p in procs:
                bad = p.unblocked_threads()
                if bad:
                    ok = False
                    say(f"FAIL ltc-{p.name}: {len(bad)} threads do not block SIGTERM/SIGINT, so a SIGTERM can kill "
                        f"the process without its graceful stop: {', '.join(bad)} (started before "
                        f"ltc_block_signals?)")
        stubs = gateway_stubs("leak.admin", "admin", 60 if slow else 10)
        wait_s = 120 if slow else 30
        for k in range(1 if slow else 3):
            deal = h.lead_to_cash.PeopleDeal(lambda sub, role: gateway_stubs(sub, role, 60 if slow else 10),
                                             log=None, wait_s=wait_s)
            try:
                deal.run_all()
            finally:
                deal.close()
            say(f"leak ({mode}): deal {k + 1} from lead to cash, each step by its person's token")
        bad_requests(stubs)
        say(f"leak ({mode}): bad requests answered")
        customers_and_credit(60 if slow else 10)
        say(f"leak ({mode}): customers, admission and credit")
        # a hand-off while its receiver is down (stopped: its exit is checked too), then delivered
        d = lc_deal(stubs, wait_s)
        d.run_until("create_bid")
        [p for p in procs if p.name == "bto"][0].stop()
        d.run_until("mark_won")
        time.sleep(1.5)          # the relay tries and fails
        bto = Proc("bto", mode, env, logdir, run=2)
        procs.append(bto)
        wait_serving([bto], 300 if slow else 60)
        d.run_until("wait_bto_deal")
        say(f"leak ({mode}): hand-off delivered after its receiver came back")
        # PostgreSQL killed under the services, then back: reconnection paths
        h.stack("kill", "postgres")
        for fn in (lambda: stubs.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1), timeout=30),
                   lambda: stubs.bto.GetDeal(lc.bto.GetDealRequest(name=d.r["deal"]), timeout=30)):
            try:
                fn()
            except grpc.RpcError:
                pass
        h.stack("start", "postgres", timeout=300)
        lc.wait_for(lambda: stubs.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1), timeout=30), 120,
                    what="LTB after the PostgreSQL restart")
        d.run_until("create_quote")
        say(f"leak ({mode}): PostgreSQL restarted under the services; they carried on")
        stubs.close()
    finally:
        for p in sorted(procs, key=lambda p: p.name != "gateway"):      # the gateway first
            rc = p.stop()
            found, text = p.problems()
            if rc != 0 or found:
                ok = False
                say(f"FAIL {p.log.name}: exit {rc}, {', '.join(found) or 'no report in its log'} (log {p.log})")
                tail = [ln for ln in text.splitlines() if not ln.startswith("{")][-60:]
                say("\n".join("    " + ln for ln in tail))
            else:
                say(f"ok   {p.log.name}: exit 0, no leak or error report")
        h.stack("stop", "postgres", check=False)
    say(f"leak ({mode}): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
