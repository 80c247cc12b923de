//! Roles: defaults, names, constraints, deprecated aliases, the role ID
//! and the per-field sub-paths.

use serde_json::{json, Value};

use super::{local_peer, Harness, ROOT};
use crate::logical::Operation::{Delete, List, Read, Update};

#[tokio::test]
async fn a_new_role_gets_vaults_defaults() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/web", Value::Null).await);
    let role = h.data(Read, "role/web", json!({})).await;
    assert_eq!(role["bind_secret_id"], json!(true));
    assert_eq!(role["secret_id_bound_cidrs"], json!([]));
    assert_eq!(role["secret_id_num_uses"], json!(0));
    assert_eq!(role["secret_id_ttl"], json!(0));
    assert_eq!(role["local_secret_ids"], json!(false));
    assert_eq!(role["token_policies"], json!([]));
    assert_eq!(role["token_bound_cidrs"], json!([]));
    assert_eq!(role["token_type"], json!("default"));
    assert_eq!(role["token_ttl"], json!(0));
    assert!(role.get("policies").is_none() && role.get("period").is_none());
    assert_eq!(h.role_id("web").await.len(), 36);
}

#[tokio::test]
async fn role_names_are_case_insensitive_generic_names() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/Cert-Manager", json!({})).await);
    assert_eq!(
        h.data(List, "role", json!({})).await["keys"],
        json!(["cert-manager"])
    );
    assert!(h
        .data(Read, "role/CERT-MANAGER", json!({}))
        .await
        .is_object());
    for bad in ["-bad", "bad-", "a b", "a/b", "é"] {
        for path in [format!("role/{bad}"), format!("role/{bad}/secret-id")] {
            assert_eq!(
                h.err(Update, &path, json!({})).await,
                "unsupported path",
                "{path}"
            );
        }
    }
    assert!(h.no_content(Update, "role/a", json!({})).await);
    assert!(h.no_content(Update, "role/a.b-c_d", json!({})).await);
    let long = "n".repeat(4097);
    assert_eq!(
        h.err(Update, &format!("role/{long}"), json!({})).await,
        "role_name is longer than maximum of 4096 bytes"
    );
}

/// The existence check finds roles by their lower-cased name: changing one
/// needs `update`, writing a new one `create`.
#[tokio::test]
async fn the_existence_check_sees_roles_by_lower_cased_name() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/web", json!({})).await);
    let policy = r#"path "auth/approle/role/*" { capabilities = ["update"] }"#;
    h.request(
        Update,
        "sys/policies/acl/updater",
        Some(ROOT),
        local_peer(),
        json!({ "policy": policy }),
    )
    .await
    .expect("policy");
    let created = h
        .request(
            Update,
            "auth/token/create",
            Some(ROOT),
            local_peer(),
            json!({"policies": ["updater"]}),
        )
        .await
        .expect("token");
    let token = created.auth.unwrap_or_default()["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let write = |name: &'static str| {
        let (h, token) = (&h, token.clone());
        async move {
            let path = format!("auth/approle/role/{name}");
            let body = json!({"secret_id_num_uses": 2});
            h.request(Update, &path, Some(&token), local_peer(), body)
                .await
        }
    };
    assert!(write("WEB").await.is_ok());
    assert_eq!(
        write("new").await.err().map(|e| e.to_string()).as_deref(),
        Some("permission denied")
    );
}

#[tokio::test]
async fn fields_are_checked_against_their_declared_types() {
    let h = Harness::new().await;
    for (body, field) in [
        (json!({"secret_id_num_uses": "many"}), "secret_id_num_uses"),
        (json!({"bind_secret_id": "maybe"}), "bind_secret_id"),
        (json!({"token_ttl": "soon"}), "token_ttl"),
        (json!({"token_policies": {"a": 1}}), "token_policies"),
    ] {
        let err = h.err(Update, "role/typed", body).await;
        assert!(
            err.starts_with("Field validation failed: error converting input")
                && err.contains(&format!("for field \"{field}\"")),
            "{err}"
        );
    }
    assert_eq!(h.err(Read, "role/typed", json!({})).await, "not found");
}

#[tokio::test]
async fn a_role_needs_at_least_one_constraint() {
    let h = Harness::new().await;
    let err = h
        .err(Update, "role/x", json!({"bind_secret_id": "false"}))
        .await;
    assert_eq!(err, "at least one constraint should be enabled on the role");
    assert!(
        h.no_content(
            Update,
            "role/x",
            json!({"bind_secret_id": "false", "token_bound_cidrs": "10.0.0.0/8"})
        )
        .await
    );
    assert!(
        h.no_content(
            Update,
            "role/y",
            json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"})
        )
        .await
    );
}

#[tokio::test]
async fn token_ttl_may_not_exceed_token_max_ttl() {
    let h = Harness::new().await;
    let err = h
        .err(
            Update,
            "role/x",
            json!({"token_ttl": "3h", "token_max_ttl": "2h"}),
        )
        .await;
    assert_eq!(err, "'token_ttl' cannot be greater than 'token_max_ttl'");
    assert!(
        h.no_content(
            Update,
            "role/x",
            json!({"token_ttl": "1h", "token_max_ttl": "2h"})
        )
        .await
    );
    let err = h
        .err(Update, "role/x/token-ttl", json!({"token_ttl": "3h"}))
        .await;
    assert_eq!(err, "token_ttl should not be greater than token_max_ttl");
    let err = h
        .err(
            Update,
            "role/x/token-max-ttl",
            json!({"token_max_ttl": "30m"}),
        )
        .await;
    assert_eq!(
        err,
        "token_max_ttl should be greater than or equal to token_ttl"
    );
}

#[tokio::test]
async fn deprecated_aliases_fill_the_token_fields() {
    let h = Harness::new().await;
    let warnings = h
        .warnings(
            Update,
            "role/y",
            json!({"policies": "P1,p2", "period": "1h", "bound_cidr_list": "127.0.0.0/8"}),
        )
        .await;
    assert_eq!(
        warnings,
        vec!["The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead."]
    );
    let role = h.data(Read, "role/y", json!({})).await;
    assert_eq!(role["policies"], json!(["p1", "p2"]));
    assert_eq!(role["token_policies"], json!(["p1", "p2"]));
    assert_eq!(role["period"], json!(3600));
    assert_eq!(role["token_period"], json!(3600));
    assert_eq!(role["secret_id_bound_cidrs"], json!(["127.0.0.0/8"]));
    assert!(
        h.no_content(Update, "role/y", json!({"token_policies": "z"}))
            .await
    );
    let role = h.data(Read, "role/y", json!({})).await;
    assert!(role.get("policies").is_none());
    assert_eq!(role["token_policies"], json!(["z"]));
}

#[tokio::test]
async fn period_beyond_the_mount_max_is_refused_and_long_max_ttl_warned() {
    let h = Harness::new().await;
    let err = h.err(Update, "role/p", json!({"period": "800h"})).await;
    assert_eq!(
        err,
        "period of \"800h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\""
    );
    let warnings = h
        .warnings(Update, "role/p", json!({"token_max_ttl": "800h"}))
        .await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[tokio::test]
async fn local_secret_ids_is_create_only() {
    let h = Harness::new().await;
    assert!(
        h.no_content(Update, "role/l", json!({"local_secret_ids": "true"}))
            .await
    );
    assert_eq!(
        h.data(Read, "role/l/local-secret-ids", json!({})).await["local_secret_ids"],
        json!(true)
    );
    let err = h
        .err(Update, "role/l", json!({"local_secret_ids": false}))
        .await;
    assert_eq!(
        err,
        "local_secret_ids can only be modified during role creation"
    );
}

#[tokio::test]
async fn role_ids_are_unique_across_roles() {
    let h = Harness::new().await;
    assert!(
        h.no_content(Update, "role/a", json!({"role_id": "shared"}))
            .await
    );
    assert_eq!(
        h.err(Update, "role/b", json!({"role_id": "shared"})).await,
        "role_id already in use"
    );
    assert!(h.no_content(Update, "role/b", json!({})).await);
    assert_eq!(
        h.err(Update, "role/b/role-id", json!({"role_id": "shared"}))
            .await,
        "role_id already in use"
    );
    assert!(
        h.no_content(Update, "role/a/role-id", json!({"role_id": "moved"}))
            .await
    );
    assert!(
        h.no_content(Update, "role/b/role-id", json!({"role_id": "shared"}))
            .await
    );
    assert_eq!(h.role_id("b").await, "shared");
    assert_eq!(
        h.err(Update, "role/b/role-id", json!({})).await,
        "missing role_id"
    );
    assert_eq!(
        h.err(Read, "role/nope/role-id", json!({})).await,
        "not found"
    );
}

#[tokio::test]
async fn per_field_sub_paths_read_write_and_reset() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/f", json!({})).await);
    let cases: &[(&str, &str, Value, Value)] = &[
        (
            "policies",
            "token_policies",
            json!({"token_policies": "A,b"}),
            json!(["a", "b"]),
        ),
        (
            "secret-id-num-uses",
            "secret_id_num_uses",
            json!({"secret_id_num_uses": "5"}),
            json!(5),
        ),
        (
            "secret-id-ttl",
            "secret_id_ttl",
            json!({"secret_id_ttl": "10m"}),
            json!(600),
        ),
        (
            "token-ttl",
            "token_ttl",
            json!({"token_ttl": "1h"}),
            json!(3600),
        ),
        (
            "token-max-ttl",
            "token_max_ttl",
            json!({"token_max_ttl": "2h"}),
            json!(7200),
        ),
        (
            "token-num-uses",
            "token_num_uses",
            json!({"token_num_uses": 4}),
            json!(4),
        ),
        (
            "period",
            "token_period",
            json!({"token_period": "1h"}),
            json!(3600),
        ),
        (
            "secret-id-bound-cidrs",
            "secret_id_bound_cidrs",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
            json!(["10.0.0.0/8"]),
        ),
        (
            "token-bound-cidrs",
            "token_bound_cidrs",
            json!({"token_bound_cidrs": "10.0.0.1/32"}),
            json!(["10.0.0.1"]),
        ),
        (
            "bind-secret-id",
            "bind_secret_id",
            json!({"bind_secret_id": "false"}),
            json!(false),
        ),
    ];
    for (path, field, body, expected) in cases {
        let path = format!("role/f/{path}");
        assert!(h.no_content(Update, &path, body.clone()).await, "{path}");
        assert_eq!(
            &h.data(Read, &path, json!({})).await[*field],
            expected,
            "{path}"
        );
        assert_eq!(
            &h.data(Read, "role/f", json!({})).await[*field],
            expected,
            "{path}"
        );
    }
    let bound = h.call(Read, "role/f/bound-cidr-list", json!({})).await;
    let bound = bound.expect("bound-cidr-list reads");
    assert_eq!(
        json!(bound.response.data)["bound_cidr_list"],
        json!(["10.0.0.0/8"])
    );
    assert_eq!(bound.response.warnings.len(), 1);
    assert!(
        h.no_content(Delete, "role/f/token-max-ttl", json!({}))
            .await
    );
    assert_eq!(
        h.data(Read, "role/f", json!({})).await["token_max_ttl"],
        json!(0)
    );
    assert!(
        h.no_content(Delete, "role/f/bind-secret-id", json!({}))
            .await
    );
    assert_eq!(
        h.data(Read, "role/f", json!({})).await["bind_secret_id"],
        json!(true)
    );
    assert_eq!(
        h.err(Update, "role/f/token-ttl", json!({})).await,
        "missing token_ttl"
    );
    assert_eq!(
        h.err(Update, "role/nope/token-ttl", json!({"token_ttl": 1}))
            .await,
        "unsupported path"
    );
    assert_eq!(
        h.err(Read, "role/nope/token-ttl", json!({})).await,
        "not found"
    );
    assert_eq!(
        h.err(List, "role/f/token-ttl", json!({})).await,
        "unsupported operation"
    );
}
