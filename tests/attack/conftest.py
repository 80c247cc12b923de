"""Starts vaultlet and OpenBao side by side, in the shapes the probes need.

Every server listens on 127.0.0.1 only, with ports picked by the kernel. The
shapes:

* ``dev``      both in dev mode (root token ``root``), plain HTTP;
* ``tls``      both in dev mode with ``-dev-tls`` (HTTPS, generated CA);
* ``durable``  both from a config file on a durable store (vaultlet: redb
               via ``storage "raft"``; OpenBao: raft), initialised with one
               Shamir share and unsealed: races on the store that fsyncs;
* ``fresh_durable()``  a new, uninitialised durable pair (init/unseal races);
* ``audited``  both in dev mode with two file audit devices on one file.

Environment: VAULTLET_BIN (default target/debug/vaultlet), BAO_BIN (default
`bao` on PATH), ATTACK_KEEP_LOGS=1 keeps the servers' directories and logs.
"""
from __future__ import annotations

import os
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import attack  # noqa: E402
import pyharness  # noqa: E402
from pyharness import LISTEN  # noqa: E402


def _binary(which) -> str:
    try:
        return which()
    except pyharness.HarnessError as e:
        pytest.exit(str(e), 2)


_PROCS: list[pyharness.Process] = []
_KEEP = bool(os.environ.get("ATTACK_KEEP_LOGS"))


def _server(p: pyharness.Process, token="root") -> attack.Server:
    srv = attack.Server(p.name, p.url, token=token, pid=p.proc.pid, verify=p.ca_file or True, home=p.home)
    srv.extra["proc"] = p
    return srv


def _wait_active(srv: attack.Server, timeout=40):
    """Until sys/health says initialised, unsealed and active (200)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if srv.req("GET", "sys/health", token=None, timeout=3).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{srv.name} did not become active")


# ---------------------------------------------------------------------------
# Shapes

def start_dev(tag: str, tls=False, bao_config: str | None = None) -> tuple[attack.Server, attack.Server]:
    out = []
    for name, binary in (("vaultlet", _binary(pyharness.vaultlet_bin)), ("openbao", _binary(pyharness.bao_bin))):
        extra = bao_config is not None and name == "openbao"
        p = pyharness.dev(f"{name}-{tag}", binary, tls=tls,
                          extra_args=("-config={home}/extra.hcl",) if extra else (),
                          files={"extra.hcl": bao_config} if extra else None)
        _PROCS.append(p)
        out.append(_server(p))
    return out[0], out[1]


def start_durable(tag: str, init: bool, listener_extra: str = "",
                  static_seal: bool = False) -> tuple[attack.Server, attack.Server]:
    """A vaultlet and an OpenBao from a config file on a durable store, with
    a Shamir seal or (static_seal) a static key in a file."""
    out = []
    for name in ("vaultlet", "openbao"):
        if name == "vaultlet":
            hcl = (f'listener "tcp" {{\n  address = "{LISTEN}"\n  tls_disable = true\n{listener_extra}}}\n'
                   'storage "raft" {\n  path = "{home}/data"\n}\n'
                   'disable_mlock = true\n')
            seal = 'seal "static" {\n  current_key = "file://{home}/seal.key"\n}\n'
            argv = [_binary(pyharness.vaultlet_bin), "server", "-config={home}/server.hcl"]
        else:
            # Raft wants the addresses this node advertises to its peers;
            # a single node has none, and the real ones are known only after
            # the bind. The cluster listener itself takes the bound port + 1.
            hcl = (f'listener "tcp" {{\n  address = "{LISTEN}"\n  tls_disable = true\n}}\n'
                   'storage "raft" {\n  path = "{home}/data"\n  node_id = "attack"\n}\n'
                   'api_addr = "http://127.0.0.1:1"\ncluster_addr = "https://127.0.0.1:1"\n')
            seal = 'seal "static" {\n  current_key_id = "attack"\n  current_key = "file://{home}/seal.key"\n}\n'
            argv = [_binary(pyharness.bao_bin), "server", "-config={home}/server.hcl"]
        p = pyharness.Process(f"{name}-{tag}", argv)
        os.makedirs(os.path.join(p.home, "data"), exist_ok=True)
        if static_seal:
            with open(os.path.join(p.home, "seal.key"), "wb") as f:
                f.write(os.urandom(32))
            hcl += seal
        p.write("server.hcl", hcl)
        _PROCS.append(p)
        p.start()
        srv = _server(p, token="")
        if init:
            r = srv.req("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=None)
            assert r.status_code == 200, f"{name}: init {r.status_code} {r.text}"
            body = r.json()
            srv.token = body["root_token"]
            r = srv.req("PUT", "sys/unseal", {"key": body["keys"][0]}, token=None)
            assert r.status_code == 200 and not r.json()["sealed"], r.text
            _wait_active(srv)
        out.append(srv)
    return out[0], out[1]


def restart(srv: attack.Server):
    """Stops and starts a config-file server on the same store (on a new
    port: the server reads its address afresh)."""
    p: pyharness.Process = srv.extra["proc"]
    p.stop()
    p.start()
    srv.url = p.url
    srv.pid = p.proc.pid


@pytest.fixture(scope="session")
def allow():
    return attack.load_allowlist()


def _pair(sides, allow):
    return attack.Pair(sides[0], sides[1], allow)


@pytest.fixture(scope="session")
def dev(allow):
    return _pair(start_dev("dev"), allow)


@pytest.fixture(scope="session")
def tls(allow):
    return _pair(start_dev("tls", tls=True), allow)


@pytest.fixture(scope="session")
def durable(allow):
    return _pair(start_durable("durable", init=True), allow)


@pytest.fixture
def fresh_durable(allow):
    """A factory: a new durable pair (uninitialised unless init=True),
    stopped after the test."""
    made = []

    def make(tag="fresh", listener_extra="", init=False, static_seal=False):
        a, b = start_durable(tag, init=init, listener_extra=listener_extra, static_seal=static_seal)
        made.extend([a, b])
        return _pair((a, b), allow)

    yield make
    for s in made:
        p = s.extra["proc"]
        p.cleanup(keep=_KEEP)
        if p in _PROCS:
            _PROCS.remove(p)


@pytest.fixture
def fresh_dev(allow):
    """A factory: a new dev pair (for probes that seal or exhaust a server)."""
    made = []

    def make(tag="fresh-dev", bao_config=None):
        a, b = start_dev(tag, bao_config=bao_config)
        made.extend([a, b])
        return _pair((a, b), allow)

    yield make
    for s in made:
        p = s.extra["proc"]
        p.cleanup(keep=_KEEP)
        if p in _PROCS:
            _PROCS.remove(p)


def pytest_sessionfinish(session, exitstatus):
    for p in _PROCS:
        p.cleanup(keep=_KEEP)
    _PROCS.clear()


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if not attack.RESULTS:
        return
    tr.section("probes whose answers differ (vaultlet vs OpenBao)")
    for pid, verdict, a, b in attack.RESULTS:
        if verdict in ("DIFFERENT", "reference-surprise"):
            tr.write_line(f"{verdict:<18} {pid}\n    vaultlet: {a}\n    OpenBao:  {b}")
    allowed = [r for r in attack.RESULTS if r[1].startswith("allowed:")]
    if allowed:
        tr.section("allowed differences (allowlist.yaml)")
        for pid, verdict, a, b in allowed:
            tr.write_line(f"{pid} [{verdict[8:]}]: vaultlet {a.cls} | OpenBao {b.cls}")
    same = sum(1 for r in attack.RESULTS if r[1] == "same")
    tr.write_line(f"attack probes: {same} same, {len(allowed)} allowed, "
                  f"{sum(1 for r in attack.RESULTS if r[1] == 'DIFFERENT')} different, "
                  f"{sum(1 for r in attack.RESULTS if r[1] == 'reference-surprise')} reference surprises")
