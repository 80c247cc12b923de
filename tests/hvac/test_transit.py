"""hvac's transit API (client.secrets.transit) end to end: keys, encrypt,
decrypt, rewrap, datakey, sign/verify, hmac, backup and restore."""
import base64

import pytest
from hvac import exceptions


@pytest.fixture
def transit(client, unique):
    mount = f"transit-{unique}"
    client.sys.enable_secrets_engine("transit", path=mount)
    yield mount
    client.sys.disable_secrets_engine(mount)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_encrypt_decrypt_rotate_rewrap(client, transit):
    t = client.secrets.transit
    t.create_key("app", mount_point=transit)
    assert t.read_key("app", mount_point=transit)["data"]["type"] == "aes256-gcm96"
    assert t.list_keys(mount_point=transit)["data"]["keys"] == ["app"]
    ct = t.encrypt_data("app", b64(b"secret"), mount_point=transit)["data"]["ciphertext"]
    assert ct.startswith("vault:v1:")
    assert t.decrypt_data("app", ct, mount_point=transit)["data"]["plaintext"] == b64(b"secret")
    t.rotate_key("app", mount_point=transit)
    ct2 = t.rewrap_data("app", ct, mount_point=transit)["data"]["ciphertext"]
    assert ct2.startswith("vault:v2:")
    t.update_key_configuration("app", min_decryption_version=2, mount_point=transit)
    with pytest.raises(exceptions.InvalidRequest, match="disallowed by policy"):
        t.decrypt_data("app", ct, mount_point=transit)
    batch = t.encrypt_data("app", batch_input=[{"plaintext": b64(b"a")}, {"plaintext": b64(b"b")}],
                           mount_point=transit)["data"]["batch_results"]
    assert [r["key_version"] for r in batch] == [2, 2]
    key = t.generate_data_key("app", key_type="plaintext", mount_point=transit)["data"]
    assert t.decrypt_data("app", key["ciphertext"], mount_point=transit)["data"]["plaintext"] == key["plaintext"]


def test_sign_verify_hmac_and_backup(client, transit):
    t = client.secrets.transit
    t.create_key("signer", key_type="ecdsa-p256", exportable=True, allow_plaintext_backup=True,
                 mount_point=transit)
    sig = t.sign_data("signer", b64(b"msg"), mount_point=transit)["data"]["signature"]
    assert t.verify_signed_data("signer", b64(b"msg"), signature=sig, mount_point=transit)["data"]["valid"]
    assert not t.verify_signed_data("signer", b64(b"other"), signature=sig, mount_point=transit)["data"]["valid"]
    mac = t.generate_hmac("signer", b64(b"msg"), mount_point=transit)["data"]["hmac"]
    assert t.verify_signed_data("signer", b64(b"msg"), hmac=mac, mount_point=transit)["data"]["valid"]
    assert len(t.generate_random_bytes(n_bytes=16, output_format="hex", mount_point=transit)["data"]["random_bytes"]) == 32
    assert t.hash_data(b64(b"hi"), mount_point=transit)["data"]["sum"] == (
        "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4")

    backup = t.backup_key("signer", mount_point=transit)["data"]["backup"]
    t.restore_key(backup, name="copy", mount_point=transit)
    assert t.verify_signed_data("copy", b64(b"msg"), signature=sig, mount_point=transit)["data"]["valid"]
    with pytest.raises(exceptions.InvalidRequest, match="deletion is not allowed"):
        t.delete_key("copy", mount_point=transit)
