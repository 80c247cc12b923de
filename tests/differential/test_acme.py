"""The PKI mount's ACME server (https://developer.hashicorp.com/vault/api-docs/secret/pki/issuance):
directory contents, and the status codes and RFC 8555 problem documents of
the refusals (bad JWS signature, replayed nonce, wrong url, an order for a
name outside the role, external account binding missing or wrong, ACME
disabled), compared between vaultlet and the reference.

Both servers get the same config/cluster path (an address nobody serves):
ACME URLs are built from it, so directories compare exactly and a JWS's
`url` names the same URL on both sides. Each JWS is signed per side (its
own nonce), with one account key shared by the two sides."""
import base64
import hashlib
import hmac
import json
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

JOSE = {"Content-Type": "application/jose+json"}


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Key:
    """An ES256 account key."""

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict:
        n = self.private.public_key().public_numbers()
        return {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}

    def jws(self, protected: dict, payload, *, corrupt: bool = False) -> str:
        prot = b64(json.dumps(protected).encode())
        body = "" if payload is None else b64(json.dumps(payload).encode())
        r, s = decode_dss_signature(self.private.sign(f"{prot}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        sig = bytearray(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        if corrupt:
            sig[5] ^= 0xFF
        return json.dumps({"protected": prot, "payload": body, "signature": b64(bytes(sig))})


@pytest.fixture
def acme(pair):
    """A PKI mount with a root, a role `web` for example.com and ACME on,
    the same on both sides; removed afterwards (other tests compare the
    mount tables)."""
    m = "acme" + uuid.uuid4().hex[:8]
    pair.setv("m", m)
    pair.call("POST", f"sys/mounts/{m}", {"type": "pki"}, expect=204)
    for srv in pair.sides():
        _api(srv, "POST", f"{m}/root/generate/internal", {"common_name": "acme root", "key_type": "ec"})
    pair.call("POST", f"{m}/roles/web", {"allowed_domains": "example.com", "allow_subdomains": True,
                                         "key_type": "any"}, expect=(200, 204))
    pair.call("POST", f"{m}/config/cluster", {"path": f"http://acme.invalid/v1/{m}"}, expect=200)
    pair.call("POST", f"sys/mounts/{m}/tune", {"allowed_response_headers": ["Location", "Replay-Nonce", "Link"]},
              expect=204)
    pair.call("POST", f"{m}/config/acme", {"enabled": True}, expect=200)
    yield m
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)


def _api(srv, method, path, body=None):
    r = srv.session.request(method, f"{srv.addr}/v1/{path}", json=body, headers={"X-Vault-Token": srv.token},
                            timeout=60)
    assert r.status_code in (200, 204), (srv.name, method, path, r.status_code, r.text[:300])
    return r.json() if r.content.strip() else None


def _nonce(srv, directory: str) -> str:
    r = srv.session.head(f"{srv.addr}/v1/{directory}new-nonce", timeout=30)
    assert r.status_code == 200, (srv.name, r.status_code)
    return r.headers["Replay-Nonce"]


def _url(m: str, path: str) -> str:
    return f"http://acme.invalid/v1/{m}/{path}"


def _post(pair, path: str, build, expect: int):
    """POSTs the JWS build(srv) returns to path on each side, compared."""
    pair.setv("jws", build(pair.a), build(pair.b))
    return pair.call("POST", path, raw="<<jws>>", token="", headers=JOSE, expect=expect)


def _account(srv, key: Key, m: str, directory: str) -> str:
    """Registers key on srv (not compared); its account URL."""
    url = _url(m, f"{directory}new-account")
    body = key.jws({"alg": "ES256", "jwk": key.jwk(), "nonce": _nonce(srv, f"{m}/{directory}"), "url": url},
                   {"termsOfServiceAgreed": True})
    r = srv.session.post(f"{srv.addr}/v1/{m}/{directory}new-account", data=body, headers=JOSE, timeout=30)
    assert r.status_code == 201, (srv.name, r.status_code, r.text)
    return r.headers["Location"]


def test_directories_and_nonces(pair, acme):
    m = acme
    for directory in ("acme", "roles/web/acme", "issuer/default/acme", "issuer/default/roles/web/acme"):
        pair.call("GET", f"{m}/{directory}/directory", token="", expect=200)
        pair.call("HEAD", f"{m}/{directory}/new-nonce", token="", expect=200)
        pair.call("GET", f"{m}/{directory}/new-nonce", token="", expect=204)
    pair.call("GET", f"{m}/roles/nope/acme/directory", token="")
    pair.call("GET", f"{m}/config/acme", expect=200)
    pair.check()


def test_jws_refusals(pair, acme):
    m, key = acme, Key()
    new_account = f"{m}/acme/new-account"

    def signed(srv, *, url=_url(m, "acme/new-account"), nonce=None, corrupt=False):
        nonce = nonce or _nonce(srv, f"{m}/acme/")
        return key.jws({"alg": "ES256", "jwk": key.jwk(), "nonce": nonce, "url": url},
                       {"termsOfServiceAgreed": True}, corrupt=corrupt)

    _post(pair, new_account, lambda s: signed(s, corrupt=True), 400)
    _post(pair, new_account, lambda s: signed(s, url=_url(m, "acme/new-order")), 401)
    _post(pair, new_account, lambda s: signed(s, nonce="bm90LWEtbm9uY2U"), 400)
    _post(pair, new_account, lambda s: key.jws({"alg": "ES256", "jwk": key.jwk(), "url": _url(m, "acme/new-account")},
                                               {"termsOfServiceAgreed": True}), 400)
    # A nonce is good once: the first use registers, the replay is refused.
    nonces = {srv.name: _nonce(srv, f"{m}/acme/") for srv in pair.sides()}
    _post(pair, new_account, lambda s: signed(s, nonce=nonces[s.name]), 201)
    _post(pair, new_account, lambda s: signed(s, nonce=nonces[s.name]), 400)
    pair.call("POST", new_account, raw="not json", token="", headers=JOSE)
    pair.call("POST", new_account, {"protected": "e30", "payload": "", "signature": ""}, token="", headers=JOSE)
    pair.check()


def test_order_outside_the_role(pair, acme):
    m, key = acme, Key()
    kids = {srv.name: _account(srv, key, m, "roles/web/acme/") for srv in pair.sides()}

    def order(srv, name):
        return key.jws({"alg": "ES256", "kid": kids[srv.name], "nonce": _nonce(srv, f"{m}/roles/web/acme/"),
                        "url": _url(m, "roles/web/acme/new-order")},
                       {"identifiers": [{"type": "dns", "value": name}]})

    _post(pair, f"{m}/roles/web/acme/new-order", lambda s: order(s, "outside.test"), 400)
    _post(pair, f"{m}/roles/web/acme/new-order", lambda s: order(s, "*.outside.test"), 400)
    pair.check()


def test_external_account_binding_missing_or_wrong(pair, acme):
    m, key = acme, Key()
    pair.call("POST", f"{m}/config/acme", {"enabled": True, "eab_policy": "new-account-required"}, expect=200)
    pair.call("GET", f"{m}/acme/directory", token="", expect=200)
    url = _url(m, "acme/new-account")

    def register(srv, eab=None):
        payload = {"termsOfServiceAgreed": True}
        if eab:
            payload["externalAccountBinding"] = eab(srv)
        return key.jws({"alg": "ES256", "jwk": key.jwk(), "nonce": _nonce(srv, f"{m}/acme/"), "url": url}, payload)

    def binding(kid: str, hmac_key: bytes) -> dict:
        prot = b64(json.dumps({"alg": "HS256", "kid": kid, "url": url}).encode())
        payload = b64(json.dumps(key.jwk()).encode())
        sig = hmac.new(hmac_key, f"{prot}.{payload}".encode(), hashlib.sha256).digest()
        return {"protected": prot, "payload": payload, "signature": b64(sig)}

    minted = {srv.name: _api(srv, "POST", f"{m}/acme/new-eab")["data"] for srv in pair.sides()}
    unknown = str(uuid.uuid4())
    _post(pair, f"{m}/acme/new-account", register, 401)
    _post(pair, f"{m}/acme/new-account",
          lambda s: register(s, lambda _: binding(unknown, b"k" * 32)), 401)
    _post(pair, f"{m}/acme/new-account",
          lambda s: register(s, lambda _: binding(minted[s.name]["id"], b"wrong key, 32 bytes long......")), 401)
    pair.check()


def test_acme_disabled(pair, acme):
    m = acme
    pair.call("POST", f"{m}/config/acme", {"enabled": False}, expect=200)
    for directory in ("acme", "roles/web/acme"):
        pair.call("GET", f"{m}/{directory}/directory", token="", expect=404)
        pair.call("HEAD", f"{m}/{directory}/new-nonce", token="")
    pair.call("POST", f"{m}/acme/new-account", {"protected": "e30", "payload": "", "signature": ""}, token="",
              headers=JOSE)
    pair.check()
