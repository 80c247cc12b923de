//! A property of the whole core: whatever token fields an auth method's
//! role holds, a login never yields a token with the `root` policy. Run in
//! process (the core itself, every auth method's real backend) so that
//! many random roles can be tried; the protocol tests in `privilege.rs`
//! show the same refusal over HTTP.

mod auth_support;

use std::sync::Arc;

use auth_support::{now, Signer};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use vaultlet::core::{Core, LogicalInput};
use vaultlet::logical::{Connection, Error, Operation};
use vaultlet::storage::MemoryStorage;

/// Policy names a role may list: `root` in disguise among ordinary ones.
const POLICY_NAMES: &[&str] = &[
    "root", "ROOT", " root ", "Root", "rooT ", "default", "web", "rootx", "root-ish", "",
];

fn policy_lists() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(POLICY_NAMES), 0..4)
        .prop_map(|names| names.into_iter().map(str::to_string).collect())
}

/// Vault's token fields every auth method's role takes.
fn token_fields() -> impl Strategy<Value = Map<String, Value>> {
    (
        policy_lists(),
        any::<bool>(),
        prop::sample::select(vec![0i64, 60, 3600]),
        prop::sample::select(vec![0i64, 7200]),
        prop::sample::select(vec![0i64, 1800]),
        prop::sample::select(vec![0i64, 5]),
        any::<bool>(),
    )
        .prop_map(
            |(policies, no_default, ttl, max_ttl, period, num_uses, as_text)| {
                let policies = if as_text {
                    json!(policies.join(","))
                } else {
                    json!(policies)
                };
                let fields = json!({
                    "token_policies": policies,
                    "token_no_default_policy": no_default,
                    "token_ttl": ttl,
                    "token_max_ttl": max_ttl,
                    "token_period": period,
                    "token_num_uses": num_uses,
                });
                fields.as_object().cloned().unwrap_or_default()
            },
        )
}

/// Would Vault's sanitising of these policies leave `root` among them?
fn asks_for_root(fields: &Map<String, Value>) -> bool {
    let names: Vec<String> = match &fields["token_policies"] {
        Value::String(text) => text.split(',').map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    names.iter().any(|n| n.trim().eq_ignore_ascii_case("root"))
}

struct Harness {
    core: Arc<Core>,
    runtime: tokio::runtime::Runtime,
    jwt_key: Signer,
    client_cert: Vec<u8>,
    client_cert_pem: String,
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let core = runtime.block_on(async {
            Core::open_dev(Arc::new(MemoryStorage::default()), Some("root".into()))
                .await
                .expect("core")
                .core
        });
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["client.example".into()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client.example");
        let cert = params.self_signed(&key).expect("cert");
        let harness = Harness {
            core,
            runtime,
            jwt_key: Signer::ec(),
            client_cert: cert.der().to_vec(),
            client_cert_pem: cert.pem(),
        };
        harness.setup();
        harness
    }

    fn call(
        &self,
        operation: Operation,
        path: &str,
        token: Option<&str>,
        data: Value,
    ) -> Result<Option<Value>, Error> {
        let connection = Connection {
            tls: true,
            peer_certificates: Arc::new(vec![self.client_cert.clone()]),
            ..Default::default()
        };
        let input = LogicalInput {
            operation,
            path: path.to_string(),
            trailing_slash: false,
            data: data.as_object().cloned().unwrap_or_default(),
            raw_body: None,
            token: token.map(str::to_string),
            connection,
            audited_headers: Default::default(),
            wrap: None,
        };
        self.runtime
            .block_on(self.core.handle(input))
            .map(|out| out.auth)
    }

    fn root_write(&self, path: &str, data: Value) {
        self.call(Operation::Update, path, Some("root"), data)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    fn setup(&self) {
        for kind in ["approle", "jwt", "kubernetes", "cert"] {
            self.root_write(&format!("sys/auth/{kind}"), json!({ "type": kind }));
        }
        let pem = self.jwt_key.public_pem();
        self.root_write(
            "auth/jwt/config",
            json!({"jwt_validation_pubkeys": [pem.clone()]}),
        );
        self.root_write("auth/kubernetes/config", json!({"pem_keys": [pem]}));
        self.root_write(
            "sys/policies/acl/web",
            json!({"policy": "path \"x\" { capabilities = [\"read\"] }"}),
        );
    }

    /// Writes the role with these token fields on every auth method and
    /// logs in through each: (method, login outcome).
    fn logins(&self, fields: &Map<String, Value>) -> Vec<(&'static str, Result<Value, Error>)> {
        let mut out = Vec::new();
        let with = |extra: Value| {
            let mut body = fields.clone();
            body.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(body)
        };

        self.root_write("auth/approle/role/r", with(json!({})));
        let role_id = self
            .read("auth/approle/role/r/role-id")
            .and_then(|d| d["role_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let secret_id = self
            .write_data("auth/approle/role/r/secret-id")
            .and_then(|d| d["secret_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        out.push((
            "approle",
            self.login(
                "auth/approle/login",
                json!({"role_id": role_id, "secret_id": secret_id}),
            ),
        ));

        self.root_write(
            "auth/jwt/role/r",
            with(json!({"role_type": "jwt", "bound_audiences": ["vault"], "user_claim": "sub"})),
        );
        let jwt = self.jwt_key.sign(
            &json!({"sub": "alice", "aud": "vault", "iat": now(), "exp": now() + 300}),
            None,
        );
        out.push((
            "jwt",
            self.login("auth/jwt/login", json!({"role": "r", "jwt": jwt})),
        ));

        self.root_write(
            "auth/kubernetes/role/r",
            with(json!({"bound_service_account_names": ["sa"], "bound_service_account_namespaces": ["ns"]})),
        );
        let sa = self.jwt_key.sign(
            &json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "ns",
                "kubernetes.io/serviceaccount/secret.name": "sa-token-abcde",
                "kubernetes.io/serviceaccount/service-account.name": "sa",
                "kubernetes.io/serviceaccount/service-account.uid": "uid-1",
                "sub": "system:serviceaccount:ns:sa",
            }),
            None,
        );
        out.push((
            "kubernetes",
            self.login("auth/kubernetes/login", json!({"role": "r", "jwt": sa})),
        ));

        self.root_write(
            "auth/cert/certs/r",
            with(json!({"certificate": self.client_cert_pem})),
        );
        out.push(("cert", self.login("auth/cert/login", json!({"name": "r"}))));
        out
    }

    fn read(&self, path: &str) -> Option<Value> {
        self.data(Operation::Read, path)
    }

    fn write_data(&self, path: &str) -> Option<Value> {
        self.data(Operation::Update, path)
    }

    fn data(&self, operation: Operation, path: &str) -> Option<Value> {
        let input = LogicalInput {
            operation,
            path: path.to_string(),
            trailing_slash: false,
            data: Map::new(),
            raw_body: None,
            token: Some("root".into()),
            connection: Connection::default(),
            audited_headers: Default::default(),
            wrap: None,
        };
        self.runtime
            .block_on(self.core.handle(input))
            .ok()
            .and_then(|out| out.response.data.map(Value::Object))
    }

    fn login(&self, path: &str, data: Value) -> Result<Value, Error> {
        self.call(Operation::Update, path, None, data)
            .map(|auth| auth.unwrap_or(Value::Null))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_role_of_any_auth_method_logs_in_as_root(fields in token_fields()) {
        thread_local! {
            static HARNESS: Harness = Harness::new();
        }
        HARNESS.with(|harness| {
            for (method, outcome) in harness.logins(&fields) {
                match outcome {
                    Ok(auth) => {
                        let policies = auth["policies"].as_array().cloned().unwrap_or_default();
                        prop_assert!(
                            !policies.iter().any(|p| p == "root"),
                            "{method} issued a root token for {fields:?}"
                        );
                        prop_assert!(!asks_for_root(&fields), "{method} accepted {fields:?}");
                    }
                    Err(err) => {
                        prop_assert!(asks_for_root(&fields), "{method} refused {fields:?}: {err}");
                        prop_assert_eq!(err.to_string(), "auth methods cannot create root tokens");
                    }
                }
            }
            Ok(())
        })?;
    }
}
