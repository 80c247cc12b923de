"""Path normalisation tricks: dot segments (plain and percent-encoded),
doubled and trailing slashes, case, encoded separators, and control
characters in KV keys, mount paths and policy names.

Every request here is sent byte for byte (no client-side normalisation).

Class of a read probe: ``granted`` when the body holds the secret stored
under the path the token may not read, ``refused`` when the final answer is
a 4xx without it, ``other(<status>)`` otherwise. "Final" means after
following redirects on the same server as a client does: OpenBao's router
answers a path with dot segments or doubled slashes with a 307 to the
cleaned path, whose answer the ACL then decides; vaultlet refuses such a
path outright. The first status and the error are shown on failure. Class of a write probe: ``<status> stored=<yes|no>`` (whether a
listing of the parent then shows a new key or mount).
"""
import html
import json
import re
import uuid

import pytest

from attack import Answer

SECRET = "attack-denied-value"

# (probe id, path after the mount, relative to /v1/<mount>/)
READ_TRICKS = [
    ("dot-dot", "allowed/../denied/x"),
    ("dot-dot-encoded", "allowed/%2e%2e/denied/x"),
    ("dot-dot-encoded-upper", "allowed/%2E%2E/denied/x"),
    ("dot-dot-half-encoded", "allowed/.%2e/denied/x"),
    ("dot", "./denied/x"),
    ("double-slash-dot-dot", "allowed//../denied/x"),
    ("encoded-slash", "allowed%2F..%2Fdenied/x"),
    ("encoded-backslash", "allowed%5C..%5Cdenied/x"),
    ("double-slash-prefix", "/denied/x"),
    ("trailing-slash", "denied/x/"),
    ("upper-case-key", "DENIED/x"),
    ("overlong-utf8-dot", "allowed/%c0%ae%c0%ae/denied/x"),
    ("null-before-allowed", "denied/x%00/allowed"),
]


@pytest.fixture(scope="module")
def kv(dev):
    tag = uuid.uuid4().hex[:6]
    mount = f"kvatk{tag}"

    def setup(s):
        s.enable_secrets(mount, "kv")
        s.ok("PUT", f"{mount}/denied/x", {"v": SECRET})
        s.ok("PUT", f"{mount}/allowed/x", {"v": "fine"})
        s.policy(f"kvallowed{tag}", f'path "{mount}/allowed/*" {{ capabilities = ["read", "list"] }}')
        s.extra["kv_token"] = s.child_token([f"kvallowed{tag}"])
        s.policy(f"kvdenied{tag}", f'path "{mount}/*" {{ capabilities = ["read", "list"] }}\n'
                                   f'path "{mount}/denied/x" {{ capabilities = ["deny"] }}')
        s.extra["kv_deny_token"] = s.child_token([f"kvdenied{tag}"])
    dev.each(setup)
    return mount


@pytest.mark.parametrize("trick", READ_TRICKS, ids=[t[0] for t in READ_TRICKS])
def test_read_outside_the_policy(dev, kv, trick):
    name, rest = trick
    dev.probe(f"paths/read/{name}", lambda srv: _read(srv, f"/v1/{kv}/{rest}"), expect="refused")


def test_trailing_slash_past_a_deny(dev, kv):
    """A deny on `denied/x` under a grant of the whole mount: `denied/x/`
    is another path to the ACL (OpenBao) or the same one (vaultlet), and
    to KV another key, so neither server hands out the secret."""
    dev.probe("paths/read/trailing-slash-past-deny",
              lambda srv: _read(srv, f"/v1/{kv}/denied/x/", token=srv.extra["kv_deny_token"]), expect="refused")


def test_upper_case_mount(dev, kv):
    dev.probe("paths/read/upper-case-mount", lambda srv: _read(srv, f"/v1/{kv.upper()}/denied/x"), expect="refused")


def _read(srv, raw_path, token=None) -> Answer:
    token = token or srv.extra["kv_token"]
    trail = []
    status, body = srv.raw("GET", raw_path, token=token)
    trail.append(f"{status}")
    for _ in range(3):
        m = re.search(r'href="(/v1/[^"]*)"', body) if status in (301, 307, 308) else None
        if not m:
            break
        status, body = srv.raw("GET", html.unescape(m.group(1)), token=token)
        trail.append(f"-> {m.group(1)} {status}")
    if SECRET in body:
        cls = "granted"
    elif 400 <= status < 500:
        cls = "refused"
    else:
        cls = f"other({status})"
    return Answer(cls, " ".join(trail) + " " + " ".join(body.split())[:120])


CONTROL = {"nul": "%00", "newline": "%0A", "tab": "%09", "del": "%7F", "line-separator": "%E2%80%A8",
           "carriage-return": "%0D"}


def _listed(srv, path, name_fragment) -> str:
    r = srv.req("LIST", path)
    if r.status_code != 200:
        return "no"
    keys = r.json().get("data", {}).get("keys", [])
    return "yes" if any(name_fragment in k for k in keys) else "no"


@pytest.mark.parametrize("char", list(CONTROL), ids=list(CONTROL))
def test_control_character_in_kv_key(dev, kv, char):
    def probe(srv):
        uid = uuid.uuid4().hex[:6]
        status, body = srv.raw("PUT", f"/v1/{kv}/cc{uid}a{CONTROL[char]}b", {"v": 1})
        return Answer(f"{status} stored={_listed(srv, kv, 'cc' + uid)}", body[:160])
    dev.probe(f"paths/control-char/kv-key-{char}", probe)


MOUNT_TABLES = {"mount": ("sys/mounts", "kv"), "auth": ("sys/auth", "approle")}


@pytest.mark.parametrize("char", list(CONTROL), ids=list(CONTROL))
@pytest.mark.parametrize("table", list(MOUNT_TABLES))
def test_control_character_in_mount_path(dev, table, char):
    base, kind = MOUNT_TABLES[table]

    def probe(srv):
        uid = uuid.uuid4().hex[:6]
        status, body = srv.raw("POST", f"/v1/{base}/mt{uid}{CONTROL[char]}x", {"type": kind})
        r = srv.req("GET", base)
        stored = "yes" if any(f"mt{uid}" in k for k in r.json().get("data", {})) else "no"
        return Answer(f"{status} stored={stored}", body[:160])
    dev.probe(f"paths/control-char/{table}-{char}", probe)


@pytest.mark.parametrize("char", list(CONTROL), ids=list(CONTROL))
def test_control_character_in_policy_name(dev, char):
    def probe(srv):
        uid = uuid.uuid4().hex[:6]
        status, body = srv.raw("PUT", f"/v1/sys/policies/acl/po{uid}{CONTROL[char]}x",
                               {"policy": 'path "x" { capabilities = ["read"] }'})
        return Answer(f"{status} stored={_listed(srv, 'sys/policies/acl', 'po' + uid)}", body[:160])
    dev.probe(f"paths/control-char/policy-{char}", probe)


def test_mount_over_sys(dev):
    """Mounting at or under a reserved path must be refused."""
    def probe(srv):
        out = []
        for path in ("sys", "sys/x", "auth", "cubbyhole", "identity"):
            r = srv.req("POST", f"sys/mounts/{path}", {"type": "kv"})
            out.append(f"{path}={r.status_code}")
        return Answer(" ".join(out))
    dev.probe("paths/mount/reserved", probe)


def test_tune_sys(dev):
    def probe(srv):
        r = srv.req("POST", "sys/mounts/sys/tune", {"max_lease_ttl": "1h"})
        return Answer(f"{r.status_code}", json.dumps(r.json() if r.text else {})[:160])
    dev.probe("paths/mount/tune-sys", probe)
