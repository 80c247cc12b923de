//! The whole request path in-process: HTTP request → decoder → core
//! (token, ACL, router) → backends (system, token store, PKI, AppRole) on a
//! dev core with a PKI mount, a root CA, a role and an AppRole mount set up
//! once. The fuzzer picks a method, a known path prefix plus a fuzzed
//! suffix, a token and a body. Properties: no panic, never a 500.
//! State persists across inputs (like a real server), so a crash may need
//! the inputs before it to reproduce; the message names the request.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use vaultlet::core::Core;
use vaultlet::http::{router, AppState};
use vaultlet::storage::MemoryStorage;

const ROOT: &str = "root";
const PATHS: [&str; 24] = [
    "sys/policy/", "sys/policies/acl/", "sys/mounts/", "sys/auth/", "sys/capabilities-self",
    "sys/capabilities", "sys/internal/ui/mounts/", "sys/health", "sys/seal-status", "sys/audit-hash/",
    "auth/token/create", "auth/token/lookup", "auth/token/renew-self", "auth/token/roles/",
    "pki/roles/", "pki/issue/web", "pki/sign/web", "pki/revoke", "pki/cert/", "pki/config/urls",
    "pki/root/generate/internal", "pki/issuer/", "auth/approle/role/", "auth/approle/login",
];
const METHODS: [&str; 6] = ["GET", "LIST", "POST", "PUT", "DELETE", "PATCH"];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    path: u8,
    suffix: &'a str,
    query: &'a str,
    root_token: bool,
    body: &'a [u8],
}

struct Stack {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let app = rt.block_on(async {
            let core: Arc<Core> = Core::open_dev(Arc::new(MemoryStorage::default()))
                .await
                .expect("core");
            core.initialize(1, 1, Some(ROOT.to_string())).await.expect("init");
            let app = router(AppState {
                core,
                limits: Default::default(),
                unauthenticated_metrics: false,
                ui: false,
                cluster: Default::default(),
                cluster_port: false,
            });
            for (path, body) in [
                ("sys/mounts/pki", r#"{"type":"pki"}"#),
                ("pki/root/generate/internal", r#"{"common_name":"root","key_type":"ec","ttl":"87600h"}"#),
                ("pki/roles/web", r#"{"allow_any_name":true,"key_type":"any","ttl":"1h"}"#),
                ("sys/auth/approle", r#"{"type":"approle"}"#),
                ("auth/approle/role/r", r#"{"token_policies":"default"}"#),
            ] {
                let req = Request::builder()
                    .method("PUT")
                    .uri(format!("/v1/{path}"))
                    .header("x-vault-token", ROOT)
                    .body(Body::from(body))
                    .expect("request");
                let resp = app.clone().oneshot(req).await.expect("infallible");
                assert!(resp.status().is_success(), "setup {path}: {}", resp.status());
            }
            app
        });
        Stack { rt, app }
    })
}

fuzz_target!(|input: Input<'_>| {
    let stack = stack();
    let method = METHODS[input.method as usize % METHODS.len()];
    let base = PATHS[input.path as usize % PATHS.len()];
    // Never seal, step down or rotate the shared server away.
    let suffix: String = input.suffix.chars().filter(|c| !c.is_control()).collect();
    let uri = if input.query.is_empty() {
        format!("/v1/{base}{suffix}")
    } else {
        format!("/v1/{base}{suffix}?{}", input.query)
    };
    let Ok(uri) = uri.parse::<axum::http::Uri>() else { return };
    if uri.path().contains("seal") && !uri.path().contains("seal-status") {
        return;
    }
    let mut builder = Request::builder().method(method).uri(uri.clone());
    if input.root_token {
        builder = builder.header("x-vault-token", ROOT);
    }
    if method == "PATCH" {
        builder = builder.header("content-type", "application/merge-patch+json");
    }
    let Ok(req) = builder.body(Body::from(input.body.to_vec())) else { return };
    let resp = stack.rt.block_on(stack.app.clone().oneshot(req)).expect("infallible");
    let status = resp.status();
    if status.is_server_error() && status.as_u16() != 503 {
        let body = stack
            .rt
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .unwrap_or_default();
        panic!(
            "{method} {uri} → {status}: {}\nbody: {:?}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(input.body)
        );
    }
});
