"""Attack-suite engine: one probe, two servers, one answer class each.

A probe is a function ``probe(srv) -> Answer`` that plays a hostile client
against one server. It runs against OpenBao (the reference) and against
vaultlet; the two answers' *classes* must be equal. A class is a short string
that a probe defines precisely from exact status codes and observed effects,
e.g. ``"role=204 login=400 root=no"`` or ``"successes=1"``; the answer's
``detail`` (error texts, counts) is shown on failure but never compared.

Each probe may also state the class it expects from the reference: when
OpenBao does not answer as the probe assumes, the probe itself is wrong and
fails as such, not as a vaultlet difference.

Differences that are intended are listed in allowlist.yaml, one written
reason per probe id. Nothing else lets a difference through.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

import requests
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Answer:
    cls: str
    detail: str = ""

    def __str__(self):
        return f"{self.cls}" + (f"  ({self.detail})" if self.detail else "")


def errors(r: requests.Response) -> str:
    """The response's error texts, joined, for an Answer's detail."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        text = "; ".join(map(str, body["errors"]))
        # Go's multierror wrapping ("1 error occurred:\n\t* ...") is noise here.
        text = re.sub(r"\d+ errors? occurred:\s*\*\s*", "", text)
        return " ".join(text.split())[:300]
    return ""


def status_detail(r: requests.Response) -> str:
    e = errors(r)
    return f"{r.status_code} {e}".strip()


@dataclass
class Server:
    """One running server as the attacker sees it."""
    name: str
    url: str
    token: str = "root"
    pid: int | None = None
    verify: str | bool = True
    home: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.http = requests.Session()

    # -- raw requests -----------------------------------------------------
    def req(self, method: str, path: str, body=None, *, token: str | None = "__default__",
            data: bytes | None = None, headers: dict | None = None, params=None,
            cert=None, timeout: float = 30, session: requests.Session | None = None) -> requests.Response:
        h = dict(headers or {})
        if token == "__default__":
            token = self.token
        if token is not None:
            h["X-Vault-Token"] = token
        if body is not None and data is None:
            data = json.dumps(body).encode()
        s = session or (requests if cert else self.http)
        return s.request(method, f"{self.url}/v1/{path}", data=data, headers=h, params=params,
                         verify=self.verify, cert=cert, timeout=timeout)

    def raw(self, method: str, raw_path: str, body=None, token: str | None = "__default__",
            timeout: float = 30) -> tuple[int, str]:
        """A request whose path is sent byte for byte as given (no client-side
        normalisation of dot segments, slashes or escapes): (status, body)."""
        import http.client
        from urllib.parse import urlsplit
        u = urlsplit(self.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        headers = {}
        if token == "__default__":
            token = self.token
        if token is not None:
            headers["X-Vault-Token"] = token
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.putrequest(method, raw_path, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(data or b"")))
            conn.endheaders(data)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def ok(self, method: str, path: str, body=None, **kw) -> requests.Response:
        """A set-up request that must succeed on both servers."""
        r = self.req(method, path, body, **kw)
        assert r.status_code in (200, 204), f"{self.name}: set-up {method} {path} -> {r.status_code} {r.text[:400]}"
        return r

    # -- helpers ----------------------------------------------------------
    def policy(self, name: str, hcl: str):
        self.ok("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def child_token(self, policies: Iterable[str], **kw) -> str:
        r = self.ok("POST", "auth/token/create", {"policies": list(policies), **kw})
        return r.json()["auth"]["client_token"]

    def enable_auth(self, path: str, kind: str):
        self.ok("POST", f"sys/auth/{path}", {"type": kind})

    def enable_secrets(self, path: str, kind: str, options=None):
        body = {"type": kind}
        if options:
            body["options"] = options
        self.ok("POST", f"sys/mounts/{path}", body)

    def memory_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the server process from /proc (VmRSS, VmHWM)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False


def granted_root(srv: Server, token: str | None) -> str:
    """Whether a token can do what only root (or a sudo-everywhere policy)
    can: list auth methods and read the root-protected sys/audit."""
    if not token:
        return "no"
    r = srv.req("GET", "sys/audit", token=token)
    return "yes" if r.status_code == 200 else "no"


def run_concurrently(n: int, fn: Callable[[int], object]) -> list:
    """Runs fn(i) for i in range(n) on n threads released together by a
    barrier; returns the results in order (exceptions are returned too)."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout=30)
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported as a result
            out[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


# ---------------------------------------------------------------------------
# The allow-list and the comparison.

@dataclass
class AllowEntry:
    probe: str          # a probe id or an fnmatch pattern over probe ids
    reason: str
    vaultlet: str | None = None   # regular expression over vaultlet's class
    reference: str | None = None  # regular expression over OpenBao's class
    used: int = 0


def load_allowlist(path: str | None = None) -> list[AllowEntry]:
    with open(path or os.path.join(HERE, "allowlist.yaml")) as f:
        doc = yaml.safe_load(f) or {}
    out = []
    for e in doc.get("differences") or []:
        if not str(e.get("reason", "")).strip():
            raise ValueError(f"allow-list entry {e.get('probe')} has no reason")
        out.append(AllowEntry(e["probe"], e["reason"], e.get("vaultlet"), e.get("reference")))
    return out


class ProbeFailure(AssertionError):
    pass


class ReferenceSurprise(AssertionError):
    """OpenBao did not answer as the probe assumes: the probe is wrong."""


def _matches(entry: AllowEntry, probe_id: str, a: Answer, b: Answer) -> bool:
    import fnmatch
    if not fnmatch.fnmatchcase(probe_id, entry.probe):
        return False
    if entry.vaultlet is not None and not re.search(entry.vaultlet, a.cls):
        return False
    if entry.reference is not None and not re.search(entry.reference, b.cls):
        return False
    return True


RESULTS: list[tuple[str, str, Answer, Answer]] = []  # (probe id, verdict, vaultlet, reference)


class Pair:
    """vaultlet ("a") and OpenBao ("b"), started alike."""

    def __init__(self, a: Server, b: Server, allow: list[AllowEntry]):
        self.a, self.b, self.allow = a, b, allow

    def sides(self):
        return (self.a, self.b)

    def each(self, fn: Callable[[Server], object]):
        """Runs a set-up step on both servers."""
        for s in self.sides():
            fn(s)

    def probe(self, probe_id: str, fn: Callable[[Server], Answer], expect: str | None = None):
        b = fn(self.b)
        if expect is not None and not re.fullmatch(expect, b.cls):
            RESULTS.append((probe_id, "reference-surprise", Answer("-"), b))
            raise ReferenceSurprise(f"{probe_id}: OpenBao answered {b}, the probe expects {expect!r}")
        a = fn(self.a)
        if a.cls == b.cls:
            RESULTS.append((probe_id, "same", a, b))
            return
        for e in self.allow:
            if _matches(e, probe_id, a, b):
                e.used += 1
                RESULTS.append((probe_id, f"allowed:{e.probe}", a, b))
                return
        RESULTS.append((probe_id, "DIFFERENT", a, b))
        raise ProbeFailure(f"{probe_id}:\n  vaultlet: {a}\n  OpenBao:  {b}")
