"""hvac's userpass API (client.auth.userpass) end to end: users, password
update, listing, login with auth.userpass.login, and what the token can do."""
import pytest
from hvac import Client, exceptions


@pytest.fixture
def userpass(client, unique):
    mount = f"userpass-{unique}"
    client.sys.enable_auth_method("userpass", path=mount)
    yield mount
    client.sys.disable_auth_method(mount)


def test_users_password_and_login(server, client, userpass, unique):
    url, _ = server
    pol = f"pol-{unique}"
    client.sys.create_or_update_acl_policy(pol, 'path "sys/mounts" {\n  capabilities = ["read"]\n}\n')
    u = client.auth.userpass
    u.create_or_update_user("Sally", password="pw1", policies=[pol], mount_point=userpass)
    user = u.read_user("sally", mount_point=userpass)["data"]
    assert user["token_policies"] == [pol] and user["policies"] == [pol]
    assert u.list_user(mount_point=userpass)["data"]["keys"] == ["sally"]

    c = Client(url=url)
    resp = c.auth.userpass.login("sally", "pw1", mount_point=userpass)
    assert resp["auth"]["metadata"] == {"username": "sally"}
    assert resp["auth"]["policies"] == ["default", pol]
    assert c.is_authenticated()
    assert c.sys.list_mounted_secrets_engines()
    with pytest.raises(exceptions.Forbidden):
        c.sys.list_auth_methods()

    u.update_password_on_user("sally", "pw2", mount_point=userpass)
    with pytest.raises(exceptions.InvalidRequest, match="invalid username or password"):
        Client(url=url).auth.userpass.login("sally", "pw1", mount_point=userpass)
    assert Client(url=url).auth.userpass.login("sally", "pw2", mount_point=userpass)["auth"]["client_token"]

    with pytest.raises(exceptions.InvalidRequest, match="must provide either password or password_hash"):
        u.create_or_update_user("nopass", mount_point=userpass)
    u.delete_user("sally", mount_point=userpass)
    with pytest.raises(exceptions.InvalidPath):
        u.read_user("sally", mount_point=userpass)
