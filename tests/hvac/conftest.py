"""Starts the real vaultlet binary in dev mode for the hvac suite.

Set VAULT_ADDR and VAULT_TOKEN to point the suite at another Vault-API
server instead (for example `bao server -dev`).
"""
import os
import socket
import subprocess
import time

import hvac
import pytest
import requests

ROOT_TOKEN = "root"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary():
    default = os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "vaultlet")
    return os.path.abspath(os.environ.get("VAULTLET_BIN", default))


@pytest.fixture(scope="session")
def server():
    """(address, root token) of a running server."""
    if os.environ.get("VAULT_ADDR") and os.environ.get("VAULT_TOKEN"):
        yield os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"]
        return
    addr = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
         f"-dev-listen-address={addr}", "-dev-no-store-token"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://{addr}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            requests.get(f"{url}/v1/sys/health", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("vaultlet did not start")
    yield url, ROOT_TOKEN
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def client(server):
    url, token = server
    return hvac.Client(url=url, token=token)


@pytest.fixture
def unique():
    """A unique name per test, so tests sharing one server do not collide."""
    counter = getattr(unique, "counter", 0) + 1
    unique.counter = counter
    return f"t{os.getpid()}x{counter}x{int(time.time() * 1000) % 100000}"
