"""hvac's identity API against vaultlet: entities, aliases, groups,
lookups, merges, and the entity a userpass login attaches to."""

import hvac


def test_entities_aliases_groups_and_lookups(client, unique):
    identity = client.secrets.identity
    created = identity.create_or_update_entity(name=f"e-{unique}", metadata={"team": "a"},
                                               policies=["p1"])
    entity_id = created["data"]["id"]
    read = identity.read_entity(entity_id=entity_id)["data"]
    assert read["name"] == f"e-{unique}"
    assert read["metadata"] == {"team": "a"}
    assert read["policies"] == ["p1"]
    assert identity.read_entity_by_name(name=f"e-{unique}")["data"]["id"] == entity_id
    assert entity_id in identity.list_entities()["data"]["keys"]

    client.sys.enable_auth_method("userpass", path=f"up-{unique}")
    accessor = client.sys.list_auth_methods()["data"][f"up-{unique}/"]["accessor"]
    alias = identity.create_or_update_entity_alias(name="bob", canonical_id=entity_id,
                                                   mount_accessor=accessor)
    alias_id = alias["data"]["id"]
    read = identity.read_entity_alias(alias_id=alias_id)["data"]
    assert (read["name"], read["canonical_id"], read["mount_type"]) == ("bob", entity_id, "userpass")

    group = identity.create_or_update_group(name=f"g-{unique}", member_entity_ids=[entity_id],
                                            policies=["gp"])
    group_id = group["data"]["id"]
    assert identity.read_group(group_id=group_id)["data"]["member_entity_ids"] == [entity_id]
    assert identity.read_entity(entity_id=entity_id)["data"]["direct_group_ids"] == [group_id]
    assert identity.lookup_entity(alias_name="bob", alias_mount_accessor=accessor)["data"]["id"] == entity_id
    assert identity.lookup_group(name=f"g-{unique}")["data"]["id"] == group_id

    other = identity.create_or_update_entity(name=f"o-{unique}")["data"]["id"]
    identity.merge_entities(from_entity_ids=[other], to_entity_id=entity_id)
    assert identity.read_entity(entity_id=entity_id)["data"]["merged_entity_ids"] == [other]

    identity.delete_group(group_id=group_id)
    identity.delete_entity_alias(alias_id=alias_id)
    identity.delete_entity(entity_id=entity_id)
    client.sys.disable_auth_method(f"up-{unique}")


def test_a_login_attaches_to_an_entity_with_its_policies(client, unique):
    path = f"up-{unique}"
    client.sys.enable_auth_method("userpass", path=path)
    client.auth.userpass.create_or_update_user("u1", "pw", policies=["tp"], mount_point=path)
    login = hvac.Client(url=client.url)
    auth = login.auth.userpass.login("u1", "pw", mount_point=path)["auth"]
    entity_id = auth["entity_id"]
    client.secrets.identity.update_entity(entity_id=entity_id, policies=["ep"])
    lookup = login.auth.token.lookup_self()["data"]
    assert lookup["entity_id"] == entity_id
    assert lookup["identity_policies"] == ["ep"]
    again = hvac.Client(url=client.url).auth.userpass.login("u1", "pw", mount_point=path)["auth"]
    assert again["entity_id"] == entity_id
    assert again["identity_policies"] == ["ep"]
    client.secrets.identity.delete_entity(entity_id=entity_id)
    client.sys.disable_auth_method(path)
