"""Userpass: users (CLI strings, legacy fields, pre-hashed passwords, bad
input), password and policies sub-paths, login (success, wrong password,
unknown user, CIDR-bound), and the login token."""
import uuid

from cli import api_enable_auth, cli_list, cli_read, cli_write, save

# Go's bcrypt hash of "password" at cost 10.
GO_HASH = "$2a$10$KgFhp4HAaBCRAYbFp5XYUOKrbO90yrpUQte4eyafk4Tu6mnZcNWiK"


def test_userpass_users_and_login(pair):
    a = "up" + uuid.uuid4().hex[:8]
    api_enable_auth(pair, "userpass", a)
    u = f"auth/{a}/users"
    cli_list(pair, u, expect=404)
    cli_write(pair, f"{u}/Alice", password="pw", token_policies="a,b", ttl="1h", expect=204)
    cli_read(pair, f"{u}/alice", expect=200)
    cli_read(pair, f"{u}/ALICE", expect=200)
    cli_list(pair, u, expect=200)
    pair.call("POST", f"{u}/legacy", {"password": "pw", "policies": ["P"], "max_ttl": "2h",
                                      "bound_cidrs": "127.0.0.1/32"}, expect=204)
    pair.call("GET", f"{u}/legacy", expect=200)
    pair.call("POST", f"{u}/hashed", {"password_hash": GO_HASH}, expect=204)
    pair.call("GET", f"{u}/hashed", expect=200)
    # Bad input.
    pair.call("POST", f"{u}/bad", {}, expect=400)
    pair.call("POST", f"{u}/bad", {"password": ""}, expect=400)
    pair.call("POST", f"{u}/bad", {"password": "p", "password_hash": GO_HASH}, expect=400)
    pair.call("POST", f"{u}/bad", {"password_hash": "not-bcrypt"}, expect=400)
    pair.call("POST", f"{u}/bad", {"password": "p", "token_ttl": "3h", "token_max_ttl": "1h"}, expect=400)
    pair.call("POST", f"{u}/bad", {"password": "p", "token_type": "weird"}, expect=400)
    pair.call("POST", f"{u}/-bad", {"password": "p"}, expect=404)
    pair.call("GET", f"{u}/bad", expect=404)
    # Sub-paths.
    pair.call("POST", f"{u}/alice/password", {"password": "pw2"}, expect=204)
    pair.call("POST", f"{u}/alice/password", {}, expect=400)
    pair.call("POST", f"{u}/alice/policies", {"policies": "Z, y"}, expect=204)
    pair.call("GET", f"{u}/alice", expect=200)
    pair.call("POST", f"{u}/alice/policies", {"token_policies": "x"}, expect=204)
    pair.call("GET", f"{u}/alice", expect=200)
    pair.call("POST", f"{u}/nosuch/password", {"password": "p"}, expect=(400, 500))
    pair.call("POST", f"{u}/nosuch/policies", {"token_policies": "p"}, expect=(400, 500))
    # Login.
    ra, rb = pair.call("POST", f"auth/{a}/login/ALICE", {"password": "pw2"}, token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=200)
    pair.call("POST", f"auth/{a}/login/hashed", {"password": "password"}, token="", expect=200)
    pair.call("POST", f"auth/{a}/login/legacy", {"password": "pw"}, token="", expect=200)
    pair.call("POST", f"auth/{a}/login/alice", {"password": "pw"}, token="", expect=400)
    pair.call("POST", f"auth/{a}/login/nosuch", {"password": "pw"}, token="", expect=400)
    pair.call("POST", f"auth/{a}/login/alice", {"password": "pw2", "extra": 1}, token="", expect=200)
    pair.call("POST", f"{u}/fenced", {"password": "pw", "token_bound_cidrs": "10.0.0.0/8"}, expect=204)
    pair.call("POST", f"auth/{a}/login/fenced", {"password": "pw"}, token="", expect=403)
    # Delete.
    pair.call("DELETE", f"{u}/alice", expect=204)
    pair.call("DELETE", f"{u}/alice", expect=204)
    pair.call("GET", f"{u}/alice", expect=404)
    pair.call("POST", f"auth/{a}/login/alice", {"password": "pw2"}, token="", expect=400)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.check()
