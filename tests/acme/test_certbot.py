"""certbot, unchanged, against the mount's ACME server: http-01 with its
standalone server on loopback port 80, dns-01 (a wildcard) through manual
hooks and the suite's DNS server, renewal, and revocation by account key
and by certificate key, and an account bound to an external account
binding key from new-eab. The same flows run against vaultlet and OpenBao."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from cryptography import x509

from certs import crl_serials, revoked, sans


@pytest.fixture
def certbot(mount):
    base = tempfile.mkdtemp(prefix=f"certbot-{mount.name}-")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        argv = [
            shutil.which("certbot") or "certbot", *args,
            "--config-dir", f"{base}/config", "--work-dir", f"{base}/work", "--logs-dir", f"{base}/logs",
            "--non-interactive", "--server", mount.directory,
        ]
        # The test CA, explicitly: the environment may point requests elsewhere.
        env = dict(os.environ, REQUESTS_CA_BUNDLE=mount.ca_file)
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert (p.returncode == 0) == ok, f"certbot {' '.join(args)}:\n{p.stdout}\n{p.stderr}\n{log(base)}"
        return p

    run.base = base
    yield run
    shutil.rmtree(base, ignore_errors=True)


def log(base: str) -> str:
    try:
        with open(f"{base}/logs/letsencrypt.log") as f:
            return f.read()[-4000:]
    except OSError:
        return ""


def cert(base: str, name: str, file: str = "cert.pem") -> x509.Certificate:
    with open(f"{base}/config/live/{name}/{file}", "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def test_http01_obtain_renew_revoke_by_account(mount, certbot):
    common = ("--standalone", "--preferred-challenges", "http", "--http-01-address", "127.0.0.1",
              "--http-01-port", "80")
    certbot("register", "--agree-tos", "--register-unsafely-without-email")
    certbot("certonly", *common, "-d", "localhost", "--cert-name", "web")
    first = cert(certbot.base, "web")
    assert sans(first) == ["localhost"]
    chain = cert(certbot.base, "web", "chain.pem")
    assert first.issuer == chain.subject
    first.verify_directly_issued_by(chain)

    certbot("renew", "--cert-name", "web", "--force-renewal", "--no-random-sleep-on-renew")
    second = cert(certbot.base, "web")
    assert second.serial_number != first.serial_number
    assert sans(second) == ["localhost"]

    certbot("revoke", "--cert-name", "web", "--no-delete-after-revoke")
    assert revoked(mount, second)
    assert second.serial_number in crl_serials(mount)
    assert not revoked(mount, first)


def test_dns01_wildcard_obtain_and_revoke_by_certificate_key(mount, certbot, dns_server):
    records = dns_server.records
    auth = f'echo "$CERTBOT_VALIDATION" >> {records}/_acme-challenge."$CERTBOT_DOMAIN"'
    cleanup = f'rm -f {records}/_acme-challenge."$CERTBOT_DOMAIN"'
    certbot("certonly", "--manual", "--preferred-challenges", "dns", "--agree-tos",
            "--register-unsafely-without-email",
            "--manual-auth-hook", auth, "--manual-cleanup-hook", cleanup,
            "-d", "*.acme.test", "-d", "acme.test", "--cert-name", "wild")
    issued = cert(certbot.base, "wild")
    assert sans(issued) == ["*.acme.test", "acme.test"]
    assert not os.listdir(records), "the cleanup hook ran"

    live = f"{certbot.base}/config/live/wild"
    certbot("revoke", "--cert-path", f"{live}/cert.pem", "--key-path", f"{live}/privkey.pem",
            "--no-delete-after-revoke")
    assert revoked(mount, issued)
    assert issued.serial_number in crl_serials(mount)


def test_external_account_binding_is_required_and_spent(mount, certbot):
    register = ("register", "--agree-tos", "--register-unsafely-without-email")
    mount.write("pki/config/acme", eab_policy="new-account-required")
    try:
        refused = certbot(*register, ok=False)
        assert "externalAccountRequired" in refused.stderr + log(certbot.base)
        eab = mount.write("pki/acme/new-eab")["data"]
        certbot(*register, "--eab-kid", eab["id"], "--eab-hmac-key", eab["key"])
        unused = mount.api("LIST", "pki/eab")
        assert eab["id"] not in unused.text
        certbot("certonly", "--standalone", "--preferred-challenges", "http",
                "--http-01-address", "127.0.0.1", "--http-01-port", "80",
                "-d", "localhost", "--cert-name", "bound")
        assert sans(cert(certbot.base, "bound")) == ["localhost"]
    finally:
        mount.write("pki/config/acme", eab_policy="not-required")
