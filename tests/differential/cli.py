"""Request bodies exactly as the `vault` CLI and the Go vault/api client send
them (the client in cert-manager's e2e Vault set-up)."""


def cli_write(pair, path, expect=None, **kv):
    """`vault write PATH k=v ...` (every value a JSON string); with no pairs
    `vault write -force PATH` (body `null`)."""
    if not kv:
        return pair.call("PUT", path, raw=b"null", expect=expect)
    return pair.call("PUT", path, {k: str(v) for k, v in kv.items()}, expect=expect)


def cli_read(pair, path, expect=None):
    return pair.call("GET", path, expect=expect)


def cli_list(pair, path, expect=None):
    return pair.call("GET", path, query={"list": "true"}, expect=expect)


def mount_input(typ, default_ttl="0s", max_ttl="0s"):
    return ('{"type":"%s","description":"","config":{"options":null,"default_lease_ttl":"%s","max_lease_ttl":"%s",'
            '"force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}'
            % (typ, default_ttl, max_ttl))


def secrets_enable(pair, typ, path, expect=204):
    return pair.call("POST", f"sys/mounts/{path}", raw=mount_input(typ), expect=expect)


def auth_enable(pair, typ, path, expect=204):
    return pair.call("POST", f"sys/auth/{path}", raw=mount_input(typ), expect=expect)


def api_mount(pair, typ, path, max_ttl, expect=204):
    """vault/api Sys().Mount as cert-manager's e2e addon calls it."""
    return pair.call("POST", f"sys/mounts/{path}", raw=mount_input(typ, "", max_ttl), expect=expect)


def api_enable_auth(pair, typ, path, expect=204):
    return pair.call("POST", f"sys/auth/{path}", raw=mount_input(typ, "", ""), expect=expect)


def secrets_tune_max(pair, path, max_ttl, expect=204):
    return pair.call("POST", f"sys/mounts/{path}/tune",
                     raw='{"options":null,"default_lease_ttl":"","max_lease_ttl":"%s","force_no_cache":false}' % max_ttl,
                     expect=expect)


def policy_write(pair, name, hcl, expect=204):
    return pair.call("PUT", f"sys/policies/acl/{name}", {"policy": hcl}, expect=expect)


def save(pair, key, ra, rb, *path):
    """Stores response field `path` of each side under `key` in that side's context."""
    def get(r):
        v = r.get(*path)
        if v is None:
            raise AssertionError(f"no {'.'.join(map(str, path))} in {r.status} {r.body[:300]!r}")
        return v
    pair.a.ctx[key] = get(ra)
    pair.b.ctx[key] = get(rb)
