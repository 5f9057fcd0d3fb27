#!/usr/bin/python3
"""test_security - the stack as it runs in production: TLS at the gateway, mTLS between processes, bearer tokens,
roles, iron-triangle ownership, the audit trail and the limits (docs/security.md). Each attack gets its status and
changes nothing.

The ctest fixture (security_stack_up) starts the stack with LTC_STACK_SECURITY=on: scripts/pki made a development CA,
one certificate per process and the token keys in <state>/pki. Tokens are minted here with PyJWT and the
`cryptography` package (Debian python3-jwt, python3-cryptography), not with the project's code.

    /usr/bin/python3 tests/security/test_security.py      (LTC_STATE_DIR, LTC_PORT_OFFSET as the fixture sets them)
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
os.environ.setdefault("LTC_STACK_SECURITY", "on")

import grpc  # noqa: E402
import jwt  # noqa: E402  (PyJWT)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

import harness as h  # noqa: E402
import lead_to_cash  # noqa: E402
import ltc_client as lc  # noqa: E402

C = grpc.StatusCode
PKI = Path(os.environ.get("LTC_STATE_DIR", REPO / ".ltc")) / "pki"
ISSUER, AUDIENCE = "https://idp.ltc.test", "ltc"
AR, SR, FR = lead_to_cash.PeopleDeal.TRIANGLE   # the iron triangle lead_to_cash.py gives its deals
RUN = uuid.uuid4().hex[:8]
OTHER_SALES = f"ar.other.{RUN}"
INJECTIONS = ["'; DROP TABLE leads; --", "x' OR '1'='1", "Robert'); DELETE FROM ltb.opportunities; --",
              "$1 $$ \\'; SELECT pg_sleep(5); --", "%s %n {0} ${jndi:ldap://x}"]


def target(name):
    return f"127.0.0.1:{h.DEFAULT_PORTS[name] + h.offset()}"


def read(path):
    return Path(path).read_bytes()


def token(sub, roles, alg="RS256", kid=None, key=None, **claims):
    """A token signed with the development keys (or `key`), with the given claims over sensible defaults."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": list(roles), "iat": now, "nbf": now,
            "exp": now + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    default = {"RS256": ("dev-rs256", PKI / "jwt" / "rs256.key"), "ES256": ("dev-es256", PKI / "jwt" / "es256.key"),
               "HS256": ("dev-hs256", PKI / "jwt" / "hs256.secret")}
    k, path = default.get(alg, (None, None))
    return jwt.encode(body, key if key is not None else read(path), algorithm=alg,
                      headers={"kid": kid if kid is not None else k})


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header, body):
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}."


def hs256_token(header, body, secret):
    """An HS256 token signed by hand (PyJWT refuses PEM keys as HMAC secrets: that is the attack we test)."""
    import hashlib
    import hmac
    signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
    return signing + "." + b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def claims(sub="mallory", roles=("admin",)):
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": list(roles), "iat": now, "exp": now + 600}


def gateway(tok=None, ca=PKI / "ca.crt"):
    return lc.Stubs(target("gateway"), ca_file=str(ca), token=tok)


def as_user(sub, *roles):
    return gateway(token(sub, roles))


def service_channel(name, identity=None, pki=PKI):
    """A channel to a stage service's own port, presenting `identity`'s certificate (None: no client certificate)."""
    cert = str(pki / f"{identity}.crt") if identity else None
    key = str(pki / f"{identity}.key") if identity else None
    return lc.open_channel(target(name), ca_file=str(PKI / "ca.crt"), cert_file=cert, key_file=key,
                           server_name=f"ltc-{name}")


def raw_call(channel, method, request=b"", timeout=5, metadata=None):
    data = request if isinstance(request, bytes) else request.SerializeToString()
    return lc.call_raw(channel, method, data, timeout=timeout, metadata=metadata)


COUNT_SQL = None


def row_counts():
    """Rows per table of the four stage schemas, without the audit trail (which records refused writes)."""
    global COUNT_SQL
    if COUNT_SQL is None:
        tables = h.sql("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('ltb', 'bto', 'otd', 'dtc') "
                       "AND tablename <> 'audit_log' ORDER BY 1, 2")
        COUNT_SQL = " UNION ALL ".join(f"SELECT '{s}.{t}', count(*) FROM \"{s}\".\"{t}\"" for s, t in tables)
    return {name: int(n) for name, n in h.sql(COUNT_SQL)}


class SecurityTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not (PKI / "ca.crt").exists():
            raise unittest.SkipTest(f"no development PKI in {PKI}: the stack is not running with security on")
        # one deal from lead to cash, each step by the role that does it in an LTC organisation
        cls.deal = RoleDeal()
        cls.r = cls.deal.run_all()

    def refused(self, call, code, reason=None):
        """call() must fail with code (and reason) and change no row outside the audit trail."""
        before = row_counts()
        d = h.expect_error(call, code)
        if reason:
            self.assertEqual(d.reason, reason, str(d))
        self.assertEqual(row_counts(), before, f"a refused call changed rows: {d}")
        return d

    # --- the happy path -----------------------------------------------------------------------------------------

    def test_deal_by_roles_reached_cash(self):
        self.assertEqual(self.r["states"]["opportunity_final"], "OPPORTUNITY_STAGE_CASH_COLLECTED")
        self.assertEqual(self.r["states"]["bto_order_final"], "ORDER_STATE_CLOSED")
        self.assertEqual(self.r["states"]["dtc_account_final"], "ORDER_ACCOUNT_STATE_CLOSED")

    def test_every_signing_algorithm_of_the_key_set(self):
        for alg in ("RS256", "ES256", "HS256"):
            with self.subTest(alg=alg), gateway(token(AR, ["sales"], alg=alg)) as s:
                got = s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.r["opportunity"])).opportunity
                self.assertEqual(got.name, self.r["opportunity"])

    # --- authentication -----------------------------------------------------------------------------------------

    def get_lead_with(self, tok):
        with gateway(tok) as s:
            return s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))

    def test_bad_tokens_are_unauthenticated(self):
        other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        other_pem = other_rsa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        public_pem = read(PKI / "jwt" / "rs256.pub.pem")
        now = int(time.time())
        cases = {
            "MISSING_TOKEN": None,
            "TOKEN_EXPIRED": token(AR, ["sales"], exp=now - 3600, iat=now - 7200, nbf=now - 7200),
            "TOKEN_EXPIRED ": token(AR, ["sales"], exp=None),  # no exp at all
            "TOKEN_NOT_YET_VALID": token(AR, ["sales"], nbf=now + 3600),
            "WRONG_AUDIENCE": token(AR, ["sales"], aud="another-system"),
            "WRONG_ISSUER": token(AR, ["sales"], iss="https://evil.example"),
            "BAD_SIGNATURE": token(AR, ["sales"], key=other_pem),              # right kid, another key
            "UNKNOWN_KEY": token(AR, ["sales"], kid="no-such-key"),
            "ALGORITHM_NOT_ALLOWED": unsigned_token({"alg": "none", "typ": "JWT", "kid": "dev-rs256"}, claims())
                                     + "c2ln",
            "MALFORMED_TOKEN ": unsigned_token({"alg": "none", "typ": "JWT"}, claims()),   # no signature at all
            # algorithm confusion: an HS256 token "signed" with the RS256 public key (which anyone may have)
            "ALGORITHM_NOT_ALLOWED ": hs256_token({"alg": "HS256", "typ": "JWT", "kid": "dev-rs256"}, claims(),
                                                  public_pem),
            "ALGORITHM_NOT_ALLOWED  ": token(AR, ["sales"], alg="RS512", kid="dev-rs256",
                                             key=read(PKI / "jwt" / "rs256.key")),
            "MALFORMED_TOKEN": "not-a-jwt",
            "NO_SUBJECT": token(None, ["sales"]),
            # a standing credential: a 10-year token, and one issued two days ago (the key set allows a day)
            "TOKEN_LIFETIME_TOO_LONG": token(AR, ["sales"], exp=now + 10 * 365 * 86400),
            "TOKEN_LIFETIME_TOO_LONG ": token(AR, ["sales"], iat=now - 2 * 86400, nbf=now - 2 * 86400,
                                              exp=now + 3600),
        }
        for reason, tok in cases.items():
            with self.subTest(reason=reason.strip()):
                d = self.refused(lambda: self.get_lead_with(tok), C.UNAUTHENTICATED, reason.strip())
                self.assertEqual(d.domain, "gateway.ltc")
        # the header must be "Bearer <token>"
        with gateway() as s:
            h.expect_error(lambda: s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]),
                                                 metadata=[("authorization", "Basic YWRtaW46YWRtaW4=")]),
                           C.UNAUTHENTICATED)

    def test_plaintext_client_against_the_tls_port(self):
        with lc.Stubs(target("gateway"), timeout=3) as s:   # insecure channel
            d = h.expect_error(lambda: s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]),
                                                     metadata=[("authorization", "Bearer " + token(AR, ["sales"]))]),
                               C.UNAVAILABLE)
            self.assertNotIn("lead", str(d).lower().replace("leads/", ""))

    def test_gateway_certificate_from_another_ca_is_refused(self):
        with tempfile.TemporaryDirectory() as other:
            subprocess.run([str(REPO / "scripts" / "pki"), "init", other], check=True, capture_output=True)
            with gateway(token(AR, ["sales"]), ca=Path(other) / "ca.crt") as s:
                h.expect_error(lambda: s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]), timeout=3),
                               C.UNAVAILABLE)

    # --- authorisation: roles -------------------------------------------------------------------------------------

    def test_role_without_permission(self):
        cases = [
            (("auditor",), lambda s: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_WEBSITE, company_name="Read Only Inc",
                                 contact_email="ro@example.com"), request_id=lc.new_id()))),
            (("sales",), lambda s: s.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
                payment=lc.dtc.Payment(invoice=self.r["invoices"][0][0], amount=lc.money(1, "CNY")),
                request_id=lc.new_id()))),
            (("fulfilment",), lambda s: s.ltb.MarkBidWon(lc.ltb.MarkBidWonRequest(name=self.r["bid"],
                                                                                    request_id=lc.new_id()))),
            (("finance",), lambda s: s.bto.CreateProduct(lc.bto.CreateProductRequest(
                product=lc.bto.Product(sku=f"FIN-{RUN}", display_name="x", list_price=lc.money(100, "CNY")),
                request_id=lc.new_id()))),
            ((), lambda s: s.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1))),       # a token with no role
            (("sales",), lambda s: s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage="ltb"))),
        ]
        for roles, call in cases:
            with self.subTest(roles=roles), as_user(AR, *roles) as s:
                self.refused(lambda: call(s), C.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")

    def test_only_the_responsible_role_clears_a_hold(self):
        """OTD ClearHold past the gateway's role table: sales and solution may call it (they clear their own
        functions' holds) but a REVIEWER hold is fulfilment's (or a manager's), so the deal's own account and solution
        owners are refused NOT_RESPONSIBLE_FOR_CHECK, finance is refused at the gateway, and the fulfilment owner
        clears it, recorded as the reviewer (docs/planning.md, "Review")."""
        deal = RoleDeal()
        try:
            r = deal.run_until("wait_otd_order")
            with as_user(FR, "fulfilment") as s:
                held = s.otd.ReviewOrder(lc.otd.ReviewOrderRequest(
                    name=r["order"], approved=False, comment="site survey first", request_id=lc.new_id())).order
            self.assertEqual(held.state, lc.otd.ORDER_STATE_ON_HOLD)
            # the refusals must change no row: let the hand-offs of the hold settle first
            pending = "SELECT " + " + ".join(
                f"(SELECT count(*) FROM {svc}.outbox WHERE delivered_time IS NULL AND parked_time IS NULL)"
                for svc in ("ltb", "bto", "otd", "dtc"))
            h.wait_until(lambda: h.sql_int(pending) == 0, what="the outboxes drained")

            def clear(s):
                return s.otd.ClearHold(lc.otd.ClearHoldRequest(
                    name=r["order"], function=lc.otd.REVIEW_FUNCTION_REVIEWER, comment="survey done",
                    request_id=lc.new_id())).order
            for who, role in ((AR, "sales"), (SR, "solution")):
                with self.subTest(role=role), as_user(who, role) as s:
                    self.refused(lambda: clear(s), C.PERMISSION_DENIED, "NOT_RESPONSIBLE_FOR_CHECK")
            with as_user(FR, "finance") as s:
                self.refused(lambda: clear(s), C.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")
            with as_user(FR, "fulfilment") as s:
                cleared = clear(s)
            checks = {c.function: c for c in cleared.checks}
            self.assertEqual(checks[lc.otd.REVIEW_FUNCTION_REVIEWER].outcome, lc.otd.CHECK_OUTCOME_CLEARED)
            self.assertEqual(checks[lc.otd.REVIEW_FUNCTION_REVIEWER].reviewer, FR)
            self.assertEqual(checks[lc.otd.REVIEW_FUNCTION_REVIEWER].comment, "survey done")
            failed = [c for c in cleared.checks if c.outcome == lc.otd.CHECK_OUTCOME_FAILED]
            self.assertEqual(cleared.state, lc.otd.ORDER_STATE_ON_HOLD if failed else lc.otd.ORDER_STATE_REVIEWED)
        finally:
            deal.close()

    # --- authorisation: ownership (OWASP API1) ---------------------------------------------------------------------

    def test_other_sales_user_cannot_touch_this_deal(self):
        r = self.r
        with as_user(OTHER_SALES, "sales") as s:
            reads = {
                "GetOpportunity": lambda: s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=r["opportunity"])),
                "GetBid": lambda: s.ltb.GetBid(lc.ltb.GetBidRequest(name=r["bid"])),
                "GetDealTimeline": lambda: s.ltb.GetDealTimeline(lc.ltb.GetDealTimelineRequest(deal=r["deal"])),
                "GetDeal": lambda: s.bto.GetDeal(lc.bto.GetDealRequest(name=r["deal"])),
                "GetQuote": lambda: s.bto.GetQuote(lc.bto.GetQuoteRequest(name=r["quote"])),
                "GetContract": lambda: s.bto.GetContract(lc.bto.GetContractRequest(name=r["contract"])),
                "bto.GetOrder": lambda: s.bto.GetOrder(lc.bto.GetOrderRequest(name=r["order"])),
                "otd.GetOrder": lambda: s.otd.GetOrder(lc.otd.GetOrderRequest(name=r["order"])),
                "GetShipment": lambda: s.otd.GetShipment(lc.otd.GetShipmentRequest(name=r["shipments"][0][0])),
                "GetOrderAccount": lambda: s.dtc.GetOrderAccount(lc.dtc.GetOrderAccountRequest(
                    name="orderAccounts/" + lc.name_id(r["order"]))),
                "GetInvoice": lambda: s.dtc.GetInvoice(lc.dtc.GetInvoiceRequest(name=r["invoices"][0][0])),
                "ListInvoices of the order": lambda: s.dtc.ListInvoices(lc.dtc.ListInvoicesRequest(order=r["order"])),
                "UpdateOpportunity": lambda: s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
                    opportunity=lc.ltb.Opportunity(name=r["opportunity"], title="mine now"),
                    update_mask={"paths": ["title"]}, request_id=lc.new_id())),
                "CreateQuote": lambda: s.bto.CreateQuote(lc.bto.CreateQuoteRequest(
                    quote=lc.bto.Quote(deal=r["deal"], valid_until=lc.days_ahead(10),
                                       lines=[lc.bto.QuoteLine(product=r["products"]["A"], quantity=1)]),
                    request_id=lc.new_id())),
                "MarkBidLost": lambda: s.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(
                    name=r["bid"], reason="sabotage", request_id=lc.new_id())),
            }
            for what, call in reads.items():
                with self.subTest(call=what):
                    self.refused(call, C.PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE")
            # lists hold only the caller's own deals
            listed = [o.name for o in s.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(page_size=500))
                      .opportunities]
            self.assertNotIn(r["opportunity"], listed)
            self.assertNotIn(r["deal"], [d.name for d in s.bto.ListDeals(lc.bto.ListDealsRequest(page_size=500)).deals])
            self.assertNotIn(r["order"], [o.name for o in s.otd.ListOrders(lc.otd.ListOrdersRequest(page_size=500))
                                          .orders])
            self.assertFalse({i[0] for i in r["invoices"]} & {i.name for i in s.dtc.ListInvoices(
                lc.dtc.ListInvoicesRequest(page_size=500)).invoices})
        # the owners and the company-wide roles do see it
        for who, roles in ((AR, ("sales",)), (SR, ("solution",)), (FR, ("fulfilment",)), ("boss", ("manager",)),
                           ("audrey", ("auditor",))):
            with self.subTest(who=who), as_user(who, *roles) as s:
                s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=r["opportunity"]))
                if roles[0] in ("sales", "solution", "fulfilment"):
                    listed = [o.name for o in s.ltb.ListOpportunities(
                        lc.ltb.ListOpportunitiesRequest(page_size=500)).opportunities]
                    self.assertIn(r["opportunity"], listed)

    # --- the second pass (issue #19): what got through the first time ---------------------------------------------

    def test_a_second_role_does_not_lift_the_scope_of_writes(self):
        """Finding 1: a role lifts the iron-triangle scope only for the methods it grants itself. A sales user who is
        also an auditor (reads all deals) or in finance (all deals for receivables) still writes only their own deals;
        their reads of other deals are the auditor's or finance's to make."""
        r = self.r
        for roles in (("sales", "auditor"), ("sales", "finance"), ("auditor", "sales")):
            with self.subTest(roles=roles), as_user(OTHER_SALES, *roles) as s:
                writes = {
                    "UpdateOpportunity": lambda: s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
                        opportunity=lc.ltb.Opportunity(name=r["opportunity"], title="mine now"),
                        update_mask={"paths": ["title"]}, request_id=lc.new_id())),
                    "MarkBidLost": lambda: s.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(
                        name=r["bid"], reason="sabotage", request_id=lc.new_id())),
                    "CreateQuote": lambda: s.bto.CreateQuote(lc.bto.CreateQuoteRequest(
                        quote=lc.bto.Quote(deal=r["deal"], valid_until=lc.days_ahead(10),
                                           lines=[lc.bto.QuoteLine(product=r["products"]["A"], quantity=1)]),
                        request_id=lc.new_id())),
                }
                for what, call in writes.items():
                    with self.subTest(call=what):
                        self.refused(call, C.PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE")
                # the other role's own grant still holds: it reads every deal
                s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=r["opportunity"]))

    def test_strangers_cannot_forge_metrics(self):
        """Finding 2: a call with no token to a path made of label syntax leaves no forged series on the gateway's
        /metrics; unknown paths share the one label "unknown", so they cannot fill the per-method slots either."""
        import urllib.request
        forged = ['/p"} 1\nfake_metric{x="', '/x"} 9\ngrpc_server_handled_total{grpc_method="forged",grpc_code="OK"} 7',
                  "/ltc.ltb.v1.LeadToBidService/NoSuchMethod", '/a{b="c"}/d']
        for i in range(16):   # under the strangers' burst (40): the next test drains it on purpose
            forged.append(f"/flood.v1.S{i}/M")
        with gateway() as s:   # TLS, no token
            for path in forged:
                try:
                    s.call_raw(path, b"", timeout=5)
                except (grpc.RpcError, ValueError):
                    pass   # refused (UNAUTHENTICATED), or a path the client library will not even send
        port = h.DEFAULT_PORTS["gateway"] + h.offset() + 1000
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        self.assertNotIn("fake_metric", text)
        self.assertNotIn('method="forged"', text)
        self.assertNotIn('grpc_method="forged"', text)
        self.assertNotIn("flood.v1", text)
        self.assertNotIn("NoSuchMethod", text)
        for line in text.splitlines():
            if line.startswith(("grpc_server_", "grpc_client_")):
                self.assertRegex(line, r'^grpc_(server|client)_[a-z_]+\{grpc_service="[A-Za-z0-9_./-]+",'
                                       r'grpc_method="[A-Za-z0-9_./-]+"(,[a-z_]+="[^"\\\n]*")*\} '
                                       r"[0-9.e+-]+$", "a series with a label the caller chose")
        self.assertIn('grpc_service="unknown",grpc_method="unknown"', text)
        time.sleep(2.5)   # let this host's budget of failed authentications refill for the tests after this one

    def test_strangers_are_limited_before_any_signature_check(self):
        """A host whose calls keep failing authentication is refused (RESOURCE_EXHAUSTED,
        UNAUTHENTICATED_RATE_LIMITED, with a RetryInfo) before the gateway checks any signature, so bad tokens cannot
        buy CPU; the budget refills (20/s, burst 40), and then the same host's good token works again."""
        bad = token(AR, ["sales"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        limited = good_refused = 0
        with gateway(bad) as s, as_user(AR, "sales") as good:
            good.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))   # connected before the flood
            for _ in range(120):
                try:
                    s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))
                    self.fail("a token signed by another key was accepted")
                except grpc.RpcError as e:
                    if e.code() == C.RESOURCE_EXHAUSTED:
                        limited += 1
                        d = lc.error_details(e)
                        self.assertEqual(d.reason, "UNAUTHENTICATED_RATE_LIMITED")
                        self.assertTrue(any(a.type_url.endswith("/google.rpc.RetryInfo") for a in d.status.details),
                                        f"no RetryInfo: {d}")
                    else:
                        self.assertEqual(e.code(), C.UNAUTHENTICATED)
                # the same host's good token, between two bad ones: refused unchecked while the bucket is empty
                try:
                    good.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))
                except grpc.RpcError as e:
                    self.assertEqual(lc.error_details(e).reason, "UNAUTHENTICATED_RATE_LIMITED")
                    good_refused += 1
            self.assertGreater(limited, 10, "the failed authentications of one host were never limited")
            self.assertGreater(good_refused, 0, "the host's calls were refused only when their tokens were bad")
            time.sleep(2.5)   # 40 tokens at 20/s
            good.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))

    def test_reflection_on_the_public_port_describes_only_the_public_contract(self):
        """Finding 3: over TLS and without a token, reflection at the gateway answers neither a symbol nor a file of
        the internal services (hand-off receivers, hand-off admin, credit and availability questions)."""
        import test_reflection as tr   # the reflection client of tests/integration (messages from Debian's grpc-proto)
        with gateway() as s:
            for version in ("v1", "v1alpha"):
                r = tr.Reflector(s.channel, version)
                for sym in ("ltc.admin.v1.HandoffAdminService", "ltc.ltb.v1.IntakeService",
                            "ltc.dtc.v1.IntakeService.AcceptDelivery", "ltc.dtc.v1.CreditService",
                            "ltc.otd.v1.AvailabilityService"):
                    a = r.ask(file_containing_symbol=sym)
                    self.assertTrue(a.HasField("error_response"), f"{version}: the gateway described {sym}")
                for name in ("ltc/admin/v1/handoff_admin_service.proto", "ltc/bto/v1/intake_service.proto"):
                    a = r.ask(file_by_filename=name)
                    self.assertTrue(a.HasField("error_response"), f"{version}: the gateway described {name}")
                self.assertTrue(r.files_for(file_containing_symbol="ltc.ltb.v1.LeadToBidService"))

    def test_the_gateway_certificate_alone_acts_as_nobody(self):
        """The stages take the caller's identity only from an assertion the gateway signs with its own Ed25519 key
        (LTC_GATEWAY_ASSERTION_KEY), for one stage and one method, living seconds, accepted once. Whoever holds the
        gateway's certificate but not that key (a stolen certificate, a compromised hop) cannot act as anyone:
        headers alone, an assertion of their own key, one for another stage or method, an expired one and a replayed
        one are all refused; the same call with a fresh assertion of the gateway's key works."""
        from cryptography.hazmat.primitives.asymmetric import ed25519
        gw_key = serialization.load_pem_private_key(read(PKI / "assertion.key"), password=None)
        mine = ed25519.Ed25519PrivateKey.generate()
        path = "/ltc.ltb.v1.LeadToBidService/GetLead"
        get_lead = lc.ltb.GetLeadRequest(name=self.r["lead"])

        def assertion(key, sub=AR, roles="sales", aud="ltb", method=path, iat=None, life=30):
            iat = int(time.time()) if iat is None else iat
            body = json.dumps({"sub": sub, "roles": roles, "aud": aud, "mth": method, "jti": uuid.uuid4().hex,
                               "iat": iat, "exp": iat + life}, separators=(",", ":")).encode()
            signed = "v1." + b64url(body)
            return signed + "." + b64url(key.sign(signed.encode()))

        with service_channel("ltb", "gateway") as ch:
            def call(tok, extra=()):
                md = [("x-ltc-principal", AR), ("x-ltc-roles", "admin"), *extra]
                if tok is not None:
                    md.append(("x-ltc-assertion", tok))
                return raw_call(ch, path, get_lead, metadata=md)
            self.refused(lambda: call(None), C.UNAUTHENTICATED, "NO_ASSERTION")
            self.refused(lambda: call(assertion(mine, roles="admin")), C.UNAUTHENTICATED, "BAD_ASSERTION")
            self.refused(lambda: call(assertion(gw_key, aud="dtc")), C.UNAUTHENTICATED,
                         "ASSERTION_FOR_ANOTHER_STAGE")
            self.refused(lambda: call(assertion(gw_key, method="/ltc.ltb.v1.LeadToBidService/UpdateLead")),
                         C.UNAUTHENTICATED, "ASSERTION_FOR_ANOTHER_METHOD")
            self.refused(lambda: call(assertion(gw_key, iat=int(time.time()) - 120)), C.UNAUTHENTICATED,
                         "ASSERTION_EXPIRED")
            self.refused(lambda: call(assertion(gw_key, life=3600)), C.UNAUTHENTICATED, "ASSERTION_EXPIRED")
            good = assertion(gw_key)
            call(good)   # the gateway's key: works (the headers' "admin" is ignored: the assertion says sales)
            self.refused(lambda: call(good), C.UNAUTHENTICATED, "ASSERTION_REPLAYED")
            # the asserted roles are the ones that count, not the headers' "admin": no role, no call
            self.refused(lambda: call(assertion(gw_key, roles="")), C.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")

    def test_idempotency_keys_are_scoped_to_the_principal(self):
        """Finding 4: Mallory sending Alice's request_id on the same method is another request: never Alice's stored
        response. The same payload is judged afresh (a duplicate of Alice's NEW lead: DUPLICATE_LEAD), another payload
        creates Mallory's own lead (not IDEMPOTENCY_KEY_REUSED), and Alice's retry is still a replay."""
        key = lc.new_id()
        run = uuid.uuid4().hex[:8]

        def lead(company):
            return lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_REFERRAL, company_name=company, contact_name="Li Lei",
                               contact_email=f"li.lei+{uuid.uuid4().hex[:8]}@example.test",
                               contact_phone=lead_to_cash.unique_phone())
        alice_lead = lead(f"Alice Trading {run}")
        with as_user(f"alice.{run}", "sales") as alice, as_user(f"mallory.{run}", "sales") as mallory:
            first = alice.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=alice_lead, request_id=key)).lead
            d = h.expect_error(lambda: mallory.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=alice_lead,
                                                                                      request_id=key)),
                               C.ALREADY_EXISTS)
            self.assertEqual(d.reason, "DUPLICATE_LEAD", f"Alice's key replayed to Mallory: {d}")
            other = mallory.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead(f"Mallory Ltd {run}"),
                                                                    request_id=key)).lead
            self.assertNotEqual(other.name, first.name)
            self.assertEqual(other.company_name, f"Mallory Ltd {run}")
            again = alice.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=alice_lead, request_id=key)).lead
            self.assertEqual(again.name, first.name, "Alice's own retry is still a replay")
            d = h.expect_error(lambda: alice.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=lead(f"Changed {run}"), request_id=key)), C.ALREADY_EXISTS)
            self.assertEqual(d.reason, "IDEMPOTENCY_KEY_REUSED")

    def test_forged_principal_header_is_ignored(self):
        with as_user(OTHER_SALES, "sales") as s:
            self.refused(lambda: s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.r["opportunity"]),
                                                      metadata=[("x-ltc-principal", AR), ("x-ltc-roles", "admin")]),
                         C.PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE")

    # --- mass assignment ----------------------------------------------------------------------------------------------

    def test_server_set_fields_cannot_be_set_by_the_client(self):
        r = RoleDeal().run_until("create_products")   # a deal still open for quotes
        with as_user(SR, "solution") as s:
            price = s.bto.GetProduct(lc.bto.GetProductRequest(name=r["products"]["A"])).product.list_price
            # a quote whose client sets its state, version, line prices and total: all are the server's
            q = s.bto.CreateQuote(lc.bto.CreateQuoteRequest(quote=lc.bto.Quote(
                deal=r["deal"], valid_until=lc.days_ahead(10), state=lc.bto.QUOTE_STATE_ACCEPTED, version=99,
                total=lc.money(1, "CNY"),
                lines=[lc.bto.QuoteLine(product=r["products"]["A"], quantity=2, unit_price=lc.money(1, "CNY"),
                                        unit_list_price=lc.money(1, "CNY"), line_total=lc.money(2, "CNY"))]),
                request_id=lc.new_id())).quote
            self.assertEqual(q.state, lc.bto.QUOTE_STATE_DRAFT)
            self.assertNotEqual(q.version, 99)
            self.assertEqual(lc.to_minor(q.lines[0].unit_list_price), lc.to_minor(price))
            self.assertEqual(lc.to_minor(q.lines[0].unit_price), lc.to_minor(price))   # no discount asked
            self.assertEqual(lc.to_minor(q.lines[0].line_total), 2 * lc.to_minor(price))
            self.assertEqual(lc.to_minor(q.total), lc.to_minor(q.lines[0].line_total))
        with as_user(AR, "sales") as s:
            for path in ("stage", "collected_amount", "deal", "iron_triangle", "create_time"):
                with self.subTest(path=path):
                    self.refused(lambda: s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
                        opportunity=lc.ltb.Opportunity(name=r["opportunity"]), update_mask={"paths": [path]},
                        request_id=lc.new_id())), C.INVALID_ARGUMENT)

    # --- mTLS between processes -------------------------------------------------------------------------------------

    def test_service_ports_want_the_right_client_certificate(self):
        get_lead = lc.ltb.GetLeadRequest(name=self.r["lead"])
        path = "/ltc.ltb.v1.LeadToBidService/GetLead"
        # no client certificate, plaintext, a certificate of another CA: the handshake fails
        with service_channel("ltb") as ch:
            h.expect_error(lambda: raw_call(ch, path, get_lead), C.UNAVAILABLE)
        with grpc.insecure_channel(target("ltb")) as ch:
            h.expect_error(lambda: raw_call(ch, path, get_lead), C.UNAVAILABLE)
        with tempfile.TemporaryDirectory() as other:
            subprocess.run([str(REPO / "scripts" / "pki"), "init", other], check=True, capture_output=True)
            with service_channel("ltb", "gateway", pki=Path(other)) as ch:
                h.expect_error(lambda: raw_call(ch, path, get_lead), C.UNAVAILABLE)
        # a certificate of ours, but an identity the method does not allow
        cases = [
            ("ltb", "ops", path, get_lead),                                     # public methods: the gateway only
            ("otd", "ltb", "/ltc.otd.v1.IntakeService/AcceptOrder",             # only BTO hands orders to OTD
             lc.otd.AcceptOrderRequest(handoff_id=lc.new_id(), order="orders/" + lc.new_id())),
            ("bto", "otd", "/ltc.bto.v1.IntakeService/AcceptWonBid",            # only LTB hands won bids to BTO
             lc.bto.AcceptWonBidRequest(handoff_id=lc.new_id())),
            ("dtc", "gateway", "/ltc.admin.v1.HandoffAdminService/GetHandoffBacklog", b""),   # operators only
        ]
        for svc, who, method, req in cases:
            with self.subTest(service=svc, caller=who, method=method), service_channel(svc, who) as ch:
                self.refused(lambda: raw_call(ch, method, req), C.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
        # the gateway's identity without a signed identity is not a user
        with service_channel("ltb", "gateway") as ch:
            self.refused(lambda: raw_call(ch, path, get_lead), C.UNAUTHENTICATED, "NO_ASSERTION")
        # and the allowed identities work: the operator's admin call, health for anyone of ours
        with service_channel("dtc", "ops") as ch:
            raw_call(ch, "/ltc.admin.v1.HandoffAdminService/GetHandoffBacklog")
        with service_channel("otd", "dtc") as ch:
            raw_call(ch, "/grpc.health.v1.Health/Check")

    def test_mesh_identity_is_the_san_of_a_mesh_ca_certificate(self):
        """Issue #19: the public (edge) certificate cannot join the mesh, and a mesh certificate's identity is its URI
        SAN spiffe://ltc/<name>, never its Common Name."""
        get_lead = lc.ltb.GetLeadRequest(name=self.r["lead"])
        path = "/ltc.ltb.v1.LeadToBidService/GetLead"
        # the gateway's public certificate (edge CA, server use only) as a client certificate: no TLS session
        with service_channel("ltb", "gateway-public") as ch:
            h.expect_error(lambda: raw_call(ch, path, get_lead), C.UNAVAILABLE)
        with service_channel("ltb", "gateway-public") as ch:
            h.expect_error(lambda: raw_call(ch, "/grpc.health.v1.Health/Check"), C.UNAVAILABLE)
        with tempfile.TemporaryDirectory() as tmp:
            def mesh_cert(name, cn, san):
                key, csr, crt = (Path(tmp) / f"{name}.{x}" for x in ("key", "csr", "crt"))
                subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"],
                               check=True, capture_output=True)
                ext = Path(tmp) / f"{name}.ext"
                ext.write_text((f"subjectAltName={san}\n" if san else "") +
                               "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n")
                subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(PKI / "mesh-ca.crt"),
                                "-CAkey", str(PKI / "mesh-ca.key"), "-CAcreateserial", "-CAserial",
                                str(Path(tmp) / "serial"), "-days", "1", "-out", str(crt), "-extfile", str(ext)],
                               check=True, capture_output=True)
            # the right Common Name, but no SAN, only DNS SANs, another identity or another trust domain: the
            # mesh CA signed them, so the session opens, and they name nobody who may call a public method
            mesh_cert("no-san", "gateway", None)
            mesh_cert("dns-only", "gateway", "DNS:ltc-gateway,DNS:localhost")
            mesh_cert("other-id", "gateway", "URI:spiffe://ltc/ops,DNS:ltc-gateway")
            mesh_cert("other-domain", "gateway", "URI:spiffe://example.org/gateway,DNS:ltc-gateway")
            mesh_cert("two-ids", "gateway", "URI:spiffe://ltc/gateway,URI:spiffe://ltc/ops")
            for name in ("no-san", "dns-only", "other-id", "other-domain", "two-ids"):
                with self.subTest(certificate=name), service_channel("ltb", name, pki=Path(tmp)) as ch:
                    self.refused(lambda: raw_call(ch, path, get_lead), C.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
            # the SAN decides, whatever the CN says: CN ops with the SAN of the gateway is the gateway (which then
            # still needs a signed assertion to be anyone)
            mesh_cert("san-gateway", "ops", "URI:spiffe://ltc/gateway")
            with service_channel("ltb", "san-gateway", pki=Path(tmp)) as ch:
                self.refused(lambda: raw_call(ch, path, get_lead), C.UNAUTHENTICATED, "NO_ASSERTION")
            with service_channel("dtc", "san-gateway", pki=Path(tmp)) as ch:
                self.refused(lambda: raw_call(ch, "/ltc.admin.v1.HandoffAdminService/GetHandoffBacklog"),
                             C.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
        # as a client, a process wants the SAN of the peer it meant: LTB's port is not BTO
        with lc.open_channel(target("ltb"), ca_file=str(PKI / "mesh-ca.crt"), cert_file=str(PKI / "ops.crt"),
                             key_file=str(PKI / "ops.key"), server_name="ltc-bto") as ch:
            h.expect_error(lambda: raw_call(ch, "/grpc.health.v1.Health/Check"), C.UNAVAILABLE)

    # --- injection and limits -----------------------------------------------------------------------------------------

    def test_sql_injection_strings_are_stored_as_text(self):
        tables_before = h.sql("SELECT count(*) FROM pg_tables WHERE schemaname IN ('ltb', 'bto', 'otd', 'dtc')")
        with as_user(AR, "sales") as s:
            for i, evil in enumerate(INJECTIONS):
                with self.subTest(text=evil):
                    lead = s.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
                        source=lc.ltb.LEAD_SOURCE_WEBSITE, company_name=evil, contact_name=evil,
                        contact_email=f"inj{i}.{RUN}@example.com", contact_phone=lead_to_cash.unique_phone()),
                        request_id=lc.new_id())).lead
                    got = s.ltb.GetLead(lc.ltb.GetLeadRequest(name=lead.name)).lead
                    self.assertEqual((got.company_name, got.contact_name), (evil, evil))
                    upd = s.ltb.UpdateLead(lc.ltb.UpdateLeadRequest(
                        lead=lc.ltb.Lead(name=lead.name, contact_name=evil + " (2)"),
                        update_mask={"paths": ["contact_name"]}, request_id=lc.new_id())).lead
                    self.assertEqual(upd.contact_name, evil + " (2)")
                    dq = s.ltb.DisqualifyLead(lc.ltb.DisqualifyLeadRequest(name=lead.name, reason=evil,
                                                                           request_id=lc.new_id()))
                    self.assertEqual(dq.lead.state, lc.ltb.LEAD_STATE_DISQUALIFIED)
                    # a name made of the injection is only ever a malformed name
                    h.expect_error(lambda: s.ltb.GetLead(lc.ltb.GetLeadRequest(name="leads/" + evil)),
                                   C.INVALID_ARGUMENT)
        with as_user(SR, "solution") as s:
            p = s.bto.CreateProduct(lc.bto.CreateProductRequest(product=lc.bto.Product(
                sku=f"INJ-{RUN}", display_name=INJECTIONS[0], list_price=lc.money(100, "CNY")),
                request_id=lc.new_id())).product
            self.assertEqual(p.display_name, INJECTIONS[0])
        self.assertEqual(h.sql("SELECT count(*) FROM pg_tables WHERE schemaname IN ('ltb', 'bto', 'otd', 'dtc')"),
                         tables_before)
        self.assertGreater(h.sql_int("SELECT count(*) FROM ltb.opportunities"), 0)

    def test_over_limit_message_and_metadata(self):
        big = lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_WEBSITE,
                                                        company_name="x" * (5 * 1024 * 1024)), request_id=lc.new_id())
        with as_user(AR, "sales") as s:
            self.refused(lambda: s.ltb.CreateLead(big), C.RESOURCE_EXHAUSTED)
            before = row_counts()
            with self.assertRaises(grpc.RpcError) as e:
                s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]), metadata=[("x-padding", "p" * 20000)])
            self.assertNotEqual(e.exception.code(), C.OK)
            self.assertEqual(row_counts(), before)
        with as_user(AR, "sales") as s:   # the gateway closed that connection; it still serves new ones
            s.ltb.GetLead(lc.ltb.GetLeadRequest(name=self.r["lead"]))

    def test_rate_limit_per_caller(self):
        flood = f"flood.{RUN}"
        req = lc.ltb.GetLeadRequest(name=self.r["lead"])
        with as_user(flood, "sales") as s:
            def one(_):
                try:
                    s.ltb.GetLead(req)
                    return None
                except grpc.RpcError as e:
                    return e
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                results = list(pool.map(one, range(400)))
        limited = [e for e in results if e is not None]
        self.assertTrue(limited, "400 calls at once were not limited")
        self.assertGreater(len(results) - len(limited), 0, "no call got through")
        for e in limited:
            d = lc.error_details(e)
            self.assertEqual((d.code, d.reason), (C.RESOURCE_EXHAUSTED, "RATE_LIMITED"), str(d))
            status = lc.rpc.Status.FromString(lc.status_details_bytes(e))
            retry = [a for a in status.details if a.type_url.endswith("/google.rpc.RetryInfo")]
            self.assertEqual(len(retry), 1, str(status))
            info = lc.rpc.RetryInfo.FromString(retry[0].value)
            delay_ms = info.retry_delay.seconds * 1000 + info.retry_delay.nanos // 1000000
            self.assertTrue(0 < delay_ms <= 1000, delay_ms)
        # another caller is not affected
        with as_user(AR, "sales") as s:
            s.ltb.GetLead(req)

    # --- the audit trail --------------------------------------------------------------------------------------------------

    def test_audit_trail_records_who_did_what(self):
        # a refused write by the other sales user, then the trail as the auditor sees it
        with as_user(OTHER_SALES, "sales") as s:
            rid = lc.new_id()
            h.expect_error(lambda: s.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(name=self.r["bid"], reason="x",
                                                                               request_id=rid),
                                                     metadata=[("x-request-id", rid)]), C.PERMISSION_DENIED)
        with as_user("audrey", "auditor") as s:
            ev = s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage="ltb", principal=OTHER_SALES,
                                                                         page_size=50)).events
            refused = [e for e in ev if e.request_id == rid]
            self.assertEqual(len(refused), 1, [str(e) for e in ev])
            e = refused[0]
            self.assertEqual((e.method, e.code, e.reason, e.caller, e.target, list(e.roles)),
                             ("/ltc.ltb.v1.LeadToBidService/MarkBidLost", "PERMISSION_DENIED", "NOT_IN_IRON_TRIANGLE",
                              "gateway", self.r["bid"], ["sales"]))
            self.assertGreater(e.event_time.seconds, time.time() - 600)
            # the stage's own id of the call beside the client's, and its place in the hash chain
            self.assertEqual(str(uuid.UUID(e.server_request_id)), e.server_request_id)
            self.assertNotEqual(e.server_request_id, rid)
            self.assertGreater(e.chain_position, 0)
            # the deal's own changes, by their owners, in every stage
            for stage, who, method in (("ltb", AR, "MarkBidWon"), ("bto", AR, "SignContract"),
                                       ("otd", FR, "ReleaseOrder"), ("dtc", lead_to_cash.PeopleDeal.PEOPLE["fin"][0], "RecordPayment"),
                                       # hand-offs: the user whose call caused them (issue #19)
                                       ("bto", AR, "AcceptWonBid"), ("dtc", FR, "AcceptDelivery")):
                with self.subTest(stage=stage, method=method):
                    ev = s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage=stage, principal=who,
                                                                                 page_size=500)).events
                    self.assertTrue(any(e.method.endswith("/" + method) and e.code == "OK" for e in ev),
                                    f"{who} {method} not in the {stage} trail")
            h.expect_error(lambda: s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage="crm")),
                           C.INVALID_ARGUMENT)

    def test_handoffs_name_the_user_whose_call_caused_them(self):
        """Issue #19: a hand-off carries the gateway's signed assertion of the user's call that caused it (the outbox
        row keeps it, the relay sends it as x-ltc-acting), so the receiving stage's audit row names that user and
        roles, with the sending stage as the caller (the carrier)."""
        fin = lead_to_cash.PeopleDeal.PEOPLE["fin"][0]
        cases = [   # (receiving stage, the user's call, its roles, the hand-off, its carrier)
            ("bto", AR, ["sales"], "/ltc.bto.v1.IntakeService/AcceptWonBid", "ltb"),            # MarkBidWon in LTB
            ("otd", AR, ["sales"], "/ltc.otd.v1.IntakeService/AcceptOrder", "bto"),             # CreateOrder in BTO
            ("dtc", AR, ["sales"], "/ltc.dtc.v1.IntakeService/AcceptOrderPlaced", "bto"),       # CreateOrder in BTO
            ("dtc", FR, ["fulfilment"], "/ltc.dtc.v1.IntakeService/AcceptDelivery", "otd"),     # RecordAcceptance
            ("ltb", fin, ["finance"], "/ltc.ltb.v1.IntakeService/AcceptCashCollected", "dtc"),  # RecordPayment
            ("bto", fin, ["finance"], "/ltc.bto.v1.IntakeService/AcceptOrderClosure", "dtc"),   # RecordPayment
        ]
        with as_user("audrey", "auditor") as s:
            for stage, who, roles, method, carrier in cases:
                with self.subTest(stage=stage, method=method):
                    ev = s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(stage=stage, principal=who,
                                                                                 page_size=500)).events
                    rows = [e for e in ev if e.method == method and e.code == "OK"]
                    self.assertTrue(rows, f"no {method} in the {stage} trail names {who}")
                    self.assertEqual({e.caller for e in rows}, {carrier}, "the carrier is the sending stage")
                    self.assertIn(tuple(roles), {tuple(e.roles) for e in rows}, "the user's roles at that call")

    def test_a_handoff_with_an_unverifiable_acting_principal_is_refused(self):
        """A hand-off whose acting principal is not the gateway's signature (made up, signed by another key) is
        refused before anything is done: UNAUTHENTICATED, BAD_ACTING_PRINCIPAL; without one it is the service's."""
        from cryptography.hazmat.primitives.asymmetric import ed25519
        import base64

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        now = int(time.time())
        body = "v1." + b64(json.dumps({"sub": "mallory", "roles": "admin", "aud": "ltb",
                                       "mth": "/ltc.ltb.v1.LeadToBidService/MarkBidWon", "jti": "abcdefgh12",
                                       "iat": now, "exp": now + 30}).encode())
        other_key = ed25519.Ed25519PrivateKey.generate()
        forged = body + "." + b64(other_key.sign(body.encode()))
        req = lc.bto.AcceptWonBidRequest(handoff_id=lc.new_id())
        path = "/ltc.bto.v1.IntakeService/AcceptWonBid"
        with service_channel("bto", "ltb") as ch:
            for acting in (forged, "mallory", body + ".AAAA", ""):
                with self.subTest(acting=acting[:20]):
                    self.refused(lambda: raw_call(ch, path, req, metadata=[("x-ltc-acting", acting)]),
                                 C.UNAUTHENTICATED, "BAD_ACTING_PRINCIPAL")
            # the same call without a claim passes identification (and fails on its empty request instead)
            d = h.expect_error(lambda: raw_call(ch, path, req), C.INVALID_ARGUMENT)
            self.assertNotEqual(d.reason, "BAD_ACTING_PRINCIPAL")

    def test_refused_reads_are_in_the_audit_trail(self):
        rid = lc.new_id()
        with as_user(OTHER_SALES, "sales") as s:
            h.expect_error(lambda: s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.r["opportunity"]),
                                                        metadata=[("x-request-id", rid)]), C.PERMISSION_DENIED)
        with as_user("audrey", "auditor") as s:
            ev = [e for e in s.audit.ListAuditEvents(lc.audit.ListAuditEventsRequest(
                stage="ltb", principal=OTHER_SALES, code="PERMISSION_DENIED", page_size=200)).events
                  if e.request_id == rid]
        self.assertEqual([(e.method, e.reason, e.target) for e in ev],
                         [("/ltc.ltb.v1.LeadToBidService/GetOpportunity", "NOT_IN_IRON_TRIANGLE",
                           self.r["opportunity"])])

    def test_every_stage_audit_trail_verifies(self):
        """After the whole deal (writes by four people, hand-offs between the stages, refusals), each stage's hash
        chain verifies in the service: the database's canonical text and the C verifier's agree on real rows."""
        with as_user("audrey", "auditor") as s:
            for stage in h.SERVICES:
                with self.subTest(stage=stage):
                    # the rows of the last calls are sealed into the chain after their commit (runtime migration 011)
                    for _ in range(100):
                        v = s.audit.GetAuditTrailIntegrity(lc.audit.GetAuditTrailIntegrityRequest(stage=stage))
                        if v.events_pending == 0:
                            break
                        time.sleep(0.1)
                    self.assertEqual(v.events_pending, 0, str(v))
                    self.assertTrue(v.intact, str(v))
                    self.assertGreater(v.events_checked, 0)
                    self.assertEqual(v.head.hash, h.sql_value(f"SELECT encode(hash, 'hex') FROM {stage}.audit_chain_head"))
                    again = s.audit.GetAuditTrailIntegrity(lc.audit.GetAuditTrailIntegrityRequest(
                        stage=stage, anchors=[v.head]))
                    self.assertTrue(again.intact, str(again))
        with as_user(AR, "sales") as s:
            self.refused(lambda: s.audit.GetAuditTrailIntegrity(lc.audit.GetAuditTrailIntegrityRequest(stage="ltb")),
                         C.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")

    def test_gateway_refusals_are_recorded_and_chained(self):
        """Calls the gateway refuses reach no stage: the gateway records them in its own hash-chained file, with the
        caller's host, subject (when authenticated), its own request id and the client's."""
        path = Path(os.environ.get("LTC_STATE_DIR", REPO / ".ltc")) / "gateway-refusals.jsonl"
        no_token, wrong_role = lc.new_id(), lc.new_id()
        with gateway() as s:
            h.expect_error(lambda: s.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=1),
                                                   metadata=[("x-request-id", no_token)]), C.UNAUTHENTICATED)
        with as_user(AR, "auditor") as s:
            h.expect_error(lambda: s.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(request_id=lc.new_id()),
                                                       metadata=[("x-request-id", wrong_role)]), C.PERMISSION_DENIED)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        got = {x["request_id"]: x for x in lines if x["request_id"] in (no_token, wrong_role)}
        self.assertEqual((got[no_token]["principal"], got[no_token]["code"], got[no_token]["method"]),
                         ("", "UNAUTHENTICATED", "/ltc.ltb.v1.LeadToBidService/ListLeads"))
        self.assertEqual((got[wrong_role]["principal"], got[wrong_role]["roles"], got[wrong_role]["reason"]),
                         (AR, "auditor", "ROLE_NOT_ALLOWED"))
        self.assertTrue(got[wrong_role]["remote"])
        self.assertEqual(str(uuid.UUID(got[wrong_role]["server_request_id"])), got[wrong_role]["server_request_id"])
        tool = [str(Path(os.environ["LTC_BIN_DIR"]) / "ltc-gateway"), "--verify-refusals"]
        p = subprocess.run(tool + [str(path)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # an edited copy is found (the gateway's own file is left alone)
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d) / "edited.jsonl"
            copy.write_text(path.read_text().replace(f'"request_id":"{wrong_role}"', '"request_id":"nothing"'))
            p = subprocess.run(tool + [str(copy)], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("content does not match its hash (edited)", p.stdout)

    def test_audit_trail_is_append_only_for_the_serving_role(self):
        env = h.stack_env()
        for svc in h.SERVICES:
            dsn = env[f"LTC_{svc.upper()}_DSN"]
            for stmt in (f"UPDATE {svc}.audit_log SET code = 'OK'", f"DELETE FROM {svc}.audit_log",
                         f"TRUNCATE {svc}.audit_log", f"UPDATE {svc}.audit_chain_head SET position = 0"):
                with self.subTest(service=svc, statement=stmt):
                    before = h.sql_int(f"SELECT count(*) FROM {svc}.audit_log WHERE code <> 'OK'")
                    p = subprocess.run([h.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", stmt],
                                       capture_output=True, text=True, timeout=30)
                    self.assertNotEqual(p.returncode, 0, f"{stmt} succeeded as ltc_{svc}")
                    self.assertRegex(p.stderr, r"append-only|permission denied|moved only by (the audit_log_chain|audit_chain_seal)")
                    self.assertEqual(h.sql_int(f"SELECT count(*) FROM {svc}.audit_log WHERE code <> 'OK'"), before)


def RoleDeal():
    """lead_to_cash.PeopleDeal: each step by its person, with tokens minted here."""
    return lead_to_cash.PeopleDeal(lambda sub, role: as_user(sub, role), log=None)


if __name__ == "__main__":
    h.main()
