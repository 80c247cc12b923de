"""One agent's life against each server, in order: it authenticates with a
wrapped secret ID, writes a wrapped token to its sink, renders a certificate
and a KV v2 secret, keeps its token alive past the token's TTL, and logs in
again when its token is revoked. Every step asserts the same on vaultlet and
on OpenBao, and records what it saw for test_same_on_both_servers.py."""
from __future__ import annotations

import json
import time
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import COMMON_NAME, PASSWORD, TOKEN_TTL, Agent, wait_for

# The status of sys/wrapping/lookup for a spent or unknown wrapping token.
NOT_A_WRAPPING_TOKEN = 400
AUTHENTICATED = "authentication successful, sending token to sinks"
RENEWED = "renewed auth token"
REVOCATION_NOTICED = "lifetime watcher done channel triggered"


def shape(data: dict) -> dict[str, str]:
    """Field name -> JSON type name: what a client parsing it relies on."""
    return {k: type(v).__name__ for k, v in sorted(data.items())}


def sink_token(agent: Agent, previous_wrapping_token: str | None = None) -> tuple[str, dict]:
    """Waits for a sink file other than the previous one, unwraps it and
    returns (its wrapping token, the agent's token looked up)."""
    def fresh_sink():
        text = agent.read("sink-token")
        if not text:
            return None
        info = json.loads(text)
        return info if info["token"] != previous_wrapping_token else None

    info = wait_for("a wrapped token in the sink", fresh_sink, agent=agent)
    agent.observed["sink file"] = shape(info)
    assert 0 < info["ttl"] <= 300, info
    # A wrapping token is looked up without any other token.
    lookup = agent.api.call("POST", "sys/wrapping/lookup", {"token": info["token"]}, token=None)
    assert lookup.status_code == 200, lookup.text
    agent.observed["sink wrapping lookup"] = shape(lookup.json()["data"])
    assert lookup.json()["data"]["creation_path"] == "sys/wrapping/wrap", lookup.text
    unwrapped = agent.api.ok("POST", "sys/wrapping/unwrap", token=info["token"])
    token = unwrapped["data"]["token"]
    looked_up = agent.api.ok("GET", "auth/token/lookup-self", token=token)["data"]
    return info["token"], looked_up


def wrapping_token_spent(agent: Agent, wrapping_token: str) -> bool:
    r = agent.api.call("POST", "sys/wrapping/lookup", {"token": wrapping_token}, token=None)
    return r.status_code == NOT_A_WRAPPING_TOKEN


def first_token(agent: Agent) -> tuple[str, str]:
    """(sink wrapping token, accessor) of the agent's first token."""
    assert hasattr(agent, "token_accessor"), "the first login step failed"
    return agent.sink_wrapping_token, agent.token_accessor


def test_logs_in_with_the_wrapped_secret_id_and_sinks_a_wrapped_token(agent):
    wrapping_token, token = sink_token(agent)
    agent.observed["agent token"] = shape(token)
    assert token["path"] == "auth/approle/login"
    assert token["display_name"] == "approle"
    assert token["meta"] == {"role_name": "agent"}
    assert sorted(token["policies"]) == ["agent", "default"]
    assert token["renewable"] is True
    assert token["creation_ttl"] == TOKEN_TTL
    # The agent unwrapped the secret ID: its wrapping token is spent.
    assert wrapping_token_spent(agent, agent.first_secret_id)
    agent.sink_wrapping_token = wrapping_token
    agent.token_accessor = token["accessor"]


def test_renders_a_certificate_from_the_pki_mount(agent):
    def rendered():
        text = agent.read("out/cert.pem")
        return text if text and "PRIVATE KEY-----" in text else None

    pem = wait_for("the certificate template", rendered, agent=agent).encode()
    certs = x509.load_pem_x509_certificates(pem)
    assert len(certs) == 2, pem
    leaf, issuer = certs
    key = serialization.load_pem_private_key(pem[pem.index(b"-----BEGIN EC PRIVATE KEY"):], None)
    ca = x509.load_pem_x509_certificate(agent.api.ok("GET", "pki/cert/ca")["data"]["certificate"].encode())
    assert issuer == ca
    leaf.verify_directly_issued_by(ca)
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == COMMON_NAME
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [COMMON_NAME]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == leaf.public_key()
    # The mount stored the certificate it issued to the agent.
    serial = "-".join(f"{b:02x}" for b in leaf.serial_number.to_bytes(20, "big").lstrip(b"\0"))
    stored = agent.api.ok("GET", f"pki/cert/{serial}")["data"]["certificate"]
    assert x509.load_pem_x509_certificate(stored.encode()) == leaf
    agent.observed["certificate extensions"] = [(e.oid.dotted_string, e.critical) for e in leaf.extensions]
    agent.observed["certificate key"] = (type(key).__name__, key.curve.name)


def test_renders_a_kv_v2_secret_and_follows_its_new_version(agent):
    wait_for("the KV template", lambda: (agent.read("out/app.txt") or "").strip() == PASSWORD, agent=agent)
    agent.api.ok("POST", "secret/data/app", {"data": {"password": "s3cr3t-v2"}})
    wait_for("the KV template re-rendered", lambda: (agent.read("out/app.txt") or "").strip() == "s3cr3t-v2",
             agent=agent)


def test_renews_its_token_past_the_token_ttl(agent):
    _, accessor = first_token(agent)

    def lookup():
        return agent.api.ok("POST", "auth/token/lookup-accessor", {"accessor": accessor})["data"]

    issued = parse_time(lookup()["issue_time"])

    def renewed_past_ttl():
        data = lookup()
        past = time.time() > issued + TOKEN_TTL + 1
        # Alive past the TTL it was issued with: renewed.
        return data if past and "last_renewal_time" in data and data["ttl"] > 0 else None

    data = wait_for("the agent's token to outlive its first TTL", renewed_past_ttl, agent=agent)
    agent.observed["renewed token"] = shape(data)
    assert data["last_renewal_time"] >= issued
    assert parse_time(data["expire_time"]) > issued + TOKEN_TTL
    assert agent.log_count(RENEWED) >= 2, agent.tail()


def test_logs_in_again_after_its_token_is_revoked(agent):
    sink_wrapping_token, accessor = first_token(agent)
    assert agent.log_count(AUTHENTICATED) == 1, agent.tail()
    # The first wrapped secret ID is spent: the orchestrator delivers another.
    second_secret_id = agent.api.wrapped_secret_id()
    agent.put("secret-id", second_secret_id)
    agent.api.ok("POST", "auth/token/revoke-accessor", {"accessor": accessor})
    _, token = sink_token(agent, previous_wrapping_token=sink_wrapping_token)
    assert token["accessor"] != accessor
    assert token["path"] == "auth/approle/login"
    assert wrapping_token_spent(agent, second_secret_id)
    assert agent.log_count(REVOCATION_NOTICED) >= 1, agent.tail()
    assert agent.log_count(AUTHENTICATED) == 2, agent.tail()
    # Templates keep working with the new token.
    agent.api.ok("POST", "secret/data/app", {"data": {"password": "s3cr3t-v3"}})
    wait_for("the KV template rendered with the new token",
             lambda: (agent.read("out/app.txt") or "").strip() == "s3cr3t-v3", agent=agent)


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time, with or without a
    fraction (Go prints up to nine digits; Python reads up to six)."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
