"""Credentials made by the attacker: JWTs (good, forged, expired), X.509
client certificates (good, expired, wrong EKU, wrong CA, past a path length,
revoked) and CRLs, and a stub Kubernetes TokenReview API on loopback."""
from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# ---------------------------------------------------------------------------
# JWTs


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class JwtSigner:
    """An ES256 key; signs claims into a compact JWS."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims: dict, header: dict | None = None) -> str:
        h = {"alg": "ES256", "typ": "JWT", **(header or {})}
        signing_input = f"{b64url(json.dumps(h).encode())}.{b64url(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def alg_none(claims: dict) -> str:
    return f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}."


def tamper(jwt: str, **claims) -> str:
    """The same signature over changed claims."""
    h, p, s = jwt.split(".")
    body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body.update(claims)
    return f"{h}.{b64url(json.dumps(body).encode())}.{s}"


def now() -> int:
    return int(time.time())


# ---------------------------------------------------------------------------
# X.509

UTC = dt.timezone.utc


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()


def issue(cn: str, issuer: Issued | None = None, *, ca: bool = False, path_length: int | None = None,
          eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> Issued:
    """A certificate for `cn`, self-signed when `issuer` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    t = dt.datetime.now(UTC)
    nb = not_before or t - dt.timedelta(hours=1)
    na = not_after or t + dt.timedelta(days=1)
    b = (x509.CertificateBuilder().subject_name(_name(cn))
         .issuer_name(issuer.cert.subject if issuer else _name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                            critical=False)
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    cert = b.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


def crl(issuer: Issued, revoked: list[Issued]) -> str:
    t = dt.datetime.now(UTC)
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
         .last_update(t - dt.timedelta(minutes=5)).next_update(t + dt.timedelta(days=1))
         .add_extension(x509.CRLNumber(1), critical=False))
    for r in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(r.cert.serial_number)
                                      .revocation_date(t - dt.timedelta(minutes=5)).build())
    return b.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


_CLIENT_DIR = tempfile.TemporaryDirectory(prefix="attack-client-")  # removed at exit


def client_files(leaf: Issued, chain: list[Issued] = ()) -> tuple[str, str]:
    """(cert file, key file) for requests' cert=: the leaf then its chain."""
    d = tempfile.mkdtemp(dir=_CLIENT_DIR.name)
    cert = os.path.join(d, "cert.pem")
    key = os.path.join(d, "key.pem")
    with open(cert, "w") as f:
        f.write(leaf.pem + "".join(c.pem for c in chain))
    with open(key, "w") as f:
        f.write(leaf.key_pem)
    return cert, key


def hours(n: float) -> dt.datetime:
    return dt.datetime.now(UTC) + dt.timedelta(hours=n)


# ---------------------------------------------------------------------------
# A stub Kubernetes API server answering TokenReview.


class TokenReviewStub:
    """Answers POST /apis/authentication.k8s.io/v1/tokenreviews: a token in
    `known` is authenticated as its service account, any other is not."""

    def __init__(self):
        self.known: dict[str, tuple[str, str, str]] = {}
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(n) or b"{}")
                token = review.get("spec", {}).get("token", "")
                status = {"authenticated": False, "error": "token is not valid"}
                if token in stub.known:
                    ns, name, uid = stub.known[token]
                    status = {"authenticated": True, "user": {
                        "username": f"system:serviceaccount:{ns}:{name}", "uid": uid,
                        "groups": ["system:serviceaccounts"]},
                        "audiences": review.get("spec", {}).get("audiences") or ["https://kubernetes.default.svc"]}
                body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                   "status": status}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def sa_claims(ns: str, name: str, uid: str, exp_in: int = 3600) -> dict:
    return {"iss": "kubernetes/serviceaccount", "sub": f"system:serviceaccount:{ns}:{name}",
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "kubernetes.io/serviceaccount/secret.name": f"{name}-token-x"}
