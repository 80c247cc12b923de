//! A backend is a table of paths, as in Vault's `sdk/framework`: each
//! [`Path`] owns its pattern (with rules for what its captures may hold),
//! its typed fields, one handler per operation, an optional existence check
//! and its flags. Nothing else dispatches: the core routes a request to a
//! path and the path's handler for the operation answers it. The OpenAPI
//! document is generated from the same declarations.
//!
//! A backend's state implements [`Backend`]; the core holds it as a
//! [`LogicalBackend`], which every [`Backend`] is.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use super::path::Pattern;
use super::{Error, FieldData, Operation, Request, Response, Result};
use crate::storage::StorageView;
use crate::util::metric::Sample;

/// A boxed, sendable future: what handlers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One operation's handler on a path: the backend's state and the request.
/// Written with [`handler!`](crate::handler), which boxes an async fn call.
pub type Handler<B> = for<'a> fn(&'a B, &'a mut Request) -> BoxFuture<'a, Result<Option<Response>>>;

/// A path's existence check: does the target of a write exist? It decides
/// whether the ACL sees the write as `create` or `update`.
pub type ExistenceCheck<B> = for<'a> fn(&'a B, &'a mut Request) -> BoxFuture<'a, Result<bool>>;

/// A [`Handler`] from an async fn of `(&B, &mut Request)`, or from an
/// expression over the two named arguments:
///
/// ```ignore
/// .read(handler!(roles::read))
/// .update(handler!(b, r => fetch::fetch(b, r, Fetch::CaPem)))
/// ```
#[macro_export]
macro_rules! handler {
    ($f:path) => {
        |b, r| ::std::boxed::Box::pin($f(b, r))
    };
    ($b:ident, $r:ident => $body:expr) => {
        |$b, $r| ::std::boxed::Box::pin($body)
    };
}

/// What a capture in a pattern may hold; a path whose capture breaks its
/// rule does not match (Vault's regular expressions do the same), so the
/// request is answered "unsupported path".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Any non-empty segment.
    Segment,
    /// Vault's `GenericNameRegex`: `\w(([\w-.]+)?\w)?`.
    Name,
    /// A UUID's shape, alphanumeric groups of 8-4-4-4-12 (the PKI
    /// engine's `uuidNameRegex`).
    Uuid,
    /// A final `*name` capture that keeps the request's trailing `/`, as
    /// Vault's `(?P<path>.*)` does: for a key-value store `foo/` is another
    /// key than `foo` (a folder, which holds no value).
    Verbatim,
}

impl Capture {
    pub fn allows(self, value: &str) -> bool {
        match self {
            Capture::Segment | Capture::Verbatim => !value.is_empty(),
            Capture::Name => is_generic_name(value),
            Capture::Uuid => is_uuid_shaped(value),
        }
    }
}

fn is_uuid_shaped(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Vault's `framework.GenericNameRegex`: word characters, with `-` and `.`
/// allowed inside.
pub fn is_generic_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = name.chars();
    match (chars.next(), name.chars().last()) {
        (Some(first), Some(last)) => {
            word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
        }
        _ => false,
    }
}

/// The type of a field, as Vault's `framework.FieldType` names it; values
/// are converted with Vault's weak typing (see [`FieldData`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `TypeString`: numbers and booleans read as their text.
    String,
    /// `TypeBool`: JSON booleans, and the texts Go's `ParseBool` reads.
    Bool,
    /// `TypeInt`/`TypeInt64`.
    Int,
    /// `TypeDurationSecond`: seconds, Go durations, `Nd`; never negative.
    Duration,
    /// `TypeSignedDurationSecond`: as [`FieldKind::Duration`], negatives kept.
    SignedDuration,
    /// `TypeCommaStringSlice`: an array, or a comma-separated string.
    CommaStringSlice,
    /// `TypeStringSlice`: an array, or one string.
    StringSlice,
    /// `TypeMap`/`TypeKVPairs`: an object, or `k=v,k2=v2`.
    Map,
    /// `TypeHeader`, `TypeSlice` and other structured input the handler
    /// reads raw (a list of objects, say).
    Raw,
}

/// One field a path understands.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
}

impl Field {
    pub const fn new(name: &'static str, kind: FieldKind) -> Field {
        Field { name, kind }
    }
    pub const fn string(name: &'static str) -> Field {
        Field::new(name, FieldKind::String)
    }
    pub const fn bool(name: &'static str) -> Field {
        Field::new(name, FieldKind::Bool)
    }
    pub const fn int(name: &'static str) -> Field {
        Field::new(name, FieldKind::Int)
    }
    pub const fn duration(name: &'static str) -> Field {
        Field::new(name, FieldKind::Duration)
    }
    pub const fn signed_duration(name: &'static str) -> Field {
        Field::new(name, FieldKind::SignedDuration)
    }
    pub const fn list(name: &'static str) -> Field {
        Field::new(name, FieldKind::CommaStringSlice)
    }
    pub const fn strings(name: &'static str) -> Field {
        Field::new(name, FieldKind::StringSlice)
    }
    pub const fn map(name: &'static str) -> Field {
        Field::new(name, FieldKind::Map)
    }
    pub const fn raw(name: &'static str) -> Field {
        Field::new(name, FieldKind::Raw)
    }
}

/// The parameters a path takes.
#[derive(Debug, Clone, Copy)]
pub enum Fields {
    /// These fields, checked before the handler runs; any other parameter
    /// draws Vault's "unrecognized parameters" warning.
    Declared(&'static [&'static [Field]]),
    /// Anything: the handler reads the data as it is (KV secrets, say).
    Arbitrary,
}

impl Fields {
    pub fn get(&self, name: &str) -> Option<&'static Field> {
        match self {
            Fields::Declared(groups) => groups
                .iter()
                .flat_map(|g| g.iter())
                .find(|f| f.name == name),
            Fields::Arbitrary => None,
        }
    }

    /// Whether the path knows a parameter (Vault warns about the others).
    pub fn knows(&self, name: &str) -> bool {
        match self {
            Fields::Declared(_) => self.get(name).is_some(),
            Fields::Arbitrary => true,
        }
    }

    /// Every declared field, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = &'static Field> {
        let groups: &'static [&'static [Field]] = match self {
            Fields::Declared(groups) => groups,
            Fields::Arbitrary => &[],
        };
        groups.iter().flat_map(|g| g.iter())
    }
}

/// What a successful answer of a path carries, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Vault's JSON envelope (`data`, `auth`, warnings), or 204.
    Envelope,
    /// A raw body of this media type (or 204 when there is nothing).
    Raw(&'static str),
    /// The served OpenAPI document itself.
    Document,
}

/// The non-generic part of a path: everything but its handlers.
#[derive(Debug, Clone, Copy)]
pub struct PathInfo {
    pub pattern: Pattern,
    pub fields: Fields,
    /// Served without a token (Vault's `PathsSpecial.Unauthenticated`).
    pub unauthenticated: bool,
    /// A write body of this media type reaches the handler undecoded
    /// (`Request::raw_body`), e.g. `application/ocsp-request`.
    pub raw_body: Option<&'static str>,
    pub answer: Answer,
    /// The operations a standby of an HA cluster serves itself, from its
    /// read-only view of the store (Vault's per-path forwarding
    /// properties); the rest goes to the active. A handler that turns out
    /// to need a write is sent to the active too.
    pub on_standby: &'static [Operation],
}

/// One path: its declaration and its handlers.
pub struct Path<B: 'static> {
    pub info: PathInfo,
    read: Option<Handler<B>>,
    list: Option<Handler<B>>,
    create: Option<Handler<B>>,
    update: Option<Handler<B>>,
    patch: Option<Handler<B>>,
    delete: Option<Handler<B>>,
    head: Option<Handler<B>>,
    existence_check: Option<ExistenceCheck<B>>,
}

impl<B> Path<B> {
    /// A path with no fields and no handlers yet; `pattern` uses `:name`
    /// for one segment and a final `*name` for the rest of the path.
    pub const fn new(pattern: &'static str) -> Path<B> {
        Path {
            info: PathInfo {
                pattern: Pattern::new(pattern),
                fields: Fields::Declared(&[]),
                unauthenticated: false,
                raw_body: None,
                answer: Answer::Envelope,
                on_standby: &[],
            },
            read: None,
            list: None,
            create: None,
            update: None,
            patch: None,
            delete: None,
            head: None,
            existence_check: None,
        }
    }

    /// Rules for captures (a capture not named here takes any segment).
    pub const fn captures(mut self, rules: &'static [(&'static str, Capture)]) -> Self {
        self.info.pattern = self.info.pattern.with_rules(rules);
        self
    }

    pub const fn fields(mut self, fields: &'static [&'static [Field]]) -> Self {
        self.info.fields = Fields::Declared(fields);
        self
    }

    /// The path takes any parameters and reads them itself.
    pub const fn arbitrary_fields(mut self) -> Self {
        self.info.fields = Fields::Arbitrary;
        self
    }

    pub const fn unauthenticated(mut self) -> Self {
        self.info.unauthenticated = true;
        self
    }

    pub const fn raw_body(mut self, media_type: &'static str) -> Self {
        self.info.raw_body = Some(media_type);
        self
    }

    pub const fn answers(mut self, answer: Answer) -> Self {
        self.info.answer = answer;
        self
    }

    /// Standbys serve these operations themselves (see
    /// [`PathInfo::on_standby`]).
    pub const fn on_standby(mut self, operations: &'static [Operation]) -> Self {
        self.info.on_standby = operations;
        self
    }

    pub const fn read(mut self, handler: Handler<B>) -> Self {
        self.read = Some(handler);
        self
    }

    pub const fn list(mut self, handler: Handler<B>) -> Self {
        self.list = Some(handler);
        self
    }

    /// Only for paths with an existence check: the handler of a write to
    /// something that does not exist yet. Without it, `update` serves both.
    pub const fn create(mut self, handler: Handler<B>) -> Self {
        self.create = Some(handler);
        self
    }

    /// POST/PUT (and create, unless [`Path::create`] is given).
    pub const fn update(mut self, handler: Handler<B>) -> Self {
        self.update = Some(handler);
        self
    }

    pub const fn patch(mut self, handler: Handler<B>) -> Self {
        self.patch = Some(handler);
        self
    }

    pub const fn delete(mut self, handler: Handler<B>) -> Self {
        self.delete = Some(handler);
        self
    }

    /// HEAD requests (Vault's `HeaderOperation`).
    pub const fn head(mut self, handler: Handler<B>) -> Self {
        self.head = Some(handler);
        self
    }

    pub const fn existence_check(mut self, check: ExistenceCheck<B>) -> Self {
        self.existence_check = Some(check);
        self
    }

    fn handler(&self, op: Operation) -> Option<Handler<B>> {
        match op {
            Operation::Read => self.read,
            Operation::List => self.list,
            Operation::Create => self.create.or(self.update),
            Operation::Update => self.update,
            Operation::Patch => self.patch,
            Operation::Delete => self.delete,
            Operation::Header => self.head,
        }
    }

    /// The operations this path serves (create is a form of update).
    pub fn operations(&self) -> Vec<Operation> {
        [
            Operation::Read,
            Operation::List,
            Operation::Update,
            Operation::Patch,
            Operation::Delete,
            Operation::Header,
        ]
        .into_iter()
        .filter(|op| self.handler(*op).is_some())
        .collect()
    }
}

/// A backend's state, and the table of paths that serve it.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + Sized + 'static {
    /// The paths, grouped by the module that declares them; the first
    /// path (in order) whose pattern matches serves the request.
    const PATHS: &'static [&'static [Path<Self>]];

    /// Root-protected paths (Vault's `PathsSpecial.Root`, matched with
    /// [`special_path_matches`](super::special_path_matches)): the ACL must
    /// also grant `sudo` there. Patterns, not routes, so that a route added
    /// under a protected prefix is protected from the start.
    const ROOT_PATHS: &'static [&'static str] = &[];

    /// Patterns (Vault's special-path syntax) reachable without a token
    /// although no path serves them, as Vault's `PathsSpecial.Unauthenticated`
    /// lists them: such a request gets the backend's 404, not a 403.
    const UNROUTED_UNAUTHENTICATED: &'static [&'static str] = &[];

    /// For login paths: the identity failed logins are counted against
    /// (user lockout), e.g. an AppRole role ID. `None` opts out.
    fn lockout_alias(&self, _req: &Request) -> Option<String> {
        None
    }

    /// Background upkeep, run for every mount on each tick of the core's
    /// periodic timer while unsealed (Vault's rollback manager calls the
    /// backend's `PeriodicFunc` the same way): PKI CRL rebuilds, tidies.
    async fn periodic(&self, _storage: &StorageView) -> Result<()> {
        Ok(())
    }

    /// Runs once the mount is in place (mounted, unsealed, or rebuilt after
    /// its options changed), before it serves requests: Vault's
    /// `InitializeFunc` (KV version 2 upgrades version 1 data here).
    async fn initialize(&self, _storage: &StorageView) -> Result<()> {
        Ok(())
    }

    /// On a standby: the active committed a write of `key` (relative to the
    /// mount's storage); drop whatever was cached from it (Vault's
    /// `InvalidateFunc`).
    fn invalidate(&self, _key: &str) {}

    /// Gauges cheap enough to compute at every `sys/metrics` scrape (PKI:
    /// issuer expiry, CRL freshness) for the mount at `mount_point`.
    async fn gauges(&self, _mount_point: &str, _storage: &StorageView) -> Result<Vec<Sample>> {
        Ok(Vec::new())
    }

    /// Gauges that read much of the mount's storage (PKI: stored
    /// certificate counts), computed once per `usage_gauge_period`.
    async fn usage_gauges(
        &self,
        _mount_point: &str,
        _storage: &StorageView,
    ) -> Result<Vec<Sample>> {
        Ok(Vec::new())
    }
}

/// Where a request landed in a backend's table.
#[derive(Debug)]
pub struct Route {
    pub info: PathInfo,
    /// The operations the path serves.
    pub operations: Vec<Operation>,
    pub has_existence_check: bool,
    pub params: HashMap<&'static str, String>,
    group: usize,
    index: usize,
}

impl Route {
    /// Gives a [`Capture::Verbatim`] tail capture back the trailing `/`
    /// that routing leaves out, for a request whose path ended in one.
    pub fn keep_trailing_slash(&mut self) {
        if let Some(value) = self
            .info
            .pattern
            .verbatim_tail()
            .and_then(|name| self.params.get_mut(name))
        {
            value.push('/');
        }
    }

    pub fn supports(&self, op: Operation) -> bool {
        let op = if op == Operation::Create {
            Operation::Update
        } else {
            op
        };
        self.operations.contains(&op)
    }

    /// Whether a standby serves `op` here itself.
    pub fn served_by_standby(&self, op: Operation) -> bool {
        let op = if op == Operation::Create {
            Operation::Update
        } else {
            op
        };
        self.supports(op) && self.info.on_standby.contains(&op)
    }
}

/// The face of a backend the core sees (every [`Backend`] is one).
#[async_trait::async_trait]
pub trait LogicalBackend: Send + Sync {
    /// The path serving a mount-relative path, if any.
    fn route(&self, path: &str) -> Option<Route>;

    /// Every path, for the OpenAPI document: its declaration and operations.
    fn describe(&self) -> Vec<(PathInfo, Vec<Operation>)>;

    fn root_paths(&self) -> &'static [&'static str];

    /// Whether `path` needs no token: its route says so, or it is one of
    /// the backend's unauthenticated patterns that no route serves.
    fn unauthenticated(&self, route: Option<&Route>, path: &str) -> bool;

    /// Runs the existence check of `route` (`false` when it has none).
    async fn exists(&self, route: &Route, req: &mut Request) -> Result<bool>;

    /// Runs the handler of `route` for `req.operation`.
    async fn handle(&self, route: &Route, req: &mut Request) -> Result<Option<Response>>;

    fn lockout_alias(&self, req: &Request) -> Option<String>;

    async fn periodic(&self, storage: &StorageView) -> Result<()>;

    async fn initialize(&self, storage: &StorageView) -> Result<()>;

    fn invalidate(&self, key: &str);

    async fn gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>>;

    async fn usage_gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>>;
}

fn path_at<B: Backend>(route: &Route) -> Result<&'static Path<B>> {
    B::PATHS
        .get(route.group)
        .and_then(|group| group.get(route.index))
        .ok_or_else(|| Error::internal("route from another backend"))
}

#[async_trait::async_trait]
impl<B: Backend> LogicalBackend for B {
    fn route(&self, path: &str) -> Option<Route> {
        let path = path.trim_end_matches('/');
        B::PATHS.iter().enumerate().find_map(|(group, paths)| {
            paths.iter().enumerate().find_map(|(index, p)| {
                p.info.pattern.matches(path).map(|params| Route {
                    info: p.info,
                    operations: p.operations(),
                    has_existence_check: p.existence_check.is_some(),
                    params,
                    group,
                    index,
                })
            })
        })
    }

    fn describe(&self) -> Vec<(PathInfo, Vec<Operation>)> {
        B::PATHS
            .iter()
            .flat_map(|group| group.iter())
            .map(|p| (p.info, p.operations()))
            .collect()
    }

    fn root_paths(&self) -> &'static [&'static str] {
        B::ROOT_PATHS
    }

    fn unauthenticated(&self, route: Option<&Route>, path: &str) -> bool {
        match route {
            Some(route) => route.info.unauthenticated,
            None => crate::logical::path::special_path_matches(B::UNROUTED_UNAUTHENTICATED, path),
        }
    }

    async fn exists(&self, route: &Route, req: &mut Request) -> Result<bool> {
        match path_at::<B>(route)?.existence_check {
            Some(check) => check(self, req).await,
            None => Ok(false),
        }
    }

    async fn handle(&self, route: &Route, req: &mut Request) -> Result<Option<Response>> {
        let handler = path_at::<B>(route)?
            .handler(req.operation)
            .ok_or(Error::UnsupportedOperation)?;
        handler(self, req).await
    }

    fn lockout_alias(&self, req: &Request) -> Option<String> {
        Backend::lockout_alias(self, req)
    }

    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        Backend::periodic(self, storage).await
    }

    async fn initialize(&self, storage: &StorageView) -> Result<()> {
        Backend::initialize(self, storage).await
    }

    fn invalidate(&self, key: &str) {
        Backend::invalidate(self, key)
    }

    async fn gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>> {
        Backend::gauges(self, mount_point, storage).await
    }

    async fn usage_gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>> {
        Backend::usage_gauges(self, mount_point, storage).await
    }
}

impl FieldData {
    /// Checks every declared field the request carries against its type,
    /// before any handler runs (Vault's `FieldData.Validate`).
    pub fn validate(&mut self, fields: Fields) -> Result<()> {
        self.set_schema(fields);
        for field in fields.iter() {
            self.check(field)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe;

    #[async_trait::async_trait]
    impl Backend for Probe {
        const PATHS: &'static [&'static [Path<Self>]] = &[&[
            Path::new("fetch")
                .on_standby(&[Operation::Read])
                .read(crate::handler!(_b, _r => async { Ok(None) }))
                .update(crate::handler!(_b, _r => async { Ok(None) })),
            Path::new("write").update(crate::handler!(_b, _r => async { Ok(None) })),
            Path::new("keys/*key")
                .captures(&[("key", Capture::Verbatim)])
                .read(crate::handler!(_b, _r => async { Ok(None) })),
            Path::new("*rest").read(crate::handler!(_b, _r => async { Ok(None) })),
        ]];
    }

    #[test]
    fn a_verbatim_capture_gets_the_trailing_slash_back() {
        let mut key = Probe.route("keys/foo/").expect("route");
        assert_eq!(key.params["key"], "foo");
        key.keep_trailing_slash();
        assert_eq!(key.params["key"], "foo/");
        let mut rest = Probe.route("other/foo/").expect("route");
        rest.keep_trailing_slash();
        assert_eq!(rest.params["rest"], "other/foo");
    }

    #[test]
    fn a_standby_serves_only_the_operations_a_path_declares() {
        let fetch = Probe.route("fetch").expect("route");
        assert!(fetch.served_by_standby(Operation::Read));
        assert!(!fetch.served_by_standby(Operation::Update));
        assert!(!fetch.served_by_standby(Operation::Create));
        let write = Probe.route("write").expect("route");
        assert!(!write.served_by_standby(Operation::Update));
    }

    #[test]
    fn generic_names_are_words_with_dashes_and_dots_inside() {
        for ok in ["root-2025", "a", "my.org_ca", "x1"] {
            assert!(is_generic_name(ok), "{ok}");
        }
        for bad in ["", "a b", "-a", "a-", "a/b", ".x", "é"] {
            assert!(!is_generic_name(bad), "{bad}");
        }
    }
}
