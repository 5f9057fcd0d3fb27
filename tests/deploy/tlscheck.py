"""tlscheck - what check_compose.py and check_k8s.py check of the TLS material a deployment hands each process, on
the files themselves (made by scripts/pki init, then put where the deployment puts them): python3-cryptography.

Each function returns a list of problems (empty: fine).
"""
import json
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

PROCESSES = ("gateway", "ltb", "bto", "otd", "dtc")


def _pub(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_by(cert, ca):
    """Whether ca's key signed cert (python3-cryptography 38 of Debian 12 has no verify_directly_issued_by)."""
    if cert.issuer != ca.subject:
        return False
    pub = ca.public_key()
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature:
        return False
    return True


def identity_problems(where, cert_pem, key_pem, ca_pem, cn, san):
    """A certificate with the Common Name cn and the SAN DNS:san, signed by the CA in ca_pem, whose private key is
    key_pem (what LTC_TLS_CERT / LTC_TLS_KEY / LTC_TLS_CA, or the gateway's public pair, must hold)."""
    out = []
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as e:
        return [f"{where}: the certificate is not PEM: {e}"]
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if cn is not None and cns != [cn]:
        out.append(f"{where}: certificate CN {cns}, want {cn!r} (each process has its own identity)")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    if san not in sans:
        out.append(f"{where}: certificate SANs {sans} lack DNS:{san} (the name peers verify)")
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    spiffe = [u for u in uris if u.startswith("spiffe://")]
    if cn is not None and spiffe != [f"spiffe://ltc/{cn}"]:
        out.append(f"{where}: certificate URI SANs {uris}: want exactly spiffe://ltc/{cn} (the identity servers read)")
    if cn is None and spiffe:
        out.append(f"{where}: the public certificate has the mesh identity {spiffe}: it must name no process")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None) if key_pem is not None else None
        if key is not None and _pub(key.public_key()) != _pub(cert.public_key()):
            out.append(f"{where}: the private key is not the certificate's")
    except (ValueError, TypeError) as e:
        out.append(f"{where}: the private key is not an unencrypted PEM key: {e}")
    if ca_pem is not None:
        cas = [x509.load_pem_x509_certificate(b) for b in
               re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", ca_pem, re.S)]
        if not any(_issued_by(cert, ca) for ca in cas):
            out.append(f"{where}: the certificate is not signed by the CA bundle it is given")
    return out


def not_issued_by(where, cert_pem, ca_pem, what):
    """The certificate is NOT signed by any CA of ca_pem (the public certificate and the mesh CA)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    cas = [x509.load_pem_x509_certificate(b) for b in
           re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", ca_pem, re.S)]
    return [f"{where}: signed by {what}, which must not sign it"] if any(_issued_by(cert, ca) for ca in cas) else []


def assertion_pair_problems(where, private_pem, public_pem):
    """The gateway's assertion signing key (Ed25519) and the public key the stages verify with belong together."""
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
        pub = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as e:
        return [f"{where}: the assertion keys are not PEM keys: {e}"]
    out = []
    if type(key).__name__.find("Ed25519") < 0:
        out.append(f"{where}: the assertion key is {type(key).__name__}, not Ed25519")
    if _pub(key.public_key()) != _pub(pub):
        out.append(f"{where}: the stages' assertion public key is not the gateway's signing key's")
    if b"PRIVATE KEY" in public_pem:
        out.append(f"{where}: the stages' assertion key file holds a private key")
    return out


def server_problems(where, cert_pem, ca_pem, host):
    """A server certificate (PostgreSQL's) that a client with sslmode=verify-full, sslrootcert ca_pem and host
    accepts: signed by that CA, the host in its DNS SANs."""
    return identity_problems(where, cert_pem, None, ca_pem, None, host)


def jwt_problems(where, files):
    """files: name -> bytes of the folder LTC_GATEWAY_JWT_KEYS points into. keys.json parses, every key file it names
    is beside it, nothing else is there, and none is a private key (the gateway only verifies)."""
    out = []
    if "keys.json" not in files:
        return [f"{where}: no keys.json"]
    try:
        ks = json.loads(files["keys.json"])
        named = {k["file"] for k in ks["keys"]}
        if not ks.get("issuer") or not ks.get("audience"):
            out.append(f"{where}: keys.json without issuer or audience")
    except (ValueError, KeyError, TypeError) as e:
        return [f"{where}: keys.json unreadable: {e}"]
    for f in sorted(named - set(files)):
        out.append(f"{where}: keys.json names {f}, which is not beside it")
    for f in sorted(set(files) - named - {"keys.json"}):
        out.append(f"{where}: {f} is beside keys.json but not named by it")
    for f, data in files.items():
        if b"PRIVATE KEY" in data:
            out.append(f"{where}: {f} is a private key (a signing key has no place at the gateway)")
    return out
