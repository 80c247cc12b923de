"""sys/ endpoints of vault-api.md §3 (health, seal-status, init, leader,
mounts, auth, capabilities, internal/ui/mounts), plus the HTTP layer's
envelope, error and verb handling (§1)."""
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
