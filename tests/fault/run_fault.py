#!/usr/bin/python3
"""run_fault - the fault suite: a Jepsen-style set check of the lead-to-cash flow under one fault case (faultlib.py).

    run_fault.py setup                  fresh stack for the suite (down, state folder wiped, up)
    run_fault.py teardown               scripts/stack down
    run_fault.py CASE [CASE...]         run cases on the running stack; exit 0 when every check passed
    run_fault.py all                    every case, in order
    run_fault.py checker_selftest       the checker catches planted violations (it can fail)
    run_fault.py postgres_kill          a busy backend dies with the postmaster; start right after the kill works
    options: --deals N (default LTC_FAULT_DEALS or per case), --workers W, --seed S, --long (thousands of deals)

The stack is scripts/stack with LTC_STATE_DIR / LTC_BIN_DIR / LTC_PORT_OFFSET from the environment (ctest sets
them). Cases (each its own fault; "mixed" combines them):
  receiver_before_commit   SIGKILL before the COMMIT of hand-off intakes and of client writes that emit hand-offs
  receiver_after_commit    SIGKILL between that COMMIT and the reply
  relay_after_send         SIGKILL of the sender between the receiver's OK and marking the outbox row delivered
  postgres_restart         PostgreSQL killed -9 twice mid-flow, restarted after 2 s
  duplicates_replay        every hand-off delivered twice; then every outbox replayed: nothing may change
  receiver_outage          BTO, then DTC, then LTB stopped for longer than the relay's retry cap (1 s)
  conflicts                concurrent conflicting client calls on a third of the deals
  receiver_paused          LTB hung (SIGSTOP) for 10 s: DTC's hand-offs to BTO keep their latency
  db_partition             the services' path to PostgreSQL goes silent for 8 s (a proxy): UNAVAILABLE in bounds
  replicas                 two replicas of every stage service, crash points and a replica killed
  mixed                    all of the above at lower rates, at once
Per case: the figures (deals, ops, unknowns and how they resolved, faults injected, time) and a history of every op
in $LTC_STATE_DIR/fault-history-CASE.jsonl.
"""

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import faultlib as fl  # noqa: E402
import grpc  # noqa: E402
from faultlib import h, lc, say  # noqa: E402

BASE_ENV = {"LTC_RELAY_MAX_BACKOFF_MS": "1000"}
# QualifyLead hands the customer it creates to BTO, OTD and DTC (AcceptCustomerChanged, docs/credit.md)
OUTBOX_WRITERS = ("QualifyLead", "MarkBidWon", "CreateOrder", "RecordAcceptance", "RecordPayment")


def crash_rules(point, p_intake, p_client):
    """LTC_FAULT_POINTS entries for `point` on every hand-off intake and on the client writes that emit one."""
    rules = [f"{point}@IntakeService={p_intake}"]
    rules += [f"{point}@{m}={p_client}" for m in OUTBOX_WRITERS]
    return rules


def points_env(rules, seed):
    return {s: {"LTC_FAULT_POINTS": ",".join(rules), "LTC_FAULT_SEED": str(seed + k)}
            for k, s in enumerate(fl.SERVICES)}


# name -> (default deals, workers, conflict share, fault points (list), schedule [(progress, action, args)], replay)
CASES = {
    "receiver_before_commit": dict(deals=150, points=crash_rules("server.before_commit", 0.02, 0.01)),
    "receiver_after_commit": dict(deals=150, points=crash_rules("server.after_commit", 0.02, 0.01)),
    "relay_after_send": dict(deals=150, points=["relay.after_send=0.03"]),
    # never scaled below 150 deals: the first restart holds the schedule 12-15 s (2 s down, then scripts/stack's start
    # checks every schema's migrations after PostgreSQL accepts connections), and the short mode's 75 deals could all
    # complete in that window, so that the second kill never came (a clean run failed "only 1 of 2 scheduled faults")
    "postgres_restart": dict(deals=150, min_deals=150,
                             schedule=[(0.25, "kill_postgres", 2.0), (0.6, "kill_postgres", 2.0)]),
    "duplicates_replay": dict(deals=150, points=["relay.send_twice=1"], replay=True, every_handoff_twice=True),
    "receiver_outage": dict(deals=150, schedule=[(0.2, "outage", ("bto", 4.0)), (0.5, "outage", ("dtc", 4.0)),
                                                 (0.75, "outage", ("ltb", 3.0))]),
    "conflicts": dict(deals=150, conflicts=0.34),
    # two replicas of every stage service (relays sharing each outbox, the gateway and the stages balancing across
    # them), with crashes after COMMIT and after send, hand-offs sent twice, and one replica of BTO killed
    "replicas": dict(deals=60, replicas=2,
                     points=(crash_rules("server.after_commit", 0.005, 0.002)
                             + ["relay.after_send=0.005", "relay.send_twice=0.2"]),
                     schedule=[(0.5, "kill", "bto2")]),
    # three replicas of every stage service and of the gateway (LTC_STACK_REPLICAS=3): the workload's channel balances
    # over the three gateways (round_robin over scripts/stack's ipv4: list), each of which must have served calls, and
    # OTD's third replica is killed at half the deals (the supervisor starts it again): every hand-off exactly once
    "replicas3": dict(deals=30, replicas=3, schedule=[(0.5, "kill", "otd3")]),
    # PostgreSQL unreachable without being stopped: the services reach it through a proxy that goes silent for 8 s
    "db_partition": dict(deals=100, schedule=[(0.35, "partition", 8.0)], db_proxy=True),
    # LTB hangs (SIGSTOP) for 10 s: DTC's closures to BTO must flow as before while its hand-offs to LTB wait
    "receiver_paused": dict(deals=120, schedule=[(0.4, "pause", ("ltb", 10.0))],
                            latency=("dtc", "bto", "ltb", 2.0)),
    "mixed": dict(deals=120, conflicts=0.2,
                  points=(crash_rules("server.before_commit", 0.01, 0.004) + crash_rules("server.after_commit", 0.01,
                                                                                        0.004)
                          + ["relay.after_send=0.01", "relay.send_twice=0.3"]),
                  schedule=[(0.2, "outage", ("otd", 3.0)), (0.35, "kill_postgres", 1.5)], replay=True),
}
LONG_DEALS = 2000

# The checker must be able to fail: after a clean run of a few deals, each mutation below breaks one property in the
# database (a duplicated payment, a lost order, a parked hand-off, a changed amount); the checker must report it with
# the given words, and the mutation is undone before the next. (SQL as the superuser; :'x' values come from the run.)
SELFTEST = [
    ("duplicated payment",
     "INSERT INTO dtc.payments (id, invoice_id, account_id, currency, amount_minor, reference)"
     " SELECT '{u}', invoice_id, account_id, currency, amount_minor, reference FROM dtc.payments"
     " WHERE reference = '{ref}'",
     "DELETE FROM dtc.payments WHERE id = '{u}'",
     ("acknowledged but found 2 times", "payments")),
    ("allocation changed behind its receipt",
     "UPDATE dtc.allocations SET amount_minor = amount_minor + 1 WHERE id ="
     " (SELECT l.id FROM dtc.allocations l JOIN dtc.order_accounts a ON a.id = l.account_id"
     "  WHERE a.deal_id = '{deal}' ORDER BY l.seq LIMIT 1)",
     "UPDATE dtc.allocations SET amount_minor = amount_minor - 1 WHERE id ="
     " (SELECT l.id FROM dtc.allocations l JOIN dtc.order_accounts a ON a.id = l.account_id"
     "  WHERE a.deal_id = '{deal}' ORDER BY l.seq LIMIT 1)",
     ("money not conserved",)),
    ("order lost between BTO and OTD",
     "UPDATE otd.orders SET deal_id = '{u}' WHERE deal_id = '{deal}'",
     "UPDATE otd.orders SET deal_id = '{deal}' WHERE deal_id = '{u}'",
     ("!= OTD orders",)),
    ("parked hand-off",
     "UPDATE ltb.outbox SET parked_time = now(), last_error = 'selftest' WHERE handoff_id ="
     " (SELECT handoff_id FROM ltb.outbox ORDER BY seq DESC LIMIT 1)",
     "UPDATE ltb.outbox SET parked_time = NULL, last_error = NULL WHERE last_error = 'selftest'",
     ("parked rows",)),
    ("collected amount changed",
     "UPDATE bto.orders SET collected_minor = collected_minor + 1 WHERE deal_id = '{deal}'",
     "UPDATE bto.orders SET collected_minor = collected_minor - 1 WHERE deal_id = '{deal}'",
     ("amounts not conserved",)),
    ("hand-off applied twice",
     "INSERT INTO otd.outbox (handoff_id, deal_id, destination, method, payload, delivered_time)"
     " SELECT '{u}', deal_id, destination, method, payload, now() FROM otd.outbox"
     " WHERE regexp_replace(deal_id, '^deals/', '') = '{deal}' AND method LIKE '%/AcceptDelivery' LIMIT 1",
     "DELETE FROM otd.outbox WHERE handoff_id = '{u}'",
     ("AcceptDelivery outbox rows",)),
    ("milestone lost on its way to the hub",
     "INSERT INTO bto.outbox (handoff_id, deal_id, destination, method, payload, delivered_time)"
     " VALUES ('{u}', 'deals/{deal}', 'ltb', '/ltc.ltb.v1.IntakeService/AcceptMilestone', '\\x', now())",
     "DELETE FROM bto.outbox WHERE handoff_id = '{u}'",
     ("is not in ltb.deal_milestones (lost)",)),
    ("milestone in the hub that no stage sent",
     "INSERT INTO ltb.deal_milestones (id, deal_id, stage, kind, record, occur_time, handoff_id)"
     " VALUES ('{u}', '{deal}', 'OTD', 'SHIPPED', 'shipments/selftest', now(), '{u}')",
     "DELETE FROM ltb.deal_milestones WHERE id = '{u}'",
     ("milestones in LTB for",)),
]


def selftest(args):
    """checker_selftest: a clean run, then each SELFTEST mutation must be caught."""
    hist = fl.History()
    stack = fl.Stack(hist)
    stack.apply({}, BASE_ENV)
    tag = f"selfte{args.seed}x{int(time.time()) % 100000}"
    say(f"== checker_selftest: 6 deals, tag {tag}")
    stubs = h.gateway()
    wl = fl.Workload(stubs, hist, tag, 6, 3, args.seed)
    wl.prepare()
    wl.run()
    fl.settle(hist)
    c = fl.Checker(wl, hist)
    if not c.run():
        say("FAIL checker_selftest: the clean run already fails:\n  - " + "\n  - ".join(c.errors))
        return False
    d = wl.deals[wl.complete[0]]
    vals = {"u": lc.new_id(), "deal": d["deal_id"], "ref": f"P-{tag}-{wl.complete[0]}-0"}
    ok = True
    for what, mutate, undo, words in SELFTEST:
        h.sql(mutate.format(**vals))
        try:
            c = fl.Checker(wl, hist)
            c.run()
            caught = [w for w in words if any(w in e for e in c.errors)]
            if len(caught) == len(words):
                say(f"  caught {what}: {c.errors[0]}")
            else:
                ok = False
                say(f"  NOT caught: {what} (wanted {words}; errors: {c.errors})")
        finally:
            h.sql(undo.format(**vals))
    c = fl.Checker(wl, hist)
    if not c.run():
        ok = False
        say("  the database is not clean after undoing the mutations: " + "; ".join(c.errors))
    stubs.close()
    say(f"{'PASS' if ok else 'FAIL'} checker_selftest: {len(SELFTEST)} mutations")
    return ok


def postgres_kill(args):
    """postgres_kill: `scripts/stack kill postgres` is a machine crash for PostgreSQL. A busy query (pg_sleep) must die
    with the postmaster, at once, and never return its result; `scripts/stack start postgres` right after the kill
    must start it (a SIGKILLed postmaster stays a zombie where nothing reaps it, which pg_ctl status and PostgreSQL's
    lock file check count as running); then every service serves again."""
    say("== postgres_kill: a busy backend dies with the postmaster; start right after the kill works")
    import subprocess
    busy = subprocess.Popen(list(h.superuser_psql()) + ["-X", "-A", "-t", "-c", "SELECT pg_sleep(20)",
                                                        "-c", "SELECT 'survived'"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    pid = ""
    t_end = time.monotonic() + 10
    while not pid and time.monotonic() < t_end:
        rows = h.sql("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND state = 'active'")
        pid = rows[0][0] if rows else ""
        time.sleep(0.1)
    errors = []
    if not pid:
        errors.append("the busy query never showed in pg_stat_activity")
    t0 = time.monotonic()
    fl.stack_run(["kill", "postgres"])
    kill_s = time.monotonic() - t0
    if pid and fl.pid_alive(int(pid)):
        errors.append(f"backend {pid} still runs after `scripts/stack kill postgres` returned")
    try:
        out, _ = busy.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        busy.kill()
        out, _ = busy.communicate()
        errors.append("the busy query's client still waited 5 s after the kill")
    if "survived" in out:
        errors.append("the busy query returned its result after the kill")
    # a call failed while the database is down: its audit row goes to the spool, and into audit_log once it is back
    audit_rid = lc.new_id()
    stubs = h.gateway()
    try:
        stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_REFERRAL, company_name=f"Spool {audit_rid}",
                             contact_name="Li Lei"), request_id=lc.new_id()),
            timeout=20, metadata=(("x-request-id", audit_rid),))
        errors.append("CreateLead answered OK while PostgreSQL was down")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAVAILABLE:
            errors.append(f"CreateLead answered {e.code().name} while PostgreSQL was down, not UNAVAILABLE")
    stubs.close()
    t0 = time.monotonic()
    p = fl.stack_run(["start", "postgres"], check=False, timeout=60)
    start_s = time.monotonic() - t0
    if p.returncode != 0:
        errors.append(f"scripts/stack start postgres right after the kill failed: {p.stdout}{p.stderr}")
    else:
        for name in fl.SERVICES + ("gateway",):
            h.wait_ready(name)
        stubs = h.gateway()
        hist = fl.History()
        wl = fl.Workload(stubs, hist, f"pgkill{args.seed}x{int(time.time()) % 100000}", 3, 3, args.seed)
        wl.prepare()
        wl.run()
        fl.settle(hist)
        if len(wl.complete) != 3:
            errors.append(f"after the restart only {len(wl.complete)} of 3 deals went through")
        stubs.close()
        q = "SELECT count(*) FROM ltb.audit_log WHERE request_id = :'r' AND code = 'UNAVAILABLE' AND spool_id IS NOT NULL"
        t_end = time.monotonic() + 15
        while h.sql_int(q, r=audit_rid) == 0 and time.monotonic() < t_end:
            time.sleep(0.2)
        n = h.sql_int(q, r=audit_rid)
        if n != 1:
            errors.append(f"the audit row of the call refused while PostgreSQL was down is in ltb.audit_log {n} times"
                          f" (want 1, from the spool)")
        else:
            say(f"  the audit row of a call failed during the outage reached ltb.audit_log from the spool")
    say(f"  kill: {kill_s:.2f} s (backend {pid or '?'}), start right after: {start_s:.1f} s")
    for e in errors:
        say("  - " + e)
    say(f"{'FAIL' if errors else 'PASS'} postgres_kill")
    return not errors


def run_schedule(wl, stack, schedule, done, fired):
    """Each fault fires when the workload reaches its share of the deals, or at the same share of 80% of the time
    limit if that comes first: on a slow machine (or in the short mode) every scheduled fault still runs while deals
    are in flight."""
    t0 = time.monotonic()
    for progress, action, args in sorted(schedule, key=lambda x: x[0]):
        due = t0 + progress * 0.8 * wl.time_limit_s
        while wl.progress() < progress and time.monotonic() < due and not done.is_set():
            time.sleep(0.05)
        if done.is_set():
            return
        getattr(stack, action)(*(args if isinstance(args, tuple) else (args,)))
        fired.append(action)


# db_partition: the services' bounds on the database (docs/configuration.md, LTC_DB_*), short for the test
PARTITION_STATEMENT_MS, PARTITION_CONNECT_S = 2000, 2
# a read's worst case: its statement's wait (statement timeout + 1 s), then once more on a new connection, whose
# set-up is never answered either (connect timeout); and as long again waiting for a worker, when every worker of the
# service is held by a call that met the partition just before (the workload's clients and the relays' hand-offs to
# it, a batch in flight per lane: a dtc probe answered after 8.5 s in a clean run, over the 7 s bound without this
# term); plus 2 s for the gateway and a loaded machine
PARTITION_CALL_S = PARTITION_STATEMENT_MS / 1000 + 1 + PARTITION_CONNECT_S
PARTITION_BOUND_S = 2 * PARTITION_CALL_S + 2


def partition_env(stack):
    """Every stage service reaches PostgreSQL through a PgProxy (all four DSNs, as an external database for
    scripts/stack), with short database bounds."""
    pg_port = h.DEFAULT_PORTS["postgres"] + h.offset()
    stack.proxy = fl.PgProxy(pg_port + 1, pg_port)
    env = {"LTC_DB_STATEMENT_TIMEOUT_MS": str(PARTITION_STATEMENT_MS), "LTC_DB_CONNECT_TIMEOUT_S": str(PARTITION_CONNECT_S)}
    for s in fl.SERVICES:
        dsn = (h.state_dir() / "secrets" / f"{s}.dsn").read_text().strip()
        env[f"LTC_{s.upper()}_DSN"] = dsn.replace(f"port={pg_port}", f"port={pg_port + 1}")
    return {s: dict(env) for s in fl.SERVICES}


def check_partition(stack, errors):
    """Every call made during the partition answered UNAVAILABLE, within the bound."""
    if not stack.partition_probes:
        errors.append("no call was made during the partition")
    for svc, code, secs in stack.partition_probes:
        if code != "UNAVAILABLE" or secs > PARTITION_BOUND_S:
            errors.append(f"during the partition a read on {svc} answered {code} after {secs} s (want UNAVAILABLE"
                          f" within {PARTITION_BOUND_S} s)")


def check_latency(spec, stack, checker, out):
    """A paused receiver delays only its own hand-offs: the sender's rows to another receiver written during the pause
    are delivered within `bound_s` (a relay that waited on the hung receiver took up to the 5 s call deadline), and
    the rows to the paused one waited (the pause was real)."""
    sender, other, paused, bound_s = spec
    windows = [(a, b) for (n, a, b) in stack.pauses if n == paused]
    if not windows:
        checker.err(f"{paused} was never paused")
        return False
    ok = True
    t_from, t_to = windows[0]
    n_in, p50_in, max_in = fl.handoff_latency(sender, other, t_from, t_to)
    n_all, p50_all, max_all = fl.handoff_latency(sender, other, "-infinity", "infinity")
    n_p, p50_p, max_p = fl.handoff_latency(sender, paused, t_from, t_to)
    out.update({f"{sender}->{other} during the pause": {"rows": n_in, "p50_s": p50_in, "max_s": max_in},
                f"{sender}->{other} whole outbox (earlier cases too)": {"rows": n_all, "p50_s": p50_all, "max_s": max_all},
                f"{sender}->{paused} during the pause": {"rows": n_p, "p50_s": p50_p, "max_s": max_p}})
    if n_in == 0:
        checker.err(f"no {sender} hand-off to {other} was written while {paused} was paused: nothing was measured")
        ok = False
    elif max_in > bound_s:
        checker.err(f"{sender}'s hand-offs to {other} took up to {max_in} s while {paused} was paused (bound {bound_s}"
                    f" s): a hung receiver delayed another's")
        ok = False
    if n_p and max_p < 1.0:
        checker.err(f"{sender}'s hand-offs to the paused {paused} were delivered within {max_p} s: was it paused?")
        ok = False
    return ok


def run_case(name, args):
    spec = CASES[name]
    scale = float(os.environ.get("LTC_FAULT_SCALE") or 1.0)
    deals = args.deals or (LONG_DEALS if args.long else int(os.environ.get("LTC_FAULT_DEALS") or 0)
                           or max(spec.get("min_deals", 10), int(spec["deals"] * scale)))
    seed = args.seed + sum(map(ord, name))
    tag = f"{name[:6]}{seed}x{int(time.time()) % 100000}"
    say(f"== {name}: {deals} deals, {args.workers} workers, seed {seed}, tag {tag}")
    env = points_env(spec["points"], seed) if spec.get("points") else {}
    t_start = time.monotonic()
    suite_replicas = fl.replicas()
    want_replicas = spec.get("replicas") or suite_replicas
    if want_replicas != suite_replicas:
        switch_replicas(want_replicas)
    try:
        return _run_case(name, args, spec, deals, seed, tag, env, t_start)
    finally:
        if want_replicas != suite_replicas:
            switch_replicas(suite_replicas)


def switch_replicas(n):
    """Brings the stack down and up again with n replicas of every stage service and of the gateway (the database
    stays)."""
    say(f"  (the stack with {n} replica{'s' if n > 1 else ''} of every stage service)")
    fl.stack_run(["down"], check=False)
    env = dict(BASE_ENV, LTC_STACK_REPLICAS=str(n))
    fl.stack_run(["up"], env=env, timeout=300)
    h.stack_env(refresh=True)     # the targets changed: with replicas, lists of every replica's address
    (h.state_dir() / fl.ENV_FILE).write_text(json.dumps({s: BASE_ENV for s in fl.stage_procs()}, sort_keys=True))
    h.ensure_up()


def _run_case(name, args, spec, deals, seed, tag, env, t_start):
    hist = fl.History()
    stack = fl.Stack(hist)
    if spec.get("db_proxy"):
        env = partition_env(stack)
    stack.apply(env, BASE_ENV)
    offsets = fl.log_offsets()
    gw_offsets = fl.log_offsets(fl.gateway_procs())
    rows_before = sum(v[2] for v in fl.outbox_state().values())
    stubs = h.gateway()
    wl = fl.Workload(stubs, hist, tag, deals, args.workers, seed, conflict_share=spec.get("conflicts", 0.0),
                     time_limit_s=args.time_limit)
    wl.prepare()
    stack.supervise()
    done, fired = threading.Event(), []
    sched = threading.Thread(target=run_schedule, args=(wl, stack, spec.get("schedule", []), done, fired),
                             daemon=True)
    sched.start()
    t_load = time.monotonic()
    wl.run()
    load_s = time.monotonic() - t_load
    done.set()
    sched.join()
    if spec.get("every_handoff_twice"):
        # every hand-off must go out while relay.send_twice is on: drain the outboxes before the points are removed
        # (a row still pending at the restart would be sent once, by a relay without the point)
        fl.settle(hist)
    # the faults stop: every process restarted without fault points, then the outboxes drain
    stack.unsupervise()
    crashes = fl.crash_counts(offsets)
    stack.apply({}, BASE_ENV)
    checker_errors = []
    if stack.proxy:
        stack.proxy.close()
        check_partition(stack, checker_errors)
    settled = fl.settle(hist)
    new_handoffs = sum(v[2] for v in settled.values()) - rows_before
    served = fl.intake_served(offsets)
    checker = fl.Checker(wl, hist)
    ok = checker.run()
    order_pairs, order_bad = fl.handoff_order()
    checker_errors += order_bad[:20]
    for e in checker_errors:
        checker.err(e)
        ok = False
    served_twice = sum(1 for v in served.values() if v >= 2)
    gw_calls = fl.rpc_counts(gw_offsets)   # with replicas: the calls went through every gateway replica
    if len(gw_calls) > 1 and min(gw_calls.values()) == 0:
        checker.err(f"a gateway replica served no call of the workload: {gw_calls}")
        ok = False
    if spec.get("every_handoff_twice") and served_twice < new_handoffs:
        checker.err(f"relay.send_twice=1, but only {served_twice} of {new_handoffs} hand-offs were served twice")
        ok = False
    if len(fired) != len(spec.get("schedule", [])):
        checker.err(f"only {len(fired)} of {len(spec.get('schedule', []))} scheduled faults ran")
        ok = False
    latency = None
    if spec.get("latency"):
        latency = {}
        ok = check_latency(spec["latency"], stack, checker, latency) and ok
    replay = None
    if spec.get("replay") and ok:
        before = fl.snapshot()
        audit_mark = fl.audit_mark()
        n = fl.replay_all(hist)
        fl.settle(hist)
        time.sleep(1.0)          # a late duplicate would land now
        after = fl.snapshot()
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        replay = {"rows_replayed": n, "tables_checked": len(before), "tables_changed": changed}
        if changed:
            checker.err(f"replaying the outboxes changed {changed}")
            ok = False
        audited, other = fl.audit_since(audit_mark)   # each replayed hand-off is answered from its stored response
        replay["audit_rows"] = audited
        if other or audited < n:
            checker.err(f"the replay left {audited} audit rows for {n} hand-offs, {other} of them not an "
                        f"IDEMPOTENT_REPLAY answered OK")
            ok = False
        st = fl.outbox_state()
        if any(v[0] or v[1] for v in st.values()):
            checker.err(f"after the replay the outboxes are {st}")
            ok = False
    stubs.close()

    ops = hist.ops
    outcomes = {k: sum(1 for o in ops if o.outcome == k) for k in ("ok", "fail", "unknown")}
    figures = {
        "case": name, "seed": seed, "deals": deals, "complete": len(wl.complete), "abandoned": len(wl.abandoned),
        "not_started": deals - len(wl.deals),     # the workload's time limit came first
        "ops": len(ops), "outcomes": outcomes,
        "attempts": sum(o.attempts for o in ops),
        "unknown_answers": sum(o.unknowns for o in ops),
        "ops_with_unknown_answers": sum(1 for o in ops if o.unknowns),
        "unknown_then_ok": sum(1 for o in ops if o.unknowns and o.outcome == "ok"),
        "unknown_then_refused": sum(1 for o in ops if o.unknowns and o.outcome == "fail"),
        "aborted_answers": sum(o.aborts for o in ops),
        "crash_points_fired": {f"{s}:{p}": n for (s, p), n in sorted(crashes.items())},
        "handoffs": {"new": new_handoffs, "served_ok": sum(served.values()), "served_more_than_once": served_twice},
        "supervisor_restarts": dict(stack.restarts),
        "scheduled_faults": fired,
        "conflicts": {f"{k[0]} -> {k[1]}": n for k, n in sorted(wl.conflict_results.items())},
        "workload_s": round(load_s, 1), "total_s": round(time.monotonic() - t_start, 1),
        "settle": {k: list(v) for k, v in settled.items()},
        "replay": replay,
        "handoff_latency": latency,
        "partition_probes": stack.partition_probes or None,
        "replicas": fl.replicas(),
        "calls_per_gateway": gw_calls,
        "per_deal_order_pairs_checked": order_pairs,
    }
    figures.update(checker.figures)
    out = h.state_dir() / f"fault-history-{name}.jsonl"
    hist.write(out)
    for k, v in figures.items():
        say(f"  {k}: {json.dumps(v)}")
    if checker.errors:
        say(f"FAIL {name}: {len(checker.errors)} violations (history: {out})")
        for e in checker.errors[:50]:
            say("  - " + e)
        return False
    say(f"PASS {name}: {len(wl.complete)}/{deals} deals, {len(ops)} ops, "
        f"{figures['ops_with_unknown_answers']} ops saw unknown answers ({figures['unknown_answers']} answers), "
        f"{sum(crashes.values())} crash points fired, {sum(stack.restarts.values())} restarts, "
        f"{len(fired)} scheduled faults, {figures['total_s']} s")
    return True


def setup():
    """A fresh stack for the suite: the state folder (named ltc-fault*, so a mistake cannot wipe anything else) is
    removed with its database, then `scripts/stack up` with the suite's base environment."""
    state = h.state_dir()
    fl.stack_run(["down"], check=False)
    fl.require_free_ports(fl.stack_ports(), f"the fault stack at LTC_PORT_OFFSET={h.offset()}")
    if state.exists():
        if not state.name.startswith("ltc-fault"):
            raise SystemExit(f"refusing to wipe {state}: the fault suite's state folder must be named ltc-fault*")
        shutil.rmtree(state)
    env = dict(BASE_ENV)
    # LTC_FAULT_REPLICAS=2: every case on two replicas of every stage service (on demand; the "replicas" case does it
    # in the regular suite)
    fl.stack_run(["up"], env=dict(env, LTC_STACK_REPLICAS=os.environ.get("LTC_FAULT_REPLICAS") or "1"), timeout=300)
    (state / fl.ENV_FILE).write_text(json.dumps({s: env for s in fl.stage_procs()}, sort_keys=True))
    h.ensure_up()
    say(f"fault stack up in {state}")
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+", help="setup | teardown | all | checker_selftest | " + " | ".join(CASES))
    ap.add_argument("--deals", type=int, default=0, help="deals per case (default: per case, or LTC_FAULT_DEALS)")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("LTC_FAULT_WORKERS") or 8))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("LTC_FAULT_SEED_BASE") or 20240501))
    ap.add_argument("--long", action="store_true", help=f"{LONG_DEALS} deals per case (or LTC_FAULT_LONG=1)")
    ap.add_argument("--time-limit", type=float, default=float(os.environ.get("LTC_FAULT_TIME_LIMIT") or 0),
                    help="seconds of workload per case before no new deal starts (default 150, long mode 3600)")
    args = ap.parse_args(argv)
    args.long = args.long or os.environ.get("LTC_FAULT_LONG") == "1"
    if not args.time_limit:
        args.time_limit = 3600.0 if args.long else 150.0
    names = []
    for c in args.cases:
        if c == "setup":
            setup()
        elif c == "teardown":
            fl.stack_run(["down"], check=False)
        elif c == "all":
            names.extend(CASES)
        elif c in ("checker_selftest", "postgres_kill"):
            names.append(c)
        elif c in CASES:
            names.append(c)
        else:
            ap.error(f"unknown case {c}")
    failed = []
    for n in names:
        try:
            special = {"checker_selftest": selftest, "postgres_kill": postgres_kill}
            if not (special[n](args) if n in special else run_case(n, args)):
                failed.append(n)
        except Exception as e:    # the stack misbehaved: a failure of the case, with what happened
            say(f"FAIL {n}: {type(e).__name__}: {e}")
            failed.append(n)
    if names:
        say(f"fault: {len(names) - len(failed)} passed, {len(failed)} failed{': ' + ' '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
