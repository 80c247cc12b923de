//! The request pipeline, one named stage after another in the order Vault
//! runs them:
//!
//! 1. [`route`](Core::route): the mount (longest prefix) and the path in it;
//! 2. [`authenticate`](Core::authenticate): the presented token, looked up
//!    once per request (the audit record uses the same lookup);
//! 3. [`existence_check`](Core::existence_check): a write becomes `create`
//!    or `update` for the ACL;
//! 4. [`authorize`](Core::authorize): the ACL, and `sudo` on root-protected
//!    paths;
//! 5. [`count_use`](Core::count_use): one use of a limited-use token;
//! 6. [`call`](Core::call): user lockout, field validation, the handler;
//! 7. [`post_process`](Core::post_process): Vault's answers for empty reads
//!    and lists, warnings for unknown fields, token issuance for logins,
//!    response wrapping;
//!
//! with the audit record written before and after. A token's last use
//! revokes it once the request is done.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::{json, Value};

use super::audit::{AuditRequest, AuditedResponse};
use super::mounts::{MountClass, MountPass, MountRef, Mounted};
use super::policy::Capability;
use super::token::{Creator, TokenOrigin, REVOCATION_PENDING};
use super::wrapping::Wrapping;
use super::{Core, LogicalInput, LogicalOutput};
use crate::logical::framework::{Fields, Route};
use crate::logical::TokenEntry;
use crate::logical::{
    special_path_matches, Auth, Error, FieldData, Operation, Request, Response, Result, WrapFormat,
};
use crate::secrets::identity::model::AuthMount;
use crate::storage::WriteAttempts;
use crate::util::gotime::now_unix;
use crate::util::ids;

/// The token a request presented, looked up once.
enum Presented {
    /// No token (or an empty one).
    None,
    /// A token that is unknown, expired or revoked.
    Invalid,
    Live(Box<TokenEntry>),
}

/// Where a request was routed.
struct Routed {
    mounted: MountRef,
    /// The request's path within the mount.
    path: String,
    /// The backend path serving it, if any.
    route: Option<Route>,
    /// Held until the request is done: a move or an unmount of the mount
    /// waits for it.
    _pass: MountPass,
}

impl Routed {
    fn unauthenticated(&self) -> bool {
        self.mounted
            .backend
            .unauthenticated(self.route.as_ref(), &self.path)
    }
}

impl Core {
    /// Runs one request through the pipeline, recording it on the audit
    /// devices (if any) before and after.
    pub async fn handle(&self, input: LogicalInput) -> Result<LogicalOutput> {
        // The active's (the HTTP layer sends it there): what the paths do
        // not declare, and a wrapped answer (its token is stored).
        if self.is_standby()
            && (input.wrap.is_some() || !self.standby_serves(&input.path, input.operation))
        {
            return Err(Error::ReadOnly);
        }
        if self.is_sealed() {
            return Err(Error::Sealed);
        }
        let started = Instant::now();
        let in_flight = InFlight::enter(&self.metrics);
        let result = self.handle_audited(input).await;
        drop(in_flight);
        self.metrics.handle_request.record(started.elapsed());
        result
    }

    async fn handle_audited(&self, mut input: LogicalInput) -> Result<LogicalOutput> {
        // `.` and `..` reach here only escaped (`%2e%2e`); no backend has
        // a use for them and storage keys may not contain them.
        if input.path.split('/').any(|s| s == "." || s == "..") {
            return Err(Error::bad_request("relative paths not supported"));
        }
        // A standby serves with the active's latest state.
        if self.is_standby() {
            self.standby_sync().await?;
            // The view may have been reloaded meanwhile.
            if !self.standby_serves(&input.path, input.operation) {
                return Err(Error::ReadOnly);
            }
        }
        let request_id = ids::uuid();
        let presented = self.presented(input.token.as_deref()).await?;
        if !self.audit.is_enabled() {
            return self.run(input, presented, request_id).await;
        }
        let (path, data, connection, client_token) = (
            input.path.clone(),
            input.data.clone(),
            input.connection.clone(),
            input.token.clone(),
        );
        let headers = std::mem::take(&mut input.audited_headers);
        let token = match &presented {
            Presented::Live(entry) => Some((**entry).clone()),
            _ => None,
        };
        let audit_req = AuditRequest {
            id: &request_id,
            operation: input.operation,
            path: &path,
            data: &data,
            client_token: client_token.as_deref(),
            token: token.as_ref(),
            connection: &connection,
            headers: &headers,
        };
        let audit_started = Instant::now();
        self.audit
            .log_request(&audit_req, None)
            .inspect_err(|_| self.metrics.audit_log_request_failure.inc())?;
        self.metrics
            .audit_log_request
            .record(audit_started.elapsed());
        let result = self.run(input, presented, request_id.clone()).await;
        let audit_started = Instant::now();
        let logged = match &result {
            Ok(out) => self.audit.log_response(
                &audit_req,
                &out.mount_type,
                Some(AuditedResponse {
                    data: &out.response.data,
                    auth: &out.auth,
                    warnings: &out.response.warnings,
                    wrap_info: out.wrap_info.as_ref(),
                }),
                None,
            ),
            Err(err) => self
                .audit
                .log_response(&audit_req, "", None, Some(&err.to_string())),
        };
        logged.inspect_err(|_| self.metrics.audit_log_response_failure.inc())?;
        self.metrics
            .audit_log_response
            .record(audit_started.elapsed());
        result
    }

    /// The stages, in order.
    async fn run(
        &self,
        input: LogicalInput,
        presented: Presented,
        request_id: String,
    ) -> Result<LogicalOutput> {
        let full_path = input.path.clone();
        let presented_entry = match &presented {
            Presented::Live(entry) => Some(&**entry),
            _ => None,
        };
        self.check_wrapping_request(
            &full_path,
            &input.data,
            presented_entry,
            input.token.as_deref(),
        )
        .await?;
        let mut routed = match self.route(&full_path).await {
            Some(routed) => routed,
            None if self.is_standby() => return Err(Error::ReadOnly),
            None => return Err(self.no_route(&input, &presented).await),
        };
        if input.trailing_slash {
            if let Some(route) = routed.route.as_mut() {
                route.keep_trailing_slash();
            }
        }
        let token = self.authenticate(&routed, presented, &input)?;
        // On a standby the backend sees the store read-only; a write it
        // tries sends the request to the active, whatever the backend
        // made of the refusal.
        let writes = WriteAttempts::default();
        let storage = if self.is_standby() {
            routed.mounted.storage.read_only(&writes)
        } else {
            routed.mounted.storage.clone()
        };
        let mut req = Request {
            id: request_id.clone(),
            operation: input.operation,
            path: std::mem::take(&mut routed.path),
            mount_point: routed.mounted.prefix.clone(),
            // The request carries the route's parameters from here on.
            params: routed
                .route
                .as_mut()
                .map(|r| std::mem::take(&mut r.params))
                .unwrap_or_default(),
            data: FieldData::new(input.data),
            raw_body: input.raw_body,
            token,
            sudo_granted: false,
            connection: input.connection,
            storage,
            ttls: routed.mounted.entry.ttls(self.system_ttls),
            wrap: input.wrap,
        };
        self.existence_check(&routed, &mut req).await?;
        self.authorize(&routed, &mut req, &full_path).await?;
        let Some(route) = routed.route.as_ref() else {
            return Err(Error::UnsupportedPath);
        };
        if !route.supports(req.operation) {
            return Err(Error::UnsupportedOperation);
        }
        let used_up = self.count_use(&routed, &mut req).await?;
        let started = Instant::now();
        let mut called = self.call(&routed, route, &mut req).await;
        if writes.happened() {
            called = Err(Error::ReadOnly);
        }
        routed
            .mounted
            .route_timers
            .record(req.operation, started.elapsed());
        let result = match called {
            Ok(response) => {
                self.post_process(&routed, route, &req, response, request_id, &full_path)
                    .await
            }
            Err(err) => Err(err),
        };
        if let Some(token) = used_up {
            self.tokens.revoke_tree(&token).await?;
        }
        result
    }

    /// The request's token, looked up once for the whole pipeline.
    async fn presented(&self, token: Option<&str>) -> Result<Presented> {
        Ok(match token {
            Some(t) if !t.is_empty() => match self.tokens.lookup(t).await? {
                Some(entry) => Presented::Live(Box::new(entry)),
                None => Presented::Invalid,
            },
            _ => Presented::None,
        })
    }

    /// Stage 1: the mount serving the path and the backend path in it.
    async fn route(&self, full_path: &str) -> Option<Routed> {
        let (mounted, path) = self.mounts.route(full_path)?;
        let pass = mounted.enter().await?;
        let route = mounted.backend.route(&path);
        Some(Routed {
            mounted,
            path,
            route,
            _pass: pass,
        })
    }

    /// Stage 2: the token, required unless the path is unauthenticated
    /// (where a bad token is ignored and a good one may still be used).
    fn authenticate(
        &self,
        routed: &Routed,
        presented: Presented,
        input: &LogicalInput,
    ) -> Result<Option<TokenEntry>> {
        if routed.unauthenticated() {
            return Ok(match presented {
                Presented::Live(entry) => Some(*entry),
                _ => None,
            });
        }
        let token = required(presented)?;
        if !token.allows_address(input.connection.remote_addr.map(|a| a.ip())) {
            return Err(Error::AclDenied {
                invalid_token: true,
            });
        }
        Ok(Some(token))
    }

    /// Stage 3: a write to a path with an existence check is a `create`
    /// when its target does not exist.
    async fn existence_check(&self, routed: &Routed, req: &mut Request) -> Result<()> {
        if let Some(route) = routed.route.as_ref().filter(|r| r.has_existence_check) {
            if req.operation == Operation::Update
                && !routed.mounted.backend.exists(route, req).await?
            {
                req.operation = Operation::Create;
            }
        }
        Ok(())
    }

    /// Stage 4: the ACL allows the operation, with `sudo` where the
    /// backend declares the path root-protected. Records whether the caller
    /// holds `sudo` here (the token store asks).
    async fn authorize(&self, routed: &Routed, req: &mut Request, full_path: &str) -> Result<()> {
        if routed.unauthenticated() {
            return Ok(());
        }
        let Some(token) = req.token.as_ref() else {
            return Ok(());
        };
        let acl = self.token_acl(token).await?;
        let decision = acl.allow_wrapped(
            full_path,
            capability_for(req.operation),
            req.data.raw(),
            req.wrap.map(|w| w.ttl),
        );
        let needs_sudo = special_path_matches(routed.mounted.backend.root_paths(), &req.path);
        if !decision.allowed || (needs_sudo && !decision.sudo) {
            return Err(Error::AclDenied {
                invalid_token: false,
            });
        }
        req.sudo_granted = decision.sudo;
        Ok(())
    }

    /// Stage 5: one use of a limited-use token. The request sees the count
    /// after this use; the last use shows -1 and returns the token, to be
    /// revoked once the request is done.
    async fn count_use(&self, routed: &Routed, req: &mut Request) -> Result<Option<TokenEntry>> {
        let Some(token) = req.token.as_mut().filter(|_| !routed.unauthenticated()) else {
            return Ok(None);
        };
        token.num_uses = self.tokens.use_token(token).await?;
        Ok((token.num_uses == REVOCATION_PENDING).then(|| token.clone()))
    }

    /// Stage 6: user lockout around logins, field validation, the handler.
    async fn call(
        &self,
        routed: &Routed,
        route: &Route,
        req: &mut Request,
    ) -> Result<Option<Response>> {
        let mounted = &routed.mounted;
        // User lockout applies to the unauthenticated paths of auth mounts.
        let lockout_alias = (mounted.entry.class == MountClass::Auth && routed.unauthenticated())
            .then(|| mounted.backend.lockout_alias(req))
            .flatten();
        let lockout_config = mounted.entry.config.user_lockout;
        let accessor = &mounted.entry.accessor;
        if let Some(alias) = &lockout_alias {
            if self.lockout.is_locked(accessor, alias, &lockout_config) {
                return Err(Error::PermissionDenied);
            }
        }
        let result = match req.data.validate(route.info.fields) {
            Ok(()) => mounted.backend.handle(route, req).await,
            Err(err) => Err(err),
        };
        if let Some(alias) = &lockout_alias {
            match &result {
                Ok(Some(response)) if response.auth.is_some() => {
                    self.lockout.record_success(accessor, alias)
                }
                Err(
                    Error::BadRequest(_)
                    | Error::BadRequestWithData { .. }
                    | Error::PermissionDenied,
                ) => {
                    let locks = self
                        .lockout
                        .record_failure(accessor, alias, &lockout_config);
                    if locks {
                        self.metrics.lockouts.inc();
                    }
                }
                _ => {}
            }
        }
        result
    }

    /// Stage 7: Vault's 404 for an empty read or list, the warning for
    /// parameters the path does not know, and the token of a login or of
    /// `auth/token/create`.
    async fn post_process(
        &self,
        routed: &Routed,
        route: &Route,
        req: &Request,
        response: Option<Response>,
        request_id: String,
        full_path: &str,
    ) -> Result<LogicalOutput> {
        let mut output = LogicalOutput {
            request_id,
            mount_type: routed.mounted.entry.backend_type.clone(),
            empty: response.is_none(),
            response: response.unwrap_or_default(),
            auth: None,
            wrap_info: None,
        };
        if output.empty && matches!(req.operation, Operation::Read | Operation::List) {
            return Err(Error::NotFound);
        }
        if req.operation == Operation::List
            && output.response.warnings.is_empty()
            && !has_keys(&output.response)
        {
            return Err(Error::NotFound);
        }
        keep_allowed_headers(
            &mut output.response,
            &routed.mounted.entry.config.allowed_response_headers,
            full_path,
        );
        if !output.empty {
            warn_unknown_fields(&route.info.fields, &req.params, req, &mut output.response);
        }
        if let Some(renewed) = output.response.renewed_auth.take() {
            output.auth = Some(renewed);
        }
        if let Some(auth) = output.response.auth.take() {
            // A login bound to CIDRs is refused outright from elsewhere;
            // the token store may mint a token for use from elsewhere.
            let probe = TokenEntry {
                bound_cidrs: auth.bound_cidrs.clone(),
                ..Default::default()
            };
            let login = routed.mounted.entry.backend_type != "token";
            if login && !probe.allows_address(req.connection.remote_addr.map(|a| a.ip())) {
                return Err(Error::PermissionDenied);
            }
            let (auth, warnings) = self
                .issue_token(&auth, &routed.mounted, full_path, req.token.as_ref())
                .await?;
            output.response.warnings.extend(warnings);
            output.auth = Some(auth);
            output.empty = false;
        }
        if let Some(forced) = output.response.forced_wrap.take() {
            let wrapping = Wrapping {
                ttl: forced.ttl,
                format: WrapFormat::Token,
                creation_path: &forced.creation_path,
                body: Some(forced.body),
            };
            return self.wrap(output, wrapping).await;
        }
        match req.wrap {
            Some(wrap) if !output.empty => {
                let wrapping = Wrapping {
                    ttl: wrap.ttl,
                    format: wrap.format,
                    creation_path: full_path,
                    body: None,
                };
                self.wrap(output, wrapping).await
            }
            _ => Ok(output),
        }
    }

    /// Turns a backend's auth grant into a token and Vault's `auth` object.
    async fn issue_token(
        &self,
        auth: &Auth,
        mounted: &Mounted,
        path: &str,
        parent: Option<&TokenEntry>,
    ) -> Result<(Value, Vec<String>)> {
        let mut auth = auth.clone();
        let source = mounted.entry.path.replace('/', "-");
        auth.display_name = format!("{source}{}", auth.display_name)
            .trim_end_matches('-')
            .to_string();
        // A login's alias finds (or on first login makes) its entity.
        let entity_id = match auth.alias_name.as_deref() {
            Some(alias) if mounted.entry.class == MountClass::Auth => {
                let mount = AuthMount {
                    accessor: mounted.entry.accessor.clone(),
                    path: mounted.entry.route_prefix(),
                    mount_type: mounted.entry.backend_type.clone(),
                };
                let entity = self
                    .identity
                    .login(&mount, alias, &auth.alias_metadata)
                    .await?;
                if entity.disabled {
                    return Err(Error::PermissionDenied);
                }
                if let Some(names) = &auth.group_aliases {
                    self.identity
                        .refresh_external_groups(&mount, &entity.id, names)
                        .await?;
                }
                Some(entity.id)
            }
            _ => None,
        };
        // Only the token store mints tokens for a caller; every other grant
        // is a login, which can never be root.
        let creator = match parent {
            Some(parent) if mounted.entry.backend_type == "token" => Creator::Parent(parent),
            _ => Creator::Login,
        };
        let origin = TokenOrigin {
            path: auth.creation_path.as_deref().unwrap_or(path),
            creator,
            mount_ttls: mounted.entry.ttls(self.system_ttls),
            entity_id,
        };
        let (entry, warnings) = self.tokens.create(&auth, origin).await?;
        self.metrics
            .token_creation
            .with(&[
                &mounted.entry.backend_type,
                super::metrics::ttl_bucket(entry.creation_ttl),
                &mounted.prefix,
                "root",
                &entry.token_type,
            ])
            .inc();
        let lease = entry.ttl_remaining(now_unix());
        let mut rendered = entry.auth_json(lease);
        // The entity's policies apply too: `policies` shows them all.
        let identity_policies = self.identity_policies(&entry).await?;
        if !identity_policies.is_empty() {
            let mut all: Vec<String> = entry.policies.clone();
            all.extend(identity_policies.iter().cloned());
            all.sort();
            all.dedup();
            rendered["policies"] = json!(all);
            rendered["identity_policies"] = json!(identity_policies);
        }
        Ok((rendered, warnings))
    }

    /// Whether a request to `path` without a token is refused whatever it
    /// carries: the path is not one of a mount's unauthenticated paths, nor
    /// one whose wrapping token Vault checks first.
    pub fn refuses_without_token(&self, path: &str) -> bool {
        !super::wrapping::takes_wrapping_token(path)
            && self.mounts.route(path).is_none_or(|(mounted, rel_path)| {
                let route = mounted.backend.route(&rel_path);
                !mounted.backend.unauthenticated(route.as_ref(), &rel_path)
            })
    }

    /// A path no mount serves: 403 unless the token could reach it, as
    /// Vault checks the ACL before routing.
    async fn no_route(&self, input: &LogicalInput, presented: &Presented) -> Error {
        let token = match presented {
            Presented::Live(token) => token,
            Presented::Invalid => {
                return Error::AclDenied {
                    invalid_token: true,
                }
            }
            Presented::None => {
                return Error::AclDenied {
                    invalid_token: false,
                }
            }
        };
        match self.token_acl(token).await {
            Ok(acl)
                if acl
                    .allow(&input.path, capability_for(input.operation), &input.data)
                    .allowed =>
            {
                Error::NoRoute(input.path.clone())
            }
            Ok(_) => Error::AclDenied {
                invalid_token: false,
            },
            Err(err) => err,
        }
    }
}

/// Counts a request in `vault.core.in_flight_requests` while it lives.
struct InFlight<'a>(&'a super::metrics::Metrics);

impl<'a> InFlight<'a> {
    fn enter(metrics: &'a super::metrics::Metrics) -> Self {
        metrics.in_flight_requests.fetch_add(1, Ordering::Relaxed);
        InFlight(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight_requests.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A live token, or the 403 Vault gives for a missing or invalid one.
fn required(presented: Presented) -> Result<TokenEntry> {
    match presented {
        Presented::Live(token) => Ok(*token),
        Presented::Invalid => Err(Error::AclDenied {
            invalid_token: true,
        }),
        Presented::None => Err(Error::AclDenied {
            invalid_token: false,
        }),
    }
}

/// Vault's mount-tuning rule for response headers: a backend's header
/// reaches the client only when the mount's `allowed_response_headers`
/// names it (case-insensitively). A dropped header is logged, since
/// clients that need it (ACME's `Replay-Nonce`) fail far from the cause.
fn keep_allowed_headers(response: &mut Response, allowed: &[String], path: &str) {
    response.headers.retain(|(name, _)| {
        let kept = allowed.iter().any(|a| a.eq_ignore_ascii_case(name));
        if !kept {
            tracing::warn!(
                path,
                header = name,
                "response header dropped: the mount's allowed_response_headers does not name it"
            );
        }
        kept
    });
}

/// The ACL capability an operation needs.
pub fn capability_for(op: Operation) -> Capability {
    match op {
        Operation::Read | Operation::Header => Capability::Read,
        Operation::List => Capability::List,
        Operation::Create => Capability::Create,
        Operation::Update => Capability::Update,
        Operation::Patch => Capability::Patch,
        Operation::Delete => Capability::Delete,
    }
}

fn has_keys(response: &Response) -> bool {
    response
        .data
        .as_ref()
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .is_some_and(|keys| !keys.is_empty())
}

/// Vault's warning for parameters the path does not know.
fn warn_unknown_fields(
    fields: &Fields,
    params: &HashMap<&'static str, String>,
    req: &Request,
    response: &mut Response,
) {
    let mut unknown: Vec<&str> = req
        .data
        .raw()
        .keys()
        .map(String::as_str)
        .filter(|k| !fields.knows(k) && !params.contains_key(k))
        .collect();
    if unknown.is_empty() {
        return;
    }
    unknown.sort_unstable();
    response.warnings.push(format!(
        "Endpoint ignored these unrecognized parameters: [{}]",
        unknown.join(" ")
    ));
}
