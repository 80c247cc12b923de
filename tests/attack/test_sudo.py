"""Every root-protected endpoint (sudo_paths.yaml), called twice: with a token
whose policy grants every capability on the path except sudo, and with one
that also grants sudo.

Class: ``refused(403)`` when the answer is 403 (the ACL refused), otherwise
``refused(400)`` for a 400 "root or sudo privileges required" (an
endpoint that checks sudo itself), ``unsupported(404)`` for a 404 "unsupported path" and ``passed`` for any
other status: past the ACL, whatever the endpoint then says (the status and
error are shown on failure). Without sudo OpenBao must refuse; with sudo it
must not.
"""
import os
import uuid

import pytest
import yaml

from attack import Answer, errors

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "sudo_paths.yaml")) as f:
    TABLE = yaml.safe_load(f)["entries"]

ALL_BUT_SUDO = ["create", "read", "update", "delete", "list", "patch"]


def acl_class(r) -> str:
    if r.status_code == 403:
        return "refused(403)"
    if r.status_code == 400 and "root or sudo privileges required" in errors(r):
        return "refused(400)"   # a handler's own sudo check (auth/token/revoke-orphan)
    if r.status_code == 404 and "unsupported path" in errors(r):
        return "unsupported(404)"
    return "passed"


def _setup(srv, tag):
    srv.enable_auth(f"sudoauth{tag}", "approle")
    srv.enable_secrets(f"sudopki{tag}", "pki")


@pytest.fixture(scope="module")
def sudo_env(dev):
    tag = uuid.uuid4().hex[:6]
    dev.each(lambda s: _setup(s, tag))
    return tag


def _fill(text: str, tag: str, uid: str) -> str:
    return text.replace("{auth}", f"sudoauth{tag}").replace("{pki}", f"sudopki{tag}").replace("{uid}", uid)


def _fill_body(body, tag, uid):
    if isinstance(body, str):
        return _fill(body, tag, uid)
    if isinstance(body, dict):
        return {k: _fill_body(v, tag, uid) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill_body(v, tag, uid) for v in body]
    return body


def _policy(path: str, sudo: bool) -> str:
    caps = ", ".join(f'"{c}"' for c in ALL_BUT_SUDO + (["sudo"] if sudo else []))
    bare = path.rstrip("/")
    return f'path "{bare}" {{ capabilities = [{caps}] }}\npath "{bare}/" {{ capabilities = [{caps}] }}\n'


@pytest.mark.parametrize("sudo", [False, True], ids=["without-sudo", "with-sudo"])
@pytest.mark.parametrize("entry", TABLE, ids=[e["id"] for e in TABLE])
def test_root_protected_endpoint(request, entry, sudo, fresh_dev, fresh_durable):
    if entry.get("destructive"):
        if entry["destructive"] == "durable":
            pair = fresh_durable(f"sudo-{entry['id']}", init=True)
        else:
            pair = fresh_dev(f"sudo-{entry['id']}")
        tag = uuid.uuid4().hex[:6]
        pair.each(lambda s: _setup(s, tag))
    else:
        pair = request.getfixturevalue("dev")
        tag = request.getfixturevalue("sudo_env")

    def probe(srv):
        uid = uuid.uuid4().hex[:8]
        path = _fill(entry["path"], tag, uid)
        name = f"sudoprobe-{uid}"
        srv.policy(name, _policy(path, sudo))
        token = srv.child_token([name], no_default_policy=True)
        body = _fill_body(entry.get("body"), tag, uid)
        r = srv.req(entry["method"], path, body, token=token)
        return Answer(acl_class(r), f"{entry['method']} {path} -> {r.status_code} {errors(r)}")

    if entry.get("openapi") or entry.get("source") == "documented":
        expect = r"passed|unsupported\(404\)" if sudo else r"refused\(40[03]\)"
    else:
        expect = None
    pair.probe(f"sudo/{entry['id']}/{'with' if sudo else 'without'}-sudo", probe, expect=expect)


def test_table_covers_every_sudo_operation_in_openbao_openapi(dev, sudo_env):
    """Every operation OpenBao's OpenAPI document marks x-vault-sudo has an
    entry, and every entry naming one still exists there."""
    r = dev.b.req("GET", "sys/internal/specs/openapi", params={"generic_mount_paths": "true"})
    assert r.status_code == 200, r.text[:300]
    marked = set()
    for path, item in r.json()["paths"].items():
        # generic_mount_paths names a mount's placeholder after the mount
        path = path.replace(f"{{sudopki{sudo_env}_mount_path}}", "{pki_mount_path}")
        if item.get("x-vault-sudo"):
            for op in ("get", "post", "put", "delete", "patch"):
                if op in item:
                    marked.add(f"{path} {op}")
    table = {e["openapi"] for e in TABLE if e.get("openapi")}
    assert not marked - table, f"sudo operations missing from sudo_paths.yaml: {sorted(marked - table)}"
    assert not table - marked, f"sudo_paths.yaml names operations OpenBao no longer marks: {sorted(table - marked)}"


def _vaultlet_sudo_operations() -> set[str]:
    """Every operation vaultlet's generated OpenAPI document marks
    x-vault-sudo, named as OpenBao's document with generic mount paths
    names it (`/pki/root` is `/{pki_mount_path}/root`)."""
    with open(os.path.join(HERE, "..", "..", "api-spec", "openapi.yaml")) as f:
        spec = yaml.safe_load(f)
    marked = set()
    for path, item in spec["paths"].items():
        if not item.get("x-vault-sudo"):
            continue
        segments = path.split("/")
        if segments[1] == "auth" and segments[2] != "token":
            segments[2] = f"{{{segments[2]}_mount_path}}"
        elif segments[1] not in ("auth", "sys"):
            segments[1] = f"{{{segments[1]}_mount_path}}"
        for op in ("get", "post", "put", "delete", "patch"):
            if op in item:
                marked.add(f"{'/'.join(segments)} {op}")
    return marked


def test_table_covers_every_sudo_operation_vaultlet_declares():
    """Every operation a vaultlet backend declares root-protected (its
    OpenAPI x-vault-sudo marker, generated from the same declarations the
    ACL enforces) has an entry."""
    marked = _vaultlet_sudo_operations()
    table = {e.get("openapi") or e.get("operation") for e in TABLE} - {None}
    assert not marked - table, f"vaultlet sudo operations missing from sudo_paths.yaml: {sorted(marked - table)}"
