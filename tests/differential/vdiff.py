"""Differential engine: send one request to two Vault-API servers, compare.

Each server ("a" = vaultlet, "b" = the reference, OpenBao) has its own
context dict: values that differ between servers by nature (tokens, role IDs,
secret IDs, serials, issuer IDs) are saved per side and substituted into later
requests with ``<<name>>`` placeholders, so one request sequence drives both.

What is compared, per response:

* the status code;
* the Content-Type header;
* JSON bodies field by field: key sets, value types, and values. A value is
  compared *by shape* only when it is random by nature (request IDs, tokens,
  accessors, UUIDs, serials, times, counters of remaining seconds): see
  VOLATILE. Every PEM (or base64 DER) certificate, CSR, CRL or private key is
  compared *by profile* (see profile.py), never byte for byte.
* raw bodies (PEM/DER fetch endpoints) by profile, other raw bodies exactly.

Every difference found is a Diff(kind, field, a, b). It is tolerated only if
an entry of allowlist.yaml matches it; each entry carries its reason.
"""
from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
import yaml

import certprofile as prof

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Volatile fields: compared by shape, not by value. Patterns are matched
# (fnmatch) against the dotted field path with list indices written "[]".
VOLATILE = [
    "request_id",
    "*.request_id",
    # tokens and accessors
    "auth.client_token", "auth.accessor", "auth.entity_id",
    "data.id", "data.accessor", "data.entity_id",
    "wrap_info.*",
    # times
    "data.creation_time", "data.issue_time", "data.expire_time", "data.last_renewal_time", "data.last_renewal",
    "data.expiration", "data.revocation_time", "data.revocation_time_rfc3339",
    "data.last_updated_time", "data.expiration_time",
    "data.time_started", "data.time_finished", "data.last_auto_tidy_finished",
    "server_time_utc", "build_date", "data.next_update", "data.last_update",
    "data.not_before",
    # remaining TTLs (seconds left: depends on when the request landed)
    "data.ttl", "auth.lease_duration", "lease_duration",
    # IDs and serials
    "data.role_id", "data.secret_id", "data.secret_id_accessor",
    "data.issuer_id", "data.key_id", "data.serial_number", "data.serial",
    "data.issuers[]", "data.keys[]", "keys[]",
    "data.imported_issuers[]", "data.imported_keys[]", "data.existing_issuers[]", "data.existing_keys[]",
    "data.default", "data.mapping", "data.key_info",
    "data.ca_chain_issuers[]", "data.manual_chain",
    "accessor", "uuid", "data.*.accessor", "data.*.uuid", "*.accessor", "*.uuid",
    "cluster_name", "cluster_id", "nonce", "migration_id", "data.migration_id",
    # unseal key shares (sys/init, sys/rekey) and the rekey's verification nonce
    "keys_base64[]", "verification_nonce",
    "data.tidy_*", "data.*_count", "data.current_cert_store_count", "data.current_revoked_cert_count",
    "data.cross_revoked_cert_deleted_count", "data.internal_backend_uuid",
    # transit: outputs of random keys, nonces and bytes
    "data.ciphertext", "data.signature", "data.hmac", "data.random_bytes", "data.backup",
    "data.batch_results[].ciphertext", "data.batch_results[].signature", "data.batch_results[].hmac",
    "data.public_key", "data.batch_results[].publickey",
    "data.keys.*", "data.backup_info.time", "data.restore_info.time",
    # identity: ids and times of entities, aliases and groups
    "data.canonical_id", "data.mount_accessor", "data.last_update_time",
    "data.aliases[].id", "data.aliases[].canonical_id", "data.aliases[].mount_accessor",
    "data.aliases[].creation_time", "data.aliases[].last_update_time",
    "data.aliases[].merged_from_canonical_ids[]", "data.merged_entity_ids[]",
    "data.direct_group_ids[]", "data.group_ids[]", "data.inherited_group_ids[]",
    "data.member_entity_ids[]", "data.member_group_ids[]", "data.parent_group_ids[]",
    # identity tokens: generated client IDs and signed tokens
    "data.client_id", "data.token",
    # group aliases: ids, times and the auth mount's accessor
    "data.alias.id", "data.alias.canonical_id", "data.alias.creation_time",
    "data.alias.last_update_time", "data.alias.mount_accessor",
]


def is_volatile(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in VOLATILE)


UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SERIAL_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})*$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def shape(v: Any) -> str:
    """The shape of a volatile value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int:0" if v == 0 else "int"
    if isinstance(v, float):
        return "number"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    s = str(v)
    if s == "":
        return "string:empty"
    if UUID_RE.match(s):
        return "string:uuid"
    if SERIAL_RE.match(s):
        return "string:serial"
    if RFC3339_RE.match(s):
        return "string:rfc3339" if not s.startswith("0001-01-01") else "string:zero-time"
    if "-----BEGIN " in s:
        return "string:pem"
    return "string"


def jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


# ---------------------------------------------------------------------------


@dataclass
class Diff:
    kind: str  # status | content_type | missing_in_a | missing_in_b | type | value | shape | profile | length | body
    field: str
    a: Any = None
    b: Any = None

    def __str__(self):
        def s(x):
            t = json.dumps(x, default=str) if not isinstance(x, str) else x
            return t if len(t) < 700 else t[:700] + "…"

        return f"{self.kind:<13} {self.field or '(body)'}: vaultlet={s(self.a)} | reference={s(self.b)}"


def _short(x: Any) -> Any:
    return x


def compare_json(a: Any, b: Any, path: str = "", out: list[Diff] | None = None) -> list[Diff]:
    out = [] if out is None else out
    if isinstance(a, str) and isinstance(b, str) and prof.looks_like_b64_der(a) and prof.looks_like_b64_der(b):
        for d in prof.compare_b64_der(a, b):
            out.append(Diff("profile", f"{path}:{d}" if path else d, None, None))
        return out
    if isinstance(a, str) and isinstance(b, str) and (prof.looks_like_pki(a) or prof.looks_like_pki(b)):
        for d in prof.compare_pki_text(a, b):
            out.append(Diff("profile", f"{path}:{d}" if path else d, None, None))
        return out
    if jtype(a) != jtype(b):
        # A volatile value may legitimately be null on one side only if both
        # agree; type differences are always reported.
        def t(v):
            # a non-empty array is shown with its content (e.g. which warnings)
            return f"array {json.dumps(v)}" if isinstance(v, list) and v else jtype(v)
        out.append(Diff("type", path, t(a), t(b)))
        return out
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}" if path else k
            if k not in b:
                out.append(Diff("missing_in_b", p, a[k], None))
            elif k not in a:
                out.append(Diff("missing_in_a", p, None, b[k]))
            elif is_volatile(p) and isinstance(a[k], dict) and isinstance(b[k], dict):
                # a map keyed by random IDs: compare sizes and value shapes
                if len(a[k]) != len(b[k]):
                    out.append(Diff("length", p, len(a[k]), len(b[k])))
                else:
                    sa = sorted(json.dumps(_shapes(v), sort_keys=True) for v in a[k].values())
                    sb = sorted(json.dumps(_shapes(v), sort_keys=True) for v in b[k].values())
                    if sa != sb:
                        out.append(Diff("shape", p, sa, sb))
            else:
                compare_json(a[k], b[k], p, out)
        return out
    if isinstance(a, list) and path == "warnings":
        # Warnings are compared as a multiset: servers append them in the
        # order their code paths run, which is not part of the API.
        if sorted(map(str, a)) != sorted(map(str, b)):
            out.append(Diff("value", path, a, b))
        return out
    if isinstance(a, list):
        p = f"{path}[]"
        if len(a) != len(b):
            if is_volatile(p) or is_volatile(path):
                out.append(Diff("length", path, len(a), len(b)))
            else:
                out.append(Diff("value", path, a, b))
            return out
        if is_volatile(p) or is_volatile(path):
            # Lists that may hold random IDs (LIST keys, issuer/key IDs):
            # random-looking elements by shape, names by value, as multisets.
            sa, sb = sorted(_elem(x) for x in a), sorted(_elem(x) for x in b)
            if sa != sb:
                out.append(Diff("value" if all(isinstance(x, str) and not x.startswith("<") for x in sa + sb) else "shape",
                                path, sa, sb))
            return out
        for x, y in zip(a, b):
            compare_json(x, y, p, out)
        return out
    if is_volatile(path):
        if shape(a) != shape(b):
            # an int that is 0 on one side and not on the other is a shape difference
            out.append(Diff("shape", path, shape(a), shape(b)))
        return out
    if a != b:
        out.append(Diff("value", path, a, b))
    return out


ACCESSOR_RE = re.compile(r"^[A-Za-z0-9]{24}$")
# Random key material in a volatile list (unseal key shares): hex or base64
# of at least 32 bytes.
KEY_HEX_RE = re.compile(r"^(?:[0-9a-f]{2}){32,}$")
KEY_B64_RE = re.compile(r"^[A-Za-z0-9+/]{43,}={0,2}$")


def _elem(x: Any) -> str:
    """A list element as compared in a volatile list."""
    if isinstance(x, str):
        sh = shape(x)
        if sh in ("string:uuid", "string:serial", "string:rfc3339", "string:pem") or ACCESSOR_RE.match(x) \
                or x.startswith(("hvs.", "s.", "hvb.", "b.")):
            return f"<{sh}>"
        if KEY_HEX_RE.match(x):
            return "<string:hex-key>"
        if KEY_B64_RE.match(x):
            return "<string:base64-key>"
        return x
    return f"<{shape(x)}>"


def _shapes(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _shapes(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shapes(x) for x in v]
    return shape(v)


# ---------------------------------------------------------------------------
# Allow-list


@dataclass
class AllowEntry:
    id: str
    reason: str
    kinds: list[str]
    fields: list[str]
    paths: list[str]
    methods: list[str]
    a: Any = None  # regex the vaultlet value (stringified) must match, if given
    b: Any = None
    used: int = 0


def load_allowlist(path: str | None = None) -> list[AllowEntry]:
    path = path or os.path.join(HERE, "allowlist.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    out = []
    for e in doc["differences"]:
        if not e.get("reason"):
            raise ValueError(f"allow-list entry {e.get('id')} has no reason")
        m = e.get("match", {})
        out.append(AllowEntry(
            id=e["id"], reason=e["reason"],
            kinds=_list(m.get("kind", "*")), fields=_list(m.get("field", "*")),
            paths=_list(m.get("path", "*")), methods=_list(m.get("method", "*")),
            a=m.get("vaultlet"), b=m.get("reference"),
        ))
    return out


def _list(x):
    return x if isinstance(x, list) else [x]


def _val_matches(pattern, v) -> bool:
    if pattern is None:
        return True
    s = v if isinstance(v, str) else json.dumps(v)
    return re.search(pattern, s, re.S) is not None


def allowed(entries: list[AllowEntry], method: str, api_path: str, d: Diff) -> AllowEntry | None:
    for e in entries:
        if not any(fnmatch.fnmatchcase(d.kind, k) for k in e.kinds):
            continue
        if not any(fnmatch.fnmatchcase(d.field, f) for f in e.fields):
            continue
        if not any(fnmatch.fnmatchcase(api_path, p) for p in e.paths):
            continue
        if not any(fnmatch.fnmatchcase(method, m) for m in e.methods):
            continue
        if not (_val_matches(e.a, d.a) and _val_matches(e.b, d.b)):
            continue
        e.used += 1
        return e
    return None


# ---------------------------------------------------------------------------
# Servers and the pair


@dataclass
class Server:
    name: str
    addr: str
    token: str
    ctx: dict = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)


@dataclass
class Result:
    status: int
    headers: dict
    body: bytes
    json: Any

    def get(self, *keys, default=None):
        v = self.json
        for k in keys:
            if isinstance(v, dict) and k in v:
                v = v[k]
            elif isinstance(v, list) and isinstance(k, int) and k < len(v):
                v = v[k]
            else:
                return default
        return v


PLACEHOLDER = re.compile(r"<<([A-Za-z0-9_]+)>>")


def subst(x: Any, ctx: dict) -> Any:
    if isinstance(x, str):
        def rep(m):
            if m.group(1) not in ctx:
                raise KeyError(f"placeholder <<{m.group(1)}>> not set")
            return str(ctx[m.group(1)])
        return PLACEHOLDER.sub(rep, x)
    if isinstance(x, list):
        return [subst(v, ctx) for v in x]
    if isinstance(x, dict):
        return {subst(k, ctx): subst(v, ctx) for k, v in x.items()}
    return x


class DifferenceError(AssertionError):
    pass


class Pair:
    """Sends every request to both servers and records the differences."""

    def __init__(self, a: Server, b: Server, allow: list[AllowEntry]):
        self.a, self.b, self.allow = a, b, allow
        self.failures: list[str] = []
        self.tolerated: list[str] = []

    def sides(self):
        return (self.a, self.b)

    def set(self, key: str, fn: Callable[[Result], Any], ra: Result, rb: Result):
        self.a.ctx[key] = fn(ra)
        self.b.ctx[key] = fn(rb)

    def setv(self, key: str, va: Any, vb: Any = None):
        self.a.ctx[key] = va
        self.b.ctx[key] = va if vb is None else vb

    def _send(self, srv: Server, method: str, path: str, body: Any, raw: bytes | None, token: str | None,
              headers: dict | None, query: dict | None) -> Result:
        p = subst(path, srv.ctx)
        h = {"X-Vault-Request": "true"}
        tok = srv.token if token is None else subst(token, srv.ctx)
        if tok:
            h["X-Vault-Token"] = tok
        if headers:
            h.update(subst(headers, srv.ctx))
        data = None
        if raw is not None:
            data = subst(raw, srv.ctx) if isinstance(raw, str) else raw
            if isinstance(data, str):
                data = data.encode()
        elif body is not None:
            # As the Go client: json.Marshal (sorted keys, compact), no Content-Type.
            data = json.dumps(subst(body, srv.ctx), sort_keys=True, separators=(",", ":")).encode()
        r = srv.session.request(method, f"{srv.addr}/v1/{p}", data=data, headers=h,
                                params=subst(query, srv.ctx) if query else None, timeout=60, allow_redirects=False)
        j = None
        if r.content.strip():
            try:
                j = json.loads(r.content)
            except ValueError:
                j = None
        return Result(r.status_code, dict(r.headers), r.content, j)

    def poll(self, path: str, done: Callable[[Result], bool], timeout: float = 10.0):
        """GETs path on each side (not compared) until done(result) holds,
        e.g. to wait for a background tidy before comparing its status."""
        import time
        for srv in self.sides():
            deadline = time.time() + timeout
            while True:
                r = self._send(srv, "GET", path, None, None, None, None, None)
                if done(r) or time.time() > deadline:
                    break
                time.sleep(0.1)

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None,
             token: str | None = None, headers: dict | None = None, query: dict | None = None,
             expect: int | tuple | None = None) -> tuple[Result, Result]:
        """One request to both; returns (vaultlet result, reference result)."""
        ra = self._send(self.a, method, path, body, raw, token, headers, query)
        rb = self._send(self.b, method, path, body, raw, token, headers, query)
        api_path = subst(path, {k: f"<{k}>" for k in set(self.a.ctx) | set(self.b.ctx)}) if "<<" in path else path
        diffs = compare_results(ra, rb)
        label = f"{method} /v1/{api_path}"
        status_tolerated = False
        for d in diffs:
            e = allowed(self.allow, method, api_path, d)
            if e:
                self.tolerated.append(f"{label}: {d}  [allow-list: {e.id}]")
                status_tolerated = status_tolerated or d.kind == "status"
            else:
                self.failures.append(f"{label}: {d}")
        # `expect` documents the status the sequence expects from the
        # reference; it is not checked where the status difference itself is
        # allow-listed (then vaultlet must give the expected one).
        if expect is not None and status_tolerated:
            exp = expect if isinstance(expect, tuple) else (expect,)
            if ra.status not in exp:
                self.failures.append(f"{label}: vaultlet answered {ra.status}, the sequence expects {exp}")
        elif expect is not None and ra.status == rb.status:
            exp = expect if isinstance(expect, tuple) else (expect,)
            if rb.status not in exp:
                self.failures.append(f"{label}: the reference answered {rb.status}, the sequence expects {exp}: {rb.body[:300]!r}")
        return ra, rb

    def check(self):
        """Fails on any difference that is neither allow-listed nor a known,
        reported vaultlet bug; marks the test xfail if only known bugs remain."""
        failures, self.failures = self.failures, []
        bugs, other = [], []
        for f in failures:
            bug = known_bug(f)
            (bugs if bug else other).append((f, bug))
        if other:
            msg = "\n".join(f for f, _ in other)
            extra = ("\n(also known vaultlet bugs: " + ", ".join(sorted({b["id"] for _, b in bugs})) + ")") if bugs else ""
            raise DifferenceError(f"vaultlet differs from the reference server:\n{msg}{extra}")
        if bugs:
            import pytest
            ids = sorted({b["id"] for _, b in bugs})
            pytest.xfail("known vaultlet bug(s) " + ", ".join(ids) + ":\n" + "\n".join(f for f, _ in bugs))


# ---------------------------------------------------------------------------
# Known vaultlet bugs (reported to the lead, not intended): a test whose only
# differences are these is marked xfail. They are NOT allow-listed.

_BUGS = None
BUGS_SEEN: dict = {}


def known_bugs() -> list[dict]:
    global _BUGS
    if _BUGS is None:
        path = os.path.join(HERE, "known_bugs.yaml")
        _BUGS = []
        if os.path.exists(path):
            with open(path) as f:
                _BUGS = (yaml.safe_load(f) or {}).get("bugs") or []
    return _BUGS


def known_bug(failure_line: str) -> dict | None:
    for b in known_bugs():
        if re.search(b["match"], failure_line):
            BUGS_SEEN[b["id"]] = BUGS_SEEN.get(b["id"], 0) + 1
            return b
    return None


def _ctype(h: dict) -> str:
    for k, v in h.items():
        if k.lower() == "content-type":
            return v
    return ""


def compare_results(ra: Result, rb: Result) -> list[Diff]:
    out: list[Diff] = []
    if ra.status != rb.status:
        out.append(Diff("status", "", ra.status, rb.status))
    ca, cb = _ctype(ra.headers), _ctype(rb.headers)
    if ca != cb and (ra.body.strip() or rb.body.strip()):
        out.append(Diff("content_type", "", ca, cb))
    if ra.json is not None and rb.json is not None:
        compare_json(ra.json, rb.json, "", out)
    elif ra.json is None and rb.json is None:
        if ra.body != rb.body:
            for d in prof.compare_raw(ra.body, rb.body):
                out.append(Diff("profile" if d != "body" else "body", d if d != "body" else "",
                                ra.body[:200], rb.body[:200]))
    else:
        out.append(Diff("body", "", ra.body[:300].decode(errors="replace"), rb.body[:300].decode(errors="replace")))
    return out
