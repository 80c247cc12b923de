//! The token store: creation, lookup, renewal and revocation of tokens.
//! Only keyed hashes of tokens and accessors are stored; the token itself
//! exists in memory for the request that presented it.
//!
//! Two rules hold whatever a caller asks for:
//! - **Root tokens are born in four places only**: initialization (`sys/init`,
//!   dev mode's root token), a quorum of unseal key holders
//!   (`sys/generate-root`), and the token store on behalf of a root parent
//!   ([`Creator`]). A login never yields one, whatever its role says, nor
//!   does a token role lend one.
//! - **A token lives no longer than its parent**: a child whose parent is
//!   gone or expired is revoked the first time it is looked up.
//!
//! What serialises each state transition:
//! - a use of a limited-use token ([`TokenStore::use_token`]): a per-token
//!   lock (striped) around a read of the stored entry and its write, so `n`
//!   concurrent requests with an `n`-use token are each counted;
//! - the last use marks the entry "revocation pending" (`num_uses = -1`) in
//!   the same write, so no later request finds the token live, and the core
//!   revokes it once the request that used it has finished.

use super::metrics::{ExpireMetrics, LeaseCount};
use super::ttl::{calculate_ttl, TtlRequest};
use crate::logical::{Auth, Error, MountTtls, Result};
use crate::storage::{BatchOp, ReadCache, StorageView};
use crate::util::gotime::{now_nanos, now_unix};

/// Nanoseconds in a second.
const NANOS: i64 = 1_000_000_000;
use crate::util::ids::random_base62;
use crate::util::keyed_hash::Hasher;

const ID_PREFIX: &str = "id/";
/// `num_uses` of a token whose last use is under way (Vault's
/// `tokenRevocationPending`): no lookup finds it live any more.
pub const REVOCATION_PENDING: i64 = -1;
const ACCESSOR_PREFIX: &str = "accessor/";
const PARENT_PREFIX: &str = "parent/";

use crate::logical::{PreciseTimes, TokenEntry};

/// Who asks for a new token. Only some may mint a root token.
#[derive(Clone, Copy)]
pub enum Creator<'a> {
    /// `sys/init`, or dev mode's root token: a root token with no parent.
    Initialization,
    /// An auth method's login: never a root token.
    Login,
    /// The token store on behalf of the caller's token: a root token only
    /// from a root parent.
    Parent(&'a TokenEntry),
    /// Response wrapping: a single-use token with the wrapping policy only.
    Wrapping,
    /// `sys/generate-root`, once a threshold of unseal key shares proved
    /// the unseal key: a root token with no parent.
    UnsealKeyHolders,
}

impl Creator<'_> {
    fn parent(&self) -> Option<&TokenEntry> {
        match self {
            Creator::Parent(parent) => Some(parent),
            _ => None,
        }
    }
}

/// Vault's rules for a grant of the `root` policy, with its error texts.
/// `ttl` is the new token's TTL (0: it never expires).
pub fn check_root_grant(creator: Creator<'_>, policies: &[String], ttl: i64) -> Result<()> {
    if !policies.iter().any(|p| p == "root") {
        return Ok(());
    }
    match creator {
        Creator::Initialization | Creator::UnsealKeyHolders => Ok(()),
        Creator::Login | Creator::Wrapping => {
            Err(Error::bad_request("auth methods cannot create root tokens"))
        }
        Creator::Parent(parent) if !parent.is_root() => Err(Error::bad_request(
            "root tokens may not be created without parent token being root",
        )),
        Creator::Parent(parent) if ttl == 0 && parent.expire_time != 0 => Err(Error::bad_request(
            "expiring root tokens cannot create non-expiring root tokens",
        )),
        Creator::Parent(_) => Ok(()),
    }
}

/// Policy names as Vault's `policyutil.SanitizePolicies` leaves them:
/// trimmed, lower-case, no empties, sorted, deduplicated, `default` added
/// when asked; a set holding `root` is just `["root"]`.
pub fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default {
        out.push("default".into());
    }
    out.sort();
    out.dedup();
    out
}

/// Where a new token comes from, for `path`, parentage and root rules.
pub struct TokenOrigin<'a> {
    pub path: &'a str,
    pub creator: Creator<'a>,
    pub mount_ttls: MountTtls,
    /// The login's identity entity, if it has one.
    pub entity_id: Option<String>,
}

/// How many token entries the cache holds before it starts over.
const CACHE_CAPACITY: usize = 1024;

pub struct TokenStore {
    storage: StorageView,
    /// Live entries by hashed id, as stored, so that a request does not
    /// read and decrypt its token from storage. Every write to a token
    /// entry goes through this store, which updates the cache after storage.
    cache: ReadCache<String, TokenEntry>,
    /// Set when the core unseals (the key lives behind the barrier).
    /// The store's hash key (replaced only when a snapshot brings another).
    hasher: std::sync::RwLock<Option<Hasher>>,
    /// The `cubbyhole/` mount's storage: a revoked token's cubbyhole (kept
    /// under its hashed id) is destroyed with it, as in Vault.
    cubbyholes: std::sync::RwLock<Option<StorageView>>,
    /// Serialise uses of limited-use tokens (see [`TokenStore::use_token`]).
    use_locks: [tokio::sync::Mutex<()>; USE_LOCK_STRIPES],
    /// Vault's `vault.expire.*` timers and expiry count for token leases.
    pub expire_metrics: ExpireMetrics,
}

/// Stripes of the use-count locks: tokens sharing one wait for each other.
const USE_LOCK_STRIPES: usize = 64;

impl TokenStore {
    pub fn new(storage: StorageView) -> Self {
        TokenStore {
            storage,
            cache: ReadCache::new(CACHE_CAPACITY),
            hasher: std::sync::RwLock::new(None),
            cubbyholes: std::sync::RwLock::new(None),
            use_locks: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            expire_metrics: ExpireMetrics::default(),
        }
    }

    /// Where token cubbyholes live (set when the core mounts `cubbyhole/`).
    pub fn set_cubbyholes(&self, storage: StorageView) {
        if let Ok(mut slot) = self.cubbyholes.write() {
            *slot = Some(storage);
        }
    }

    /// Drops every cached entry (the store may change under a standby).
    pub fn forget_cached(&self) {
        self.cache.clear();
    }

    /// Installs the keyed hash read at unseal.
    pub fn set_hasher(&self, hasher: Hasher) {
        if let Ok(mut slot) = self.hasher.write() {
            *slot = Some(hasher);
        }
    }

    fn hash(&self, domain: &str, value: &str) -> String {
        let guard = self.hasher.read().ok();
        match guard.as_deref().and_then(Option::as_ref) {
            Some(hasher) => hasher.hash(domain, value),
            // Unreachable while sealed: the core refuses requests first.
            None => String::new(),
        }
    }

    fn id_key(&self, token: &str) -> String {
        format!("{ID_PREFIX}{}", self.hash("token", token))
    }

    fn accessor_key(&self, accessor: &str) -> String {
        format!("{ACCESSOR_PREFIX}{}", self.hash("accessor", accessor))
    }

    /// Creates a token from an auth grant, applying Vault's TTL rules.
    /// Returns the entry (with `id` set) and any TTL warnings.
    pub async fn create(
        &self,
        auth: &Auth,
        origin: TokenOrigin<'_>,
    ) -> Result<(TokenEntry, Vec<String>)> {
        // Vault registers a lease for every service token but the root
        // tokens of initialization and root generation.
        match origin.creator {
            Creator::Initialization | Creator::UnsealKeyHolders => {
                self.create_entry(auth, origin).await
            }
            _ => {
                let timer = &self.expire_metrics.register_auth;
                ExpireMetrics::timed(timer, self.create_entry(auth, origin)).await
            }
        }
    }

    async fn create_entry(
        &self,
        auth: &Auth,
        origin: TokenOrigin<'_>,
    ) -> Result<(TokenEntry, Vec<String>)> {
        let now_ns = now_nanos();
        let now = now_ns.div_euclid(NANOS);
        let policies = sanitize_policies(&auth.policies, !auth.no_default_policy);
        let is_root = policies.iter().any(|p| p == "root");

        let mut warnings = Vec::new();
        let no_expiry = is_root && auth.ttl == 0 && auth.period == 0 && auth.explicit_max_ttl == 0;
        let ttl = if no_expiry {
            0
        } else {
            let decision = calculate_ttl(
                origin.mount_ttls,
                TtlRequest {
                    ttl: auth.ttl,
                    period: auth.period,
                    max_ttl: auth.max_ttl,
                    explicit_max_ttl: auth.explicit_max_ttl,
                    ..Default::default()
                },
            )
            .map_err(Error::BadRequest)?;
            warnings.extend(decision.warnings);
            decision.ttl
        };
        check_root_grant(origin.creator, &policies, ttl)?;

        let id = match &auth.token_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!("hvs.{}", random_base62(24)),
        };
        if self.storage.get(&self.id_key(&id)).await?.is_some() {
            return Err(Error::bad_request(
                "cannot create a token with a duplicate ID",
            ));
        }
        let accessor = random_base62(24);
        let parent = match origin.creator.parent() {
            Some(p) if !auth.orphan => p.hashed_id.clone(),
            _ => String::new(),
        };
        let entry = TokenEntry {
            id: id.clone(),
            hashed_id: self.hash("token", &id),
            accessor: accessor.clone(),
            parent: parent.clone(),
            policies,
            path: origin.path.to_string(),
            meta: auth.metadata.clone(),
            display_name: auth.display_name.clone(),
            num_uses: auth.num_uses,
            creation_time: now,
            creation_ttl: ttl,
            max_ttl: auth.max_ttl,
            explicit_max_ttl: auth.explicit_max_ttl,
            period: auth.period,
            expire_time: if ttl == 0 { 0 } else { now + ttl },
            renewable: auth.renewable && ttl != 0,
            token_type: auth.token_type.clone().unwrap_or_else(|| "service".into()),
            bound_cidrs: auth.bound_cidrs.clone(),
            last_renewal_time: 0,
            entity_id: origin.entity_id.unwrap_or_default(),
            role: auth.token_role.clone().unwrap_or_default(),
            precise: PreciseTimes {
                issued: now_ns,
                expires: if ttl == 0 { 0 } else { now_ns + ttl * NANOS },
                renewed: 0,
            },
        };
        let mut ops = vec![
            BatchOp::Put(self.id_key(&id), serde_json::to_vec(&entry)?),
            BatchOp::Put(
                self.accessor_key(&accessor),
                entry.hashed_id.clone().into_bytes(),
            ),
        ];
        if !parent.is_empty() {
            ops.push(BatchOp::Put(
                format!("{PARENT_PREFIX}{parent}/{}", entry.hashed_id),
                Vec::new(),
            ));
        }
        self.storage.batch(ops).await?;
        self.remember(&entry);
        Ok((entry, warnings))
    }

    /// A response-wrapping token: no parent, one use, the wrapping policy
    /// only, living exactly `ttl` seconds (never renewed).
    pub async fn create_wrapping(&self, ttl: i64, path: &str) -> Result<TokenEntry> {
        let auth = Auth {
            policies: vec![super::wrapping::WRAPPING_POLICY.into()],
            no_default_policy: true,
            display_name: "token".into(),
            ttl,
            explicit_max_ttl: ttl,
            num_uses: 1,
            orphan: true,
            ..Default::default()
        };
        let origin = TokenOrigin {
            path,
            creator: Creator::Wrapping,
            mount_ttls: MountTtls {
                default_ttl: ttl,
                max_ttl: ttl,
            },
            entity_id: None,
        };
        Ok(self.create(&auth, origin).await?.0)
    }

    /// The stored entry, from the cache when it holds it.
    async fn load_stored(&self, hashed_id: &str) -> Result<Option<TokenEntry>> {
        let read = || async {
            let key = format!("{ID_PREFIX}{hashed_id}");
            self.storage.get_json::<TokenEntry>(&key).await
        };
        Ok(self.cache.get_or_load_some(hashed_id, read).await?)
    }

    /// A stored entry read past the cache: the sweeps and listings that go
    /// through every token would otherwise fill it.
    async fn read_stored(&self, hashed_id: &str) -> Result<Option<TokenEntry>> {
        let key = format!("{ID_PREFIX}{hashed_id}");
        Ok(self.storage.get_json::<TokenEntry>(&key).await?)
    }

    /// Records an entry just written to storage in the cache, as stored:
    /// the token itself is never kept.
    fn remember(&self, entry: &TokenEntry) {
        let mut stored = entry.clone();
        stored.id.clear();
        self.cache.store(entry.hashed_id.clone(), stored);
    }

    /// The live entry: not expired, not used up, and every ancestor live.
    /// An expired token takes its descendants with it; a child whose
    /// parent is gone is revoked (Vault revokes children with a parent).
    async fn load_hashed(&self, hashed_id: &str) -> Result<Option<TokenEntry>> {
        let Some(entry) = self.load_stored(hashed_id).await? else {
            return Ok(None);
        };
        let now = now_unix();
        if entry.is_expired(now) {
            self.expire(&entry).await?;
            return Ok(None);
        }
        if entry.num_uses == REVOCATION_PENDING {
            return Ok(None);
        }
        let mut ancestor = entry.parent.clone();
        while !ancestor.is_empty() {
            match self.load_stored(&ancestor).await? {
                Some(parent) if parent.is_expired(now) => {
                    self.expire(&parent).await?;
                    return Ok(None);
                }
                Some(parent) => ancestor = parent.parent,
                None => {
                    self.revoke_tree(&entry).await?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(entry))
    }

    /// The live entry for a token, or `None` if unknown, revoked or expired.
    pub async fn lookup(&self, token: &str) -> Result<Option<TokenEntry>> {
        if token.is_empty() {
            return Ok(None);
        }
        let hashed = self.hash("token", token);
        Ok(self.load_hashed(&hashed).await?.map(|mut entry| {
            entry.id = token.to_string();
            entry
        }))
    }

    pub async fn lookup_accessor(&self, accessor: &str) -> Result<Option<TokenEntry>> {
        let Some(hashed) = self.storage.get(&self.accessor_key(accessor)).await? else {
            return Ok(None);
        };
        let hashed = String::from_utf8_lossy(&hashed).into_owned();
        self.load_hashed(&hashed).await
    }

    /// Counts one use of a limited-use token and returns the count the
    /// request sees: what is left, or [`REVOCATION_PENDING`] for the last
    /// use, after which the caller must [`revoke_tree`](Self::revoke_tree)
    /// the token once the request is done. A token with no uses left (a
    /// concurrent request took the last one) is refused as invalid.
    pub async fn use_token(&self, entry: &TokenEntry) -> Result<i64> {
        if entry.num_uses == 0 {
            return Ok(0);
        }
        let _serialised = self.use_lock(&entry.hashed_id).lock().await;
        let key = format!("{ID_PREFIX}{}", entry.hashed_id);
        let stored: Option<TokenEntry> = self.storage.get_json(&key).await?;
        let Some(mut updated) = stored.filter(|e| e.num_uses > 0) else {
            return Err(Error::AclDenied {
                invalid_token: true,
            });
        };
        updated.num_uses = match updated.num_uses {
            1 => REVOCATION_PENDING,
            n => n - 1,
        };
        self.storage.put_json(&key, &updated).await?;
        self.remember(&updated);
        Ok(updated.num_uses)
    }

    fn use_lock(&self, hashed_id: &str) -> &tokio::sync::Mutex<()> {
        let stripe = hashed_id
            .bytes()
            .fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(b.into()));
        &self.use_locks[stripe % USE_LOCK_STRIPES]
    }

    /// Revokes a token and, recursively, the tokens it created.
    pub async fn revoke_tree(&self, entry: &TokenEntry) -> Result<()> {
        ExpireMetrics::timed(&self.expire_metrics.revoke, self.revoke_subtree(entry)).await
    }

    /// Revokes a token whose lease ran out (and the tokens it created).
    /// Requests presenting it and the tidy may find it expired at once:
    /// serialised on the token, only the one that still finds it stored
    /// revokes it and counts the expiry.
    async fn expire(&self, entry: &TokenEntry) -> Result<()> {
        let _serialised = self.use_lock(&entry.hashed_id).lock().await;
        if self.read_stored(&entry.hashed_id).await?.is_none() {
            return Ok(());
        }
        self.revoke_tree(entry).await?;
        self.expire_metrics.lease_expiration.inc();
        Ok(())
    }

    async fn revoke_subtree(&self, entry: &TokenEntry) -> Result<()> {
        let mut pending = vec![entry.clone()];
        while let Some(current) = pending.pop() {
            let children_prefix = format!("{PARENT_PREFIX}{}/", current.hashed_id);
            for child in self.storage.list(&children_prefix).await? {
                if let Some(child_entry) = self.read_stored(&child).await? {
                    pending.push(child_entry);
                }
                self.storage
                    .delete(&format!("{children_prefix}{child}"))
                    .await?;
            }
            self.delete_entry(&current).await?;
        }
        Ok(())
    }

    /// Revokes a token alone: its children become orphans, as Vault's
    /// `auth/token/revoke-orphan` leaves them.
    pub async fn revoke_orphan(&self, entry: &TokenEntry) -> Result<()> {
        let children_prefix = format!("{PARENT_PREFIX}{}/", entry.hashed_id);
        for child in self.storage.list(&children_prefix).await? {
            let child_key = format!("{ID_PREFIX}{child}");
            if let Some(mut orphan) = self.storage.get_json::<TokenEntry>(&child_key).await? {
                orphan.parent.clear();
                self.storage.put_json(&child_key, &orphan).await?;
                self.remember(&orphan);
            }
            self.storage
                .delete(&format!("{children_prefix}{child}"))
                .await?;
        }
        self.delete_entry(entry).await
    }

    /// Deletes one token's entry, accessor, parent link and cubbyhole.
    async fn delete_entry(&self, entry: &TokenEntry) -> Result<()> {
        let timer = &self.expire_metrics.revoke_by_token;
        ExpireMetrics::timed(timer, self.delete_stored(entry)).await
    }

    async fn delete_stored(&self, entry: &TokenEntry) -> Result<()> {
        let mut ops = vec![
            BatchOp::Delete(format!("{ID_PREFIX}{}", entry.hashed_id)),
            BatchOp::Delete(self.accessor_key(&entry.accessor)),
        ];
        if !entry.parent.is_empty() {
            ops.push(BatchOp::Delete(format!(
                "{PARENT_PREFIX}{}/{}",
                entry.parent, entry.hashed_id
            )));
        }
        self.storage.batch(ops).await?;
        self.cache.forget(&entry.hashed_id);
        let cubbyholes = self.cubbyholes.read().ok().and_then(|slot| slot.clone());
        if let Some(cubbyholes) = cubbyholes {
            super::mounts::delete_tree(&cubbyholes, &format!("{}/", entry.hashed_id)).await?;
        }
        Ok(())
    }

    /// Renews a token by `increment` (0 = its original TTL), capped by its
    /// max. Returns the new TTL and warnings.
    pub async fn renew(
        &self,
        entry: &TokenEntry,
        increment: i64,
        mount_ttls: MountTtls,
    ) -> Result<(TokenEntry, i64, Vec<String>)> {
        let timer = &self.expire_metrics.renew_token;
        ExpireMetrics::timed(timer, self.extend(entry, increment, mount_ttls)).await
    }

    async fn extend(
        &self,
        entry: &TokenEntry,
        increment: i64,
        mount_ttls: MountTtls,
    ) -> Result<(TokenEntry, i64, Vec<String>)> {
        if entry.expire_time == 0 {
            return Ok((entry.clone(), 0, Vec::new()));
        }
        if !entry.renewable {
            return Err(Error::bad_request("lease is not renewable"));
        }
        let now_ns = now_nanos();
        let now = now_ns.div_euclid(NANOS);
        let decision = calculate_ttl(
            mount_ttls,
            TtlRequest {
                increment: if increment > 0 {
                    increment
                } else {
                    entry.creation_ttl
                },
                ttl: entry.creation_ttl,
                period: entry.period,
                max_ttl: entry.max_ttl,
                explicit_max_ttl: entry.explicit_max_ttl,
                elapsed: now - entry.creation_time,
            },
        )
        .map_err(Error::BadRequest)?;
        let mut updated = entry.clone();
        updated.expire_time = now + decision.ttl;
        updated.last_renewal_time = now;
        updated.precise.expires = now_ns + decision.ttl * NANOS;
        updated.precise.renewed = now_ns;
        self.storage
            .put_json(&format!("{ID_PREFIX}{}", entry.hashed_id), &updated)
            .await?;
        self.remember(&updated);
        Ok((updated, decision.ttl, decision.warnings))
    }

    /// Hashed ids of all stored tokens' accessors (for `LIST accessors`).
    pub async fn accessors(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for hashed in self.storage.list(ID_PREFIX).await? {
            if let Some(entry) = self.read_stored(&hashed).await? {
                out.push(entry.accessor);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Revokes every token created through a path under `prefix` (an auth
    /// mount being disabled takes its tokens with it).
    pub async fn revoke_by_path_prefix(&self, prefix: &str) -> Result<usize> {
        let timer = &self.expire_metrics.revoke_prefix;
        ExpireMetrics::timed(timer, self.revoke_under(prefix)).await
    }

    async fn revoke_under(&self, prefix: &str) -> Result<usize> {
        let mut revoked = 0;
        for hashed in self.storage.list(ID_PREFIX).await? {
            if let Some(entry) = self.read_stored(&hashed).await? {
                if entry.path.starts_with(prefix) {
                    self.revoke_subtree(&entry).await?;
                    revoked += 1;
                }
            }
        }
        Ok(revoked)
    }

    /// Deletes every expired token (run periodically: logins pile up).
    pub async fn tidy(&self) -> Result<usize> {
        let now = now_unix();
        let mut removed = 0;
        for hashed in self.storage.list(ID_PREFIX).await? {
            if let Some(entry) = self.read_stored(&hashed).await? {
                if entry.is_expired(now) {
                    self.expire(&entry).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Counts the live token leases (`vault.expire.num_leases` and
    /// `.leases.by_expiration`): it reads every stored token, so the core
    /// does it once per `usage_gauge_period`.
    pub async fn count_leases(&self, mut count: LeaseCount) -> Result<LeaseCount> {
        for hashed in self.storage.list(ID_PREFIX).await? {
            if let Some(entry) = self.read_stored(&hashed).await? {
                count.add(expires_nanos(&entry));
            }
        }
        Ok(count)
    }
}

/// When a token expires, to the nanosecond where it was kept (0: never).
fn expires_nanos(entry: &TokenEntry) -> i64 {
    match entry.precise.expires {
        0 => entry.expire_time.saturating_mul(NANOS),
        precise => precise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use std::sync::Arc;

    const TTLS: MountTtls = MountTtls {
        default_ttl: 86400,
        max_ttl: 86400,
    };

    fn store() -> TokenStore {
        let store = TokenStore::new(StorageView::new(
            Arc::new(MemoryStorage::default()),
            "sys/token/",
        ));
        store.set_hasher(Hasher::new(b"test hashing key"));
        store
    }

    async fn create(store: &TokenStore, num_uses: i64) -> TokenEntry {
        let auth = Auth {
            policies: vec!["default".into()],
            ttl: 3600,
            renewable: true,
            num_uses,
            ..Default::default()
        };
        let origin = TokenOrigin {
            path: "auth/token/create",
            creator: Creator::Login,
            mount_ttls: TTLS,
            entity_id: None,
        };
        store.create(&auth, origin).await.expect("create").0
    }

    fn leases(count: &LeaseCount) -> f64 {
        let samples = count.samples(&Vec::new());
        match samples[0].value {
            crate::util::metric::Value::Gauge(v) => v,
            _ => f64::NAN,
        }
    }

    async fn live_leases(store: &TokenStore) -> f64 {
        let count = LeaseCount::new(now_nanos(), std::time::Duration::from_secs(3600), 168);
        leases(&store.count_leases(count).await.expect("count"))
    }

    /// Moves a stored token's end into the past, as if its TTL had run.
    async fn run_out(store: &TokenStore, entry: &TokenEntry) {
        let mut stored = store
            .read_stored(&entry.hashed_id)
            .await
            .expect("read")
            .expect("stored");
        stored.expire_time = now_unix() - 5;
        stored.precise.expires = stored.expire_time * NANOS;
        let key = format!("{ID_PREFIX}{}", entry.hashed_id);
        store.storage.put_json(&key, &stored).await.expect("write");
        store.forget_cached();
    }

    #[tokio::test]
    async fn token_leases_are_timed_and_counted_through_their_life() {
        let store = store();
        let root = Auth {
            policies: vec!["root".into()],
            ..Default::default()
        };
        let origin = TokenOrigin {
            path: "sys/init",
            creator: Creator::Initialization,
            mount_ttls: TTLS,
            entity_id: None,
        };
        store.create(&root, origin).await.expect("root");
        let kept = create(&store, 0).await;
        let revoked = create(&store, 0).await;
        let expiring = create(&store, 0).await;
        let metrics = &store.expire_metrics;
        // The root token of initialization is no lease and not registered.
        assert_eq!(metrics.register_auth.stats().count, 3);
        assert_eq!(live_leases(&store).await, 3.0);

        store.renew(&kept, 0, TTLS).await.expect("renew");
        assert_eq!(metrics.renew_token.stats().count, 1);
        store.revoke_tree(&revoked).await.expect("revoke");
        assert_eq!(metrics.revoke.stats().count, 1);
        assert_eq!(metrics.revoke_by_token.stats().count, 1);
        assert_eq!(live_leases(&store).await, 2.0);

        // Its lease runs out: no longer counted, then swept as an expiry.
        run_out(&store, &expiring).await;
        assert_eq!(live_leases(&store).await, 1.0);
        assert_eq!(metrics.lease_expiration.get(), 0);
        assert_eq!(store.tidy().await.expect("tidy"), 1);
        assert_eq!(metrics.lease_expiration.get(), 1);
        assert_eq!(metrics.revoke.stats().count, 2);

        store
            .revoke_by_path_prefix("auth/token/")
            .await
            .expect("revoke prefix");
        assert_eq!(metrics.revoke_prefix.stats().count, 1);
        assert_eq!(metrics.revoke.stats().count, 2);
        assert_eq!(metrics.revoke_by_token.stats().count, 3);
        assert_eq!(live_leases(&store).await, 0.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expiry_found_at_once_by_many_is_counted_once() {
        let store = Arc::new(store());
        let expiring = create(&store, 0).await;
        run_out(&store, &expiring).await;
        let finders: Vec<_> = (0..8)
            .map(|_| {
                let (store, id) = (store.clone(), expiring.id.clone());
                tokio::spawn(async move { store.lookup(&id).await.expect("lookup") })
            })
            .collect();
        for finder in finders {
            assert!(finder.await.expect("join").is_none());
        }
        assert_eq!(store.tidy().await.expect("tidy"), 0);
        assert_eq!(store.expire_metrics.lease_expiration.get(), 1);
    }

    #[tokio::test]
    async fn a_revoked_token_is_not_found_although_it_was_looked_up_before() {
        let store = store();
        let entry = create(&store, 0).await;
        assert!(store.lookup(&entry.id).await.expect("lookup").is_some());
        store.revoke_tree(&entry).await.expect("revoke");
        assert!(store.lookup(&entry.id).await.expect("lookup").is_none());
        assert!(store
            .lookup_accessor(&entry.accessor)
            .await
            .expect("lookup")
            .is_none());
    }

    #[tokio::test]
    async fn revoking_an_orphan_maker_leaves_its_children_live_and_parentless() {
        let store = store();
        let parent = create(&store, 0).await;
        let auth = Auth {
            policies: vec!["default".into()],
            ttl: 3600,
            ..Default::default()
        };
        let origin = |parent| TokenOrigin {
            path: "auth/token/create",
            creator: Creator::Parent(parent),
            mount_ttls: TTLS,
            entity_id: None,
        };
        let child = store.create(&auth, origin(&parent)).await.expect("child").0;
        let grandchild = store
            .create(&auth, origin(&child))
            .await
            .expect("grandchild")
            .0;
        store.revoke_orphan(&parent).await.expect("revoke");
        assert!(store.lookup(&parent.id).await.expect("lookup").is_none());
        let child = store
            .lookup(&child.id)
            .await
            .expect("lookup")
            .expect("child lives");
        assert!(child.parent.is_empty(), "the child is an orphan");
        let grandchild = store
            .lookup(&grandchild.id)
            .await
            .expect("lookup")
            .expect("lives");
        assert_eq!(
            grandchild.parent, child.hashed_id,
            "the grandchild keeps its parent"
        );
        // Revoking the former child later takes its own children only.
        store.revoke_tree(&child).await.expect("revoke");
        assert!(store
            .lookup(&grandchild.id)
            .await
            .expect("lookup")
            .is_none());
    }

    #[tokio::test]
    async fn lookups_see_each_use_and_renewal_of_a_token() {
        let store = store();
        let entry = create(&store, 3).await;
        let seen = store
            .lookup(&entry.id)
            .await
            .expect("lookup")
            .expect("live");
        store.use_token(&seen).await.expect("use");
        let seen = store
            .lookup(&entry.id)
            .await
            .expect("lookup")
            .expect("live");
        assert_eq!(seen.num_uses, 2);
        let (renewed, _, _) = store.renew(&seen, 7200, TTLS).await.expect("renew");
        let seen = store
            .lookup(&entry.id)
            .await
            .expect("lookup")
            .expect("live");
        assert_eq!(seen.expire_time, renewed.expire_time);
        assert_eq!(seen.id, entry.id, "a lookup names the token it was given");
    }

    #[tokio::test]
    async fn a_read_that_raced_a_write_is_not_cached() {
        let store = store();
        let entry = create(&store, 0).await;
        store.cache.forget(&entry.hashed_id);
        let before_write = store.cache.generation();
        let mut stale = entry.clone();
        stale.num_uses = 99;
        store.remember(&entry);
        store.cache.forget(&entry.hashed_id);
        store
            .cache
            .fill(before_write, entry.hashed_id.clone(), stale);
        assert!(store.cache.get(&entry.hashed_id).is_none());
    }

    #[tokio::test]
    async fn the_cache_never_holds_the_token_itself() {
        let store = store();
        let entry = create(&store, 0).await;
        store.lookup(&entry.id).await.expect("lookup");
        let cached = store.cache.get(&entry.hashed_id).expect("cached");
        assert!(cached.id.is_empty());
    }
}
