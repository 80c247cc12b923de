"""sys/ endpoints (https://developer.hashicorp.com/vault/api-docs/system:
health, seal-status, init, leader, mounts, auth, capabilities,
internal/ui/mounts), plus the HTTP layer's envelope, error and verb handling
(https://developer.hashicorp.com/vault/api-docs)."""
import uuid

from cli import auth_enable, mount_input, secrets_enable


def test_unauthenticated_status_endpoints(pair):
    pair.call("GET", "sys/health", token="", expect=200)
    pair.call("HEAD", "sys/health", token="", expect=200)
    pair.call("GET", "sys/health", token="", query={"activecode": "203"}, expect=203)
    pair.call("GET", "sys/health", token="", query={"standbyok": "true", "sealedcode": "299"}, expect=200)
    pair.call("GET", "sys/health", token="", query={"activecode": "abc"}, expect=400)
    pair.call("GET", "sys/seal-status", token="", expect=200)
    pair.call("GET", "sys/init", token="", expect=200)
    pair.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="", expect=400)
    pair.call("GET", "sys/leader", token="", expect=200)
    pair.call("GET", "sys/internal/ui/mounts", token="", expect=200)
    pair.check()


def test_secrets_mounts_lifecycle(pair):
    p = "m" + uuid.uuid4().hex[:8]
    pair.call("GET", "sys/mounts", expect=200)
    secrets_enable(pair, "pki", p)
    secrets_enable(pair, "pki", p, expect=400)                        # already in use
    secrets_enable(pair, "nosuchtype", "x" + p, expect=400)           # unknown type
    pair.call("POST", f"sys/mounts/{p}/nested", raw=mount_input("pki"), expect=400)  # nested under a mount
    pair.call("GET", f"sys/mounts/{p}", expect=200)
    pair.call("GET", f"sys/mounts/{p}/tune", expect=200)
    pair.call("POST", f"sys/mounts/{p}/tune", {"default_lease_ttl": "1h", "max_lease_ttl": 7200}, expect=204)
    pair.call("GET", f"sys/mounts/{p}/tune", expect=200)
    pair.call("POST", f"sys/mounts/{p}/tune", {"default_lease_ttl": "3h", "max_lease_ttl": ""}, expect=400)
    pair.call("POST", f"sys/mounts/{p}/tune", {"default_lease_ttl": "system", "max_lease_ttl": "system"}, expect=204)
    pair.call("GET", f"sys/mounts/{p}/tune", expect=200)
    # hvac's body: nulls for the optional fields.
    pair.call("POST", f"sys/mounts/h{p}", {"type": "pki", "description": None, "config": None, "options": None,
                                          "plugin_name": None}, expect=204)
    pair.call("GET", "sys/mounts", expect=200)
    pair.call("GET", f"sys/internal/ui/mounts/{p}", expect=200)
    pair.call("DELETE", f"sys/mounts/h{p}", expect=204)
    pair.call("DELETE", f"sys/mounts/{p}", expect=204)
    pair.call("DELETE", f"sys/mounts/{p}", expect=204)                 # deleting a missing mount
    pair.call("GET", f"sys/mounts/{p}", expect=400)
    pair.check()


def test_auth_mounts_lifecycle(pair):
    p = "a" + uuid.uuid4().hex[:8]
    pair.call("GET", "sys/auth", expect=200)
    auth_enable(pair, "approle", p)
    auth_enable(pair, "approle", p, expect=400)
    pair.call("GET", f"sys/auth/{p}", expect=200)
    pair.call("GET", f"sys/auth/{p}/tune", expect=200)
    pair.call("POST", f"sys/auth/{p}/tune", {"default_lease_ttl": "30m", "max_lease_ttl": "1h",
                                             "token_type": "default-service"}, expect=204)
    pair.call("GET", f"sys/auth/{p}/tune", expect=200)
    pair.call("GET", "sys/auth", expect=200)
    pair.call("DELETE", f"sys/auth/{p}", expect=204)
    pair.call("GET", "sys/auth", expect=200)
    pair.check()


def test_capabilities(pair):
    name = "cap" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{name}", {"policy": 'path "pki/issue/*" { capabilities = ["create","update"] }\n'
                                                           'path "secret/+/x" { capabilities = ["read"] }'}, expect=204)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [name], "ttl": "1h"}, expect=200)
    pair.set("tok", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.set("acc", lambda r: r.get("auth", "accessor"), ra, rb)
    pair.call("POST", "sys/capabilities-self", {"paths": ["pki/issue/web"]}, token="<<tok>>", expect=200)
    pair.call("POST", "sys/capabilities-self", {"paths": ["pki/issue/web", "secret/a/x", "sys/mounts"]},
              token="<<tok>>", expect=200)
    pair.call("POST", "sys/capabilities-self", {"path": "pki/issue/web"}, token="<<tok>>", expect=200)
    pair.call("POST", "sys/capabilities", {"token": "<<tok>>", "paths": ["pki/issue/web", "secret/a/b/x"]}, expect=200)
    pair.call("POST", "sys/capabilities-accessor", {"accessor": "<<acc>>", "paths": ["pki/issue/web"]}, expect=200)
    pair.call("POST", "sys/capabilities-self", {"paths": ["anything"]}, expect=200)   # root
    # `path`, the older name, is a list too, read only when `paths` names none.
    pair.call("POST", "sys/capabilities-self", {"path": ["pki/issue/web", "secret/a/x"]}, token="<<tok>>",
              expect=200)
    pair.call("POST", "sys/capabilities-self", {"path": "pki/issue/web,sys/mounts"}, token="<<tok>>", expect=200)
    pair.call("POST", "sys/capabilities-self", {"path": "sys/mounts", "paths": ["pki/issue/web"]}, token="<<tok>>",
              expect=200)
    pair.call("POST", "sys/capabilities-self", {"paths": ["/pki/issue/web"]}, token="<<tok>>", expect=200)
    pair.call("POST", "sys/capabilities-self", {"paths": []}, token="<<tok>>", expect=400)
    pair.call("POST", "sys/capabilities-self", {"path": ""}, token="<<tok>>", expect=400)
    pair.check()


def test_http_layer_errors_and_verbs(pair):
    pair.call("GET", "sys/mounts", token="", expect=403)                 # no token
    pair.call("GET", "sys/mounts", token="not-a-token", expect=403)      # invalid token
    pair.call("GET", "nosuchmount/foo", expect=404)                      # unmounted path
    pair.call("GET", "sys/policies/acl/does-not-exist", expect=404)
    pair.call("LIST", "sys/policies/acl", expect=200)
    pair.call("GET", "sys/policies/acl", query={"list": "true"}, expect=200)
    pair.call("GET", "sys/policies/acl", query={"list": "maybe"}, expect=400)
    pair.call("PUT", "sys/policies/acl/x", raw=b"{not json", expect=400)
    pair.call("PATCH", "sys/policies/acl/x", {"policy": ""}, expect=415)
    pair.call("PUT", "sys/policy/x", raw=b"null", expect=400)
    pair.call("GET", "sys/mounts", headers={"X-Vault-Namespace": "team-a"})
    pair.call("GET", "sys/mounts", headers={"X-Vault-Namespace": "root"}, expect=200)
    pair.call("GET", "sys/mounts", headers={"Authorization": "Bearer root"}, token="", expect=200)
    pair.call("GET", "sys/internal/ui/mounts/secret", expect=200)
    pair.check()


def _remount(pair, src, dst, key):
    """POST sys/remount, then waits on each side for the move to end."""
    ra, rb = pair.call("POST", "sys/remount", {"from": src, "to": dst}, expect=200)
    pair.set(key, lambda r: r.get("data", "migration_id"), ra, rb)
    pair.poll(f"sys/remount/status/<<{key}>>",
              lambda r: r.get("data", "migration_info", "status") in ("success", "failure"))


def test_remount_secrets_engine_and_auth_method(pair):
    s = "rm" + uuid.uuid4().hex[:6]
    secrets_enable(pair, "kv", s)
    pair.call("PUT", f"{s}/app", {"password": "p1"}, expect=204)
    _remount(pair, s, f"{s}-moved", "m1")
    pair.call("GET", "sys/remount/status/<<m1>>", expect=200)
    pair.call("GET", f"{s}-moved/app", expect=200)
    pair.call("GET", f"{s}/app", expect=404)
    pair.call("GET", f"sys/mounts/{s}-moved", expect=200)

    a = "ra" + uuid.uuid4().hex[:6]
    auth_enable(pair, "approle", a)
    pair.call("POST", f"auth/{a}/role/r", {"token_policies": "default"}, expect=204)
    ra, rb = pair.call("GET", f"auth/{a}/role/r/role-id", expect=200)
    pair.set("rid", lambda r: r.get("data", "role_id"), ra, rb)
    ra, rb = pair.call("POST", f"auth/{a}/role/r/secret-id", expect=200)
    pair.set("sid", lambda r: r.get("data", "secret_id"), ra, rb)
    ra, rb = pair.call("POST", f"auth/{a}/login", {"role_id": "<<rid>>", "secret_id": "<<sid>>"}, expect=200)
    pair.set("login", lambda r: r.get("auth", "client_token"), ra, rb)
    _remount(pair, f"auth/{a}", f"auth/{a}-moved", "m2")
    pair.call("GET", "sys/remount/status/<<m2>>", expect=200)
    pair.call("GET", "auth/token/lookup-self", token="<<login>>", expect=403)   # revoked with the move
    pair.call("GET", f"auth/{a}-moved/role/r/role-id", expect=200)
    pair.call("POST", f"auth/{a}-moved/login", {"role_id": "<<rid>>", "secret_id": "<<sid>>"}, expect=200)
    pair.call("GET", f"sys/auth/{a}-moved", expect=200)

    # A source only a longer path matches is accepted, and then fails.
    _remount(pair, f"{s}-moved/sub", f"{s}-x", "m3")
    pair.call("GET", "sys/remount/status/<<m3>>", expect=200)
    pair.call("GET", "sys/remount/status/no-such-migration", expect=404)
    pair.call("GET", "sys/remount/status/", expect=404)
    pair.call("GET", "sys/remount", expect=405)
    pair.call("DELETE", f"sys/mounts/{s}-moved", expect=204)
    pair.call("DELETE", f"sys/auth/{a}-moved", expect=204)
    pair.check()


def test_remount_refusals(pair):
    s = "rr" + uuid.uuid4().hex[:6]
    secrets_enable(pair, "kv", s)
    for body in [
        {}, {"from": s}, {"to": s},
        {"from": "nosuch" + s, "to": "x" + s},
        {"from": s, "to": "secret"}, {"from": s, "to": f"{s}/sub"}, {"from": s, "to": s},
        {"from": "sys", "to": "x" + s}, {"from": "cubbyhole", "to": "x" + s}, {"from": "identity", "to": "x" + s},
        {"from": s, "to": "sys/x"}, {"from": s, "to": "auth/x"}, {"from": s, "to": "cubbyhole"},
        {"from": "auth/token", "to": "auth/x" + s}, {"from": "auth/tokenx", "to": "auth/y"},
        {"from": "auth/nosuch" + s, "to": "auth/y"}, {"from": "auth/nosuch" + s, "to": "x"},
        {"from": s, "to": "a//b"}, {"from": s, "to": "a/../b"}, {"from": s, "to": "/"},
        {"from": s + " ", "to": "x"}, {"from": s, "to": " x"}, {"from": "/", "to": "x"},
    ]:
        pair.call("POST", "sys/remount", body, expect=400)
    # Moving needs sudo; reading a status does not.
    n = "rp" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}",
              {"policy": 'path "sys/remount" { capabilities = ["update"] }\n'
                         'path "sys/remount/*" { capabilities = ["read"] }'}, expect=204)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, expect=200)
    pair.set("mover", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "sys/remount", {"from": s, "to": "x" + s}, token="<<mover>>", expect=403)
    pair.call("GET", "sys/remount/status/unknown", token="<<mover>>", expect=404)
    pair.call("DELETE", f"sys/mounts/{s}", expect=204)
    pair.check()


def test_built_in_mounts_cannot_be_tuned(pair):
    pair.call("GET", "sys/mounts/sys/tune", expect=200)
    pair.call("POST", "sys/mounts/sys/tune", {"default_lease_ttl": "1h"}, expect=400)
    pair.call("POST", "sys/mounts/sys/tune", {"description": "x"}, expect=400)
    pair.call("POST", "sys/mounts/cubbyhole/tune", {"description": "x"}, expect=400)
    pair.call("POST", "sys/mounts/identity/tune", {"description": "x"}, expect=400)
    # HashiCorp Vault refuses this too (400); OpenBao accepts it with 204
    # (allow-listed: untunable-built-in-mounts). OpenBao also accepts
    # audit_non_hmac_*_keys on sys/, which would change the reference's sys/
    # for the sequences after this one: not sent.
    pair.call("POST", "sys/mounts/sys/tune", {}, expect=400)
    pair.check()


def test_audited_request_headers_config(pair):
    h = "x-aud-" + uuid.uuid4().hex[:6]
    pair.call("GET", "sys/config/auditing/request-headers", expect=200)
    pair.call("GET", f"sys/config/auditing/request-headers/{h}", expect=400)
    pair.call("PUT", f"sys/config/auditing/request-headers/{h.upper()}", {"hmac": True}, expect=204)
    pair.call("PUT", f"sys/config/auditing/request-headers/{h}-plain", None, expect=204)
    pair.call("PUT", f"sys/config/auditing/request-headers/{h}-str", {"hmac": "1"}, expect=204)
    pair.call("GET", "sys/config/auditing/request-headers", expect=200)
    pair.call("GET", f"sys/config/auditing/request-headers/{h}", expect=200)
    pair.call("GET", f"sys/config/auditing/request-headers/{h.upper()}-STR", expect=200)
    n = "ah" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}",
              {"policy": 'path "sys/config/auditing/*" { capabilities = ["read", "update", "delete"] }'},
              expect=204)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, expect=200)
    pair.set("nosudo", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("GET", "sys/config/auditing/request-headers", token="<<nosudo>>", expect=403)
    pair.call("PUT", f"sys/config/auditing/request-headers/{h}", {"hmac": False}, token="<<nosudo>>", expect=403)
    for name in [h, f"{h}-plain", f"{h}-str", "never-set-" + h]:
        pair.call("DELETE", f"sys/config/auditing/request-headers/{name}", expect=204)
    pair.call("GET", "sys/config/auditing/request-headers", expect=200)
    pair.check()


def test_storage_snapshot_paths(pair):
    """sys/storage/raft/snapshot and snapshot-force on dev servers: without a
    token both refuse (403); with one, OpenBao (in-memory dev storage) has no
    such path (404 "unsupported path": it serves snapshots on integrated
    storage only) where vaultlet serves every store: a snapshot (200), and a
    400 for a body that is not one (allowlist.yaml: snapshot-every-store)."""
    pair.call("GET", "sys/storage/raft/snapshot", token="", expect=403)
    pair.call("POST", "sys/storage/raft/snapshot", raw="not a snapshot", token="", expect=403)
    pair.call("POST", "sys/storage/raft/snapshot-force", raw="not a snapshot", token="", expect=403)
    pair.call("GET", "sys/storage/raft/snapshot", expect=200)
    pair.call("POST", "sys/storage/raft/snapshot", raw="not a snapshot", expect=400)
    pair.call("POST", "sys/storage/raft/snapshot-force", raw="not a snapshot", expect=400)
    pair.check()


def test_kv_version_1_path_with_trailing_slash(pair):
    """KV version 1 and the cubbyhole: `foo/` is a folder, not the entry at
    `foo`. A read of `foo/` finds nothing (404), a delete of `foo/` deletes
    nothing, a write to it is refused (400), and a LIST of `foo`, `foo/` or
    `foo/?list=true` lists the folder's children. The entry at `foo` stays."""
    p = "kvs" + uuid.uuid4().hex[:8]
    pair.call("POST", f"sys/mounts/{p}", {"type": "kv", "options": {"version": "1"}}, expect=204)
    pair.call("PUT", f"{p}/foo", {"a": "1"}, expect=204)
    pair.call("PUT", f"{p}/foo/bar", {"b": "2"}, expect=204)
    pair.call("GET", f"{p}/foo/", expect=404)
    pair.call("LIST", f"{p}/foo/", expect=200)
    pair.call("LIST", f"{p}/foo", expect=200)
    pair.call("GET", f"{p}/foo/", query={"list": "true"}, expect=200)
    pair.call("PUT", f"{p}/foo/", {"c": "3"}, expect=400)
    pair.call("DELETE", f"{p}/foo/", expect=204)
    pair.call("GET", f"{p}/foo", expect=200)
    pair.call("GET", f"{p}/foo/bar", expect=200)
    pair.call("LIST", f"{p}/", expect=200)
    pair.call("DELETE", f"{p}/foo/bar/", expect=204)
    pair.call("GET", f"{p}/foo/bar", expect=200)
    pair.call("DELETE", f"{p}/foo", expect=204)
    pair.call("GET", f"{p}/foo", expect=404)
    c = "c" + uuid.uuid4().hex[:8]
    pair.call("PUT", f"cubbyhole/{c}", {"v": "1"}, expect=204)
    pair.call("GET", f"cubbyhole/{c}/", expect=404)
    pair.call("DELETE", f"cubbyhole/{c}/", expect=204)
    pair.call("GET", f"cubbyhole/{c}", expect=200)
    pair.call("DELETE", f"sys/mounts/{p}", expect=204)
    pair.check()


def _statuses(pair, method, path, body=None):
    """Both servers' statuses only, for a KV version 2 answer whose
    timestamps (and OpenBao's extra metadata fields) differ by nature."""
    return tuple(pair._send(srv, method, path, body, None, None, None, None).status for srv in pair.sides())


def test_kv_version_2_path_with_trailing_slash(pair):
    """KV version 2 trims the trailing `/` of a key on delete, in OpenBao
    as in vaultlet: a delete of `data/foo/` deletes `foo`'s latest version
    and a delete of `metadata/foo/` deletes `foo`; writes to `foo/` are
    refused (400). (A read of `data/foo/` is left out: OpenBao answers 500
    "could not find version data", finding the metadata of `foo` but not
    its versions; vaultlet answers `foo`, as its deletes treat the key.)"""
    p = "kvt" + uuid.uuid4().hex[:8]
    pair.call("POST", f"sys/mounts/{p}", {"type": "kv", "options": {"version": "2"}}, expect=204)
    for key in ("foo", "bar"):
        assert _statuses(pair, "PUT", f"{p}/data/{key}", {"data": {"a": "1"}}) == (200, 200)
    pair.call("PUT", f"{p}/data/foo/", {"data": {"a": "2"}}, expect=400)
    pair.call("PUT", f"{p}/metadata/foo/", {"max_versions": 3}, expect=400)
    pair.call("DELETE", f"{p}/data/foo/", expect=204)
    assert _statuses(pair, "GET", f"{p}/data/foo") == (404, 404)
    pair.call("DELETE", f"{p}/metadata/bar/", expect=204)
    pair.call("GET", f"{p}/data/bar", expect=404)
    pair.call("LIST", f"{p}/metadata/", expect=200)
    pair.call("DELETE", f"sys/mounts/{p}", expect=204)
    pair.check()


def test_generic_mount_is_kv_version_1(pair):
    """`generic`: KV version 1's old name, still mountable as itself."""
    p = "g" + uuid.uuid4().hex[:8]
    secrets_enable(pair, "generic", p)
    pair.call("GET", f"sys/mounts/{p}", expect=200)
    pair.call("PUT", f"{p}/app", {"password": "s3cret", "ttl": "30m"}, expect=204)
    pair.call("GET", f"{p}/app", expect=200)
    pair.call("LIST", f"{p}/", expect=200)
    pair.call("DELETE", f"{p}/app", expect=204)
    pair.call("GET", f"{p}/app", expect=404)
    pair.call("DELETE", f"sys/mounts/{p}", expect=204)
    pair.check()
