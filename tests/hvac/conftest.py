"""Starts the real vaultlet binary in dev mode for the hvac suite.

Set VAULT_ADDR and VAULT_TOKEN to point the suite at another Vault-API
server instead (for example `bao server -dev`).
"""
import os
import sys
import time

import hvac
import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pyharness  # noqa: E402


@pytest.fixture(scope="session")
def server():
    """(address, root token) of a running server."""
    if os.environ.get("VAULT_ADDR") and os.environ.get("VAULT_TOKEN"):
        yield os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"]
        return
    try:
        proc = pyharness.dev("hvac-vaultlet", pyharness.vaultlet_bin())
    except pyharness.HarnessError as e:
        pytest.exit(str(e), 2)
    yield proc.url, pyharness.ROOT_TOKEN
    proc.cleanup()


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
