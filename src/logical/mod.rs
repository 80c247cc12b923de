//! The logical layer between HTTP and the backends: a request is an operation
//! on a path with weakly typed data; a response is data, warnings, an auth
//! grant or a raw body. Backends see only these types, never HTTP.

mod duration;
pub mod envelope;
mod error;
mod fields;
pub mod framework;
mod glob;
mod path;
pub mod raw_route;
pub mod token;

pub use duration::{
    checked_seconds, parse_duration_seconds, parse_signed_duration_seconds, DurationError,
    GoDuration,
};
pub use error::{Error, Result};
pub use fields::{parse_bool, FieldData};
pub use glob::glob_match;
pub use path::{special_path_matches, Pattern};

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use self::token::{PreciseTimes, TokenEntry};
use crate::storage::StorageView;

/// What a request does, after Vault's mapping of HTTP methods to operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    List,
    /// POST/PUT on a path whose existence check said "absent".
    Create,
    /// POST/PUT (every write path without an existence check).
    Update,
    Patch,
    Delete,
    /// HEAD (Vault's `HeaderOperation`): served only by paths that declare
    /// it (ACME `new-nonce`); everywhere else it is refused with 405.
    Header,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::Header => "header",
        }
    }
}

/// Where the request came from: the TCP peer (AppRole CIDR checks) and, on a
/// TLS listener, the client's certificate chain (cert auth).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub remote_addr: Option<SocketAddr>,
    pub tls: bool,
    /// DER certificates the client presented, leaf first.
    pub peer_certificates: Arc<Vec<Vec<u8>>>,
}

/// The effective lease TTLs of the mount serving a request (system view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountTtls {
    pub default_ttl: i64,
    pub max_ttl: i64,
}

/// One request as a backend sees it.
pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// The path relative to the mount point (`roles/web`).
    pub path: String,
    /// The mount point the request was routed to (`pki/`, `auth/approle/`).
    pub mount_point: String,
    /// Values captured from the route pattern.
    pub params: HashMap<&'static str, String>,
    pub data: FieldData,
    /// A write's body of a non-JSON type, undecoded (`data` is then empty):
    /// the DER of `POST pki/ocsp` with `Content-Type: application/ocsp-request`.
    pub raw_body: Option<bytes::Bytes>,
    /// The token that made the request (absent on unauthenticated paths).
    pub token: Option<TokenEntry>,
    /// The caller's policies grant `sudo` on this path (a root token always
    /// does). Vault's token store asks this before minting privileged tokens.
    pub sudo_granted: bool,
    pub connection: Connection,
    pub storage: StorageView,
    pub ttls: MountTtls,
    /// The response wrapping the client asked for (`X-Vault-Wrap-TTL`).
    pub wrap: Option<WrapRequest>,
}

/// A client's request that the response come back wrapped in a
/// single-use token (`X-Vault-Wrap-TTL`, `X-Vault-Wrap-Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapRequest {
    /// Seconds the wrapping token lives (never 0: no wrapping then).
    pub ttl: i64,
    pub format: WrapFormat,
}

/// How the wrapping token is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WrapFormat {
    /// The token itself.
    #[default]
    Token,
    /// A JWT naming the token, signed by the server's wrapping key.
    Jwt,
}

/// A backend's demand that its response be wrapped whatever the client
/// asked (`sys/wrapping/rewrap` hands out a new token for an old one).
#[derive(Debug, Clone)]
pub struct ForcedWrap {
    pub ttl: i64,
    /// The `creation_path` the new token reports.
    pub creation_path: String,
    /// The wrapped response, already rendered (as the old token held it).
    pub body: String,
}

impl Request {
    /// A captured route parameter; the router guarantees its presence for
    /// the route it matched, so a miss is a backend bug reported as 500.
    pub fn param(&self, name: &str) -> Result<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::internal(format!("path {} has no parameter {name}", self.path)))
    }
}

/// A raw (non-JSON) response such as a PEM, DER or CRL body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The `Cache-Control` the backend asks for (Vault's
    /// `http_raw_cache_control`); `no-store` otherwise.
    pub cache_control: Option<String>,
}

/// A raw body made while it is sent (a snapshot): its pieces, or the
/// error that cut it short. The HTTP layer takes the receiver once.
#[derive(Clone)]
pub struct StreamedBody {
    pub content_type: &'static str,
    pieces: Arc<std::sync::Mutex<Option<StreamedPieces>>>,
}

pub type StreamedPieces = tokio::sync::mpsc::Receiver<std::result::Result<bytes::Bytes, String>>;

impl StreamedBody {
    pub fn new(content_type: &'static str, pieces: StreamedPieces) -> Self {
        StreamedBody {
            content_type,
            pieces: Arc::new(std::sync::Mutex::new(Some(pieces))),
        }
    }

    pub fn take(&self) -> Option<StreamedPieces> {
        self.pieces.lock().ok().and_then(|mut p| p.take())
    }
}

impl std::fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBody")
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// A lease attached to a response (PKI `generate_lease`).
#[derive(Debug, Clone)]
pub struct Lease {
    pub id: String,
    pub ttl: i64,
    pub renewable: bool,
}

/// What a login (or token creation) asks the core to grant. The core turns
/// it into a token, applying TTL caps, and renders Vault's `auth` object.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub policies: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub display_name: String,
    pub ttl: i64,
    pub max_ttl: i64,
    pub explicit_max_ttl: i64,
    pub period: i64,
    pub num_uses: i64,
    pub renewable: bool,
    pub no_default_policy: bool,
    pub bound_cidrs: Vec<String>,
    /// Token creation only: a caller-chosen token id (root tokens may do this).
    pub token_id: Option<String>,
    /// Logins are orphans; tokens created by tokens are children unless asked.
    pub orphan: bool,
    /// `service` or `batch`.
    pub token_type: Option<String>,
    /// Logins: the identity alias (an AppRole role ID, a certificate's CN,
    /// a JWT's user claim). Tokens of one alias share an `entity_id`.
    pub alias_name: Option<String>,
    /// Logins: the alias metadata the auth method sets (Kubernetes' service
    /// account, JWT's `claim_mappings`, AppRole's secret ID metadata); the
    /// alias keeps the latest login's.
    pub alias_metadata: BTreeMap<String, String>,
    /// Logins: the group names the auth method reports (JWT's
    /// `groups_claim`); the entity's external group memberships on the
    /// mount follow them.
    pub group_aliases: Option<Vec<String>>,
    /// Token creation through a token role: the role's name.
    pub token_role: Option<String>,
    /// The token's `path` when it is not the request's (a token role's
    /// `path_suffix` is appended to it).
    pub creation_path: Option<String>,
}

/// A backend's answer. `None` from a handler means 204 No Content (or 404
/// for reads and lists, as Vault does).
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub data: Option<Map<String, Value>>,
    pub warnings: Vec<String>,
    pub auth: Option<Auth>,
    pub lease: Option<Lease>,
    pub raw: Option<RawResponse>,
    /// A raw body streamed as it is made (`sys/storage/raft/snapshot`).
    pub streamed: Option<StreamedBody>,
    /// An explicit status for JSON responses (202 for `tidy`).
    pub status: Option<u16>,
    /// An `auth` object already rendered by the token store (token renewal:
    /// no new token is minted).
    pub renewed_auth: Option<Value>,
    /// Wrapping the backend demands.
    pub forced_wrap: Option<ForcedWrap>,
    /// HTTP headers (Vault's `logical.Response.Headers`): they reach the
    /// client only when the mount's `allowed_response_headers` names them.
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn data(data: Map<String, Value>) -> Self {
        Response {
            data: Some(data),
            ..Default::default()
        }
    }

    /// A LIST answer: `{"keys": [...]}` (an empty list becomes Vault's 404).
    pub fn list(keys: Vec<String>) -> Self {
        let mut data = Map::new();
        data.insert("keys".into(), Value::from(keys));
        Response::data(data)
    }

    pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            raw: Some(RawResponse {
                status,
                content_type: content_type.to_string(),
                body,
                cache_control: None,
            }),
            ..Default::default()
        }
    }

    pub fn auth(auth: Auth) -> Self {
        Response {
            auth: Some(auth),
            ..Default::default()
        }
    }

    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }

    /// A write's answer: its warnings, or nothing (204) without any.
    pub fn warnings(warnings: Vec<String>) -> Option<Response> {
        (!warnings.is_empty()).then(|| Response {
            warnings,
            ..Default::default()
        })
    }
}
