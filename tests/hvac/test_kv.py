"""hvac's KV v2 (the dev server's `secret/`) and KV v1 APIs against vaultlet."""

import hvac
import pytest
from hvac import exceptions


def test_dev_server_lists_vaults_default_mounts(client):
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    for path in ("sys/", "cubbyhole/", "identity/", "secret/"):
        assert path in mounts
    assert mounts["secret/"]["type"] == "kv"
    assert mounts["secret/"]["options"] == {"version": "2"}
    assert mounts["cubbyhole/"]["local"] is True


def test_kv2_write_read_versions_and_cas(client, unique):
    kv = client.secrets.kv.v2
    path = f"app-{unique}"
    written = kv.create_or_update_secret(path=path, secret={"user": "a", "n": 1})
    assert written["data"]["version"] == 1
    assert written["data"]["deletion_time"] == ""
    kv.create_or_update_secret(path=path, secret={"user": "b"}, cas=1)
    with pytest.raises(exceptions.InvalidRequest) as err:
        kv.create_or_update_secret(path=path, secret={"user": "c"}, cas=1)
    assert "check-and-set parameter did not match the current version" in str(err.value)

    latest = kv.read_secret_version(path=path, raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"user": "b"}
    assert latest["data"]["metadata"]["version"] == 2
    first = kv.read_secret_version(path=path, version=1, raise_on_deleted_version=True)
    assert first["data"]["data"] == {"user": "a", "n": 1}
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_version(path=f"missing-{unique}", raise_on_deleted_version=True)


def test_kv2_patch_delete_undelete_destroy(client, unique):
    kv = client.secrets.kv.v2
    path = f"life-{unique}"
    kv.create_or_update_secret(path=path, secret={"a": "1", "b": "2"})
    patched = kv.patch(path=path, secret={"b": "3", "c": "4"})
    assert patched["data"]["version"] == 2
    assert kv.read_secret_version(path=path, raise_on_deleted_version=True)["data"]["data"] == {
        "a": "1",
        "b": "3",
        "c": "4",
    }

    kv.delete_latest_version_of_secret(path=path)
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_version(path=path, raise_on_deleted_version=True)
    # Vault answers a deleted version with 404 and its metadata.
    deleted = kv.read_secret_version(path=path, raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None
    assert deleted["data"]["metadata"]["deletion_time"] != ""

    kv.undelete_secret_versions(path=path, versions=[2])
    assert kv.read_secret_version(path=path, raise_on_deleted_version=True)["data"]["data"]["c"] == "4"
    kv.delete_secret_versions(path=path, versions=[1])
    kv.destroy_secret_versions(path=path, versions=[1])
    meta = kv.read_secret_metadata(path=path)["data"]
    assert meta["current_version"] == 2
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["deletion_time"] == ""


def test_kv2_metadata_list_and_config(client, unique):
    kv = client.secrets.kv.v2
    folder = f"dir-{unique}"
    kv.create_or_update_secret(path=f"{folder}/one", secret={"k": "v"})
    kv.create_or_update_secret(path=f"{folder}/sub/two", secret={"k": "v"})
    assert kv.list_secrets(path=folder)["data"]["keys"] == ["one", "sub/"]

    kv.update_metadata(
        path=f"{folder}/one",
        max_versions=3,
        cas_required=False,
        custom_metadata={"owner": "team-a"},
    )
    meta = kv.read_secret_metadata(path=f"{folder}/one")["data"]
    assert meta["max_versions"] == 3
    assert meta["custom_metadata"] == {"owner": "team-a"}
    assert meta["delete_version_after"] == "0s"
    for i in range(5):
        kv.create_or_update_secret(path=f"{folder}/one", secret={"i": i})
    meta = kv.read_secret_metadata(path=f"{folder}/one")["data"]
    assert sorted(meta["versions"]) == ["4", "5", "6"]
    assert meta["oldest_version"] == 4

    kv.delete_metadata_and_all_versions(path=f"{folder}/one")
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_metadata(path=f"{folder}/one")

    config = kv.read_configuration()["data"]
    assert set(config) >= {"max_versions", "cas_required", "delete_version_after"}


def test_kv1_mount_read_write_list_delete(client, unique):
    mount = f"kv1-{unique}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    try:
        kv = client.secrets.kv.v1
        kv.create_or_update_secret(path="app/db", secret={"password": "s3cret"}, mount_point=mount)
        kv.create_or_update_secret(path="top", secret={"a": "b"}, mount_point=mount)
        read = kv.read_secret(path="app/db", mount_point=mount)
        assert read["data"] == {"password": "s3cret"}
        assert read["lease_duration"] == 768 * 3600
        assert kv.list_secrets(path="", mount_point=mount)["data"]["keys"] == ["app/", "top"]
        assert kv.list_secrets(path="app", mount_point=mount)["data"]["keys"] == ["db"]
        kv.delete_secret(path="app/db", mount_point=mount)
        with pytest.raises(exceptions.InvalidPath):
            kv.read_secret(path="app/db", mount_point=mount)
    finally:
        client.sys.disable_secrets_engine(mount)


def test_cubbyhole_is_per_token(client, unique):
    client.write(f"cubbyhole/{unique}", value="mine")
    assert client.read(f"cubbyhole/{unique}")["data"] == {"value": "mine"}
    other = client.auth.token.create(policies=["default"])["auth"]["client_token"]
    other_client = hvac.Client(url=client.url, token=other)
    assert other_client.read(f"cubbyhole/{unique}") is None
    other_client.write(f"cubbyhole/{unique}", value="theirs")
    assert other_client.read(f"cubbyhole/{unique}")["data"] == {"value": "theirs"}
    assert client.read(f"cubbyhole/{unique}")["data"] == {"value": "mine"}
