//! Secret IDs: issuance within the role's bounds, metadata, lookup,
//! listing and destruction by value or accessor, and what a deleted role
//! leaves behind.

use serde_json::{json, Value};

use super::Harness;
use crate::logical::Operation::{Delete, List, Update};

#[tokio::test]
async fn secret_ids_are_stored_only_as_keyed_hashes() {
    let h = Harness::new().await;
    assert!(
        h.no_content(Update, "role/r", json!({"role_id": "my-role-id"}))
            .await
    );
    let secret = h.secret_id("r", json!({})).await;
    let custom = h
        .data(
            Update,
            "role/r/custom-secret-id",
            json!({"secret_id": "my-custom-secret"}),
        )
        .await;
    assert_eq!(custom["secret_id"], json!("my-custom-secret"));
    let keys = h.stored_keys().await;
    assert!(keys.len() >= 6, "{keys:?}");
    for key in keys {
        assert!(
            !key.contains(&secret)
                && !key.contains("my-custom-secret")
                && !key.contains("my-role-id"),
            "{key}"
        );
        let bytes = h
            .storage()
            .get(&key)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&secret) && !text.contains("my-custom-secret"),
            "{key}: {text}"
        );
    }
}

#[tokio::test]
async fn a_secret_id_with_n_uses_logs_in_n_times() {
    let h = Harness::new().await;
    assert!(
        h.no_content(Update, "role/r", json!({"secret_id_num_uses": 5}))
            .await
    );
    let role_id = h.role_id("r").await;
    let secret = h.secret_id("r", json!({"num_uses": "2"})).await;
    let accessor = h.data(List, "role/r/secret-id", json!({})).await["keys"][0].clone();
    assert!(h.login(&role_id, &secret).await.is_ok());
    let looked = h
        .data(
            Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": secret}),
        )
        .await;
    assert_eq!(looked["secret_id_num_uses"], json!(1));
    assert!(h.login(&role_id, &secret).await.is_ok());
    assert!(h.login(&role_id, &secret).await.is_err());
    assert_eq!(
        h.data(
            Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": secret})
        )
        .await,
        Value::Null
    );
    let gone = h
        .call(
            Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await
        .expect("lookup answers");
    assert_eq!(gone.response.status, Some(404));
    assert_eq!(
        json!(gone.response.data)["error"],
        json!(format!(
            "failed to find accessor entry for secret_id_accessor: {accessor}"
        ))
    );
}

#[tokio::test]
async fn secret_id_bounds_come_from_the_role() {
    let h = Harness::new().await;
    let role = json!({"secret_id_num_uses": 3, "secret_id_ttl": "1h", "secret_id_bound_cidrs": "10.0.0.0/8"});
    assert!(h.no_content(Update, "role/b", role).await);
    let issued = h.data(Update, "role/b/secret-id", json!({})).await;
    assert_eq!(
        (
            issued["secret_id_num_uses"].clone(),
            issued["secret_id_ttl"].clone()
        ),
        (json!(3), json!(3600))
    );
    let e = |body: Value| h.err(Update, "role/b/secret-id", body);
    assert_eq!(
        e(json!({"num_uses": 4})).await,
        "num_uses cannot be higher than the role's secret_id_num_uses"
    );
    assert_eq!(
        e(json!({"num_uses": 0})).await,
        "num_uses cannot be higher than the role's secret_id_num_uses"
    );
    assert_eq!(
        e(json!({"num_uses": -1})).await,
        "num_uses cannot be negative"
    );
    assert_eq!(
        e(json!({"ttl": "2h"})).await,
        "ttl cannot be longer than the role's secret_id_ttl"
    );
    assert_eq!(
        e(json!({"cidr_list": "127.0.0.1/32"})).await,
        "failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.0/8\"] and CIDR blocks on the secret ID [\"127.0.0.1/32\"]"
    );
    assert_eq!(
        e(json!({"cidr_list": "nonsense"})).await,
        "failed to validate CIDR blocks: invalid CIDR address: nonsense"
    );
    let ok = h
        .data(
            Update,
            "role/b/secret-id",
            json!({"num_uses": 2, "ttl": "30m", "cidr_list": "10.1.0.0/16"}),
        )
        .await;
    assert_eq!(
        (
            ok["secret_id_num_uses"].clone(),
            ok["secret_id_ttl"].clone()
        ),
        (json!(2), json!(1800))
    );
}

#[tokio::test]
async fn a_secret_id_ttl_is_capped_by_the_mount_max() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/t", json!({})).await);
    let issued = h
        .data(Update, "role/t/secret-id", json!({"ttl": "1000h"}))
        .await;
    assert_eq!(issued["secret_id_ttl"], json!(2_764_800));
}

#[tokio::test]
async fn secret_id_metadata_is_a_json_string_and_reaches_the_token() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/m", json!({})).await);
    let role_id = h.role_id("m").await;
    let secret = h
        .secret_id(
            "m",
            json!({"metadata": "{\"tag\":\"x\",\"role_name\":\"spoof\"}"}),
        )
        .await;
    let looked = h
        .data(
            Update,
            "role/m/secret-id/lookup",
            json!({"secret_id": secret}),
        )
        .await;
    assert_eq!(looked["metadata"]["tag"], json!("x"));
    assert_eq!(looked["cidr_list"], json!([]));
    assert_eq!(looked["token_bound_cidrs"], json!([]));
    assert_eq!(looked["expiration_time"], json!("0001-01-01T00:00:00Z"));
    let auth = h.login(&role_id, &secret).await.unwrap_or_default();
    assert_eq!(auth["metadata"], json!({"tag": "x", "role_name": "m"}));
    let kv = h.secret_id("m", json!({"metadata": "a=b, c=d"})).await;
    let looked = h
        .data(Update, "role/m/secret-id/lookup", json!({"secret_id": kv}))
        .await;
    assert_eq!(looked["metadata"], json!({"a": "b", "c": "d"}));
    let object = h
        .secret_id("m", json!({"metadata": {"n": 1, "s": "t"}}))
        .await;
    let looked = h
        .data(
            Update,
            "role/m/secret-id/lookup",
            json!({"secret_id": object}),
        )
        .await;
    assert_eq!(looked["metadata"], json!({"n": "1", "s": "t"}));
    assert!(h
        .err(Update, "role/m/secret-id", json!({"metadata": "garbage"}))
        .await
        .starts_with("failed to parse metadata: failed to parse the input"));
}

#[tokio::test]
async fn an_expired_secret_id_is_refused_and_removed() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/e", json!({})).await);
    let role_id = h.role_id("e").await;
    let secret = h.secret_id("e", json!({"ttl": 1})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = h
        .login(&role_id, &secret)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("invalid role or secret ID"));
    assert_eq!(
        h.err(List, "role/e/secret-id", json!({})).await,
        "not found"
    );
}

#[tokio::test]
async fn secret_ids_are_destroyed_by_value_or_accessor() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/d", json!({})).await);
    let role_id = h.role_id("d").await;
    let one = h.secret_id("d", json!({})).await;
    let two = h.data(Update, "role/d/secret-id", json!({})).await;
    let (two, two_accessor) = (
        two["secret_id"].as_str().unwrap_or_default().to_string(),
        two["secret_id_accessor"].clone(),
    );
    assert_eq!(
        h.data(List, "role/d/secret-id", json!({})).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let looked = h
        .data(
            Update,
            "role/d/secret-id-accessor/lookup",
            json!({"secret_id_accessor": two_accessor}),
        )
        .await;
    assert_eq!(looked["secret_id_accessor"], two_accessor);
    assert!(
        h.no_content(
            Update,
            "role/d/secret-id/destroy",
            json!({"secret_id": one})
        )
        .await
    );
    assert!(
        h.no_content(
            Delete,
            "role/d/secret-id-accessor/destroy",
            json!({"secret_id_accessor": two_accessor})
        )
        .await
    );
    assert!(h.login(&role_id, &one).await.is_err());
    assert!(h.login(&role_id, &two).await.is_err());
    assert_eq!(
        h.err(List, "role/d/secret-id", json!({})).await,
        "not found"
    );
    assert!(
        h.no_content(
            Update,
            "role/d/secret-id/destroy",
            json!({"secret_id": "unknown"})
        )
        .await
    );
}

#[tokio::test]
async fn accessors_of_another_role_are_not_served() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/a", json!({})).await);
    assert!(h.no_content(Update, "role/b", json!({})).await);
    let issued = h.data(Update, "role/a/secret-id", json!({})).await;
    let accessor = issued["secret_id_accessor"].clone();
    assert_eq!(
        h.data(
            Update,
            "role/b/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor})
        )
        .await,
        Value::Null
    );
    assert_eq!(
        h.err(
            Update,
            "role/b/secret-id-accessor/destroy",
            json!({"secret_id_accessor": accessor})
        )
        .await,
        "invalid secret id accessor"
    );
}

#[tokio::test]
async fn secret_id_requests_for_a_missing_role_name_it() {
    let h = Harness::new().await;
    assert_eq!(
        h.err(Update, "role/Nope/secret-id", Value::Null).await,
        "role \"Nope\" does not exist"
    );
    assert_eq!(
        h.err(List, "role/nope/secret-id", json!({})).await,
        "role \"nope\" does not exist"
    );
}

#[tokio::test]
async fn deleting_a_role_revokes_its_secret_ids_and_role_id() {
    let h = Harness::new().await;
    assert!(
        h.no_content(Update, "role/gone", json!({"role_id": "rid"}))
            .await
    );
    let secret = h.secret_id("gone", json!({})).await;
    assert!(h.no_content(Delete, "role/gone", json!({})).await);
    assert!(h.login("rid", &secret).await.is_err());
    assert!(
        h.no_content(Update, "role/gone", json!({"role_id": "rid"}))
            .await
    );
    assert!(h.login("rid", &secret).await.is_err());
    assert_eq!(
        h.storage().list("accessor/").await.unwrap_or_default(),
        Vec::<String>::new()
    );
    assert!(h.no_content(Delete, "role/never", json!({})).await);
}
