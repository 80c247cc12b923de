//! Target setup (its own PKI mount, roles and AppRole, at random paths) and
//! the prepared request of every scenario.

use bytes::Bytes;
use serde_json::{json, Value};

use super::client::{Api, Call};

pub const ALL: &[&str] = &[
    "sign",
    "sign-intermediate",
    "issue-ec256",
    "issue-rsa2048",
    "approle-login",
    "transit-encrypt",
    "transit-sign",
    "health",
    "acme",
];

/// Whether `no_store` applies to a scenario.
pub fn has_store_variant(scenario: &str) -> bool {
    matches!(scenario, "sign" | "issue-ec256" | "issue-rsa2048")
}

/// What was created on the target, for cleanup.
pub struct Fixture {
    pub mount: String,
    pub approle: Option<String>,
    /// A transit mount with an `aes256-gcm96` key `aes` and an
    /// `ecdsa-p256` key `ec`.
    pub transit: String,
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// A P-256 CSR (PEM) for `cn`.
pub fn p256_csr(cn: &str) -> Result<String, String> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![cn.to_string()]).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(|e| e.to_string())
}

impl Fixture {
    /// Mounts PKI at a random path with an EC P-256 root and the roles.
    pub async fn create(api: &Api, with_approle: bool) -> Result<Fixture, String> {
        let mount = format!("bench-pki-{}", random_suffix());
        api.post(
            &format!("sys/mounts/{mount}"),
            json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}}),
        )
        .await?;
        let mut fixture = Fixture {
            mount: mount.clone(),
            approle: None,
            transit: format!("bench-transit-{}", random_suffix()),
        };
        match fixture.populate(api, with_approle).await {
            Ok(()) => Ok(fixture),
            Err(e) => {
                fixture.remove(api).await;
                Err(e)
            }
        }
    }

    async fn populate(&mut self, api: &Api, with_approle: bool) -> Result<(), String> {
        let mount = &self.mount.clone();
        api.post(
            &format!("{mount}/root/generate/internal"),
            json!({"common_name": "vaultlet-bench root", "key_type": "ec", "key_bits": 256, "ttl": "87000h"}),
        )
        .await?;
        for (name, key_type, bits) in [("sign", "ec", 256), ("ec", "ec", 256), ("rsa", "rsa", 2048)]
        {
            for no_store in [false, true] {
                let role = format!("{name}-{}", if no_store { "nostore" } else { "store" });
                api.post(
                    &format!("{mount}/roles/{role}"),
                    json!({
                        "allow_any_name": true,
                        "enforce_hostnames": false,
                        "key_type": key_type,
                        "key_bits": bits,
                        "ttl": "1h",
                        "max_ttl": "24h",
                        "no_store": no_store,
                        "generate_lease": false,
                    }),
                )
                .await?;
            }
        }
        let transit = &self.transit;
        api.post(&format!("sys/mounts/{transit}"), json!({"type": "transit"}))
            .await?;
        api.post(
            &format!("{transit}/keys/aes"),
            json!({"type": "aes256-gcm96"}),
        )
        .await?;
        api.post(&format!("{transit}/keys/ec"), json!({"type": "ecdsa-p256"}))
            .await?;
        if with_approle {
            let path = format!("bench-approle-{}", random_suffix());
            api.post(&format!("sys/auth/{path}"), json!({"type": "approle"}))
                .await?;
            self.approle = Some(path);
        }
        Ok(())
    }

    /// Enables ACME on the mount the documented way (cluster path, the
    /// mount tuning for its headers, config/acme) with a role `acme` for
    /// stored P-256 certificates; returns the role's directory URL.
    pub async fn enable_acme(&self, api: &Api) -> Result<String, String> {
        let mount = &self.mount;
        let path = format!("{}/v1/{mount}", api.base);
        api.post(&format!("{mount}/config/cluster"), json!({ "path": path }))
            .await?;
        api.post(
            &format!("sys/mounts/{mount}/tune"),
            json!({
                "allowed_response_headers": ["Last-Modified", "Location", "Replay-Nonce", "Link"],
                "passthrough_request_headers": ["If-Modified-Since"],
            }),
        )
        .await?;
        api.post(
            &format!("{mount}/roles/acme"),
            json!({
                "allow_any_name": true,
                "key_type": "ec",
                "key_bits": 256,
                "ttl": "1h",
                "max_ttl": "24h",
                "no_store": false,
            }),
        )
        .await?;
        api.post(&format!("{mount}/config/acme"), json!({"enabled": true}))
            .await?;
        Ok(format!("{path}/roles/acme/acme/directory"))
    }

    pub async fn remove(&self, api: &Api) {
        let _ = api.delete(&format!("sys/mounts/{}", self.mount)).await;
        let _ = api.delete(&format!("sys/mounts/{}", self.transit)).await;
        if let Some(path) = &self.approle {
            let _ = api.delete(&format!("sys/auth/{path}")).await;
        }
    }

    /// The requests of one scenario, prepared before the clock starts
    /// (CSRs generated, bodies encoded). Workers cycle through them.
    pub async fn calls(
        &self,
        api: &Api,
        scenario: &str,
        no_store: bool,
    ) -> Result<Vec<Call>, String> {
        let suffix = if no_store { "nostore" } else { "store" };
        let post = |path: String, body: Value| Call {
            method: hyper::Method::POST,
            path,
            body: Some(Bytes::from(serde_json::to_vec(&body).unwrap_or_default())),
            auth: true,
        };
        let mount = &self.mount;
        match scenario {
            "sign" => {
                let mut calls = Vec::new();
                for i in 0..64 {
                    let cn = format!("bench-{i}.example.com");
                    calls.push(post(
                        format!("{mount}/sign/sign-{suffix}"),
                        json!({"csr": p256_csr(&cn)?, "common_name": cn, "ttl": "1h"}),
                    ));
                }
                Ok(calls)
            }
            "sign-intermediate" => {
                let mut calls = Vec::new();
                for i in 0..16 {
                    let cn = format!("bench intermediate {i}");
                    calls.push(post(
                        format!("{mount}/root/sign-intermediate"),
                        json!({"csr": p256_csr(&cn)?, "common_name": cn, "ttl": "1h"}),
                    ));
                }
                Ok(calls)
            }
            "issue-ec256" | "issue-rsa2048" => {
                let role = if scenario == "issue-ec256" {
                    "ec"
                } else {
                    "rsa"
                };
                Ok((0..64)
                    .map(|i| {
                        post(
                            format!("{mount}/issue/{role}-{suffix}"),
                            json!({"common_name": format!("bench-{i}.example.com"), "ttl": "1h"}),
                        )
                    })
                    .collect())
            }
            "approle-login" => {
                let path = self
                    .approle
                    .as_ref()
                    .ok_or("approle-login needs the AppRole fixture")?;
                api.post(
                    &format!("auth/{path}/role/bench"),
                    json!({"token_ttl": "1h", "token_max_ttl": "2h", "token_policies": "default", "secret_id_num_uses": 0}),
                )
                .await?;
                let role_id = api.get(&format!("auth/{path}/role/bench/role-id")).await?["data"]
                    ["role_id"]
                    .as_str()
                    .ok_or("no role_id")?
                    .to_string();
                let secret_id = api
                    .post(&format!("auth/{path}/role/bench/secret-id"), json!({}))
                    .await?["data"]["secret_id"]
                    .as_str()
                    .ok_or("no secret_id")?
                    .to_string();
                let mut call = post(
                    format!("auth/{path}/login"),
                    json!({"role_id": role_id, "secret_id": secret_id}),
                );
                call.auth = false;
                Ok(vec![call])
            }
            // 1 KiB of plaintext per request, different in each call.
            "transit-encrypt" => Ok((0..64u8)
                .map(|i| {
                    let plaintext = base64_of(&[i; 1024]);
                    post(
                        format!("{}/encrypt/aes", self.transit),
                        json!({ "plaintext": plaintext }),
                    )
                })
                .collect()),
            "transit-sign" => Ok((0..64u8)
                .map(|i| {
                    post(
                        format!("{}/sign/ec", self.transit),
                        json!({ "input": base64_of(&[i; 32]) }),
                    )
                })
                .collect()),
            "health" => Ok(vec![Call {
                method: hyper::Method::GET,
                path: "sys/health".into(),
                body: None,
                auth: false,
            }]),
            other => Err(format!(
                "unknown scenario {other:?} (known: {})",
                ALL.join(", ")
            )),
        }
    }
}
