//! Unit tests of AppRole driven through the real core (routing with its
//! capture rules, field validation, the existence check, ACLs, lockout and
//! token issuance) on in-memory storage: Vault's texts and the edge cases
//! the protocol tests in `tests/approle.rs` do not spell out.

mod logins;
mod roles;
mod secret_ids;
mod tidy;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::core::{Core, LogicalInput, LogicalOutput};
use crate::logical::{Connection, Operation, Result};
use crate::storage::{MemoryStorage, StorageView};

use Operation::{List, Read, Update};

const ROOT: &str = "root";
const MOUNT: &str = "auth/approle/";

/// A dev core with AppRole mounted at `auth/approle/`.
struct Harness {
    core: Arc<Core>,
}

/// The TCP peer requests come from unless a test says otherwise.
fn local_peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000))
}

impl Harness {
    async fn new() -> Harness {
        let core = Core::open_dev(Arc::new(MemoryStorage::default()), Some(ROOT.into()))
            .await
            .expect("dev core")
            .core;
        let h = Harness { core };
        h.request(
            Update,
            "sys/auth/approle",
            Some(ROOT),
            local_peer(),
            json!({"type": "approle"}),
        )
        .await
        .expect("enable approle");
        h
    }

    async fn request(
        &self,
        operation: Operation,
        path: &str,
        token: Option<&str>,
        peer: SocketAddr,
        body: Value,
    ) -> Result<LogicalOutput> {
        self.core
            .handle(LogicalInput {
                operation,
                path: path.to_string(),
                trailing_slash: false,
                data: body.as_object().cloned().unwrap_or_default(),
                raw_body: None,
                token: token.map(str::to_string),
                connection: Connection {
                    remote_addr: Some(peer),
                    ..Default::default()
                },
                audited_headers: Default::default(),
                wrap: None,
            })
            .await
    }

    /// A request to the mount with the root token.
    async fn call(&self, op: Operation, path: &str, body: Value) -> Result<LogicalOutput> {
        self.request(
            op,
            &format!("{MOUNT}{path}"),
            Some(ROOT),
            local_peer(),
            body,
        )
        .await
    }

    /// The answer's `data` (null for a 204), or `{"error": text}`.
    async fn data(&self, op: Operation, path: &str, body: Value) -> Value {
        match self.call(op, path, body).await {
            Ok(out) if out.empty => Value::Null,
            Ok(out) => json!(out.response.data),
            Err(e) => json!({ "error": e.to_string() }),
        }
    }

    /// The error's text, or "no error".
    async fn err(&self, op: Operation, path: &str, body: Value) -> String {
        match self.call(op, path, body).await {
            Err(e) => e.to_string(),
            Ok(_) => "no error".into(),
        }
    }

    /// Whether a write succeeded with 204 No Content.
    async fn no_content(&self, op: Operation, path: &str, body: Value) -> bool {
        matches!(self.call(op, path, body).await, Ok(out) if out.empty)
    }

    /// The answer's warnings (none for an error).
    async fn warnings(&self, op: Operation, path: &str, body: Value) -> Vec<String> {
        self.call(op, path, body)
            .await
            .map(|out| out.response.warnings)
            .unwrap_or_default()
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

    /// Logs in (no token) from `peer`: the rendered `auth` object.
    async fn login_from(&self, peer: SocketAddr, role_id: &str, secret_id: &str) -> Result<Value> {
        let out = self
            .request(
                Update,
                &format!("{MOUNT}login"),
                None,
                peer,
                json!({"role_id": role_id, "secret_id": secret_id}),
            )
            .await?;
        Ok(out.auth.unwrap_or_default())
    }

    async fn login(&self, role_id: &str, secret_id: &str) -> Result<Value> {
        self.login_from(local_peer(), role_id, secret_id).await
    }

    /// `auth/token/lookup` of a token, as root.
    async fn lookup_token(&self, token: &Value) -> Value {
        let out = self
            .request(
                Update,
                "auth/token/lookup",
                Some(ROOT),
                local_peer(),
                json!({ "token": token }),
            )
            .await;
        out.map(|o| json!(o.response.data)).unwrap_or_default()
    }

    /// The mount's storage view.
    fn storage(&self) -> StorageView {
        let (mounted, _) = self.core.mounts.route(MOUNT).expect("approle is mounted");
        mounted.storage.clone()
    }

    /// Every key under the mount's storage view.
    async fn stored_keys(&self) -> Vec<String> {
        let storage = self.storage();
        let (mut keys, mut folders) = (Vec::new(), vec![String::new()]);
        while let Some(prefix) = folders.pop() {
            for key in storage.list(&prefix).await.unwrap_or_default() {
                let full = format!("{prefix}{key}");
                if full.ends_with('/') {
                    folders.push(full);
                } else {
                    keys.push(full);
                }
            }
        }
        keys
    }
}

#[tokio::test]
async fn list_operations_answer_keys_or_not_found() {
    let h = Harness::new().await;
    assert_eq!(h.err(List, "role", json!({})).await, "not found");
    assert!(h.no_content(Update, "role/web", json!({})).await);
    assert_eq!(
        h.data(List, "role", json!({})).await["keys"],
        json!(["web"])
    );
}
