"""The fuzz run of tests/openapi/run: starts a vaultlet dev server, mounts
one of every type in the spec at its default path with some state to find,
runs schemathesis against it and fails on any 5xx or if the server died.

Usage: fuzz.py SCHEMATHESIS SPEC [schemathesis run options]
"""
import json
import os
import re
import subprocess
import sys
import urllib.request

import yaml  # PyYAML, a schemathesis dependency

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pyharness  # noqa: E402


def seed(addr, spec_file):
    """One mount of every type in the spec at its default path, and some
    state to find: a root CA, a role, an AppRole role, a policy."""
    with open(spec_file) as f:
        mounts = yaml.safe_load(f)["x-vaultlet-mounts"]

    def call(method, path, body=None):
        req = urllib.request.Request(f"{addr}/v1/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Vault-Token": pyharness.ROOT_TOKEN})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    try:
        call("GET", "sys/internal/specs/openapi")
    except OSError as e:
        raise SystemExit(f"the server does not serve its OpenAPI document: {e}")
    for kind, prefix in mounts.items():
        if kind in ("system", "token", "cubbyhole", "identity"):
            continue
        if prefix.startswith("auth/"):
            call("POST", f"sys/auth/{prefix[5:].rstrip('/')}", {"type": kind})
        elif prefix == "secret/":
            continue  # mounted by dev mode
        else:
            call("POST", f"sys/mounts/{prefix.rstrip('/')}", {"type": kind})
    if "pki" in mounts:
        call("POST", "pki/root/generate/internal", {"common_name": "fuzz root", "ttl": "87600h",
                                                     "issuer_name": "root"})
        call("POST", "pki/roles/web", {"allowed_domains": "example.com", "allow_subdomains": True})
        call("POST", "pki/issue/web", {"common_name": "a.example.com", "ttl": "1h"})
    if "approle" in mounts:
        call("POST", "auth/approle/role/web", {"token_policies": "default"})
    call("PUT", "sys/policy/fuzz", {"policy": 'path "pki/*" { capabilities = ["read"] }'})
    print("seeded mounts:", ", ".join(f"{k}={v}" for k, v in mounts.items()), flush=True)


def main():
    schemathesis, spec, options = sys.argv[1], sys.argv[2], sys.argv[3:]
    server = pyharness.dev("openapi-fuzz", pyharness.vaultlet_bin())
    try:
        seed(server.url, spec)
        status = subprocess.call([schemathesis, "run", spec, "--url", f"{server.url}/v1",
                                  "--header", f"X-Vault-Token: {pyharness.ROOT_TOKEN}",
                                  "--report-dir", os.path.join(server.home, "report"), *options])
        if server.proc.poll() is not None:
            print(f"the server died during the fuzz run; its log:\n{server.tail()}")
            return 1
        if status != 0:
            print(f"schemathesis found failures (exit {status}); server log lines with panic or error:")
            errors = [line for line in server.tail(10**7).splitlines() if re.search("panic|error", line, re.I)]
            print("\n".join(errors[-20:]))
            return status
        print("openapi fuzz: no 5xx")
        return 0
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
