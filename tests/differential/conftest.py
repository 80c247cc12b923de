"""Starts vaultlet and the reference server (OpenBao) in dev mode, side by side.

Environment:
  VAULTLET_BIN   vaultlet binary (default: target/debug/vaultlet)
  BAO_BIN        reference binary (default: `bao` on PATH)
  DIFF_A_ADDR + DIFF_A_TOKEN   use an already running server as side "a" (vaultlet's side)
  DIFF_B_ADDR + DIFF_B_TOKEN   use an already running server as side "b" (the reference)
Both servers must be fresh dev servers: the user-guide sequence uses pki/ and approle/.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pyharness  # noqa: E402
import vdiff  # noqa: E402


def _side(prefix, name, binary, started):
    addr, token = os.environ.get(f"DIFF_{prefix}_ADDR"), os.environ.get(f"DIFF_{prefix}_TOKEN")
    if addr and token:
        return vdiff.Server(name, addr.rstrip("/"), token)
    try:
        proc = pyharness.dev(f"diff-{name}", binary())
    except pyharness.HarnessError as e:
        pytest.exit(str(e), 2)
    started.append(proc)
    return vdiff.Server(name, proc.url, pyharness.ROOT_TOKEN)


@pytest.fixture(scope="session")
def servers():
    started = []
    try:
        yield (_side("A", "vaultlet", pyharness.vaultlet_bin, started),
               _side("B", "reference", pyharness.bao_bin, started))
    finally:
        for proc in started:
            proc.cleanup(keep=bool(os.environ.get("DIFF_KEEP_LOGS")))


_ALLOW = None
_TOLERATED = []


def _allowlist():
    global _ALLOW
    if _ALLOW is None:
        _ALLOW = vdiff.load_allowlist()
    return _ALLOW


@pytest.fixture
def pair(servers):
    a, b = servers
    a.ctx.clear()
    b.ctx.clear()
    p = vdiff.Pair(a, b, _allowlist())
    yield p
    _TOLERATED.extend(p.tolerated)


@pytest.fixture(scope="module")
def pair_of():
    """Makes a Pair of servers a test module started itself (e.g. with a
    Shamir seal instead of dev mode); its tolerated differences are
    reported with the suite's."""
    made = []

    def make(a, b):
        p = vdiff.Pair(a, b, _allowlist())
        made.append(p)
        return p
    yield make
    for p in made:
        _TOLERATED.extend(p.tolerated)


def pytest_terminal_summary(terminalreporter):
    if _ALLOW is None:
        return
    tr = terminalreporter
    if os.environ.get("DIFF_SHOW_TOLERATED"):
        tr.section("tolerated differences (allow-list)")
        for line in _TOLERATED:
            tr.write_line(line)
    bugs = vdiff.known_bugs()
    if bugs:
        tr.section("known vaultlet bugs (xfail)")
        for b in bugs:
            tr.write_line(f"{vdiff.BUGS_SEEN.get(b['id'], 0):5d}  {b['id']}: {b['title']}")
    unused = [e.id for e in _ALLOW if e.used == 0]
    tr.section("allow-list usage")
    for e in _ALLOW:
        tr.write_line(f"{e.used:5d}  {e.id}")
    if unused:
        tr.write_line(f"unused allow-list entries in this run: {', '.join(unused)}")


# ---------------------------------------------------------------------------
# Key material made by the test (the same CSR goes to both servers).

from cryptography import x509 as _x509  # noqa: E402
from cryptography.hazmat.primitives import hashes as _hashes, serialization as _ser  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec as _ec, rsa as _rsa  # noqa: E402
from cryptography.x509.oid import NameOID as _NameOID, ExtendedKeyUsageOID as _EKU  # noqa: E402
import datetime as _dt  # noqa: E402
import ipaddress as _ip  # noqa: E402


def make_csr(cn, dns=(), ips=(), uris=(), emails=(), key="ec", ca=False):
    k = _ec.generate_private_key(_ec.SECP256R1()) if key == "ec" else _rsa.generate_private_key(65537, 2048)
    b = _x509.CertificateSigningRequestBuilder().subject_name(
        _x509.Name([_x509.NameAttribute(_NameOID.COMMON_NAME, cn)]) if cn else _x509.Name([]))
    sans = [_x509.DNSName(d) for d in dns] + [_x509.IPAddress(_ip.ip_address(i)) for i in ips] + \
        [_x509.UniformResourceIdentifier(u) for u in uris] + [_x509.RFC822Name(e) for e in emails]
    if sans:
        b = b.add_extension(_x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        b = b.add_extension(_x509.BasicConstraints(ca=True, path_length=None), critical=True)
    csr = b.sign(k, _hashes.SHA256())
    return csr.public_bytes(_ser.Encoding.PEM).decode()


@pytest.fixture
def csr():
    return make_csr


@pytest.fixture(scope="session")
def client_cert():
    """cert-manager e2e's client certificate: self-signed RSA-2048 CN=example.com, clientAuth."""
    k = _rsa.generate_private_key(65537, 2048)
    name = _x509.Name([_x509.NameAttribute(_NameOID.COMMON_NAME, "example.com")])
    now = _dt.datetime.now(_dt.timezone.utc)
    c = (_x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(_x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=1))
         .not_valid_after(now + _dt.timedelta(days=1))
         .add_extension(_x509.ExtendedKeyUsage([_EKU.CLIENT_AUTH]), critical=False)
         .sign(k, _hashes.SHA256()))
    return (c.public_bytes(_ser.Encoding.PEM).decode(),
            k.private_bytes(_ser.Encoding.PEM, _ser.PrivateFormat.TraditionalOpenSSL, _ser.NoEncryption()).decode())
