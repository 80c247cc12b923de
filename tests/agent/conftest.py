"""Vault Agent suite fixtures: a dev server (vaultlet or OpenBao) set up the
way an operator prepares one for an agent (AppRole role, PKI mount and role,
KV v2 secret, a policy for the agent), and one `bao agent` running against it
with a single configuration, the same for both servers."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import pyharness  # noqa: E402

SERVERS = {
    "vaultlet": pyharness.vaultlet_bin,
    "openbao": pyharness.bao_bin,
}

ROLE = "agent"
SECRET_ID_PATH = f"auth/approle/role/{ROLE}/secret-id"
# Short enough that the agent renews its token several times while the suite
# watches, long enough that a slow machine renews in time.
TOKEN_TTL = 6
PASSWORD = "s3cr3t-v1"
COMMON_NAME = "app.agent.test"

AGENT_POLICY = """
path "pki/issue/agent" { capabilities = ["update"] }
path "secret/data/app" { capabilities = ["read"] }
"""

# One page: pkiCert's certificate, its issuing CA and the private key.
CERT_TEMPLATE = (
    '{{ with pkiCert "pki/issue/agent" "common_name=' + COMMON_NAME + '" "ttl=1h" }}'
    "{{ .Cert }}{{ .CA }}{{ .Key }}{{ end }}"
)
KV_TEMPLATE = '{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}'

AGENT_CONFIG = """
pid_file = "{home}/agent.pid"

vault {
  address = "{url}"
}

auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path = "{home}/role-id"
      secret_id_file_path = "{home}/secret-id"
      secret_id_response_wrapping_path = "%(secret_id_path)s"
      remove_secret_id_file_after_reading = false
    }
  }

  sink "file" {
    wrap_ttl = "5m"
    config = {
      path = "{home}/sink-token"
    }
  }
}

template_config {
  static_secret_render_interval = "1s"
}

template {
  destination = "{home}/out/cert.pem"
  contents = <<EOT
%(cert)s
EOT
}

template {
  destination = "{home}/out/app.txt"
  contents = <<EOT
%(kv)s
EOT
}
""" % {"secret_id_path": SECRET_ID_PATH, "cert": CERT_TEMPLATE, "kv": KV_TEMPLATE}


class Api:
    """Raw HTTP calls to the server, as root unless another token is given."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = pyharness.ROOT_TOKEN,
             wrap_ttl: str | None = None) -> requests.Response:
        headers = {"X-Vault-Token": token} if token else {}
        if wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = wrap_ttl
        return requests.request(method, f"{self.url}/v1/{path}", headers=headers, json=body, timeout=30)

    def ok(self, method: str, path: str, body: dict | None = None, **kw) -> dict:
        r = self.call(method, path, body, **kw)
        assert r.status_code in (200, 204), (method, path, r.status_code, r.text)
        return r.json() if r.text else {}

    def wrapped_secret_id(self) -> str:
        """A secret ID for the agent's role, delivered response-wrapped (the
        trusted-orchestrator flow): the wrapping token."""
        return self.ok("POST", SECRET_ID_PATH, wrap_ttl="300s")["wrap_info"]["token"]


def wait_for(what: str, probe, timeout: float = 60, agent: "Agent | None" = None):
    """Polls ``probe()`` until it returns something truthy; that value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if agent is not None:
            agent.assert_running()
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" +
                         (f"\nagent log:\n{agent.tail()}" if agent else ""))


# What each server's run showed, by server name: compared across the two
# servers once both have run (test_same_on_both_servers.py).
OBSERVED: dict[str, dict] = {}


class Agent(pyharness.Process):
    """One `bao agent` process with its own home (config, role ID and secret
    ID files, sink, rendered templates; its log is ``server.log``)."""

    def __init__(self, api: Api, server_name: str):
        super().__init__("bao-agent", [pyharness.bao_bin(), "agent", "-config={home}/agent.hcl",
                                       "-log-level=debug"])
        self.api = api
        self.server_name = server_name
        self.observed = OBSERVED.setdefault(server_name, {})

    def path(self, name: str) -> str:
        return os.path.join(self.home, name)

    def put(self, name: str, text: str):
        """Writes a file whole then renames it, so the agent never reads
        half of it."""
        tmp = self.path(name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path(name))

    def read(self, name: str) -> str | None:
        try:
            with open(self.path(name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def start(self):
        """Starts the agent (it prints no listener: readiness is what the
        tests wait for)."""
        self.put("agent.hcl", AGENT_CONFIG.replace("{home}", self.home).replace("{url}", self.api.url))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         cwd=self.home, start_new_session=True)

    def log_count(self, message: str) -> int:
        """How often the agent logged a message."""
        return self.tail(chars=10**9).count(message)

    def assert_running(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"agent exited ({self.proc.returncode}):\n{self.tail()}")


def prepare(api: Api):
    """What an operator sets up before starting an agent."""
    api.ok("POST", "sys/auth/approle", {"type": "approle"})
    api.ok("PUT", "sys/policies/acl/agent", {"policy": AGENT_POLICY})
    api.ok("POST", f"auth/approle/role/{ROLE}",
           {"token_policies": ["agent"], "token_ttl": f"{TOKEN_TTL}s", "token_max_ttl": "1h"})
    api.ok("POST", "sys/mounts/pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    api.ok("POST", "pki/root/generate/internal",
           {"common_name": "Agent suite root", "key_type": "ec", "ttl": "8760h"})
    api.ok("POST", "pki/roles/agent",
           {"allowed_domains": ["agent.test"], "allow_subdomains": True, "key_type": "ec", "max_ttl": "24h"})
    api.ok("POST", "secret/data/app", {"data": {"password": PASSWORD}})


@pytest.fixture(scope="module", params=sorted(SERVERS))
def agent(request):
    """A running agent against a prepared dev server of each kind."""
    server = pyharness.dev(f"agent-{request.param}", SERVERS[request.param]())
    agent = None
    try:
        api = Api(server.url)
        prepare(api)
        agent = Agent(api, request.param)
        agent.put("role-id", api.ok("GET", f"auth/approle/role/{ROLE}/role-id")["data"]["role_id"])
        agent.first_secret_id = api.wrapped_secret_id()
        agent.put("secret-id", agent.first_secret_id)
        agent.start()
        yield agent
    finally:
        if agent is not None:
            agent.cleanup()
        server.cleanup()
