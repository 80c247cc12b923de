"""ACME suite fixtures: a PKI mount served over TLS with ACME enabled the
way Vault documents it (cluster path, mount tuning, config/acme), on
vaultlet and on OpenBao, and a tiny DNS server on loopback for dns-01."""
from __future__ import annotations

import os
import sys
import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import pyharness  # noqa: E402

from dns import TxtServer  # noqa: E402

SERVERS = {
    "vaultlet": pyharness.vaultlet_bin,
    "openbao": pyharness.bao_bin,
}


class Mount:
    """A PKI mount with ACME on, as a client would be pointed at it."""

    def __init__(self, proc: pyharness.Process, path: str = "pki"):
        self.proc = proc
        self.path = path
        self.ca_file = proc.ca_file
        self.session = requests.Session()
        self.session.headers["X-Vault-Token"] = pyharness.ROOT_TOKEN

    def api(self, method: str, path: str, **kw) -> requests.Response:
        # verify per request: REQUESTS_CA_BUNDLE would override a session's.
        return self.session.request(method, f"{self.proc.url}/v1/{path}", timeout=30,
                                    verify=self.ca_file, **kw)

    def write(self, endpoint: str, **data) -> dict:
        r = self.api("POST", endpoint, json=data)
        assert r.status_code in (200, 204), (endpoint, r.status_code, r.text)
        return r.json() if r.text else {}

    @property
    def directory(self) -> str:
        return f"{self.proc.url}/v1/{self.path}/acme/directory"


@pytest.fixture(scope="session")
def dns_server():
    server = TxtServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=sorted(SERVERS))
def mount(request, dns_server):
    proc = pyharness.dev(f"acme-{request.param}", SERVERS[request.param](), tls=True)
    try:
        m = Mount(proc)
        m.write("sys/mounts/pki", type="pki", config={"max_lease_ttl": "87600h"})
        m.write("pki/root/generate/internal", common_name="ACME test root", key_type="ec", ttl="8760h")
        m.write("pki/config/cluster", path=f"{proc.url}/v1/pki", aia_path=f"{proc.url}/v1/pki")
        m.write("sys/mounts/pki/tune",
                allowed_response_headers=["Last-Modified", "Location", "Replay-Nonce", "Link"],
                passthrough_request_headers=["If-Modified-Since"])
        m.write("pki/config/acme", enabled=True, dns_resolver=dns_server.address)
        m.name = request.param
        yield m
    finally:
        proc.cleanup()
