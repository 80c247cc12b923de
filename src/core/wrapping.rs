//! Response wrapping, as Vault does it: a response is rendered as the
//! client would have received it and kept in the cubbyhole of a new
//! single-use token (the `response-wrapping` policy, no parent); the client
//! gets only that token's `wrap_info`. Unwrapping spends the token's one use
//! (the use count's lock decides between concurrent unwraps) and revoking
//! it destroys the cubbyhole. See
//! <https://developer.hashicorp.com/vault/docs/concepts/response-wrapping>.

use serde_json::{json, Map, Value};

use super::mounts::MountClass;
use super::token::REVOCATION_PENDING;
use super::{Core, LogicalOutput};
use crate::logical::TokenEntry;
use crate::logical::{envelope, Error, Result, WrapFormat};
use crate::storage::StorageView;
use crate::util::gotime::{now_nanos, rfc3339_nano};

/// The only policy of a wrapping token.
pub const WRAPPING_POLICY: &str = "response-wrapping";

/// The policy's rules: read the response (the old way), unwrap, give up.
pub const WRAPPING_POLICY_HCL: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}
"#;

/// Cubbyhole entries of a wrapping token: the rendered response, and what
/// `sys/wrapping/lookup` tells.
const RESPONSE_KEY: &str = "response";
const WRAPINFO_KEY: &str = "wrapinfo";

/// The paths that take a wrapping token, checked before authentication.
const TAKES_WRAPPING_TOKEN: &[&str] = &[
    "sys/wrapping/lookup",
    "sys/wrapping/unwrap",
    "sys/wrapping/rewrap",
];

/// Vault's answer for a token that is not a live wrapping token.
pub fn invalid_wrapping_token() -> Error {
    Error::bad_request("wrapping token is not valid or does not exist")
}

/// What to wrap and how.
pub struct Wrapping<'a> {
    pub ttl: i64,
    pub format: WrapFormat,
    /// The request path, reported as `creation_path`.
    pub creation_path: &'a str,
    /// The response as already rendered (rewrapping keeps the old one);
    /// `None` renders the output's.
    pub body: Option<String>,
}

impl Wrapping<'_> {
    /// Whether this asks for a wrapping token the server cannot make.
    fn check(&self) -> Result<()> {
        match self.format {
            WrapFormat::Token => Ok(()),
            WrapFormat::Jwt => Err(Error::bad_request(
                "the JWT response-wrapping format is not supported by vaultlet",
            )),
        }
    }
}

impl Core {
    /// The storage of every token's cubbyhole.
    fn cubbyholes(&self) -> Result<StorageView> {
        self.mounts
            .find(MountClass::Secret, "cubbyhole/")
            .map(|m| m.storage)
            .ok_or_else(|| Error::internal("the cubbyhole mount is missing"))
    }

    /// Wraps a response: a new wrapping token holds it in its cubbyhole,
    /// and the output carries only the token's `wrap_info`.
    pub(super) async fn wrap(
        &self,
        mut output: LogicalOutput,
        wrapping: Wrapping<'_>,
    ) -> Result<LogicalOutput> {
        wrapping.check()?;
        let body = match wrapping.body {
            Some(body) => body,
            None => envelope::render(envelope::Parts {
                request_id: &output.request_id,
                response: &output.response,
                auth: output.auth.as_ref(),
                wrap_info: None,
                mount_type: &output.mount_type,
            })
            .to_string(),
        };
        let created_nanos = now_nanos();
        let token = self
            .tokens
            .create_wrapping(wrapping.ttl, wrapping.creation_path)
            .await?;
        let creation_time = rfc3339_nano(created_nanos).unwrap_or_default();
        let cubbyholes = self.cubbyholes()?;
        let prefix = &token.hashed_id;
        cubbyholes
            .put_json(
                &format!("{prefix}/{RESPONSE_KEY}"),
                &json!({ "response": body }),
            )
            .await?;
        cubbyholes
            .put_json(
                &format!("{prefix}/{WRAPINFO_KEY}"),
                &json!({
                    "creation_ttl": token.creation_ttl,
                    "creation_time": creation_time,
                    "creation_path": wrapping.creation_path,
                }),
            )
            .await?;
        let mut wrap_info = json!({
            "token": token.id,
            "accessor": token.accessor,
            "ttl": token.creation_ttl,
            "creation_time": creation_time,
            "creation_path": wrapping.creation_path,
        });
        // The accessor of what was wrapped: a new token's, or an AppRole
        // secret ID's.
        let wrapped_accessor = output
            .auth
            .as_ref()
            .and_then(|a| a.get("accessor"))
            .or_else(|| {
                output
                    .response
                    .data
                    .as_ref()
                    .and_then(|d| d.get("secret_id_accessor"))
            })
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty());
        if let (Some(accessor), Some(map)) = (wrapped_accessor, wrap_info.as_object_mut()) {
            map.insert("wrapped_accessor".into(), json!(accessor));
        }
        output.response = Default::default();
        output.auth = None;
        output.empty = false;
        output.wrap_info = Some(wrap_info);
        Ok(output)
    }

    /// Vault's check of the wrapping token named by a request to
    /// `sys/wrapping/{lookup,unwrap,rewrap}`, made before anything else:
    /// the body's `token`, else the request's own token, must be a live
    /// wrapping token.
    pub(super) async fn check_wrapping_request(
        &self,
        path: &str,
        data: &Map<String, Value>,
        presented: Option<&TokenEntry>,
        presented_id: Option<&str>,
    ) -> Result<()> {
        if !takes_wrapping_token(path) {
            return Ok(());
        }
        let validation =
            |why: &str| Error::Forbidden(format!("error validating wrapping token: {why}"));
        let entry = match data.get("token") {
            Some(Value::String(token)) if token.is_empty() => {
                return Err(validation("empty token in request body"))
            }
            Some(Value::String(token)) => self.tokens.lookup(token).await?,
            Some(Value::Null) | None => {
                if presented_id.is_none_or(str::is_empty) {
                    return Err(validation("token is empty"));
                }
                presented.cloned()
            }
            Some(_) => return Err(validation("could not decode token in request body")),
        };
        match entry {
            Some(entry) if is_wrapping_token(&entry) => Ok(()),
            _ => Err(invalid_wrapping_token()),
        }
    }

    /// The live wrapping token a `sys/wrapping/*` handler was given.
    pub async fn wrapping_token(&self, token: &str) -> Result<TokenEntry> {
        match self.tokens.lookup(token).await? {
            Some(entry) if is_wrapping_token(&entry) => Ok(entry),
            _ => Err(invalid_wrapping_token()),
        }
    }

    /// Spends the one use of a wrapping token given in a request body; of
    /// concurrent callers exactly one succeeds. The caller revokes the
    /// token when done ([`Core::discard_wrapping_token`]).
    pub async fn spend_wrapping_token(&self, entry: &TokenEntry) -> Result<()> {
        match self.tokens.use_token(entry).await {
            Ok(REVOCATION_PENDING) => Ok(()),
            Ok(_) | Err(Error::AclDenied { .. }) => Err(invalid_wrapping_token()),
            Err(err) => Err(err),
        }
    }

    /// Revokes a spent wrapping token, destroying its cubbyhole.
    pub async fn discard_wrapping_token(&self, entry: &TokenEntry) -> Result<()> {
        self.tokens.revoke_tree(entry).await
    }

    /// The response a wrapping token holds, as rendered when wrapped.
    pub async fn wrapped_response(&self, entry: &TokenEntry) -> Result<String> {
        let stored: Option<Value> = self
            .cubbyholes()?
            .get_json(&format!("{}/{RESPONSE_KEY}", entry.hashed_id))
            .await?;
        stored
            .as_ref()
            .and_then(|v| v.get("response"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::bad_request(
                    "no information found; wrapping token may be from a previous Vault version",
                )
            })
    }

    /// What `sys/wrapping/lookup` tells of a wrapping token.
    pub async fn wrapping_info(&self, entry: &TokenEntry) -> Result<Map<String, Value>> {
        let stored: Option<Map<String, Value>> = self
            .cubbyholes()?
            .get_json(&format!("{}/{WRAPINFO_KEY}", entry.hashed_id))
            .await?;
        stored.ok_or_else(invalid_wrapping_token)
    }
}

/// Whether a path takes a wrapping token (in its body or as the request's
/// token), checked before authentication.
pub fn takes_wrapping_token(path: &str) -> bool {
    TAKES_WRAPPING_TOKEN.contains(&path.trim_end_matches('/'))
}

/// A token that exists only to hold a wrapped response.
pub fn is_wrapping_token(entry: &TokenEntry) -> bool {
    entry.policies.len() == 1 && entry.policies[0] == WRAPPING_POLICY
}
