//! Kubernetes auth (`auth/kubernetes/`, HashiCorp's
//! `vault-plugin-auth-kubernetes`): a service-account JWT logs in against a
//! role binding service-account names and namespaces. The token's claims
//! are checked here (legacy secret tokens and projected tokens alike), its
//! signature locally when `pem_keys` is configured, and then the API
//! server's TokenReview decides, exactly as Vault does.
//!
//! **vaultlet extension:** when `pem_keys` is set and `kubernetes_host` is
//! empty, local verification alone decides: the signature must verify with
//! one of `pem_keys`, the claims must pass the same checks, and no
//! TokenReview is made (for labs and tests without access to the API
//! server). Vault refuses a config without `kubernetes_host`; vaultlet
//! refuses it only when `pem_keys` is empty too. Revoked or deleted
//! service-account tokens cannot be detected in that mode.
//!
//! Outside a pod the service-account files are simply absent: the config is
//! accepted without them (Vault fails the write), and TokenReview then uses
//! the login JWT as its bearer and trusts only `kubernetes_ca_cert`.

mod config;
mod login;
mod review;
mod roles;

use crate::logical::framework::{Backend, Path};

#[derive(Default)]
pub struct KubernetesBackend;

impl KubernetesBackend {
    pub fn new() -> Self {
        KubernetesBackend
    }
}

impl Backend for KubernetesBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[login::PATHS, config::PATHS, roles::PATHS];
}
