"""lego's ACME library (github.com/go-acme/lego/v5, built by tests/tools/lego
behind a small command) against the mount's ACME server: http-01 and
tls-alpn-01 with lego's own challenge servers on loopback ports 80 and 443,
dns-01 (a wildcard) through lego's exec DNS provider writing to the suite's
DNS server, renewal, revocation by account key, and an account bound with
an external account binding key. The same flows run against vaultlet and
OpenBao."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from cryptography import x509

from certs import crl_serials, revoked, sans

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def lego_bin():
    p = subprocess.run([os.path.join(HERE, "..", "tools", "lego")], capture_output=True, text=True,
                       timeout=1800)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture
def lego(mount, lego_bin, dns_server):
    state = tempfile.mkdtemp(prefix=f"lego-{mount.name}-")
    hook = os.path.join(state, "dns-hook")
    with open(hook, "w") as f:
        # lego's exec provider calls: hook present|cleanup FQDN. VALUE
        f.write('#!/bin/sh\nname="${2%.}"\ncase "$1" in\n'
                f'  present) echo "$3" >> "{dns_server.records}/$name" ;;\n'
                f'  cleanup) rm -f "{dns_server.records}/$name" ;;\n'
                'esac\n')
    os.chmod(hook, 0o755)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        argv = [lego_bin, "-server", mount.directory, "-state", state, *args]
        env = dict(os.environ, LEGO_CA_CERTIFICATES=mount.ca_file, EXEC_PATH=hook)
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert (p.returncode == 0) == ok, f"lego {' '.join(args)}:\n{p.stdout}\n{p.stderr}"
        return p

    run.state = state
    yield run
    shutil.rmtree(state, ignore_errors=True)


def issued(lego) -> tuple[x509.Certificate, x509.Certificate]:
    with open(f"{lego.state}/cert.pem", "rb") as f:
        leaf = x509.load_pem_x509_certificates(f.read())[0]
    with open(f"{lego.state}/issuer.pem", "rb") as f:
        issuer = x509.load_pem_x509_certificates(f.read())[0]
    leaf.verify_directly_issued_by(issuer)
    return leaf, issuer


def test_http01_obtain_renew_revoke(mount, lego):
    http = ("-http", "127.0.0.1:80", "-d", "localhost")
    lego("register")
    lego(*http, "obtain")
    first, _ = issued(lego)
    assert sans(first) == ["localhost"]

    lego(*http, "renew")
    second, _ = issued(lego)
    assert second.serial_number != first.serial_number
    assert sans(second) == ["localhost"]

    lego("revoke")
    assert revoked(mount, second)
    assert second.serial_number in crl_serials(mount)
    assert not revoked(mount, first)


def test_tls_alpn01_obtain(mount, lego):
    lego("register")
    lego("-tls", "127.0.0.1:443", "-d", "localhost", "obtain")
    leaf, _ = issued(lego)
    assert sans(leaf) == ["localhost"]


def test_dns01_exec_wildcard(mount, lego, dns_server):
    lego("register")
    lego("-dns", "exec", "-dns-resolver", dns_server.address, "-d", "*.lego.test", "-d", "lego.test",
         "obtain")
    leaf, _ = issued(lego)
    assert sans(leaf) == ["*.lego.test", "lego.test"]
    assert not os.listdir(dns_server.records), "lego's cleanup ran"


def test_external_account_binding(mount, lego):
    mount.write("pki/config/acme", eab_policy="new-account-required")
    try:
        refused = lego("register", ok=False)
        assert "externalAccountRequired" in refused.stderr
        eab = mount.write("pki/acme/new-eab")["data"]
        lego("-eab-kid", eab["id"], "-eab-hmac", eab["key"], "register")
        assert eab["id"] not in mount.api("LIST", "pki/eab").text
        lego("-http", "127.0.0.1:80", "-d", "localhost", "obtain")
        assert sans(issued(lego)[0]) == ["localhost"]
    finally:
        mount.write("pki/config/acme", eab_policy="not-required")


def test_key_change_is_advertised_but_not_served(mount, lego):
    """Vault lists keyChange in the directory but registers no handler for
    it; OpenBao 2.7.2 does the same. lego's key rollover gets a 404 and the
    account keeps its key."""
    lego("register")
    refused = lego("keyrollover", ok=False)
    assert "404" in refused.stderr and "key-change" in refused.stderr
    lego("-http", "127.0.0.1:80", "-d", "localhost", "obtain")
    assert sans(issued(lego)[0]) == ["localhost"]
