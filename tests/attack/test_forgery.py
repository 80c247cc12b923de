"""Forged credentials: JWTs, Kubernetes service-account tokens and TLS
client certificates that must not log in, next to a genuine one that must.

Class: ``login=<status>`` (for CRLs also the status of the CRL write).
"""
import uuid

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

import forge
from attack import Answer, errors

ISSUER = "https://issuer.attack.test"

# ---------------------------------------------------------------------------
# JWT


@pytest.fixture(scope="module")
def jwt(dev):
    path = "jwtf" + uuid.uuid4().hex[:6]
    signer = forge.JwtSigner()

    def setup(s):
        s.enable_auth(path, "jwt")
        s.ok("POST", f"auth/{path}/config", {"jwt_validation_pubkeys": [signer.public_pem()], "bound_issuer": ISSUER})
        s.ok("POST", f"auth/{path}/role/r", {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"],
                                            "token_policies": ["default"]})
    dev.each(setup)
    return path, signer


def _claims(**over):
    c = {"iss": ISSUER, "sub": "app", "aud": "vault", "iat": forge.now() - 5, "nbf": forge.now() - 5,
         "exp": forge.now() + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def _hs256_with_public_key(signer):
    """Key confusion: HS256 with the server's public key as the HMAC secret."""
    import hashlib
    import hmac
    import json
    h = forge.b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = forge.b64url(json.dumps(_claims()).encode())
    sig = hmac.new(signer.public_pem().encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{forge.b64url(sig)}"


JWT_CASES = {
    "genuine": (lambda s: s.sign(_claims()), "login=200"),
    "tampered-claims": (lambda s: forge.tamper(s.sign(_claims()), sub="admin"), "login=(400|403)"),
    "other-key": (lambda s: forge.JwtSigner().sign(_claims()), "login=(400|403)"),
    "alg-none": (lambda s: forge.alg_none(_claims()), "login=(400|403)"),
    "alg-none-with-signature": (lambda s: forge.alg_none(_claims()) + s.sign(_claims()).split(".")[2],
                                "login=(400|403)"),
    "hs256-key-confusion": (_hs256_with_public_key, "login=(400|403)"),
    "expired": (lambda s: s.sign(_claims(exp=forge.now() - 3600, iat=forge.now() - 7200, nbf=forge.now() - 7200)),
                "login=(400|403)"),
    "not-yet-valid": (lambda s: s.sign(_claims(nbf=forge.now() + 3600, iat=forge.now() + 3600,
                                               exp=forge.now() + 7200)), "login=(400|403)"),
    "wrong-audience": (lambda s: s.sign(_claims(aud="someone-else")), "login=(400|403)"),
    "wrong-issuer": (lambda s: s.sign(_claims(iss="https://evil.test")), "login=(400|403)"),
    "no-signature": (lambda s: s.sign(_claims()).rsplit(".", 1)[0] + ".", "login=(400|403)"),
    "garbage": (lambda s: "not.a.jwt", "login=(400|403)"),
}


@pytest.mark.parametrize("case", list(JWT_CASES))
def test_jwt_forgery(dev, jwt, case):
    path, signer = jwt
    make, expect = JWT_CASES[case]
    token = make(signer)

    def probe(srv):
        r = srv.req("POST", f"auth/{path}/login", {"role": "r", "jwt": token}, token=None)
        return Answer(f"login={r.status_code}", errors(r))
    dev.probe(f"forgery/jwt/{case}", probe, expect=expect)


# ---------------------------------------------------------------------------
# Kubernetes


@pytest.fixture(scope="module")
def k8s(dev):
    path = "k8sf" + uuid.uuid4().hex[:6]
    stub = forge.TokenReviewStub()
    signer = forge.JwtSigner()
    api_ca = forge.issue("attack kubernetes API CA", ca=True).pem  # unused over http; vaultlet wants one

    def setup(s):
        s.enable_auth(path, "kubernetes")
        s.ok("POST", f"auth/{path}/config", {"kubernetes_host": stub.url, "token_reviewer_jwt": "reviewer",
                                             "kubernetes_ca_cert": api_ca, "disable_local_ca_jwt": True})
        s.ok("POST", f"auth/{path}/role/r", {"bound_service_account_names": ["sa"],
                                            "bound_service_account_namespaces": ["attack"],
                                            "token_policies": ["default"]})
    dev.each(setup)
    yield path, stub, signer
    stub.close()


def _known(stub, signer, ns="attack", name="sa", uid="uid-1", as_ns=None, as_name=None, as_uid=None):
    """A token whose claims say (ns, name, uid) and which the API server
    authenticates as (as_ns, as_name, as_uid) (default: the same)."""
    t = signer.sign(forge.sa_claims(ns, name, uid))
    stub.known[t] = (as_ns or ns, as_name or name, as_uid or uid)
    return t


K8S_CASES = {
    "genuine": (lambda st, sg: _known(st, sg), "login=200"),
    "unknown-to-api-server": (lambda st, sg: sg.sign(forge.sa_claims("attack", "sa", "uid-1")), "login=(400|403)"),
    "alg-none": (lambda st, sg: forge.alg_none(forge.sa_claims("attack", "sa", "uid-1")), "login=(400|403)"),
    "claims-other-namespace": (lambda st, sg: _known(st, sg, ns="kube-system"), "login=(400|403)"),
    "claims-other-account": (lambda st, sg: _known(st, sg, name="admin"), "login=(400|403)"),
    "claims-differ-from-review": (lambda st, sg: _known(st, sg, as_name="other"), "login=(400|403)"),
    "garbage": (lambda st, sg: "not-a-jwt", "login=(400|403)"),
}


@pytest.mark.parametrize("case", list(K8S_CASES))
def test_kubernetes_forgery(dev, k8s, case):
    path, stub, signer = k8s
    make, expect = K8S_CASES[case]
    token = make(stub, signer)

    def probe(srv):
        r = srv.req("POST", f"auth/{path}/login", {"role": "r", "jwt": token}, token=None)
        return Answer(f"login={r.status_code}", errors(r))
    dev.probe(f"forgery/kubernetes/{case}", probe, expect=expect)


# ---------------------------------------------------------------------------
# TLS client certificates


class CertWorld:
    def __init__(self):
        h = forge.hours
        self.ca = forge.issue("attack client CA", ca=True)
        self.other_ca = forge.issue("attack other CA", ca=True)
        self.pathlen0 = forge.issue("attack pathlen-0 root", ca=True, path_length=0)
        self.sub = forge.issue("attack sub-CA under pathlen 0", self.pathlen0, ca=True)
        self.crl_ca = forge.issue("attack CRL CA", ca=True)
        self.pinned_expired = forge.issue("attack pinned expired", eku=(ExtendedKeyUsageOID.CLIENT_AUTH,),
                                          not_before=h(-48), not_after=h(-24))
        self.pinned_good = forge.issue("attack pinned good")
        self.leaves = {
            "genuine": (forge.issue("good", self.ca), []),
            "expired": (forge.issue("expired", self.ca, not_before=h(-48), not_after=h(-24)), []),
            "not-yet-valid": (forge.issue("future", self.ca, not_before=h(24), not_after=h(48)), []),
            "wrong-eku": (forge.issue("server-only", self.ca, eku=(ExtendedKeyUsageOID.SERVER_AUTH,)), []),
            "wrong-ca": (forge.issue("intruder", self.other_ca), []),
            "path-length-exceeded": (forge.issue("too-deep", self.sub), [self.sub]),
            "revoked": (forge.issue("revoked", self.crl_ca), []),
            "not-revoked": (forge.issue("not-revoked", self.crl_ca), []),
            "pinned-expired": (self.pinned_expired, []),
            "pinned-good": (self.pinned_good, []),
        }
        self.files = {k: forge.client_files(leaf, chain) for k, (leaf, chain) in self.leaves.items()}


# case -> (role the login names, expected OpenBao class). OpenBao answers a
# certificate that fails Go's x509 verification (dates, EKU, path length)
# with a 500; see allowlist.yaml.
CERT_CASES = {
    "genuine": ("ca", "login=200"),
    "expired": ("ca", "login=(400|403|500)"),
    "not-yet-valid": ("ca", "login=(400|403|500)"),
    "wrong-eku": ("ca", "login=(400|403|500)"),
    "wrong-ca": ("ca", "login=(400|403|500)"),
    "path-length-exceeded": ("pathlen", "login=(400|403|500)"),
    "not-revoked": ("crl", "login=200"),
    "revoked": ("crl", "login=(400|403|500)"),
    "pinned-good": ("pinned-good", "login=200"),
    "pinned-expired": ("pinned-expired", "login=(400|403|500)"),
}


@pytest.fixture(scope="module")
def certs(tls):
    path = "certf" + uuid.uuid4().hex[:6]
    w = CertWorld()

    def setup(s):
        s.enable_auth(path, "cert")
        role = {"token_policies": ["default"]}
        s.ok("POST", f"auth/{path}/certs/ca", {"certificate": w.ca.pem, "allowed_common_names": ["*"], **role})
        s.ok("POST", f"auth/{path}/certs/pathlen", {"certificate": w.pathlen0.pem, **role})
        s.ok("POST", f"auth/{path}/certs/crl", {"certificate": w.crl_ca.pem, **role})
        s.ok("POST", f"auth/{path}/certs/pinned-good", {"certificate": w.pinned_good.pem, **role})
        s.ok("POST", f"auth/{path}/certs/pinned-expired", {"certificate": w.pinned_expired.pem, **role})
        r = s.req("POST", f"auth/{path}/crls/attack", {"crl": forge.crl(w.crl_ca, [w.leaves["revoked"][0]])})
        s.extra["crl_write"] = r.status_code
    tls.each(setup)
    return path, w


@pytest.mark.parametrize("case", list(CERT_CASES))
def test_client_certificate_forgery(tls, certs, case):
    path, w = certs
    role, expect = CERT_CASES[case]
    if case in ("revoked", "not-revoked"):
        expect = r"crl=204 " + expect

    def probe(srv):
        r = srv.req("POST", f"auth/{path}/login", {"name": role}, token=None, cert=w.files[case])
        prefix = f"crl={srv.extra['crl_write']} " if case in ("revoked", "not-revoked") else ""
        return Answer(f"{prefix}login={r.status_code}", errors(r))
    tls.probe(f"forgery/cert/{case}", probe, expect=expect)


def test_cert_crl_is_stored(tls, certs):
    path, _ = certs

    def probe(srv):
        r = srv.req("GET", f"auth/{path}/crls/attack")
        return Answer(f"read={r.status_code}", errors(r))
    tls.probe("forgery/cert/crl-read-back", probe, expect="read=200")
