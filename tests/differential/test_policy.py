"""Policies (sys/policy and sys/policies/acl,
https://developer.hashicorp.com/vault/api-docs/system/policies): both APIs, formats, errors, and
ACL evaluation seen through tokens."""
import base64
import json
import uuid

HCL = 'path "pki/issue/*" {\n  capabilities = ["create", "update"]\n}\npath "secret/+/teamb" {\n  capabilities = ["read", "list"]\n}\n'


def test_policy_crud_both_apis(pair):
    n = "pol" + uuid.uuid4().hex[:6]
    pair.call("GET", "sys/policy", expect=200)
    pair.call("PUT", f"sys/policy/{n}", {"policy": HCL}, expect=204)
    pair.call("GET", f"sys/policy/{n}", expect=200)
    pair.call("PUT", f"sys/policy/{n}-rules", {"rules": HCL}, expect=200)  # with the deprecation warning
    pair.call("GET", f"sys/policy/{n}-rules", expect=200)
    pair.call("GET", "sys/policy", expect=200)
    pair.call("PUT", f"sys/policies/acl/{n.upper()}2", {"policy": HCL}, expect=204)   # names lower-cased
    pair.call("GET", f"sys/policies/acl/{n}2", expect=200)
    pair.call("PUT", f"sys/policies/acl/{n}json", {"policy": json.dumps(
        {"path": {"pki/*": {"capabilities": ["read"]}}})}, expect=204)
    pair.call("GET", f"sys/policies/acl/{n}json", expect=200)
    pair.call("PUT", f"sys/policies/acl/{n}b64", {"policy": base64.b64encode(HCL.encode()).decode()}, expect=204)
    pair.call("GET", f"sys/policies/acl/{n}b64", expect=200)
    pair.call("LIST", "sys/policies/acl", expect=200)
    pair.call("GET", "sys/policies/acl/default", expect=200)
    pair.call("GET", "sys/policy/root", expect=200)
    for n2 in (n, f"{n}-rules", f"{n}2", f"{n}json", f"{n}b64"):
        pair.call("DELETE", f"sys/policies/acl/{n2}", expect=204)
    pair.call("GET", f"sys/policy/{n}", expect=404)
    pair.check()


def test_policy_errors(pair):
    pair.call("PUT", "sys/policies/acl/bad", {"policy": 'path "x" { capabilities = ["fly"] }'}, expect=400)
    pair.call("PUT", "sys/policies/acl/bad", {"policy": 'path "x" { capabilities = ["read"] '}, expect=400)
    pair.call("PUT", "sys/policies/acl/bad", {"policy": 'path "x" {\n  capabilities = ["read"]\n  bogus = 1\n}'}, expect=400)
    pair.call("PUT", "sys/policies/acl/bad", {"policy": 'path "x" {\n  policy = "fly"\n}'}, expect=400)
    pair.call("PUT", "sys/policies/acl/root", {"policy": 'path "x" { capabilities = ["read"] }'}, expect=400)
    pair.call("DELETE", "sys/policies/acl/default", expect=400)
    pair.call("DELETE", "sys/policy/root", expect=400)
    pair.call("PUT", "sys/policies/acl/empty", {}, expect=400)
    pair.check()


def test_acl_evaluation_through_tokens(pair):
    n = "acl" + uuid.uuid4().hex[:6]
    m = "p" + n
    pair.call("POST", f"sys/mounts/{m}", {"type": "pki"}, expect=204)
    pair.call("PUT", f"sys/policies/acl/{n}", {"policy": f'''
path "{m}/roles/*" {{ capabilities = ["read", "list"] }}
path "{m}/roles/web" {{
  capabilities = ["create", "update", "read"]
  allowed_parameters = {{
    "max_ttl" = []
    "allow_any_name" = ["true"]
  }}
}}
path "{m}/roles/deny-*" {{ capabilities = ["deny"] }}
path "{m}/root/sign-intermediate" {{ capabilities = ["create"] }}
path "{m}/config/urls" {{
  capabilities = ["update"]
  required_parameters = ["issuing_certificates"]
  denied_parameters = {{
    "ocsp_servers" = []
  }}
}}
'''}, expect=204)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n], "ttl": "1h"}, expect=200)
    pair.set("tok", lambda r: r.get("auth", "client_token"), ra, rb)
    t = "<<tok>>"
    pair.call("PUT", f"{m}/roles/web", {"max_ttl": "1h", "allow_any_name": "true"}, token=t, expect=200)
    pair.call("PUT", f"{m}/roles/web", {"max_ttl": "1h", "allow_any_name": "false"}, token=t, expect=403)
    pair.call("PUT", f"{m}/roles/web", {"ttl": "1h"}, token=t, expect=403)
    pair.call("GET", f"{m}/roles/web", token=t, expect=200)
    pair.call("GET", f"{m}/roles/other", token=t, expect=404)
    pair.call("PUT", f"{m}/roles/other", {"max_ttl": "1h"}, token=t, expect=403)
    pair.call("GET", f"{m}/roles/deny-x", token=t, expect=403)
    pair.call("LIST", f"{m}/roles", token=t, expect=200)
    pair.call("LIST", f"{m}/roles/", token=t)
    pair.call("POST", f"{m}/root/sign-intermediate", {"csr": "x"}, token=t, expect=403)  # PKI has no existence check: update
    pair.call("PUT", f"{m}/config/urls", {"crl_distribution_points": "http://a/crl"}, token=t, expect=403)
    pair.call("PUT", f"{m}/config/urls", {"issuing_certificates": "http://a/ca", "ocsp_servers": "http://o"}, token=t,
              expect=403)
    pair.call("PUT", f"{m}/config/urls", {"issuing_certificates": "http://a/ca"}, token=t, expect=200)
    pair.call("GET", "auth/token/lookup-self", token=t, expect=200)      # default policy
    pair.call("GET", "sys/mounts", token=t, expect=403)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.call("DELETE", f"sys/policies/acl/{n}", expect=204)
    pair.check()


def test_policy_hcl1_one_line_attributes(pair):
    """HCL1 (Vault's policy parser) accepts several attributes on one line;
    policies written that way are common in the wild."""
    n = "one" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}", {"policy": 'path "pki/roles/web" { capabilities = ["read"] '
                                                         'allowed_parameters = { "ttl" = [] "max_ttl" = [] } }'},
              expect=204)
    pair.call("GET", f"sys/policies/acl/{n}", expect=200)
    pair.call("DELETE", f"sys/policies/acl/{n}", expect=204)
    pair.check()
