//! The ACME server (RFC 8555) of a PKI mount, as Vault serves it: four
//! directory families (`acme/`, `issuer/:ref/acme/`, `roles/:role/acme/`,
//! `issuer/:ref/roles/:role/acme/`), unauthenticated in Vault's token
//! model and authenticated by JWS instead; see
//! https://developer.hashicorp.com/vault/docs/secrets/pki/acme.
//!
//! Each request passes [`Directory::open`] (ACME enabled, cluster path
//! set, role and issuer allowed by `config/acme`), then, for the JWS
//! endpoints, [`verify`] (nonce, `url`, signature, account), then its
//! endpoint module; failures are [`problem::Problem`]s.

mod account;
mod authz;
pub mod config;
pub mod eab;
mod jws;
mod nonce;
mod order;
mod problem;
mod revoke;
mod state;
pub mod tidy;
mod validate;

use std::sync::Arc;

use serde_json::{json, Value};

use super::roles::Role;
use super::{config as pki_config, PkiBackend};
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Operation, Request, Response, Result};
use crate::storage::StorageView;
use config::{AcmeConfig, DefaultPolicy};
use jws::{Jwk, Signer};
use problem::{AcmeResult, Kind, Problem};
use state::{Account, AccountStatus};

/// ACME state that lives in memory: nonces, and the lock that orders
/// read-modify-write of orders and authorizations (client requests and
/// background validation).
#[derive(Default)]
pub struct AcmeState {
    nonces: nonce::Nonces,
    lock: tokio::sync::Mutex<()>,
}

/// The endpoints under a directory prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    NewAccount,
    Account,
    NewOrder,
    Order,
    Orders,
    Finalize,
    Cert,
    Authorization,
    Challenge,
    RevokeCert,
}

/// The flattened JWS members every ACME POST carries.
const JWS_FIELDS: &[Field] = &[
    Field::string("protected"),
    Field::string("payload"),
    Field::string("signature"),
];

const CAPTURES: &[(&str, Capture)] = &[("role", Capture::Name)];

macro_rules! acme_paths {
    ($prefix:literal) => {
        &[
            Path::new(concat!($prefix, "directory"))
                .captures(CAPTURES)
                .unauthenticated()
                .read(handler!(directory)),
            Path::new(concat!($prefix, "new-nonce"))
                .captures(CAPTURES)
                .unauthenticated()
                .read(handler!(new_nonce))
                .head(handler!(new_nonce)),
            Path::new(concat!($prefix, "new-eab"))
                .captures(CAPTURES)
                .update(handler!(eab::new_eab)),
            acme_paths!(@post $prefix, "new-account", NewAccount),
            acme_paths!(@post $prefix, "account/:kid", Account),
            acme_paths!(@post $prefix, "account/:kid/orders", Orders),
            acme_paths!(@post $prefix, "new-order", NewOrder),
            acme_paths!(@post $prefix, "orders", Orders),
            acme_paths!(@post $prefix, "order/:order_id", Order),
            acme_paths!(@post $prefix, "order/:order_id/finalize", Finalize),
            acme_paths!(@post $prefix, "order/:order_id/cert", Cert),
            acme_paths!(@post $prefix, "authorization/:auth_id", Authorization),
            acme_paths!(@post $prefix, "challenge/:auth_id/:challenge_type", Challenge),
            acme_paths!(@post $prefix, "revoke-cert", RevokeCert),
        ]
    };
    (@post $prefix:literal, $path:literal, $endpoint:ident) => {
        Path::new(concat!($prefix, $path))
            .captures(CAPTURES)
            .fields(&[JWS_FIELDS])
            .unauthenticated()
            .answers(crate::logical::framework::Answer::Raw("application/json"))
            .update(handler!(b, r => serve(b, r, Endpoint::$endpoint)))
    };
}

pub(super) const DEFAULT_PATHS: &[Path<PkiBackend>] = acme_paths!("acme/");
pub(super) const ISSUER_PATHS: &[Path<PkiBackend>] = acme_paths!("issuer/:issuer_ref/acme/");
pub(super) const ROLE_PATHS: &[Path<PkiBackend>] = acme_paths!("roles/:role/acme/");
pub(super) const ISSUER_ROLE_PATHS: &[Path<PkiBackend>] =
    acme_paths!("issuer/:issuer_ref/roles/:role/acme/");

/// `key-change`: Vault lists it in the directory and among the mount's
/// unauthenticated paths but serves nothing there, so a client's key
/// rollover gets 404 `unsupported path` (OpenBao 2.7.2 answers the same).
pub(super) const UNSERVED: &[&str] = &[
    "acme/key-change",
    "issuer/+/acme/key-change",
    "roles/+/acme/key-change",
    "issuer/+/roles/+/acme/key-change",
];

/// One directory as a request reaches it: the mount's ACME policy applied
/// to the role and issuer the path names.
pub struct Directory {
    pub storage: StorageView,
    pub config: AcmeConfig,
    /// `acme/`, `roles/web/acme/`, ...
    pub prefix: String,
    /// `config/cluster` `path` joined with the prefix: where URLs point.
    pub base: String,
    /// The URL of this request (what the JWS `url` must say).
    pub url: String,
    /// The role ACME issues under (a sign-verbatim role when none).
    pub role: Arc<Role>,
    /// The role's name in messages (`sign-verbatim` when none).
    pub role_name: String,
    pub issuer_ref: String,
    pub ttls: crate::logical::MountTtls,
    /// The PKI mount, as metrics label it.
    pub mount_point: String,
}

/// Why a request never reaches ACME: Vault answers a disabled mount with
/// a bare 404.
enum Closed {
    Disabled,
    Problem(Problem),
}

impl From<Problem> for Closed {
    fn from(p: Problem) -> Closed {
        Closed::Problem(p)
    }
}

impl Directory {
    async fn open(backend: &PkiBackend, req: &Request) -> std::result::Result<Directory, Closed> {
        let storage = req.storage.clone();
        let config = config::load(&storage).await.map_err(Problem::from)?;
        if !config.enabled {
            return Err(Closed::Disabled);
        }
        let cluster = pki_config::read_cluster(&storage)
            .await
            .map_err(Problem::from)?;
        if cluster.path.is_empty() {
            return Err(Problem::internal(
                "ACME feature requires local cluster 'path' field configuration to be set",
            )
            .into());
        }
        let issuer_param = req.params.get("issuer_ref").cloned();
        let role_param = req.params.get("role").cloned();
        let prefix = directory_prefix(req);
        let root = cluster.path.trim_end_matches('/');
        let any_role = config.allowed_roles.iter().any(|r| r == "*");
        let named = match (&role_param, config.default_policy()) {
            (Some(name), _) => {
                if !any_role && !config.allowed_roles.contains(name) {
                    return Err(
                        Problem::internal("specified role not allowed by ACME policy").into(),
                    );
                }
                Some(name.clone())
            }
            (None, DefaultPolicy::Forbid) => {
                return Err(
                    Problem::internal("default directory not allowed by ACME policy").into(),
                )
            }
            (None, DefaultPolicy::Role(name)) => Some(name),
            (None, DefaultPolicy::SignVerbatim) => None,
        };
        let (role, role_name) = match named {
            Some(name) => {
                let role = backend
                    .role(&storage, &name)
                    .await
                    .map_err(Problem::from)?
                    .ok_or_else(|| Problem::after(Kind::Malformed, "role does not exist"))?;
                ((*role).clone(), name)
            }
            None => (Role::permissive(), "sign-verbatim".to_string()),
        };
        if role.no_store {
            return Err(Problem::internal("role can not be used as NoStore is set to true").into());
        }
        let issuer_ref = issuer_param.unwrap_or_else(|| {
            if role.issuer_ref.is_empty() {
                "default".into()
            } else {
                role.issuer_ref.clone()
            }
        });
        if !config.allowed_issuers.iter().any(|i| i == "*") {
            let set = backend.issuers(&storage).await.map_err(Problem::from)?;
            let wanted = set.resolve(&issuer_ref).map(|i| i.entry.id.clone());
            let allowed = config
                .allowed_issuers
                .iter()
                .any(|a| set.resolve(a).map(|i| i.entry.id.clone()) == wanted && wanted.is_some());
            if !allowed {
                return Err(
                    Problem::internal("specified issuer not allowed by ACME policy").into(),
                );
            }
        }
        Ok(Directory {
            base: format!("{root}/{prefix}"),
            url: format!("{root}/{}", req.path.trim_end_matches('/')),
            prefix,
            role: Arc::new(acme_role(role, &config)),
            role_name,
            issuer_ref,
            ttls: req.ttls,
            mount_point: req.mount_point.clone(),
            storage,
            config,
        })
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn account_url(&self, kid: &str) -> String {
        self.link(&format!("account/{kid}"))
    }
}

/// The directory prefix a request's path names: `acme/`,
/// `issuer/:ref/acme/`, `roles/:role/acme/` or
/// `issuer/:ref/roles/:role/acme/`.
fn directory_prefix(req: &Request) -> String {
    let mut prefix = String::new();
    if let Some(issuer) = req.params.get("issuer_ref") {
        prefix.push_str(&format!("issuer/{issuer}/"));
    }
    if let Some(role) = req.params.get("role") {
        prefix.push_str(&format!("roles/{role}/"));
    }
    prefix.push_str("acme/");
    prefix
}

/// The role as ACME issues under it: unless `allow_role_ext_key_usage`,
/// certificates are for TLS servers only (Vault's rule).
fn acme_role(mut role: Role, config: &AcmeConfig) -> Role {
    if !config.allow_role_ext_key_usage {
        role.server_flag = true;
        role.client_flag = false;
        role.code_signing_flag = false;
        role.email_protection_flag = false;
        role.ext_key_usage = Vec::new();
        role.ext_key_usage_oids = Vec::new();
    }
    role
}

/// The body of a successful ACME answer.
enum Body {
    Json(Value),
    Pem(String),
}

/// A successful ACME answer, before the common headers are added.
pub struct Reply {
    status: u16,
    body: Body,
    location: Option<String>,
    /// `Link: <...>;rel="up"` (challenges point at their authorization).
    up: Option<String>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Body::Json(body),
            location: None,
            up: None,
        }
    }

    fn pem(text: String) -> Reply {
        Reply {
            status: 200,
            body: Body::Pem(text),
            location: None,
            up: None,
        }
    }

    fn at(mut self, location: String) -> Reply {
        self.location = Some(location);
        self
    }

    fn up(mut self, url: String) -> Reply {
        self.up = Some(url);
        self
    }
}

/// A verified request: its payload and the account it acts for.
pub struct Call {
    pub payload: Option<Value>,
    pub signer: Signer,
    /// The account named by `kid` (None when signed with a `jwk`).
    pub account: Option<Account>,
    /// The `jwk` member as the client wrote it (None with a `kid`).
    pub jwk_text: Option<String>,
}

impl Call {
    /// The valid account this request acts for (Vault's rules for every
    /// endpoint but new-account and revoke-cert).
    fn account(&self) -> AcmeResult<&Account> {
        let account = self
            .account
            .as_ref()
            .ok_or_else(|| Problem::malformed("cannot process request without a 'kid'"))?;
        if account.status != AccountStatus::Valid {
            return Err(Problem::new(
                Kind::Unauthorized,
                format!("account in status: {}", status_name(account.status)),
            ));
        }
        Ok(account)
    }
}

fn status_name(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Valid => "valid",
        AccountStatus::Deactivated => "deactivated",
        AccountStatus::Revoked => "revoked",
    }
}

/// `directory`: where the other endpoints are.
async fn directory(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let dir = match Directory::open(backend, req).await {
        Ok(dir) => dir,
        Err(closed) => return Ok(Some(closed_response(closed))),
    };
    let body = json!({
        "keyChange": dir.link("key-change"),
        "meta": {"externalAccountRequired": dir.config.eab_required()},
        "newAccount": dir.link("new-account"),
        "newNonce": dir.link("new-nonce"),
        "newOrder": dir.link("new-order"),
        "revokeCert": dir.link("revoke-cert"),
    });
    Ok(Some(Response::raw(
        200,
        "application/json",
        serde_json::to_vec(&body).unwrap_or_default(),
    )))
}

/// `new-nonce`: HEAD answers 200, GET 204 (RFC 8555 §7.2).
async fn new_nonce(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let dir = match Directory::open(backend, req).await {
        Ok(dir) => dir,
        Err(closed) => return Ok(Some(closed_response(closed))),
    };
    let status = if req.operation == Operation::Header {
        200
    } else {
        204
    };
    let mut resp = Response::raw(status, "", Vec::new());
    add_common_headers(backend, &dir, &mut resp, None);
    Ok(Some(resp))
}

fn closed_response(closed: Closed) -> Response {
    match closed {
        Closed::Disabled => Response::raw(404, "application/json", Vec::new()),
        Closed::Problem(p) => p.into_response(),
    }
}

fn add_common_headers(
    backend: &PkiBackend,
    dir: &Directory,
    resp: &mut Response,
    up: Option<&str>,
) {
    resp.headers
        .push(("Replay-Nonce", backend.acme.nonces.issue()));
    let mut link = format!("<{}>;rel=\"index\"", dir.link("directory"));
    if let Some(up) = up {
        link.push_str(&format!(",<{up}>;rel=\"up\""));
    }
    resp.headers.push(("Link", link));
}

/// Every JWS endpoint: open the directory, verify the request, serve it.
async fn serve(
    backend: &PkiBackend,
    req: &mut Request,
    endpoint: Endpoint,
) -> Result<Option<Response>> {
    let dir = match Directory::open(backend, req).await {
        Ok(dir) => dir,
        Err(closed) => return Ok(Some(closed_response(closed))),
    };
    let outcome = match verify(backend, &dir, req).await {
        Ok(call) => dispatch(backend, &dir, req, endpoint, call).await,
        Err(p) => Err(p),
    };
    let reply = match outcome {
        Ok(reply) => reply,
        Err(problem) => return Ok(Some(problem.into_response())),
    };
    let (content_type, body) = match reply.body {
        Body::Json(v) => (
            "application/json",
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        Body::Pem(text) => ("application/pem-certificate-chain", text.into_bytes()),
    };
    let mut resp = Response::raw(reply.status, content_type, body);
    add_common_headers(backend, &dir, &mut resp, reply.up.as_deref());
    if let Some(location) = reply.location {
        resp.headers.push(("Location", location));
    }
    Ok(Some(resp))
}

async fn dispatch(
    backend: &PkiBackend,
    dir: &Directory,
    req: &Request,
    endpoint: Endpoint,
    call: Call,
) -> AcmeResult<Reply> {
    match endpoint {
        Endpoint::NewAccount => account::new_account(backend, dir, call).await,
        Endpoint::Account => account::update(dir, req.param("kid")?, call).await,
        Endpoint::NewOrder => order::new_order(backend, dir, call).await,
        Endpoint::Order => order::get(backend, dir, req.param("order_id")?, call).await,
        Endpoint::Orders => order::list(backend, dir, call).await,
        Endpoint::Finalize => order::finalize(backend, dir, req.param("order_id")?, call).await,
        Endpoint::Cert => order::certificate(backend, dir, req.param("order_id")?, call).await,
        Endpoint::Authorization => authz::get(backend, dir, req.param("auth_id")?, call).await,
        Endpoint::Challenge => {
            let (id, kind) = (req.param("auth_id")?, req.param("challenge_type")?);
            authz::challenge(backend, dir, id, kind, call).await
        }
        Endpoint::RevokeCert => revoke::revoke(backend, dir, call).await,
    }
}

/// Vault's order of checks: the nonce is spent first (so a request that
/// fails later still burns it), then the `url`, then the key and the
/// signature.
async fn verify(backend: &PkiBackend, dir: &Directory, req: &Request) -> AcmeResult<Call> {
    let parsed = jws::parse(req.data.raw())?;
    if !backend.acme.nonces.redeem(&parsed.nonce) {
        return Err(Problem::new(Kind::BadNonce, "invalid or reused nonce"));
    }
    if parsed.url != dir.url {
        return Err(Problem::new(
            Kind::Unauthorized,
            format!(
                "invalid value for 'url' in 'protected': got '{}' expected '{}'",
                parsed.url, dir.url
            ),
        ));
    }
    let (key, account): (Jwk, Option<Account>) = match &parsed.signer {
        Signer::Jwk(jwk) => (jwk.clone(), None),
        Signer::Kid(kid) => {
            let id = kid.rsplit('/').next().unwrap_or_default();
            let account = state::account(&dir.storage, id)
                .await?
                .ok_or_else(|| Problem::new(Kind::AccountDoesNotExist, "account not found"))?;
            if account.directory != dir.prefix {
                return Err(Problem::malformed(
                    "account part of different ACME directory path",
                ));
            }
            eab::enforce_for_existing(dir, &account)?;
            (account.jwk.clone(), Some(account))
        }
    };
    let verified = parsed.verify(&key)?;
    Ok(Call {
        payload: verified.payload,
        signer: verified.signer,
        account,
        jwk_text: verified.jwk_text,
    })
}

/// The payload as an object (an absent payload is an empty one).
fn object(payload: &Option<Value>) -> AcmeResult<serde_json::Map<String, Value>> {
    match payload {
        None => Ok(serde_json::Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Problem::malformed("payload is not a JSON object")),
    }
}

impl From<crate::logical::Error> for Closed {
    fn from(e: crate::logical::Error) -> Closed {
        Closed::Problem(e.into())
    }
}
