"""Privilege escalation through role and token fields.

Class of a role probe: ``role=<status of the role write> login=<status of the
login> root=<yes|no>`` where root=yes means the token the login returned can
read the root-protected ``sys/audit``. Class of a token-create probe:
``create=<status>`` plus, where the probe says so, what the created token
holds.
"""
import uuid

import pytest

import forge
from attack import Answer, errors, granted_root

# Every way a role writer may spell "root".
ROOT_SPELLINGS = {
    "list-root": ["root"],
    "list-ROOT": ["ROOT"],
    "list-spaced": [" root "],
    "string-root": "root",
    "comma-string": "default,root",
    "list-with-default": ["default", "root"],
}
FIELDS = ["token_policies", "policies"]
CASES = [(f, s) for f in FIELDS for s in ROOT_SPELLINGS]
IDS = [f"{f}-{s}" for f, s in CASES]


def _uid():
    return uuid.uuid4().hex[:8]


ROLE_EXPECT = r"role=\d+( login=4\d\d root=no)?"


def role_then_login(pair, probe_id, role_path, role_body, login):
    """Writes a new role (role_path(name), role_body), logs in through it
    (login(srv, name) -> response) and classifies what the login gave."""
    def probe(srv):
        role = "r" + _uid()
        r = srv.req("POST", role_path(role), role_body)
        if r.status_code not in (200, 204):
            return Answer(f"role={r.status_code}", errors(r))
        resp = login(srv, role)
        auth = (resp.json().get("auth") or {}) if resp.status_code == 200 else {}
        return Answer(f"role={r.status_code} login={resp.status_code} root={granted_root(srv, auth.get('client_token'))}",
                      f"{errors(resp)} policies={auth.get('policies')}")
    pair.probe(probe_id, probe, expect=ROLE_EXPECT)


# ---------------------------------------------------------------------------
# AppRole


@pytest.fixture(scope="module")
def approle(dev):
    path = "ar" + _uid()
    dev.each(lambda s: s.enable_auth(path, "approle"))
    return path


@pytest.mark.parametrize("field,spelling", CASES, ids=IDS)
def test_approle_role_cannot_grant_root(dev, approle, field, spelling):
    def login(srv, role):
        role_id = srv.ok("GET", f"auth/{approle}/role/{role}/role-id").json()["data"]["role_id"]
        secret_id = srv.ok("POST", f"auth/{approle}/role/{role}/secret-id", {}).json()["data"]["secret_id"]
        return srv.req("POST", f"auth/{approle}/login", {"role_id": role_id, "secret_id": secret_id}, token=None)
    role_then_login(dev, f"escalation/approle/{field}-{spelling}", lambda role: f"auth/{approle}/role/{role}",
                    {field: ROOT_SPELLINGS[spelling]}, login)


# ---------------------------------------------------------------------------
# JWT


@pytest.fixture(scope="module")
def jwt_mount(dev):
    path = "jwt" + _uid()
    signer = forge.JwtSigner()

    def setup(s):
        s.enable_auth(path, "jwt")
        s.ok("POST", f"auth/{path}/config", {"jwt_validation_pubkeys": [signer.public_pem()],
                                             "bound_issuer": "https://issuer.attack.test"})
    dev.each(setup)
    return path, signer


def good_jwt(signer, **over):
    claims = {"iss": "https://issuer.attack.test", "sub": "attacker", "aud": "vault",
              "iat": forge.now() - 5, "nbf": forge.now() - 5, "exp": forge.now() + 600}
    claims.update(over)
    return signer.sign(claims)


@pytest.mark.parametrize("field,spelling", CASES, ids=IDS)
def test_jwt_role_cannot_grant_root(dev, jwt_mount, field, spelling):
    path, signer = jwt_mount
    role_then_login(dev, f"escalation/jwt/{field}-{spelling}", lambda role: f"auth/{path}/role/{role}",
                    {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"],
                     field: ROOT_SPELLINGS[spelling]},
                    lambda srv, role: srv.req("POST", f"auth/{path}/login", {"role": role, "jwt": good_jwt(signer)},
                                              token=None))


# ---------------------------------------------------------------------------
# Kubernetes


@pytest.fixture(scope="module")
def k8s_mount(dev):
    path = "k8s" + _uid()
    stub = forge.TokenReviewStub()
    signer = forge.JwtSigner()
    jwt = signer.sign(forge.sa_claims("attack", "sa", "uid-1"))
    stub.known[jwt] = ("attack", "sa", "uid-1")
    api_ca = forge.issue("attack kubernetes API CA", ca=True).pem  # unused over http; vaultlet wants one

    def setup(s):
        s.enable_auth(path, "kubernetes")
        s.ok("POST", f"auth/{path}/config", {"kubernetes_host": stub.url, "token_reviewer_jwt": "reviewer",
                                             "kubernetes_ca_cert": api_ca, "disable_local_ca_jwt": True})
    dev.each(setup)
    yield path, stub, signer, jwt
    stub.close()


@pytest.mark.parametrize("field,spelling", CASES, ids=IDS)
def test_kubernetes_role_cannot_grant_root(dev, k8s_mount, field, spelling):
    path, _, _, jwt = k8s_mount
    role_then_login(dev, f"escalation/kubernetes/{field}-{spelling}", lambda role: f"auth/{path}/role/{role}",
                    {"bound_service_account_names": ["sa"], "bound_service_account_namespaces": ["attack"],
                     field: ROOT_SPELLINGS[spelling]},
                    lambda srv, role: srv.req("POST", f"auth/{path}/login", {"role": role, "jwt": jwt}, token=None))


# ---------------------------------------------------------------------------
# TLS certificates


@pytest.fixture(scope="module")
def cert_mount(tls):
    path = "cert" + _uid()
    ca = forge.issue("attack escalation CA", ca=True)
    leaf = forge.issue("escalator", ca)
    tls.each(lambda s: s.enable_auth(path, "cert"))
    return path, ca, forge.client_files(leaf)


@pytest.mark.parametrize("field,spelling", CASES, ids=IDS)
def test_cert_role_cannot_grant_root(tls, cert_mount, field, spelling):
    path, ca, files = cert_mount
    role_then_login(tls, f"escalation/cert/{field}-{spelling}", lambda role: f"auth/{path}/certs/{role}",
                    {"certificate": ca.pem, field: ROOT_SPELLINGS[spelling]},
                    lambda srv, role: srv.req("POST", f"auth/{path}/login", {"name": role}, token=None, cert=files))


# ---------------------------------------------------------------------------
# Token creation by a parent without root or sudo.

CREATOR = 'path "auth/token/create" { capabilities = ["create", "update"] }\n' \
          'path "auth/token/create-orphan" { capabilities = ["create", "update"] }\n'
SUDO_CREATOR = 'path "auth/token/create" { capabilities = ["create", "update", "sudo"] }\n' \
               'path "auth/token/create-orphan" { capabilities = ["create", "update", "sudo"] }\n'


@pytest.fixture(scope="module")
def parents(dev):
    """Policy names and, per server, a non-sudo and a sudo parent token."""
    tag = _uid()
    names = {"creator": f"creator-{tag}", "sudo": f"sudocreator-{tag}", "other": f"other-{tag}"}

    def setup(s):
        s.policy(names["creator"], CREATOR)
        s.policy(names["sudo"], SUDO_CREATOR)
        s.policy(names["other"], 'path "sys/mounts" { capabilities = ["read"] }')
        s.extra["parent"] = s.child_token([names["creator"]], ttl="1h", explicit_max_ttl="2h")
        s.extra["sudo_parent"] = s.child_token([names["sudo"]], ttl="1h")
    dev.each(setup)
    return names


def _create_class(srv, r, fields=()):
    if r.status_code != 200:
        return Answer(f"create={r.status_code}", errors(r))
    auth = r.json()["auth"]
    tok = auth["client_token"]
    look = srv.req("GET", "auth/token/lookup-self", token=tok).json()["data"]
    shown = {k: look.get(k) for k in fields}
    return Answer(f"create=200 root={granted_root(srv, tok)}" + "".join(f" {k}={v}" for k, v in shown.items()),
                  f"policies={auth.get('policies')}")


# (probe id, parent, endpoint, body builder, fields shown, expected OpenBao class)
TOKEN_CASES = [
    ("root-policy", "parent", "create", lambda n: {"policies": ["root"]}, (), r"create=(400|403)"),
    ("ROOT-policy", "parent", "create", lambda n: {"policies": ["ROOT"]}, (), r"create=(400|403)"),
    ("spaced-root-policy", "parent", "create", lambda n: {"policies": [" root "]}, (), r"create=(400|403)"),
    ("policy-not-held", "parent", "create", lambda n: {"policies": [n["other"]]}, (), r"create=(400|403)"),
    ("period", "parent", "create", lambda n: {"period": "24h"}, (), r"create=400"),
    ("period-via-orphan", "parent", "create-orphan", lambda n: {"period": "24h"}, (), r"create=400"),
    ("no-parent", "parent", "create", lambda n: {"no_parent": True}, (), r"create=400"),
    ("custom-id", "parent", "create", lambda n: {"id": "attack-" + _uid()}, (), r"create=400"),
    ("outlive-parent", "parent", "create", lambda n: {"explicit_max_ttl": "100h", "ttl": "100h"},
     ("outlives_parent",), r"create=200 child_after_parent_revoked=403"),
    ("orphan-endpoint-plain", "parent", "create-orphan", lambda n: {}, ("orphan",), r"create=200 root=no orphan=True"),
    ("sudo-parent-root-policy", "sudo_parent", "create", lambda n: {"policies": ["root"]}, (), r"create=(400|403)"),
    ("sudo-parent-period", "sudo_parent", "create", lambda n: {"period": "24h"}, ("period",),
     r"create=200 root=no period=86400"),
    ("sudo-parent-no-parent", "sudo_parent", "create", lambda n: {"no_parent": True}, ("orphan",),
     r"create=200 root=no orphan=True"),
]


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[c[0] for c in TOKEN_CASES])
def test_token_create_cannot_exceed_parent(dev, parents, case):
    name, parent, endpoint, body, fields, expect = case

    def probe(srv):
        if "outlives_parent" in fields:
            # A child asking for more time than its parent has must still die with it.
            parent_token = srv.child_token([parents["creator"]], ttl="1h", explicit_max_ttl="2h")
            r = srv.req("POST", f"auth/token/{endpoint}", body(parents), token=parent_token)
            if r.status_code != 200:
                return Answer(f"create={r.status_code}", errors(r))
            tok = r.json()["auth"]["client_token"]
            child = srv.req("GET", "auth/token/lookup-self", token=tok).json()["data"]
            srv.ok("POST", "auth/token/revoke", {"token": parent_token})
            after = srv.req("GET", "auth/token/lookup-self", token=tok)
            return Answer(f"create=200 child_after_parent_revoked={after.status_code}",
                          f"child ttl={child['ttl']} explicit_max_ttl={child['explicit_max_ttl']}")
        r = srv.req("POST", f"auth/token/{endpoint}", body(parents), token=srv.extra[parent])
        return _create_class(srv, r, fields)
    dev.probe(f"escalation/token-create/{name}", probe, expect=expect)


def test_root_policy_cannot_be_rewritten(dev):
    def probe(srv):
        r = srv.req("PUT", "sys/policies/acl/root", {"policy": 'path "*" { capabilities = ["read"] }'})
        d = srv.req("DELETE", "sys/policies/acl/root")
        return Answer(f"write={r.status_code} delete={d.status_code}", f"{errors(r)} / {errors(d)}")
    dev.probe("escalation/policy/root-immutable", probe, expect=r"write=400 delete=400")


NAMED_LIKE_ROOT = {"trailing-space": "root ", "leading-space": " root", "upper": "ROOT"}


@pytest.mark.parametrize("variant", list(NAMED_LIKE_ROOT))
def test_policy_named_like_root(dev, variant):
    """A policy spelled like root must neither replace root nor be a root
    policy for its holders."""
    name = NAMED_LIKE_ROOT[variant]

    def probe(srv):
        r = srv.req("PUT", f"sys/policies/acl/{name}", {"policy": 'path "sys/audit" { capabilities = ["read"] }'})
        if r.status_code not in (200, 204):
            return Answer(f"write={r.status_code}", errors(r))
        t = srv.req("POST", "auth/token/create", {"policies": [name]})
        tok = t.json()["auth"]["client_token"] if t.status_code == 200 else None
        pols = t.json()["auth"]["policies"] if t.status_code == 200 else None
        mounts = srv.req("GET", "sys/mounts", token=tok).status_code if tok else None
        return Answer(f"write={r.status_code} create={t.status_code} sys_mounts={mounts}", f"policies={pols}")
    dev.probe(f"escalation/policy/named-like-root-{variant}", probe)


# ---------------------------------------------------------------------------
# Where the request claims to come from, and which token header counts.


def test_forwarded_for_does_not_satisfy_secret_id_cidrs(dev, approle):
    """X-Forwarded-For is not trusted without a configured proxy: a secret
    ID bound to 10.0.0.0/8 cannot be used from loopback by claiming 10.x."""
    def probe(srv):
        role = "cidr" + _uid()
        srv.ok("POST", f"auth/{approle}/role/{role}", {"secret_id_bound_cidrs": ["10.0.0.0/8"]})
        role_id = srv.ok("GET", f"auth/{approle}/role/{role}/role-id").json()["data"]["role_id"]
        secret_id = srv.ok("POST", f"auth/{approle}/role/{role}/secret-id", {}).json()["data"]["secret_id"]
        r = srv.req("POST", f"auth/{approle}/login", {"role_id": role_id, "secret_id": secret_id}, token=None,
                    headers={"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"})
        return Answer(f"login={r.status_code}", errors(r))
    dev.probe("escalation/cidr/secret-id-forwarded-for", probe, expect="login=(400|403)")


def test_forwarded_for_does_not_satisfy_token_bound_cidrs(dev, approle):
    """A token bound to 10.0.0.0/8 (the role's token_bound_cidrs) cannot be
    used from loopback by claiming 10.x. Class: ``usable=<yes|no>`` (OpenBao
    issues the token and refuses its use; refusing the login is as good)."""
    def probe(srv):
        role = "tcidr" + _uid()
        srv.ok("POST", f"auth/{approle}/role/{role}", {"token_bound_cidrs": ["10.0.0.0/8"]})
        role_id = srv.ok("GET", f"auth/{approle}/role/{role}/role-id").json()["data"]["role_id"]
        secret_id = srv.ok("POST", f"auth/{approle}/role/{role}/secret-id", {}).json()["data"]["secret_id"]
        login = srv.req("POST", f"auth/{approle}/login", {"role_id": role_id, "secret_id": secret_id}, token=None)
        if login.status_code != 200:
            return Answer("usable=no", f"login {login.status_code} {errors(login)}")
        tok = login.json()["auth"]["client_token"]
        r = srv.req("GET", "auth/token/lookup-self", token=tok,
                    headers={"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"})
        return Answer(f"usable={'yes' if r.status_code == 200 else 'no'}", f"login 200, lookup {r.status_code}")
    dev.probe("escalation/cidr/token-forwarded-for", probe, expect="usable=no")


HEADER_CASES = {
    # (headers, expected OpenBao class)
    "empty-x-vault-token-then-bearer": ({"X-Vault-Token": "", "Authorization": "Bearer {root}"}, "mounts=200"),
    "bad-x-vault-token-and-good-bearer": ({"X-Vault-Token": "bogus", "Authorization": "Bearer {root}"},
                                          "mounts=403"),
    "basic-auth-scheme": ({"Authorization": "Basic {root}"}, "mounts=403"),
    "token-in-query": ({}, "mounts=403"),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_which_token_counts(dev, case):
    headers, expect = HEADER_CASES[case]

    def probe(srv):
        h = {k: v.replace("{root}", srv.token) for k, v in headers.items()}
        params = {"token": srv.token} if case == "token-in-query" else None
        r = srv.req("GET", "sys/mounts", token=None, headers=h, params=params)
        return Answer(f"mounts={r.status_code}", errors(r))
    dev.probe(f"escalation/header/{case}", probe, expect=expect)


# ---------------------------------------------------------------------------
# Token roles: a role may lend policies the caller lacks, never root.

ROLE_CREATOR = 'path "auth/token/create/*" { capabilities = ["create", "update"] }\n'


@pytest.fixture(scope="module")
def role_creator(dev):
    """Per server, a non-root, non-sudo token that may create through any token role."""
    name = f"rolecreator-{_uid()}"

    def setup(s):
        s.policy(name, ROLE_CREATOR)
        s.extra["role_creator"] = s.child_token([name], ttl="1h")
    dev.each(setup)
    return name


@pytest.mark.parametrize("field", ["allowed_policies", "allowed_policies_glob"])
@pytest.mark.parametrize("spelling", list(ROOT_SPELLINGS), ids=list(ROOT_SPELLINGS))
def test_token_role_cannot_lend_root(dev, role_creator, field, spelling):
    def probe(srv):
        role = "tr" + _uid()
        r = srv.req("POST", f"auth/token/roles/{role}", {field: ROOT_SPELLINGS[spelling]})
        if r.status_code not in (200, 204):
            return Answer(f"role={r.status_code}", errors(r))
        created = srv.req("POST", f"auth/token/create/{role}", {"policies": ["root"]},
                          token=srv.extra["role_creator"])
        if created.status_code != 200:
            return Answer(f"role={r.status_code} create={created.status_code}", errors(created))
        tok = created.json()["auth"]["client_token"]
        return Answer(f"role={r.status_code} create=200 root={granted_root(srv, tok)}",
                      f"policies={created.json()['auth'].get('policies')}")
    dev.probe(f"escalation/token-role/{field}-{spelling}", probe, expect=r"role=\d+ create=4\d\d")
