"""Rekeying the unseal key (sys/rekey/init|update|verify, sys/rekey/backup)
on servers with a Shamir seal, initialized with three shares of which two
unseal.

OpenBao serves these endpoints only on a listener that sets
``disable_unauthed_rekey_endpoints = false`` (its default turns them off;
HashiCorp Vault has no such switch and serves them), so this module starts
its own pair of non-dev servers with in-memory storage.
"""
import json
import re

import pytest
import requests

import pyharness
import vdiff

SHARES, THRESHOLD = 3, 2
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _listener(extra=""):
    return (f'listener "tcp" {{\n  address = "{pyharness.LISTEN}"\n  tls_disable = true\n{extra}}}\n'
            'storage "inmem" {}\n')


def _start(name, binary, config):
    p = pyharness.Process(name, [binary, "server", "-config={home}/server.hcl"])
    p.write("server.hcl", config)
    try:
        p.start()
    except pyharness.HarnessError as e:
        p.cleanup()
        pytest.exit(str(e), 2)
    init = requests.put(f"{p.url}/v1/sys/init",
                        json={"secret_shares": SHARES, "secret_threshold": THRESHOLD}, timeout=30).json()
    for key in init["keys"][:THRESHOLD]:
        requests.put(f"{p.url}/v1/sys/unseal", json={"key": key}, timeout=30)
    server = vdiff.Server(name, p.url, init["root_token"])
    server.ctx["k1"], server.ctx["k2"], server.ctx["k3"] = init["keys"]
    return p, server


@pytest.fixture(scope="module")
def sealed_pair(pair_of):
    started = []
    try:
        pa, a = _start("rekey-vaultlet", pyharness.vaultlet_bin(), _listener())
        started.append(pa)
        pb, b = _start("rekey-reference", pyharness.bao_bin(),
                       _listener("  disable_unauthed_rekey_endpoints = false\n"))
        started.append(pb)
        yield pair_of(a, b)
    finally:
        for proc in started:
            proc.cleanup()


def _masked(srv, r):
    """A refusal's status and error texts, the side's own nonces named."""
    text = json.dumps(r.json)
    for name, value in srv.ctx.items():
        text = text.replace(str(value), f"<<{name}>>")
    return r.status, UUID.sub("<uuid>", text)


def same_refusal(pair, method, path, body, status):
    """A refusal whose text names a random value (a nonce): compared after
    naming each side's values, as the texts are otherwise the same."""
    answers = [_masked(srv, pair._send(srv, method, path, body, None, None, None, None)) for srv in pair.sides()]
    assert answers[0] == answers[1], answers
    assert answers[0][0] == status, answers


def test_rekey_without_and_with_verification(sealed_pair):
    pair = sealed_pair
    pair.call("GET", "sys/rekey/init", expect=200)
    pair.call("PUT", "sys/rekey/update", {"key": "<<k1>>", "nonce": "x"}, expect=400)
    pair.call("GET", "sys/rekey/verify", expect=400)
    # Invalid share counts.
    for shares, threshold in [(0, 0), (3, 0), (3, 1), (3, 5), (300, 2)]:
        pair.call("PUT", "sys/rekey/init", {"secret_shares": shares, "secret_threshold": threshold},
                  expect=(400, 500))
    pair.call("PUT", "sys/rekey/init", {"secret_shares": 3, "secret_threshold": 2, "backup": True}, expect=400)
    pair.call("PUT", "sys/rekey/init", {"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["a"]},
              expect=(400, 500))

    ra, rb = pair.call("PUT", "sys/rekey/init", {"secret_shares": 5, "secret_threshold": 3}, expect=200)
    pair.set("nonce", lambda r: r.get("nonce"), ra, rb)
    pair.call("PUT", "sys/rekey/init", {"secret_shares": 5, "secret_threshold": 3}, expect=400)
    pair.call("GET", "sys/rekey/init", expect=200)
    same_refusal(pair, "PUT", "sys/rekey/update", {"key": "<<k1>>", "nonce": "wrong"}, 400)
    pair.call("PUT", "sys/rekey/update", {"nonce": "<<nonce>>"}, expect=400)
    pair.call("PUT", "sys/rekey/update", {"key": "<<k1>>", "nonce": "<<nonce>>"}, expect=200)
    pair.call("PUT", "sys/rekey/update", {"key": "<<k1>>", "nonce": "<<nonce>>"}, expect=400)
    pair.call("GET", "sys/rekey/init", expect=200)
    ra, rb = pair.call("PUT", "sys/rekey/update", {"key": "<<k3>>", "nonce": "<<nonce>>"}, expect=200)
    for side, r in zip(pair.sides(), (ra, rb)):
        side.ctx.update({f"n{i + 1}": k for i, k in enumerate(r.json["keys"])})
    pair.call("GET", "sys/rekey/init", expect=200)
    pair.call("DELETE", "sys/rekey/init", expect=204)

    # Back to three shares, proven by a threshold of them first.
    ra, rb = pair.call("PUT", "sys/rekey/init",
                       {"secret_shares": 3, "secret_threshold": 2, "require_verification": True}, expect=200)
    pair.set("nonce", lambda r: r.get("nonce"), ra, rb)
    for key in ("n1", "n2"):
        pair.call("PUT", "sys/rekey/update", {"key": f"<<{key}>>", "nonce": "<<nonce>>"}, expect=200)
    ra, rb = pair.call("PUT", "sys/rekey/update", {"key": "<<n5>>", "nonce": "<<nonce>>"}, expect=200)
    pair.set("verify_nonce", lambda r: r.get("verification_nonce"), ra, rb)
    for side, r in zip(pair.sides(), (ra, rb)):
        side.ctx.update({f"v{i + 1}": k for i, k in enumerate(r.json["keys"])})
    pair.call("GET", "sys/rekey/init", expect=200)
    same_refusal(pair, "PUT", "sys/rekey/update", {"key": "<<n1>>", "nonce": "<<nonce>>"}, 400)
    pair.call("GET", "sys/rekey/verify", expect=200)
    same_refusal(pair, "PUT", "sys/rekey/verify", {"key": "<<v1>>", "nonce": "wrong"}, 400)
    pair.call("PUT", "sys/rekey/verify", {"key": "<<v1>>", "nonce": "<<verify_nonce>>"}, expect=200)
    pair.call("PUT", "sys/rekey/verify", {"key": "<<v1>>", "nonce": "<<verify_nonce>>"}, expect=400)
    ra, rb = pair.call("DELETE", "sys/rekey/verify", expect=200)
    pair.set("verify_nonce", lambda r: r.get("nonce"), ra, rb)
    pair.call("GET", "sys/rekey/verify", expect=200)
    pair.call("PUT", "sys/rekey/verify", {"key": "<<v2>>", "nonce": "<<verify_nonce>>"}, expect=200)
    pair.call("PUT", "sys/rekey/verify", {"key": "<<v3>>", "nonce": "<<verify_nonce>>"}, expect=200)
    pair.call("GET", "sys/rekey/verify", expect=400)
    pair.call("GET", "sys/rekey/init", expect=200)

    # Backups exist only for PGP-encrypted shares: none here.
    pair.call("GET", "sys/rekey/backup", expect=400)
    pair.call("DELETE", "sys/rekey/backup", expect=204)
    pair.call("GET", "sys/rekey/backup", token="", expect=403)

    # The verified shares unseal; the first rekey's do not any more.
    pair.call("PUT", "sys/seal", expect=204)
    pair.call("PUT", "sys/unseal", {"key": "<<n1>>"}, token="", expect=(200, 400))
    pair.call("PUT", "sys/unseal", {"reset": True}, token="", expect=200)
    pair.call("PUT", "sys/unseal", {"key": "<<v1>>"}, token="", expect=200)
    pair.call("PUT", "sys/unseal", {"key": "<<v3>>"}, token="", expect=200)
    pair.call("GET", "sys/seal-status", token="", expect=200)
    pair.check()
