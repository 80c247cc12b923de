//! Stored ACL policies, with parsed policies and per-token-policy-set ACLs
//! cached (every request needs one; policies change rarely).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::policy::{Acl, IdentityValues, Policy, DEFAULT_POLICY_HCL};
use super::wrapping::{WRAPPING_POLICY, WRAPPING_POLICY_HCL};
use crate::logical::{Error, Result};
use crate::storage::StorageView;

/// Vault's built-in policy of response-wrapping tokens: reserved, neither
/// writable nor deletable.
const RESPONSE_WRAPPING: &str = WRAPPING_POLICY;

/// A policy name as Vault keys it: surrounding white space trimmed,
/// lower-case (so `"Root "` is `root`, which no one may write).
pub fn policy_name(name: &str) -> String {
    name.trim().to_lowercase()
}

pub struct PolicyStore {
    storage: StorageView,
    acls: RwLock<HashMap<String, Arc<Acl>>>,
}

impl PolicyStore {
    pub fn new(storage: StorageView) -> Self {
        PolicyStore {
            storage,
            acls: RwLock::new(HashMap::new()),
        }
    }

    /// Creates the built-in `default` policy on a fresh store, and the
    /// `response-wrapping` one (on stores made before it existed too).
    pub async fn ensure_default(&self) -> Result<()> {
        for (name, text) in [
            ("default", DEFAULT_POLICY_HCL),
            (RESPONSE_WRAPPING, WRAPPING_POLICY_HCL),
        ] {
            if self.storage.get(name).await?.is_none() {
                self.storage.put(name, text.as_bytes().to_vec()).await?;
            }
        }
        Ok(())
    }

    /// The policy text, or `None` if there is no such policy. `root`
    /// exists without text, as in Vault.
    pub async fn get_raw(&self, name: &str) -> Result<Option<String>> {
        let name = policy_name(name);
        if name == "root" {
            return Ok(Some(String::new()));
        }
        Ok(self
            .storage
            .get(&name)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.get_raw(name).await?.is_some())
    }

    /// Parses and stores a policy. Names are lower-cased; `root` is immutable.
    pub async fn set(&self, name: &str, text: &str) -> Result<()> {
        let name = policy_name(name);
        if name.is_empty() {
            return Err(Error::bad_request(
                "policy name must be provided in the URL",
            ));
        }
        if name == "root" || name == RESPONSE_WRAPPING {
            return Err(Error::BadRequest(format!("cannot update {name:?} policy")));
        }
        // Stored decoded (a base64 upload reads back as HCL/JSON, as in Vault).
        let policy = Policy::parse(&name, text)
            .map_err(|e| Error::BadRequest(format!("failed to parse policy: {e}")))?;
        self.storage.put(&name, policy.raw.into_bytes()).await?;
        self.invalidate();
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        let name = policy_name(name);
        match name.as_str() {
            "root" | RESPONSE_WRAPPING => {
                return Err(Error::BadRequest(format!("cannot delete {name:?} policy")))
            }
            "default" => return Err(Error::bad_request("cannot delete default policy")),
            _ => {}
        }
        self.storage.delete(&name).await?;
        self.invalidate();
        Ok(())
    }

    /// Stored policy names, sorted (without `root`, and without
    /// `response-wrapping`, which no token may be given).
    pub async fn list(&self) -> Result<Vec<String>> {
        let mut names = self.storage.list_leaves("").await?;
        names.retain(|n| n != RESPONSE_WRAPPING);
        names.sort();
        Ok(names)
    }

    pub fn invalidate(&self) {
        match self.acls.write() {
            Ok(mut cache) => cache.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// The ACL for a token's policies. Unknown policy names grant nothing.
    pub async fn acl(&self, policies: &[String]) -> Result<Arc<Acl>> {
        let key = policies.join("\n");
        if let Some(acl) = self
            .acls
            .read()
            .ok()
            .and_then(|cache| cache.get(&key).cloned())
        {
            return Ok(acl);
        }
        let root = policies.iter().any(|p| p == "root");
        let parsed = self.parse_all(policies).await?;
        let refs: Vec<&Policy> = parsed.iter().collect();
        let acl = Arc::new(Acl::new(&refs, root));
        if let Ok(mut cache) = self.acls.write() {
            cache.insert(key, acl.clone());
        }
        Ok(acl)
    }

    /// The ACL for a token's policies with their templates filled from
    /// its entity. Only ACLs without templates are shared between tokens;
    /// a templated one is built for the request.
    pub async fn acl_with_identity(
        &self,
        policies: &[String],
        identity: Option<&IdentityValues>,
    ) -> Result<Arc<Acl>> {
        let acl = self.acl(policies).await?;
        let Some(identity) = identity.filter(|_| acl.is_templated()) else {
            return Ok(acl);
        };
        let parsed = self.parse_all(policies).await?;
        let refs: Vec<&Policy> = parsed.iter().collect();
        Ok(Arc::new(Acl::with_identity(
            &refs,
            acl.is_root(),
            Some(identity),
        )))
    }

    /// The named policies that exist, parsed (`root` is a flag, not text).
    async fn parse_all(&self, policies: &[String]) -> Result<Vec<Policy>> {
        let mut parsed = Vec::new();
        for name in policies.iter().filter(|p| *p != "root") {
            if let Some(text) = self.get_raw(name).await? {
                match Policy::parse(name, &text) {
                    Ok(policy) => parsed.push(policy),
                    Err(err) => {
                        tracing::error!(policy = %name, %err, "stored policy no longer parses")
                    }
                }
            }
        }
        Ok(parsed)
    }
}
