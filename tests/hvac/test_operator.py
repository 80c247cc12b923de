"""hvac's operator calls against a dev server of its own: the unseal key
its banner prints rekeys it (with verification) and generates a root
token, and the keyring rotates (hvac's `sys` Key API)."""
import re

import hvac
import pytest
from hvac.exceptions import InvalidRequest

import pyharness


@pytest.fixture(scope="module")
def dev():
    """(client with the root token, the printed unseal key)."""
    try:
        proc = pyharness.dev("hvac-operator", pyharness.vaultlet_bin())
    except pyharness.HarnessError as e:
        pytest.exit(str(e), 2)
    key = re.search(r"^Unseal Key: (\S+)$", proc.tail(20000), re.M).group(1)
    yield hvac.Client(url=proc.url, token=pyharness.ROOT_TOKEN), key
    proc.cleanup()


def test_rotate_moves_the_key_term(dev):
    client, _ = dev
    before = client.sys.get_encryption_key_status()["data"]["term"]
    client.sys.rotate_encryption_key()
    assert client.sys.get_encryption_key_status()["data"]["term"] == before + 1


def test_printed_unseal_key_generates_a_root_token(dev):
    client, key = dev
    started = client.sys.start_root_token_generation()
    otp = started["otp"]
    done = client.sys.generate_root(key=key, nonce=started["nonce"])
    assert done["complete"] is True
    decoded = client.adapter.put("/v1/sys/decode-token",
                                 json={"encoded_token": done["encoded_token"], "otp": otp})
    token = decoded["data"]["token"]
    assert hvac.Client(url=client.url, token=token).lookup_token()["data"]["policies"] == ["root"]


def test_rekey_with_verification(dev):
    client, key = dev
    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2, require_verification=True)
    assert started["started"] is True and started["required"] == 1
    with pytest.raises(InvalidRequest, match="rekey already in progress"):
        client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    done = client.sys.rekey(key=key, nonce=started["nonce"])
    assert done["complete"] is True and len(done["keys_base64"]) == 3
    verification = client.sys.read_rekey_verify_progress()
    assert verification["t"] == 2 and verification["progress"] == 0
    nonce = client.sys.cancel_rekey_verify()["nonce"]
    assert nonce != verification["nonce"]
    first = client.sys.rekey_verify(done["keys_base64"][0], nonce)
    assert first["progress"] == 1
    last = client.sys.rekey_verify(done["keys_base64"][2], nonce)
    assert last["complete"] is True
    assert client.sys.read_rekey_progress()["started"] is False
    with pytest.raises(InvalidRequest, match="no backed-up keys found"):
        client.sys.read_backup_keys()
    # The new shares seal and unseal the server; the printed key no longer does.
    client.sys.seal()
    assert client.sys.submit_unseal_key(key)["sealed"] is True
    client.sys.submit_unseal_key(reset=True)
    assert client.sys.submit_unseal_keys(done["keys_base64"][1:])["sealed"] is False
