//! Logins: the grant a role's token fields make, Vault's error texts, CIDR
//! bounds against the TCP peer, and uses spent exactly once.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use super::Harness;
use crate::logical::Operation::Update;
use crate::logical::Result;

#[tokio::test]
async fn the_guide_flow_logs_in_with_the_roles_token_parameters() {
    let h = Harness::new().await;
    let body = json!({"token_policies": "cert-manager", "token_ttl": "1h", "token_max_ttl": "2h"});
    assert!(h.no_content(Update, "role/cert-manager", body).await);
    let role_id = h.role_id("cert-manager").await;
    let issued = h
        .data(Update, "role/cert-manager/secret-id", Value::Null)
        .await;
    assert_eq!(issued["secret_id_num_uses"], json!(0));
    assert_eq!(issued["secret_id_ttl"], json!(0));
    let secret_id = issued["secret_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(secret_id.len(), 36);
    let auth = h
        .login(&role_id, &secret_id)
        .await
        .map_err(|e| e.to_string());
    let auth = auth.unwrap_or_default();
    assert_eq!(auth["policies"], json!(["cert-manager", "default"]));
    assert_eq!(auth["lease_duration"], json!(3600));
    assert_eq!(auth["metadata"], json!({"role_name": "cert-manager"}));
    assert_eq!(
        (auth["renewable"].clone(), auth["orphan"].clone()),
        (json!(true), json!(true))
    );
    let token = h.lookup_token(&auth["client_token"]).await;
    assert_eq!(token["display_name"], json!("approle"));
    assert_eq!(token["explicit_max_ttl"], json!(0));
}

#[tokio::test]
async fn login_errors_use_vaults_texts() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/r", json!({})).await);
    let role_id = h.role_id("r").await;
    let err = |r: Result<Value>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(err(h.login("", "x").await), "missing role_id");
    assert_eq!(err(h.login(&role_id, "").await), "missing secret_id");
    assert_eq!(
        err(h.login(&role_id, "wrong").await),
        "invalid role or secret ID"
    );
    assert_eq!(
        err(h.login("wrong", "wrong").await),
        "invalid role or secret ID"
    );
    assert!(h.no_content(Update, "role/other", json!({})).await);
    let other = h.secret_id("other", json!({})).await;
    assert_eq!(
        err(h.login(&role_id, &other).await),
        "invalid role or secret ID"
    );
}

#[tokio::test]
async fn cidr_bounds_are_checked_against_the_tcp_peer() {
    let h = Harness::new().await;
    assert!(
        h.no_content(
            Update,
            "role/c",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"})
        )
        .await
    );
    let role_id = h.role_id("c").await;
    let secret = h.secret_id("c", json!({"num_uses": 1})).await;
    let err = h
        .login(&role_id, &secret)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role")
    );
    // A refused login does not consume a use; an IPv4-mapped peer counts
    // as its IPv4 address.
    let inside: SocketAddr = "[::ffff:10.1.2.3]:4000".parse().expect("address");
    assert!(h.login_from(inside, &role_id, &secret).await.is_ok());

    assert!(h.no_content(Update, "role/s", json!({})).await);
    let role_id = h.role_id("s").await;
    let secret = h
        .secret_id("s", json!({"cidr_list": "192.168.0.0/16"}))
        .await;
    let err = h
        .login_from(inside, &role_id, &secret)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("source address \"10.1.2.3\" unauthorized through CIDR restrictions on the secret ID")
    );
}

#[tokio::test]
async fn secret_id_token_bound_cidrs_override_the_roles() {
    let h = Harness::new().await;
    assert!(
        h.no_content(
            Update,
            "role/t",
            json!({"token_bound_cidrs": "127.0.0.0/8"})
        )
        .await
    );
    let role_id = h.role_id("t").await;
    let h = &h;
    let bound_cidrs = |auth: Result<Value>| {
        let token = auth.unwrap_or_default()["client_token"].clone();
        async move { h.lookup_token(&token).await["bound_cidrs"].clone() }
    };
    let plain = h.secret_id("t", json!({})).await;
    assert_eq!(
        bound_cidrs(h.login(&role_id, &plain).await).await,
        json!(["127.0.0.0/8"])
    );
    let narrow = h
        .secret_id("t", json!({"token_bound_cidrs": "127.0.0.1/32"}))
        .await;
    assert_eq!(
        bound_cidrs(h.login(&role_id, &narrow).await).await,
        json!(["127.0.0.1"])
    );
    assert!(h
        .err(
            Update,
            "role/t/secret-id",
            json!({"token_bound_cidrs": "10.0.0.1"})
        )
        .await
        .starts_with("failed to verify"));
}

#[tokio::test]
async fn a_role_without_bind_secret_id_logs_in_with_the_role_id_alone() {
    let h = Harness::new().await;
    let body = json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"});
    assert!(h.no_content(Update, "role/n", body).await);
    let role_id = h.role_id("n").await;
    assert!(h.login(&role_id, "").await.is_ok());
    assert_eq!(
        h.err(Update, "role/n/secret-id", json!({})).await,
        "bind_secret_id is not set on the role"
    );
}

#[tokio::test]
async fn concurrent_logins_never_overspend_a_secret_id() {
    let h = Arc::new(Harness::new().await);
    assert!(h.no_content(Update, "role/c", json!({})).await);
    let role_id = h.role_id("c").await;
    let secret = h.secret_id("c", json!({"num_uses": 3})).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (h, role_id, secret) = (h.clone(), role_id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            h.login(&role_id, &secret).await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
}
