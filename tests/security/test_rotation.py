#!/usr/bin/python3
"""test_rotation - the rotation drill of docs/operations.md, performed on the running secure stack while calls go on.

Clients call through the gateway without pause (one connection kept open, and a new connection for every call of a
second loop) while the drill replaces, file by file and without restarting anything:
  1. the gateway's public certificate: a new key from the same edge CA; then a bad certificate and a key of another
     certificate, both refused (the certificate in use stays); then new edge and mesh CAs added to the bundles (the
     clients' ca.crt, the processes' mesh-ca.crt) and a public certificate from the new edge CA;
  2. every process's internal (mTLS) certificate, from the new mesh CA, with its URI SAN spiffe://ltc/<name>;
  3. the token signing keys: a JWKS file (RFC 7517) added to the key set with a new EC kid, then the JWKS alone
     rewritten with a new RSA kid, whose tokens the clients then use; the old kid removed, its tokens refused;
  4. the gateway's assertion key: the new public key beside the old one at the stages, the gateway signing with the
     new one, the old public key removed;
  5. SIGHUP to the gateway and a stage: every file re-read at once, changed or not.
Every call of both loops must succeed, and new connections must see each new certificate's serial number. Then the
original files are put back the same way (the stack's other tests use them).

The processes re-read their files every LTC_RELOAD_INTERVAL_SECONDS (1 in this suite: tests/security/CMakeLists.txt);
each step waits for ltc_reload_total{result="applied"} of the processes concerned to move.

    /usr/bin/python3 tests/security/test_rotation.py      (LTC_STATE_DIR, LTC_PORT_OFFSET as the fixture sets them)
"""

import base64
import datetime
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import unittest
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
os.environ.setdefault("LTC_STACK_SECURITY", "on")

import grpc  # noqa: E402
import jwt  # noqa: E402  (PyJWT)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

import harness as h  # noqa: E402
import ltc_client as lc  # noqa: E402

C = grpc.StatusCode
PKI = Path(os.environ.get("LTC_STATE_DIR", REPO / ".ltc")) / "pki"
ISSUER, AUDIENCE = "https://idp.ltc.test", "ltc"
STAGES = ["ltb", "bto", "otd", "dtc"]
PROCS = ["gateway"] + STAGES
LOOP_CALLS = [("/ltc.ltb.v1.LeadToBidService/ListLeads", lambda: lc.ltb.ListLeadsRequest(page_size=1)),
              ("/ltc.bto.v1.BidToOrderService/ListProducts", lambda: lc.bto.ListProductsRequest(page_size=1))]


def port(name):
    return h.DEFAULT_PORTS[name] + h.offset()


def reloads(name, material, result="applied"):
    """ltc_reload_total of process `name` (its metrics port is its gRPC port + 1000, scripts/stack)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port(name) + 1000}/metrics", timeout=5).read().decode()
    m = re.search(r'^ltc_reload_total\{material="%s",result="%s"\} (\d+)$' % (material, result), text, re.M)
    if not m:
        raise AssertionError(f"{name} has no ltc_reload_total for {material}")
    return int(m.group(1))


def write_atomic(path, data, mode=0o600):
    """As an operator (or a Kubernetes secret update) should: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".drill-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca_cert, ca_key, cn, san_name, spiffe=None):
    """A certificate as scripts/pki makes them: SANs ltc-<name>, localhost, 127.0.0.1; a mesh identity (spiffe: its
    name) also has the URI SAN spiffe://ltc/<name> and server and client use, the gateway's public one server use
    only."""
    sans = [x509.DNSName(san_name), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if spiffe:
        sans.append(x509.UniformResourceIdentifier(f"spiffe://ltc/{spiffe}"))
    usage = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if spiffe else [])
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def served_serial(name, cafile, client=None):
    """The serial number of the certificate a NEW connection to `name`'s port is given (client: an identity of the
    PKI to present, for the stages' mTLS ports)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["h2"])
    if client:
        ctx.load_cert_chain(str(PKI / f"{client}.crt"), str(PKI / f"{client}.key"))
    with socket.create_connection(("127.0.0.1", port(name)), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def token(sub, roles, key_pem, kid, alg="RS256"):
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": list(roles), "iat": now, "nbf": now,
                       "exp": now + 900}, key_pem, algorithm=alg, headers={"kid": kid})


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_rsa(key, kid):
    """The public key as an IdP's JWKS lists it."""
    n = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
            "e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}


def jwk_ec(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


class CallLoop(threading.Thread):
    """Calls through the gateway until stopped: over one connection kept open (fresh=False), or over a new channel
    for every call (fresh=True: each call makes a new TLS handshake with the gateway). Records every failure."""

    def __init__(self, cafile, fresh, pause):
        super().__init__(daemon=True)
        self.cafile, self.fresh, self.pause = str(cafile), fresh, pause
        self.token = None
        self.ok = 0
        self.failures = []
        self.halt = threading.Event()

    def run(self):
        channel = None if self.fresh else lc.open_channel(f"127.0.0.1:{port('gateway')}", ca_file=self.cafile)
        i = 0
        while not self.halt.is_set():
            method, request = LOOP_CALLS[i % len(LOOP_CALLS)]
            i += 1
            ch = channel or lc.open_channel(f"127.0.0.1:{port('gateway')}", ca_file=self.cafile)
            try:
                lc.call_raw(ch, method, request().SerializeToString(), timeout=10,
                            metadata=[("authorization", f"Bearer {self.token}")] + list(lc.request_metadata()))
                self.ok += 1
            except grpc.RpcError as e:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {method}: {lc.describe_error(e)}")
            finally:
                if ch is not channel:
                    ch.close()
            time.sleep(self.pause)
        if channel:
            channel.close()


class RotationDrill(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not (PKI / "ca.crt").exists():
            raise unittest.SkipTest(f"no development PKI in {PKI}: the stack is not running with security on")
        # two CAs (scripts/pki): the mesh CA signs the processes' identities (their LTC_TLS_CA), the edge CA the
        # gateway's public certificate; ca.crt, both together, is what clients trust
        cls.files = ["ca.crt", "mesh-ca.crt", "edge-ca.crt", "gateway-public.crt", "gateway-public.key",
                     "jwt/keys.json", "assertion.key", "assertion.pub"] + [f"{n}.{ext}" for n in PROCS
                                                                           for ext in ("crt", "key")]
        cls.original = {f: (PKI / f).read_bytes() for f in cls.files}
        cls.old_edge = x509.load_pem_x509_certificate(cls.original["edge-ca.crt"])
        cls.old_edge_key = serialization.load_pem_private_key((PKI / "edge-ca.key").read_bytes(), None)
        cls.new_edge, cls.new_edge_key = new_ca("LTC rotation drill edge CA")
        cls.new_mesh, cls.new_mesh_key = new_ca("LTC rotation drill mesh CA")
        cls.tmp = PKI / "drill"
        cls.tmp.mkdir(exist_ok=True)
        pem = serialization.Encoding.PEM
        cls.both_cas = cls.tmp / "both-cas.crt"   # what clients are given before the new CAs are used
        cls.both_cas.write_bytes(cls.original["ca.crt"] + cls.new_edge.public_bytes(pem) +
                                 cls.new_mesh.public_bytes(pem))
        cls.old_rs256 = (PKI / "jwt" / "rs256.key").read_bytes()

    def wait_applied(self, names, material, before, what):
        h.wait_until(lambda: all(reloads(n, material) > before[n] for n in names), timeout=20,
                     what=f"{what}: {material} re-read by {', '.join(names)}")

    def counts(self, names, material, result="applied"):
        return {n: reloads(n, material, result) for n in names}

    def replace_pair(self, name, cert, key, material, procs):
        """Writes <name>.key then <name>.crt and waits until `procs` applied the pair."""
        before = self.counts(procs, material)
        write_atomic(PKI / f"{name}.key", pem_key(key))
        write_atomic(PKI / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
        self.wait_applied(procs, material, before, name)

    def expect_serial(self, name, serial, client=None):
        h.wait_until(lambda: served_serial(name, self.both_cas, client) == serial, timeout=15,
                     what=f"new connections to {name} to get certificate serial {serial:x}")

    def test_rotation_drill_without_a_failed_call(self):
        kept = CallLoop(self.both_cas, fresh=False, pause=0.03)
        fresh = CallLoop(self.both_cas, fresh=True, pause=0.15)
        old_token = token("drill.loop", ["manager"], self.old_rs256, "dev-rs256")
        kept.token = fresh.token = old_token
        kept.start()
        fresh.start()
        try:
            self.drill(kept, fresh, old_token)
        finally:
            kept.halt.set()
            fresh.halt.set()
            kept.join(30)
            fresh.join(30)
            self.restore()
        print(f"drill: {kept.ok} calls over one connection, {fresh.ok} calls over new connections, "
              f"{len(kept.failures) + len(fresh.failures)} failed", flush=True)
        self.assertEqual(kept.failures + fresh.failures, [], "calls failed during the drill")
        self.assertGreater(kept.ok, 100)
        self.assertGreater(fresh.ok, 20)

    def drill(self, kept, fresh, old_token):
        gw = ["gateway"]
        # 1. the gateway's public certificate: a new key, the same CA
        cert, key = issue(self.old_edge, self.old_edge_key, "ltc-gateway", "ltc-gateway")
        self.replace_pair("gateway-public", cert, key, "tls_public", gw)
        self.expect_serial("gateway", cert.serial_number)
        good_public = (PKI / "gateway-public.crt").read_bytes(), (PKI / "gateway-public.key").read_bytes()

        # 1b. bad new files are refused and the certificate in use stays
        refused = self.counts(gw, "tls_public", "refused")
        write_atomic(PKI / "gateway-public.crt", b"-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
        h.wait_until(lambda: reloads("gateway", "tls_public", "refused") > refused["gateway"], timeout=20,
                     what="the gateway to refuse an unparsable certificate")
        self.assertEqual(served_serial("gateway", self.both_cas), cert.serial_number)
        refused = self.counts(gw, "tls_public", "refused")
        write_atomic(PKI / "gateway-public.crt", good_public[0], 0o644)
        write_atomic(PKI / "gateway-public.key", pem_key(ec.generate_private_key(ec.SECP256R1())))  # not its key
        h.wait_until(lambda: reloads("gateway", "tls_public", "refused") > refused["gateway"], timeout=20,
                     what="the gateway to refuse a key that is not the certificate's")
        self.assertEqual(served_serial("gateway", self.both_cas), cert.serial_number)
        before = self.counts(gw, "tls_public")
        write_atomic(PKI / "gateway-public.key", good_public[1])
        self.wait_applied(gw, "tls_public", before, "the good pair back")

        # 1c. new CAs: the new mesh CA into every process's bundle first (and both into the clients'), then
        #     certificates from them
        pem = serialization.Encoding.PEM
        write_atomic(PKI / "ca.crt", self.both_cas.read_bytes(), 0o644)
        write_atomic(PKI / "edge-ca.crt", self.original["edge-ca.crt"] + self.new_edge.public_bytes(pem), 0o644)
        before = self.counts(PROCS, "tls_internal")
        write_atomic(PKI / "mesh-ca.crt", self.original["mesh-ca.crt"] + self.new_mesh.public_bytes(pem), 0o644)
        self.wait_applied(PROCS, "tls_internal", before, "the mesh CA bundle with the new mesh CA")
        cert, key = issue(self.new_edge, self.new_edge_key, "ltc-gateway", "ltc-gateway")
        self.replace_pair("gateway-public", cert, key, "tls_public", gw)
        self.expect_serial("gateway", cert.serial_number)

        # 2. every process's internal certificate, from the new CA
        for name in PROCS:
            cert, key = issue(self.new_mesh, self.new_mesh_key, name, f"ltc-{name}", spiffe=name)
            self.replace_pair(name, cert, key, "tls_internal", [name])
            if name != "gateway":   # the gateway's internal certificate is a client's: its stages see it
                self.expect_serial(name, cert.serial_number, client="ops")
        time.sleep(1.5)   # calls go on over the gateway's new channels to the stages

        # 3. the token signing keys, published as a JWKS (RFC 7517) file beside the key set: first an EC key, then
        #    the JWKS alone changes (the IdP's next key, RSA, added), then the old kid leaves the set
        new_es = ec.generate_private_key(ec.SECP256R1())
        new_rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks = PKI / "jwt" / "drill.jwks"
        write_atomic(jwks, json.dumps({"keys": [jwk_ec(new_es, "drill-es256")]}).encode(), 0o644)
        keyset = json.loads(self.original["jwt/keys.json"])
        keyset["jwks_file"] = "drill.jwks"
        before = self.counts(gw, "jwt_keys")
        write_atomic(PKI / "jwt" / "keys.json", json.dumps(keyset).encode(), 0o644)
        self.wait_applied(gw, "jwt_keys", before, "the key set with a JWKS file")
        before = self.counts(gw, "jwt_keys")
        write_atomic(jwks, json.dumps({"keys": [jwk_ec(new_es, "drill-es256"),
                                                jwk_rsa(new_rs, "drill-rs256")]}).encode(), 0o644)
        self.wait_applied(gw, "jwt_keys", before, "the JWKS file with the new RSA kid")
        new_token = token("drill.loop", ["manager"], pem_key(new_rs), "drill-rs256")
        kept.token = fresh.token = new_token   # the identity provider now signs with the new key
        time.sleep(1.5)
        keyset["keys"] = [k for k in keyset["keys"] if k["kid"] != "dev-rs256"]
        before = self.counts(gw, "jwt_keys")
        write_atomic(PKI / "jwt" / "keys.json", json.dumps(keyset).encode(), 0o644)
        self.wait_applied(gw, "jwt_keys", before, "the key set without the old kid")
        es_token = token("drill.loop", ["manager"], pem_key(new_es), "drill-es256", alg="ES256")
        channel = lc.open_channel(f"127.0.0.1:{port('gateway')}", ca_file=str(self.both_cas))
        try:
            method, request = LOOP_CALLS[0]
            d = h.expect_error(lambda: lc.call_raw(channel, method, request().SerializeToString(), timeout=10,
                                                   metadata=[("authorization", f"Bearer {old_token}")]),
                               C.UNAUTHENTICATED)
            self.assertEqual(d.reason, "UNKNOWN_KEY", str(d))
            for good in (new_token, es_token):
                lc.call_raw(channel, method, request().SerializeToString(), timeout=10,
                            metadata=[("authorization", f"Bearer {good}")])
        finally:
            channel.close()

        # 4. the gateway's assertion key: the stages accept old and new, the gateway signs with the new one, then
        #    the old public key goes
        new_ed = ed25519.Ed25519PrivateKey.generate()
        before = self.counts(STAGES, "assertion_public_keys")
        write_atomic(PKI / "assertion.pub", self.original["assertion.pub"] + pem_pub(new_ed), 0o644)
        self.wait_applied(STAGES, "assertion_public_keys", before, "both assertion keys")
        before = self.counts(gw, "assertion_key")
        write_atomic(PKI / "assertion.key", pem_key(new_ed))
        self.wait_applied(gw, "assertion_key", before, "the new assertion key")
        time.sleep(1.5)
        before = self.counts(STAGES, "assertion_public_keys")
        write_atomic(PKI / "assertion.pub", pem_pub(new_ed), 0o644)
        self.wait_applied(STAGES, "assertion_public_keys", before, "the new assertion key alone")
        time.sleep(1.5)

        # 5. SIGHUP re-reads every file at once, changed or not (the watcher re-reads only changed ones)
        pid_of = {n: int((PKI.parent / "run" / f"{n}.pid").read_text().split()[0]) for n in ("gateway", "ltb")}
        materials = {"gateway": ["tls_public", "tls_internal", "jwt_keys", "assertion_key"],
                     "ltb": ["tls_internal", "assertion_public_keys"]}
        before = {(n, m): reloads(n, m) for n in materials for m in materials[n]}
        for n, pid in pid_of.items():
            os.kill(pid, signal.SIGHUP)
        h.wait_until(lambda: all(reloads(n, m) > before[(n, m)] for n, m in before), timeout=10,
                     what="SIGHUP to re-read every file of the gateway and ltb")
        time.sleep(1)

    @classmethod
    def restore(cls):
        """The original files back, in an order that keeps every call working (the stack's other tests use them)."""
        self = cls("test_rotation_drill_without_a_failed_call")
        orig = cls.original
        before = self.counts(["gateway"], "jwt_keys")
        write_atomic(PKI / "jwt" / "keys.json", orig["jwt/keys.json"], 0o644)
        self.wait_applied(["gateway"], "jwt_keys", before, "restore: the key set")
        (PKI / "jwt" / "drill.jwks").unlink(missing_ok=True)
        for name, material in [("gateway-public", "tls_public")] + [(n, "tls_internal") for n in PROCS]:
            proc = "gateway" if name == "gateway-public" else name
            if all((PKI / f"{name}.{ext}").read_bytes() == orig[f"{name}.{ext}"] for ext in ("crt", "key")):
                continue
            before = self.counts([proc], material)
            write_atomic(PKI / f"{name}.key", orig[f"{name}.key"])
            write_atomic(PKI / f"{name}.crt", orig[f"{name}.crt"], 0o644)
            self.wait_applied([proc], material, before, f"restore: {name}")
        if (PKI / "mesh-ca.crt").read_bytes() != orig["mesh-ca.crt"]:
            before = self.counts(PROCS, "tls_internal")
            write_atomic(PKI / "mesh-ca.crt", orig["mesh-ca.crt"], 0o644)
            self.wait_applied(PROCS, "tls_internal", before, "restore: the mesh CA bundle")
        for f in ("edge-ca.crt", "ca.crt"):   # read by the gateway's probe and by clients, not reloaded
            if (PKI / f).read_bytes() != orig[f]:
                write_atomic(PKI / f, orig[f], 0o644)
        if (PKI / "assertion.key").read_bytes() != orig["assertion.key"]:
            current_pub = (PKI / "assertion.pub").read_bytes()
            if current_pub != orig["assertion.pub"]:
                before = self.counts(STAGES, "assertion_public_keys")
                write_atomic(PKI / "assertion.pub", orig["assertion.pub"] + current_pub, 0o644)
                self.wait_applied(STAGES, "assertion_public_keys", before, "restore: both assertion keys")
            before = self.counts(["gateway"], "assertion_key")
            write_atomic(PKI / "assertion.key", orig["assertion.key"])
            self.wait_applied(["gateway"], "assertion_key", before, "restore: the assertion key")
            time.sleep(1.5)
        if (PKI / "assertion.pub").read_bytes() != orig["assertion.pub"]:
            before = self.counts(STAGES, "assertion_public_keys")
            write_atomic(PKI / "assertion.pub", orig["assertion.pub"], 0o644)
            self.wait_applied(STAGES, "assertion_public_keys", before, "restore: the assertion key alone")
        for f in cls.tmp.iterdir():
            f.unlink()
        cls.tmp.rmdir()


if __name__ == "__main__":
    h.main()
