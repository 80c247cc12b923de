//! Unit tests of the AppRole backend, driven the way the core drives it:
//! route matching, the existence check turning writes into creates, then
//! the handler — against an in-memory store.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::logical::{Connection, FieldData, MountTtls, PathMatch};
use crate::storage::{MemoryStorage, Storage, StorageView};

const TTLS: MountTtls = MountTtls {
    default_ttl: 2_764_800,
    max_ttl: 2_764_800,
};

struct Harness {
    backend: AppRoleBackend,
    storage: StorageView,
    peer: SocketAddr,
}

impl Harness {
    fn new() -> Self {
        let store: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        Harness {
            backend: AppRoleBackend::new(Hasher::new(b"test-key")),
            storage: StorageView::new(store, "auth/uuid/"),
            peer: "127.0.0.1:50000".parse().unwrap_or_else(|_| unreachable!()),
        }
    }

    async fn call(&self, op: Operation, path: &str, body: Value) -> Result<Option<Response>> {
        let found = PathMatch::find(self.backend.paths(), path).ok_or(Error::UnsupportedPath)?;
        let mut req = Request {
            id: "req".into(),
            operation: op,
            path: path.into(),
            mount_point: "auth/approle/".into(),
            route: found.spec.pattern,
            params: found.params.clone(),
            data: FieldData::new(body.as_object().cloned().unwrap_or_default()),
            raw_body: None,
            token: None,
            sudo_granted: false,
            connection: Connection {
                remote_addr: Some(self.peer),
                ..Default::default()
            },
            storage: self.storage.clone(),
            ttls: TTLS,
        };
        if op == Update && found.spec.existence_check && !self.backend.exists(&mut req).await? {
            req.operation = Operation::Create;
        }
        if !found.supports(req.operation) {
            return Err(Error::UnsupportedOperation);
        }
        self.backend.handle(&mut req).await
    }

    async fn data(&self, op: Operation, path: &str, body: Value) -> Value {
        match self.call(op, path, body).await {
            Ok(Some(resp)) => json!(resp.data),
            Ok(None) => Value::Null,
            Err(e) => json!({ "error": e.to_string() }),
        }
    }

    async fn err(&self, op: Operation, path: &str, body: Value) -> String {
        match self.call(op, path, body).await {
            Err(e) => e.to_string(),
            Ok(_) => "no error".into(),
        }
    }

    async fn role_id(&self, role: &str) -> String {
        self.data(Read, &format!("role/{role}/role-id"), json!({}))
            .await["role_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn secret_id(&self, role: &str, body: Value) -> String {
        self.data(Update, &format!("role/{role}/secret-id"), body)
            .await["secret_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn login(&self, role_id: &str, secret_id: &str) -> Result<Auth> {
        let resp = self
            .call(
                Update,
                "login",
                json!({"role_id": role_id, "secret_id": secret_id}),
            )
            .await?;
        resp.and_then(|r| r.auth)
            .ok_or_else(|| Error::internal("no auth"))
    }
}

use crate::logical::Auth;

#[tokio::test]
async fn a_new_role_gets_vaults_defaults() {
    let h = Harness::new();
    assert!(matches!(
        h.call(Update, "role/web", Value::Null).await,
        Ok(None)
    ));
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
    let role_id = h.role_id("web").await;
    assert_eq!(role_id.len(), 36);
}

#[tokio::test]
async fn role_names_are_case_insensitive_and_validated() {
    let h = Harness::new();
    assert!(h.call(Update, "role/Cert-Manager", json!({})).await.is_ok());
    assert_eq!(
        h.data(List, "role", json!({})).await["keys"],
        json!(["cert-manager"])
    );
    assert!(h
        .data(Read, "role/CERT-MANAGER", json!({}))
        .await
        .is_object());
    for bad in ["-bad", "bad-", "a b", "a/b", "é"] {
        assert_eq!(
            h.err(Update, &format!("role/{bad}"), json!({})).await,
            "unsupported path",
            "{bad}"
        );
    }
    assert!(h.call(Update, "role/a", json!({})).await.is_ok());
    assert!(h.call(Update, "role/a.b-c_d", json!({})).await.is_ok());
}

#[tokio::test]
async fn the_existence_check_sees_roles_by_lower_cased_name() {
    let h = Harness::new();
    let found = PathMatch::find(h.backend.paths(), "role/Web");
    assert!(found.is_some_and(|f| f.spec.existence_check));
    assert!(h.call(Update, "role/web", json!({})).await.is_ok());
    let found = PathMatch::find(h.backend.paths(), "role/WEB").unwrap_or_else(|| unreachable!());
    let mut req = Request {
        id: String::new(),
        operation: Update,
        path: "role/WEB".into(),
        mount_point: "auth/approle/".into(),
        route: found.spec.pattern,
        params: found.params,
        data: FieldData::default(),
        raw_body: None,
        token: None,
        sudo_granted: false,
        connection: Connection::default(),
        storage: h.storage.clone(),
        ttls: TTLS,
    };
    assert_eq!(h.backend.exists(&mut req).await.ok(), Some(true));
}

#[tokio::test]
async fn a_role_needs_at_least_one_constraint() {
    let h = Harness::new();
    let err = h
        .err(Update, "role/x", json!({"bind_secret_id": "false"}))
        .await;
    assert_eq!(err, "at least one constraint should be enabled on the role");
    assert!(h
        .call(
            Update,
            "role/x",
            json!({"bind_secret_id": "false", "token_bound_cidrs": "10.0.0.0/8"})
        )
        .await
        .is_ok());
    assert!(h
        .call(
            Update,
            "role/y",
            json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"})
        )
        .await
        .is_ok());
}

#[tokio::test]
async fn token_ttl_may_not_exceed_token_max_ttl() {
    let h = Harness::new();
    let err = h
        .err(
            Update,
            "role/x",
            json!({"token_ttl": "3h", "token_max_ttl": "2h"}),
        )
        .await;
    assert_eq!(err, "'token_ttl' cannot be greater than 'token_max_ttl'");
    assert!(h
        .call(
            Update,
            "role/x",
            json!({"token_ttl": "1h", "token_max_ttl": "2h"})
        )
        .await
        .is_ok());
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
    let h = Harness::new();
    let resp = h
        .call(
            Update,
            "role/y",
            json!({"policies": "P1,p2", "period": "1h", "bound_cidr_list": "127.0.0.0/8"}),
        )
        .await;
    let warnings = resp.ok().flatten().map(|r| r.warnings).unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let role = h.data(Read, "role/y", json!({})).await;
    assert_eq!(role["policies"], json!(["p1", "p2"]));
    assert_eq!(role["token_policies"], json!(["p1", "p2"]));
    assert_eq!(role["period"], json!(3600));
    assert_eq!(role["token_period"], json!(3600));
    assert_eq!(role["secret_id_bound_cidrs"], json!(["127.0.0.0/8"]));
    assert!(h
        .call(Update, "role/y", json!({"token_policies": "z"}))
        .await
        .is_ok());
    let role = h.data(Read, "role/y", json!({})).await;
    assert!(role.get("policies").is_none());
    assert_eq!(role["token_policies"], json!(["z"]));
}

#[tokio::test]
async fn period_beyond_the_mount_max_is_refused_and_long_max_ttl_warned() {
    let h = Harness::new();
    let err = h.err(Update, "role/p", json!({"period": "800h"})).await;
    assert_eq!(
        err,
        "period of \"800h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\""
    );
    let resp = h
        .call(Update, "role/p", json!({"token_max_ttl": "800h"}))
        .await
        .ok()
        .flatten();
    assert_eq!(resp.map(|r| r.warnings.len()), Some(1));
}

#[tokio::test]
async fn local_secret_ids_is_create_only() {
    let h = Harness::new();
    assert!(h
        .call(Update, "role/l", json!({"local_secret_ids": "true"}))
        .await
        .is_ok());
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
    let h = Harness::new();
    assert!(h
        .call(Update, "role/a", json!({"role_id": "shared"}))
        .await
        .is_ok());
    assert_eq!(
        h.err(Update, "role/b", json!({"role_id": "shared"})).await,
        "role_id already in use"
    );
    assert!(h.call(Update, "role/b", json!({})).await.is_ok());
    assert_eq!(
        h.err(Update, "role/b/role-id", json!({"role_id": "shared"}))
            .await,
        "role_id already in use"
    );
    assert!(h
        .call(Update, "role/a/role-id", json!({"role_id": "moved"}))
        .await
        .is_ok());
    assert!(h
        .call(Update, "role/b/role-id", json!({"role_id": "shared"}))
        .await
        .is_ok());
    assert_eq!(h.role_id("b").await, "shared");
    assert_eq!(
        h.err(Update, "role/b/role-id", json!({})).await,
        "missing role_id"
    );
}

#[tokio::test]
async fn per_field_sub_paths_read_write_and_reset() {
    let h = Harness::new();
    assert!(h.call(Update, "role/f", json!({})).await.is_ok());
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
        assert!(
            matches!(h.call(Update, &path, body.clone()).await, Ok(None)),
            "{path}"
        );
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
    assert!(h
        .call(Delete, "role/f/token-max-ttl", json!({}))
        .await
        .is_ok());
    assert_eq!(
        h.data(Read, "role/f", json!({})).await["token_max_ttl"],
        json!(0)
    );
    assert!(h
        .call(Delete, "role/f/bind-secret-id", json!({}))
        .await
        .is_ok());
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
    assert!(matches!(
        h.call(Read, "role/nope/token-ttl", json!({})).await,
        Ok(None)
    ));
}

#[tokio::test]
async fn the_guide_flow_logs_in_with_the_roles_token_parameters() {
    let h = Harness::new();
    let body = json!({"token_policies": "cert-manager", "token_ttl": "1h", "token_max_ttl": "2h"});
    assert!(matches!(
        h.call(Update, "role/cert-manager", body).await,
        Ok(None)
    ));
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
    assert_eq!(auth.policies, vec!["cert-manager"]);
    assert_eq!((auth.ttl, auth.max_ttl), (3600, 7200));
    assert_eq!(
        auth.metadata.get("role_name").map(String::as_str),
        Some("cert-manager")
    );
    assert!(auth.renewable && auth.orphan && auth.display_name.is_empty());
}

#[tokio::test]
async fn secret_ids_are_stored_only_as_keyed_hashes() {
    let h = Harness::new();
    assert!(h
        .call(Update, "role/r", json!({"role_id": "my-role-id"}))
        .await
        .is_ok());
    let secret = h.secret_id("r", json!({})).await;
    let custom = h
        .data(
            Update,
            "role/r/custom-secret-id",
            json!({"secret_id": "my-custom-secret"}),
        )
        .await;
    assert_eq!(custom["secret_id"], json!("my-custom-secret"));
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        for key in h.storage.list(&prefix).await.unwrap_or_default() {
            let full = format!("{prefix}{key}");
            if full.ends_with('/') {
                stack.push(full);
                continue;
            }
            assert!(
                !full.contains(&secret)
                    && !full.contains("my-custom-secret")
                    && !full.contains("my-role-id")
            );
            let bytes = h
                .storage
                .get(&full)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&secret) && !text.contains("my-custom-secret"),
                "{full}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn login_errors_use_vaults_texts() {
    let h = Harness::new();
    assert!(h.call(Update, "role/r", json!({})).await.is_ok());
    let role_id = h.role_id("r").await;
    let err = |r: Result<Auth>| r.err().map(|e| e.to_string()).unwrap_or_default();
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
    let other = {
        assert!(h.call(Update, "role/other", json!({})).await.is_ok());
        h.secret_id("other", json!({})).await
    };
    assert_eq!(
        err(h.login(&role_id, &other).await),
        "invalid role or secret ID"
    );
}

#[tokio::test]
async fn a_secret_id_with_n_uses_logs_in_n_times() {
    let h = Harness::new();
    assert!(h
        .call(Update, "role/r", json!({"secret_id_num_uses": 5}))
        .await
        .is_ok());
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
    let resp = h
        .call(
            Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await;
    assert_eq!(resp.ok().flatten().and_then(|r| r.status), Some(404));
}

#[tokio::test]
async fn secret_id_bounds_come_from_the_role() {
    let h = Harness::new();
    let role = json!({"secret_id_num_uses": 3, "secret_id_ttl": "1h", "secret_id_bound_cidrs": "10.0.0.0/8"});
    assert!(h.call(Update, "role/b", role).await.is_ok());
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
    let h = Harness::new();
    assert!(h.call(Update, "role/t", json!({})).await.is_ok());
    let issued = h
        .data(Update, "role/t/secret-id", json!({"ttl": "1000h"}))
        .await;
    assert_eq!(issued["secret_id_ttl"], json!(2_764_800));
}

#[tokio::test]
async fn secret_id_metadata_is_a_json_string_and_reaches_the_token() {
    let h = Harness::new();
    assert!(h.call(Update, "role/m", json!({})).await.is_ok());
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
    assert_eq!(auth.metadata.get("tag").map(String::as_str), Some("x"));
    assert_eq!(
        auth.metadata.get("role_name").map(String::as_str),
        Some("m")
    );
    let kv = h.secret_id("m", json!({"metadata": "a=b, c=d"})).await;
    let looked = h
        .data(Update, "role/m/secret-id/lookup", json!({"secret_id": kv}))
        .await;
    assert_eq!(looked["metadata"], json!({"a": "b", "c": "d"}));
    assert!(h
        .err(Update, "role/m/secret-id", json!({"metadata": "garbage"}))
        .await
        .starts_with("failed to parse metadata: failed to parse the input"));
}

#[tokio::test]
async fn an_expired_secret_id_is_refused_and_removed() {
    let h = Harness::new();
    assert!(h.call(Update, "role/e", json!({})).await.is_ok());
    let role_id = h.role_id("e").await;
    let secret = h.secret_id("e", json!({"ttl": 1})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = h
        .login(&role_id, &secret)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("invalid role or secret ID"));
    assert!(
        matches!(h.call(List, "role/e/secret-id", json!({})).await, Ok(Some(r)) if r.data.as_ref().is_some_and(|d| d["keys"] == json!([])))
    );
}

#[tokio::test]
async fn cidr_bounds_are_checked_against_the_tcp_peer() {
    let mut h = Harness::new();
    assert!(h
        .call(
            Update,
            "role/c",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"})
        )
        .await
        .is_ok());
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
    // A refused login does not consume a use.
    h.peer = "[::ffff:10.1.2.3]:4000"
        .parse()
        .unwrap_or_else(|_| unreachable!());
    assert!(h.login(&role_id, &secret).await.is_ok());

    assert!(h.call(Update, "role/s", json!({})).await.is_ok());
    let role_id = h.role_id("s").await;
    let secret = h
        .secret_id("s", json!({"cidr_list": "192.168.0.0/16"}))
        .await;
    let err = h
        .login(&role_id, &secret)
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
    let h = Harness::new();
    assert!(h
        .call(
            Update,
            "role/t",
            json!({"token_bound_cidrs": "127.0.0.0/8"})
        )
        .await
        .is_ok());
    let role_id = h.role_id("t").await;
    let plain = h.secret_id("t", json!({})).await;
    assert_eq!(
        h.login(&role_id, &plain).await.map(|a| a.bound_cidrs).ok(),
        Some(vec!["127.0.0.0/8".to_string()])
    );
    let narrow = h
        .secret_id("t", json!({"token_bound_cidrs": "127.0.0.1/32"}))
        .await;
    assert_eq!(
        h.login(&role_id, &narrow).await.map(|a| a.bound_cidrs).ok(),
        Some(vec!["127.0.0.1".to_string()])
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
    let h = Harness::new();
    let body = json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"});
    assert!(h.call(Update, "role/n", body).await.is_ok());
    let role_id = h.role_id("n").await;
    assert!(h.login(&role_id, "").await.is_ok());
    assert_eq!(
        h.err(Update, "role/n/secret-id", json!({})).await,
        "bind_secret_id is not set on the role"
    );
}

#[tokio::test]
async fn secret_ids_are_destroyed_by_value_or_accessor() {
    let h = Harness::new();
    assert!(h.call(Update, "role/d", json!({})).await.is_ok());
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
    assert!(matches!(
        h.call(
            Update,
            "role/d/secret-id/destroy",
            json!({"secret_id": one})
        )
        .await,
        Ok(None)
    ));
    assert!(matches!(
        h.call(
            Delete,
            "role/d/secret-id-accessor/destroy",
            json!({"secret_id_accessor": two_accessor})
        )
        .await,
        Ok(None)
    ));
    assert!(h.login(&role_id, &one).await.is_err());
    assert!(h.login(&role_id, &two).await.is_err());
    assert_eq!(
        h.data(List, "role/d/secret-id", json!({})).await["keys"],
        json!([])
    );
    assert!(matches!(
        h.call(
            Update,
            "role/d/secret-id/destroy",
            json!({"secret_id": "unknown"})
        )
        .await,
        Ok(None)
    ));
}

#[tokio::test]
async fn accessors_of_another_role_are_not_served() {
    let h = Harness::new();
    assert!(h.call(Update, "role/a", json!({})).await.is_ok());
    assert!(h.call(Update, "role/b", json!({})).await.is_ok());
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
    let h = Harness::new();
    assert_eq!(
        h.err(Update, "role/Nope/secret-id", Value::Null).await,
        "role \"Nope\" does not exist"
    );
    assert_eq!(
        h.err(List, "role/nope/secret-id", json!({})).await,
        "role \"nope\" does not exist"
    );
    assert!(matches!(
        h.call(Read, "role/nope/role-id", json!({})).await,
        Ok(None)
    ));
}

#[tokio::test]
async fn deleting_a_role_revokes_its_secret_ids_and_role_id() {
    let h = Harness::new();
    assert!(h
        .call(Update, "role/gone", json!({"role_id": "rid"}))
        .await
        .is_ok());
    let secret = h.secret_id("gone", json!({})).await;
    assert!(matches!(
        h.call(Delete, "role/gone", json!({})).await,
        Ok(None)
    ));
    assert!(h.login("rid", &secret).await.is_err());
    assert!(h
        .call(Update, "role/gone", json!({"role_id": "rid"}))
        .await
        .is_ok());
    assert!(h.login("rid", &secret).await.is_err());
    assert_eq!(
        h.storage.list("accessor/").await.unwrap_or_default(),
        Vec::<String>::new()
    );
    assert!(matches!(
        h.call(Delete, "role/never", json!({})).await,
        Ok(None)
    ));
}

#[tokio::test]
async fn tidy_removes_expired_secret_ids_in_the_background() {
    let h = Harness::new();
    assert!(h.call(Update, "role/t", json!({})).await.is_ok());
    let _short = h.secret_id("t", json!({"ttl": 1})).await;
    let _long = h.secret_id("t", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = h
        .call(Update, "tidy/secret-id", Value::Null)
        .await
        .ok()
        .flatten();
    assert_eq!(resp.as_ref().and_then(|r| r.status), Some(202));
    assert_eq!(resp.map(|r| r.warnings.len()), Some(1));
    for _ in 0..50 {
        if h.storage.list("accessor/").await.unwrap_or_default().len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.data(List, "role/t/secret-id", json!({})).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn concurrent_logins_never_overspend_a_secret_id() {
    let h = Arc::new(Harness::new());
    assert!(h.call(Update, "role/c", json!({})).await.is_ok());
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

#[test]
fn times_print_like_go() {
    assert_eq!(rfc3339_nanos(0), "0001-01-01T00:00:00Z");
    assert_eq!(
        rfc3339_nanos(1_795_831_184_294_865_228),
        "2026-11-28T01:59:44.294865228Z"
    );
    assert_eq!(
        rfc3339_nanos(1_795_831_184_000_000_000),
        "2026-11-28T01:59:44Z"
    );
    assert_eq!(
        rfc3339_nanos(1_795_831_184_500_000_000),
        "2026-11-28T01:59:44.5Z"
    );
}
