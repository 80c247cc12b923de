"""hvac against vaultlet: sys mounts, policies, tokens, capabilities, health."""
import hvac
import pytest
from hvac import exceptions


def test_health_answers_head_and_get(client):
    # hvac's read_health_status() uses HEAD by default.
    head = client.sys.read_health_status()
    assert head.status_code == 200
    body = client.sys.read_health_status(method="GET")
    assert body["initialized"] is True
    assert body["sealed"] is False
    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is False
    assert client.sys.read_leader_status()["ha_enabled"] is False


def test_secrets_engines_enable_list_tune_and_disable(client, unique):
    path = f"pki-{unique}"
    client.sys.enable_secrets_engine("pki", path=path)
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert mounts[f"{path}/"]["type"] == "pki"
    with pytest.raises(exceptions.InvalidRequest):
        client.sys.enable_secrets_engine("pki", path=path)

    client.sys.tune_mount_configuration(path, default_lease_ttl="1h", max_lease_ttl="87600h")
    tuned = client.sys.read_mount_configuration(path)["data"]
    assert tuned["default_lease_ttl"] == 3600
    assert tuned["max_lease_ttl"] == 87600 * 3600

    client.sys.disable_secrets_engine(path)
    assert f"{path}/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_policies_write_read_list_delete(client, unique):
    name = f"pol-{unique}"
    rules = 'path "pki/issue/*" {\n  capabilities = ["create", "update"]\n}\n'
    client.sys.create_or_update_policy(name=name, policy=rules)
    assert client.sys.read_policy(name=name)["data"]["rules"] == rules
    assert name in client.sys.list_policies()["data"]["policies"]

    client.sys.create_or_update_acl_policy(name=name, policy=rules)
    assert client.sys.read_acl_policy(name=name)["data"]["policy"] == rules
    assert name in client.sys.list_acl_policies()["data"]["keys"]

    client.sys.delete_policy(name=name)
    with pytest.raises(exceptions.InvalidPath):
        client.sys.read_policy(name=name)


def test_a_token_with_a_policy_can_and_cannot(server, client, unique):
    url, _ = server
    name = f"reader-{unique}"
    client.sys.create_or_update_policy(
        name=name, policy='path "sys/mounts" {\n  capabilities = ["read"]\n}\n'
    )
    token = client.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"]
    limited = hvac.Client(url=url, token=token)
    assert limited.is_authenticated()
    me = limited.auth.token.lookup_self()["data"]
    assert sorted(me["policies"]) == ["default", name]
    assert 3500 < me["ttl"] <= 3600

    limited.sys.list_mounted_secrets_engines()
    with pytest.raises(exceptions.Forbidden):
        limited.sys.list_auth_methods()
    with pytest.raises(exceptions.Forbidden):
        limited.sys.create_or_update_policy(name="x", policy='path "a" { capabilities = ["read"] }')

    caps = limited.sys.get_capabilities(paths=["sys/mounts", "sys/auth"])["data"]
    assert caps["sys/mounts"] == ["read"]
    assert caps["sys/auth"] == ["deny"]

    renewed = limited.auth.token.renew_self(increment="30m")
    assert renewed["auth"]["lease_duration"] == 1800
    limited.auth.token.revoke_self()
    assert not limited.is_authenticated()


def test_invalid_token_is_not_authenticated(server):
    url, _ = server
    assert not hvac.Client(url=url, token="hvs.nope").is_authenticated()
