"""Response wrapping (X-Vault-Wrap-TTL, sys/wrapping/*) and token roles
(auth/token/roles, auth/token/create/:role)."""
import uuid

WRAP = {"X-Vault-Wrap-TTL": "60"}


def test_wrapping(pair):
    ra, rb = pair.call("POST", "sys/wrapping/wrap", {"a": "b", "n": 1}, headers=WRAP, expect=200)
    pair.set("w1", lambda r: r.get("wrap_info", "token"), ra, rb)
    pair.call("POST", "sys/wrapping/lookup", {"token": "<<w1>>"}, token="", expect=200)
    pair.call("GET", "sys/wrapping/lookup", query={"token": "<<w1>>"}, token="", expect=200)
    pair.call("POST", "sys/wrapping/lookup", token="<<w1>>", expect=200)
    ra, rb = pair.call("POST", "sys/wrapping/rewrap", {"token": "<<w1>>"}, expect=200)
    pair.set("w2", lambda r: r.get("wrap_info", "token"), ra, rb)
    pair.call("POST", "sys/wrapping/unwrap", token="<<w1>>", expect=400)
    pair.call("POST", "sys/wrapping/unwrap", token="<<w2>>", expect=200)
    pair.call("POST", "sys/wrapping/unwrap", token="<<w2>>", expect=400)
    # A token creation, unwrapped by a third party.
    ra, rb = pair.call("POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"}, headers=WRAP, expect=200)
    pair.set("w3", lambda r: r.get("wrap_info", "token"), ra, rb)
    pair.call("POST", "auth/token/lookup", {"token": "<<w3>>"}, expect=200)
    pair.call("POST", "sys/wrapping/unwrap", {"token": "<<w3>>"}, expect=200)
    # Refusals.
    pair.call("POST", "sys/wrapping/unwrap", {}, token="", expect=403)
    pair.call("POST", "sys/wrapping/unwrap", {"token": ""}, expect=403)
    pair.call("POST", "sys/wrapping/unwrap", {"token": 5}, token="", expect=403)
    pair.call("POST", "sys/wrapping/unwrap", {}, expect=400)
    pair.call("POST", "sys/wrapping/lookup", {"token": "nope"}, token="", expect=400)
    pair.call("POST", "sys/wrapping/rewrap", {}, expect=400)
    pair.call("POST", "sys/wrapping/wrap", {"a": 1}, expect=400)
    pair.call("GET", "sys/wrapping/unwrap", expect=400)
    pair.call("GET", "sys/mounts/secret/tune", headers={"X-Vault-Wrap-TTL": "abc"}, expect=400)
    pair.call("GET", "sys/mounts/secret/tune", headers={"X-Vault-Wrap-TTL": "-5"}, expect=400)
    pair.call("GET", "sys/mounts/secret/tune", headers={"X-Vault-Wrap-TTL": "0"}, expect=200)
    pair.call("GET", "sys/policy/response-wrapping", expect=200)
    pair.call("GET", "sys/policy", expect=200)
    pair.check()


def test_wrapped_approle_secret_id(pair):
    m = "ar" + uuid.uuid4().hex[:6]
    pair.call("POST", f"sys/auth/{m}", {"type": "approle"}, expect=204)
    pair.call("POST", f"auth/{m}/role/r", {"token_policies": "default"}, expect=204)
    ra, rb = pair.call("GET", f"auth/{m}/role/r/role-id", expect=200)
    pair.set("role_id", lambda r: r.get("data", "role_id"), ra, rb)
    ra, rb = pair.call("POST", f"auth/{m}/role/r/secret-id", None, headers=WRAP, expect=200)
    pair.set("w", lambda r: r.get("wrap_info", "token"), ra, rb)
    ra, rb = pair.call("POST", "sys/wrapping/unwrap", token="<<w>>", expect=200)
    pair.set("secret_id", lambda r: r.get("data", "secret_id"), ra, rb)
    pair.call("POST", f"auth/{m}/login", {"role_id": "<<role_id>>", "secret_id": "<<secret_id>>"}, token="", expect=200)
    pair.call("DELETE", f"sys/auth/{m}", expect=204)
    pair.check()


def test_token_roles(pair):
    n = "tr" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}", {"policy": 'path "auth/token/create/*" { capabilities = ["update"] }'},
              expect=204)
    pair.call("POST", f"auth/token/roles/{n}-plain", {}, expect=204)
    pair.call("GET", f"auth/token/roles/{n}-plain", expect=200)
    pair.call("POST", f"auth/token/roles/{n}-full", {
        "allowed_policies": "a,b", "disallowed_policies": ["c"], "allowed_policies_glob": "x*",
        "disallowed_policies_glob": "y*", "orphan": True, "renewable": False, "path_suffix": "sfx",
        "allowed_entity_aliases": ["E1"], "token_bound_cidrs": ["127.0.0.1/32"], "token_explicit_max_ttl": "1h",
        "token_period": "30m", "token_type": "service", "token_no_default_policy": True, "token_num_uses": 3},
        expect=204)
    pair.call("GET", f"auth/token/roles/{n}-full", expect=200)
    pair.call("POST", f"auth/token/roles/{n}-old", {"period": "1h", "explicit_max_ttl": "2h",
                                                     "bound_cidrs": ["10.0.0.0/8"]}, expect=204)
    pair.call("GET", f"auth/token/roles/{n}-old", expect=200)
    pair.call("POST", f"auth/token/roles/{n}-both", {"token_period": "1h", "period": "2h"}, expect=200)
    pair.call("POST", f"auth/token/roles/{n}-root", {"allowed_policies": ["root"]}, expect=204)
    for body in ({"path_suffix": "a/"}, {"token_type": "batch"}, {"token_type": "weird"}, {"token_num_uses": -1}):
        pair.call("POST", f"auth/token/roles/{n}-bad", body, expect=400)
    pair.call("POST", f"auth/token/create/{n}-full", {}, expect=200)
    pair.call("POST", f"auth/token/create/{n}-full", {"policies": ["x1"]}, expect=200)
    for body in ({"policies": ["c"]}, {"policies": ["q"]}, {"entity_alias": "zz"}):
        pair.call("POST", f"auth/token/create/{n}-full", body, expect=400)
    pair.call("POST", f"auth/token/create/{n}-nope", {}, expect=400)
    pair.call("POST", f"auth/token/create/{n}-old", {"period": "2h"}, expect=200)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, expect=200)
    pair.set("caller", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", f"auth/token/create/{n}-root", {}, token="<<caller>>", expect=400)
    pair.call("POST", f"auth/token/create/{n}-plain", {"policies": ["other"]}, token="<<caller>>", expect=400)
    pair.call("POST", f"auth/token/create/{n}-plain", {}, token="<<caller>>", expect=200)
    pair.call("POST", f"auth/token/create/{n}-plain", {"period": "1h"}, token="<<caller>>", expect=400)
    for role in ("plain", "full", "old", "both", "root"):
        pair.call("DELETE", f"auth/token/roles/{n}-{role}", expect=204)
    pair.call("DELETE", f"sys/policies/acl/{n}", expect=204)
    pair.check()
