"""AppRole (https://developer.hashicorp.com/vault/api-docs/auth/approle)."""
import json
import uuid

from cli import api_enable_auth, cli_read, cli_write, save


def test_approle_role_and_secret_ids(pair):
    a = "ar" + uuid.uuid4().hex[:8]
    api_enable_auth(pair, "approle", a)
    pair.call("PUT", "sys/policies/acl/ar-pol", {"policy": 'path "sys/mounts" { capabilities = ["read"] }'}, expect=204)
    r = f"auth/{a}/role"
    pair.call("LIST", r, expect=404)
    cli_write(pair, f"{r}/Web", token_policies="ar-pol,other", token_ttl="1h", token_max_ttl="2h",
              secret_id_ttl="10m", secret_id_num_uses="5", expect=204)
    pair.call("GET", f"{r}/web", expect=200)
    pair.call("POST", f"{r}/legacy", {"policies": ["ar-pol"], "period": "1h", "bound_cidr_list": "127.0.0.1/32"},
              expect=(200, 204))
    pair.call("GET", f"{r}/legacy", expect=200)
    pair.call("POST", f"{r}/bad", {"bind_secret_id": False}, expect=400)
    pair.call("POST", f"{r}/bad", {"token_ttl": "3h", "token_max_ttl": "1h"}, expect=400)
    pair.call("POST", f"{r}/bad", {"token_type": "batch", "token_period": "1h"}, expect=400)
    pair.call("LIST", r, expect=200)
    ra, rb = cli_read(pair, f"{r}/web/role-id", expect=200)
    save(pair, "rid", ra, rb, "data", "role_id")
    pair.call("POST", f"{r}/web/role-id", {"role_id": "custom-role-id-" + a}, expect=204)
    pair.call("POST", f"{r}/legacy/role-id", {"role_id": "custom-role-id-" + a}, expect=400)
    pair.call("GET", f"{r}/nosuch/role-id", expect=404)
    ra, rb = cli_write(pair, f"{r}/web/secret-id", expect=200)
    save(pair, "sid", ra, rb, "data", "secret_id")
    save(pair, "sacc", ra, rb, "data", "secret_id_accessor")
    pair.call("POST", f"{r}/web/secret-id", {"metadata": json.dumps({"tag": "x"}), "cidr_list": "127.0.0.1/32",
                                            "ttl": "5m", "num_uses": 2}, expect=200)
    pair.call("POST", f"{r}/web/secret-id", {"ttl": "1h"}, expect=400)           # above the role's 10m
    pair.call("POST", f"{r}/web/secret-id", {"metadata": "not json"}, expect=400)
    pair.call("POST", f"{r}/nosuch/secret-id", {}, expect=400)
    pair.call("POST", f"{r}/web/custom-secret-id", {"secret_id": "my-custom-secret-" + a}, expect=200)
    pair.call("POST", f"{r}/web/custom-secret-id", {"secret_id": "my-custom-secret-" + a}, expect=400)
    pair.call("LIST", f"{r}/web/secret-id", expect=200)
    pair.call("POST", f"{r}/web/secret-id/lookup", {"secret_id": "<<sid>>"}, expect=200)
    pair.call("POST", f"{r}/web/secret-id/lookup", {"secret_id": "nosuch"}, expect=(204, 404))
    pair.call("POST", f"{r}/web/secret-id-accessor/lookup", {"secret_id_accessor": "<<sacc>>"}, expect=200)
    pair.call("POST", f"{r}/web/secret-id-accessor/lookup", {"secret_id_accessor": "nosuch"}, expect=(400, 404))
    # Per-field sub-paths.
    for f, v in (("policies", {"token_policies": "ar-pol"}), ("secret-id-num-uses", {"secret_id_num_uses": 3}),
                 ("secret-id-ttl", {"secret_id_ttl": "20m"}), ("token-ttl", {"token_ttl": "30m"}),
                 ("token-max-ttl", {"token_max_ttl": "90m"}), ("token-num-uses", {"token_num_uses": 4}),
                 ("bind-secret-id", {"bind_secret_id": True}), ("secret-id-bound-cidrs", {"secret_id_bound_cidrs": "0.0.0.0/0"}),
                 ("token-bound-cidrs", {"token_bound_cidrs": "127.0.0.1/8"}), ("period", {"token_period": "1h"})):
        pair.call("POST", f"{r}/web/{f}", v, expect=204)
        pair.call("GET", f"{r}/web/{f}", expect=200)
    pair.call("GET", f"{r}/web/local-secret-ids", expect=200)
    pair.call("DELETE", f"{r}/web/period", expect=204)
    pair.call("DELETE", f"{r}/web/token-bound-cidrs", expect=204)
    pair.call("POST", f"{r}/web/token-num-uses", {"token_num_uses": 0}, expect=204)
    pair.call("GET", f"{r}/web", expect=200)
    # Login.
    ra, rb = pair.call("POST", f"auth/{a}/login", {"role_id": "custom-role-id-" + a, "secret_id": "<<sid>>"}, token="",
                       expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=200)
    pair.call("POST", "auth/token/renew-self", {"increment": "10h"}, token="<<tok>>", expect=200)
    pair.call("POST", f"auth/{a}/login", {"role_id": "custom-role-id-" + a, "secret_id": "my-custom-secret-" + a},
              token="", expect=200)
    pair.call("POST", f"auth/{a}/login", {"role_id": "custom-role-id-" + a, "secret_id": "wrong"}, token="", expect=400)
    pair.call("POST", f"auth/{a}/login", {"role_id": "nosuch", "secret_id": "<<sid>>"}, token="", expect=400)
    pair.call("POST", f"auth/{a}/login", {"secret_id": "<<sid>>"}, token="", expect=400)
    pair.call("POST", f"auth/{a}/login", {"role_id": "custom-role-id-" + a}, token="", expect=400)
    # Destroy.
    pair.call("POST", f"{r}/web/secret-id/destroy", {"secret_id": "<<sid>>"}, expect=204)
    pair.call("POST", f"auth/{a}/login", {"role_id": "custom-role-id-" + a, "secret_id": "<<sid>>"}, token="",
              expect=400)
    pair.call("POST", f"{r}/web/secret-id-accessor/destroy", {"secret_id_accessor": "<<sacc>>"}, expect=(204, 400, 404))
    pair.call("POST", f"auth/{a}/tidy/secret-id", {}, expect=202)
    pair.call("DELETE", f"{r}/web", expect=204)
    pair.call("GET", f"{r}/web", expect=404)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.call("DELETE", "sys/policies/acl/ar-pol", expect=204)
    pair.check()


def test_approle_num_uses_and_no_secret(pair):
    a = "ar" + uuid.uuid4().hex[:8]
    api_enable_auth(pair, "approle", a)
    r = f"auth/{a}/role"
    pair.call("POST", f"{r}/once", {"secret_id_num_uses": 1, "token_ttl": 60, "token_num_uses": 1}, expect=204)
    ra, rb = cli_read(pair, f"{r}/once/role-id", expect=200)
    save(pair, "rid", ra, rb, "data", "role_id")
    ra, rb = cli_write(pair, f"{r}/once/secret-id", expect=200)
    save(pair, "sid", ra, rb, "data", "secret_id")
    ra, rb = pair.call("POST", f"auth/{a}/login", {"role_id": "<<rid>>", "secret_id": "<<sid>>"}, token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("POST", f"auth/{a}/login", {"role_id": "<<rid>>", "secret_id": "<<sid>>"}, token="", expect=400)
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=200)
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=403)
    pair.call("POST", f"{r}/nosecret", {"bind_secret_id": False, "secret_id_bound_cidrs": "127.0.0.0/8"}, expect=204)
    ra, rb = cli_read(pair, f"{r}/nosecret/role-id", expect=200)
    save(pair, "rid2", ra, rb, "data", "role_id")
    ra, rb = pair.call("POST", f"auth/{a}/login", {"role_id": "<<rid2>>"}, token="", expect=200)
    save(pair, "tok2", ra, rb, "auth", "client_token")
    pair.call("GET", "auth/token/lookup-self", token="<<tok2>>", expect=200)
    # Disabling the auth method revokes every token it issued.
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.call("POST", "sys/capabilities-self", {"paths": ["sys/mounts"]}, token="<<tok2>>", expect=403)
    pair.check()
