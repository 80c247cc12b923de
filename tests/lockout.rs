//! User lockout: repeated failed logins for one AppRole role ID lock that
//! role ID out of the mount until the lockout ends or an operator unlocks it.

mod common;

use common::Server;
use serde_json::json;

#[test]
fn failed_approle_logins_lock_the_role_id_until_unlocked() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/auth/approle", json!({"type": "approle"}))
            .status,
        204
    );
    let tune = s.write(
        "sys/auth/approle/tune",
        json!({"user_lockout_config": {"lockout_threshold": "3", "lockout_duration": "10m"}}),
    );
    assert_eq!(tune.status, 204, "{:?}", tune.json);
    let tuned = s.read("sys/auth/approle/tune");
    assert_eq!(tuned.data("user_lockout_threshold"), 3);
    assert_eq!(tuned.data("user_lockout_duration"), 600);

    s.write(
        "auth/approle/role/app",
        json!({"token_policies": "default"}),
    );
    let role_id = s
        .read("auth/approle/role/app/role-id")
        .data("role_id")
        .as_str()
        .expect("role id")
        .to_string();
    let secret_id = s
        .write("auth/approle/role/app/secret-id", json!({}))
        .data("secret_id")
        .as_str()
        .expect("secret")
        .to_string();
    let login = |secret: &str| {
        s.send(
            "POST",
            "auth/approle/login",
            None,
            Some(
                json!({"role_id": role_id, "secret_id": secret})
                    .to_string()
                    .into_bytes(),
            ),
        )
    };

    for _ in 0..3 {
        assert_eq!(login("wrong").status, 400);
    }
    let locked = login(&secret_id);
    assert_eq!(locked.status, 403, "{:?}", locked.json);
    assert_eq!(locked.errors(), ["permission denied"]);

    let users = s.read("sys/locked-users");
    assert_eq!(users.data("total"), 1);
    let accessor = users.data("by_namespace")[0]["mount_accessors"][0]["mount_accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    assert!(accessor.starts_with("auth_approle_"));
    assert_eq!(
        users.data("by_namespace")[0]["mount_accessors"][0]["alias_identifiers"],
        json!([role_id])
    );

    assert_eq!(
        s.write(
            &format!("sys/locked-users/{accessor}/unlock/{role_id}"),
            json!({})
        )
        .status,
        204
    );
    assert_eq!(login(&secret_id).status, 200);
    assert_eq!(s.read("sys/locked-users").data("total"), 0);
}
