//! Secret IDs: issuance (generated or custom), listing by accessor,
//! lookup and destruction by value or accessor, and the tidy of expired
//! ones. Only keyed hashes of secret IDs and accessors are stored.

use crate::util::gotime::{now_nanos, rfc3339_nano, GO_ZERO_TIME};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::role::{validate_cidr_blocks, RoleEntry};
use super::{
    role_name, verify_cidr_subset, AppRoleBackend, AppRolePath, Inner, MAX_HMAC_INPUT, ROLE_NAME,
};
use crate::auth::token_fields;
use crate::handler;
use crate::logical::framework::Field;
use crate::logical::{Error, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};
use crate::util::keyed_hash::constant_time_eq;

/// What a new secret ID may carry.
const SECRET_ID_FIELDS: &[Field] = &[
    // Read raw: a JSON object, or a string holding one or `k=v` pairs.
    Field::raw("metadata"),
    Field::list("cidr_list"),
    Field::list("token_bound_cidrs"),
    Field::int("num_uses"),
    Field::duration("ttl"),
];
const SECRET_ID: &[Field] = &[Field::string("secret_id")];
const ACCESSOR: &[Field] = &[Field::string("secret_id_accessor")];

pub(super) const PATHS: &[AppRolePath] = &[
    AppRolePath::new("role/:role_name/secret-id")
        .captures(ROLE_NAME)
        .fields(&[SECRET_ID_FIELDS])
        .update(handler!(generate))
        .list(handler!(b, r => b.inner.list_secret_ids(r))),
    AppRolePath::new("role/:role_name/secret-id/lookup")
        .captures(ROLE_NAME)
        .fields(&[SECRET_ID])
        .update(handler!(b, r => b.inner.lookup_secret_id(r))),
    AppRolePath::new("role/:role_name/secret-id/destroy")
        .captures(ROLE_NAME)
        .fields(&[SECRET_ID])
        .update(handler!(b, r => b.inner.destroy_secret_id(r)))
        .delete(handler!(b, r => b.inner.destroy_secret_id(r))),
    AppRolePath::new("role/:role_name/secret-id-accessor/lookup")
        .captures(ROLE_NAME)
        .fields(&[ACCESSOR])
        .update(handler!(b, r => b.inner.lookup_accessor(r))),
    AppRolePath::new("role/:role_name/secret-id-accessor/destroy")
        .captures(ROLE_NAME)
        .fields(&[ACCESSOR])
        .update(handler!(b, r => b.inner.destroy_accessor(r)))
        .delete(handler!(b, r => b.inner.destroy_accessor(r))),
    AppRolePath::new("role/:role_name/custom-secret-id")
        .captures(ROLE_NAME)
        .fields(&[SECRET_ID, SECRET_ID_FIELDS])
        .update(handler!(custom)),
];

/// `POST role/:role_name/secret-id`: a generated secret ID.
async fn generate(b: &AppRoleBackend, req: &mut Request) -> Result<Option<Response>> {
    b.inner.issue_secret_id(req, crate::util::ids::uuid()).await
}

/// `POST role/:role_name/custom-secret-id`: the caller's secret ID.
async fn custom(b: &AppRoleBackend, req: &mut Request) -> Result<Option<Response>> {
    let secret_id = req.data.str_or("secret_id", "")?;
    b.inner.issue_secret_id(req, secret_id).await
}

/// A stored secret ID (its value is never stored, only its keyed hash).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct SecretIdEntry {
    pub secret_id_hmac: String,
    pub secret_id_accessor: String,
    /// Logins left; 0 = unlimited.
    pub secret_id_num_uses: i64,
    /// The TTL asked for, in seconds (0 = none).
    pub secret_id_ttl: i64,
    /// Unix nanoseconds.
    pub creation_time: i64,
    /// Unix nanoseconds; 0 = never expires.
    pub expiration_time: i64,
    pub last_updated_time: i64,
    pub metadata: BTreeMap<String, String>,
    pub cidr_list: Vec<String>,
    pub token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    pub fn expired(&self, now: i64) -> bool {
        self.expiration_time != 0 && now >= self.expiration_time
    }

    /// The `data` of `secret-id/lookup` and `secret-id-accessor/lookup`.
    fn lookup_data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("cidr_list".into(), json!(self.cidr_list));
        data.insert("creation_time".into(), json!(go_time(self.creation_time)));
        data.insert(
            "expiration_time".into(),
            json!(go_time(self.expiration_time)),
        );
        data.insert(
            "last_updated_time".into(),
            json!(go_time(self.last_updated_time)),
        );
        data.insert("metadata".into(), json!(self.metadata));
        data.insert("secret_id_accessor".into(), json!(self.secret_id_accessor));
        data.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        data.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        data.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        data
    }
}

/// Index entry from an accessor to its secret ID entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct AccessorEntry {
    pub secret_id_hmac: String,
    /// The role bucket the secret ID lives in.
    pub bucket: String,
}

pub(super) fn secret_key(bucket: &str, secret_hmac: &str) -> String {
    format!("secret_id/{bucket}/{secret_hmac}")
}

/// Vault's `strutil.ParseArbitraryKeyValues` for secret ID `metadata`: a
/// JSON object (as a string, or base64 of one) or `k=v,k2=v2`. hvac and the
/// docs send a JSON string; a JSON object in the body is accepted too.
fn parse_metadata(req: &Request) -> Result<BTreeMap<String, String>> {
    let raw = match req.data.raw().get("metadata") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => return Ok(stringify_values(map.clone())),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "Field validation failed: error converting input {other} for field \"metadata\": expected a string"
            )))
        }
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(BTreeMap::new());
    }
    let decoded = if raw.starts_with('{') {
        Some(raw.to_string())
    } else {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|s| s.trim_start().starts_with('{'))
    };
    if let Some(json_text) = decoded {
        let map: Map<String, Value> = serde_json::from_str(&json_text)
            .map_err(|e| Error::BadRequest(format!("failed to parse metadata: {e}")))?;
        return Ok(stringify_values(map));
    }
    // Vault's kv-pair parser error, whichever pair is at fault.
    let invalid_kv_pair = || {
        Error::bad_request(
            "failed to parse metadata: failed to parse the input: invalid <key,value> format",
        )
    };
    let mut out = BTreeMap::new();
    for pair in raw.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(invalid_kv_pair());
        };
        let key = k.trim();
        if key.is_empty() {
            return Err(invalid_kv_pair());
        }
        out.insert(key.to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Metadata values as strings (non-string JSON values as their JSON text).
fn stringify_values(map: Map<String, Value>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

impl Inner {
    /// Where a role's secret IDs live: keyed by its name and salt.
    pub(super) fn bucket(&self, role: &RoleEntry) -> String {
        self.hasher.hash(
            "approle/role-bucket",
            &format!("{}\0{}", role.salt, role.name),
        )
    }

    pub(super) fn secret_hmac(&self, role: &RoleEntry, secret_id: &str) -> String {
        self.hasher.hash(
            "approle/secret-id",
            &format!("{}\0{}", role.salt, secret_id),
        )
    }

    pub(super) fn accessor_key(&self, accessor: &str) -> String {
        format!(
            "accessor/{}",
            self.hasher.hash("approle/secret-id-accessor", accessor)
        )
    }

    /// The role a secret ID request names, or Vault's `role "x" does not exist`.
    async fn role_for_secret_ids(&self, req: &Request) -> Result<RoleEntry> {
        let name = role_name(req)?;
        self.role(req, &name).await?.ok_or_else(|| {
            Error::BadRequest(format!(
                "role {:?} does not exist",
                req.param("role_name").unwrap_or_default()
            ))
        })
    }

    /// Reads the secret ID entry for `secret_id` of `role`, checking the
    /// stored hash in constant time.
    pub(super) async fn secret_entry(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        secret_hmac: &str,
    ) -> Result<Option<SecretIdEntry>> {
        let key = secret_key(&self.bucket(role), secret_hmac);
        let Some(entry) = storage.get_json::<SecretIdEntry>(&key).await? else {
            return Ok(None);
        };
        if !constant_time_eq(entry.secret_id_hmac.as_bytes(), secret_hmac.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Deletes a secret ID entry and its accessor index together.
    pub(super) async fn remove_secret_entry(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        entry: &SecretIdEntry,
    ) -> Result<()> {
        storage
            .batch(vec![
                BatchOp::Delete(self.accessor_key(&entry.secret_id_accessor)),
                BatchOp::Delete(secret_key(&self.bucket(role), &entry.secret_id_hmac)),
            ])
            .await?;
        Ok(())
    }

    /// Writes back an entry whose use count changed.
    pub(super) async fn put_secret_entry(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        entry: &SecretIdEntry,
    ) -> Result<()> {
        storage
            .put_json(
                &secret_key(&self.bucket(role), &entry.secret_id_hmac),
                entry,
            )
            .await?;
        Ok(())
    }

    /// `POST role/:role_name/secret-id` and `custom-secret-id`.
    pub(super) async fn issue_secret_id(
        &self,
        req: &mut Request,
        secret_id: String,
    ) -> Result<Option<Response>> {
        role_name(req)?;
        if secret_id.is_empty() {
            return Err(Error::bad_request("missing secret_id"));
        }
        if secret_id.len() > MAX_HMAC_INPUT {
            return Err(Error::BadRequest(format!(
                "failed to create HMAC of secret_id: value is longer than maximum of {MAX_HMAC_INPUT} bytes"
            )));
        }
        let _role_guard = self.role_lock.lock().await;
        let role = self.role_for_secret_ids(req).await?;
        if !role.bind_secret_id {
            return Err(Error::bad_request("bind_secret_id is not set on the role"));
        }

        let data = &req.data;
        let cidr_list =
            validate_cidr_blocks(&data.comma_list_or_empty("cidr_list")?, "CIDR blocks")?;
        verify_cidr_subset(&cidr_list, &role.secret_id_bound_cidrs)?;

        let token_cidrs = data.comma_list_or_empty("token_bound_cidrs")?;
        let token_cidrs = token_fields::parse_addrs(&token_cidrs)
            .map_err(|_| Error::bad_request("failed to validate token CIDR blocks"))?;
        verify_cidr_subset(&token_cidrs, &role.token.token_bound_cidrs)?;

        let num_uses = match data.int("num_uses")? {
            Some(n) if n < 0 => return Err(Error::bad_request("num_uses cannot be negative")),
            Some(n) if role.secret_id_num_uses > 0 && (n == 0 || n > role.secret_id_num_uses) => {
                return Err(Error::bad_request(
                    "num_uses cannot be higher than the role's secret_id_num_uses",
                ))
            }
            Some(n) => n,
            None => role.secret_id_num_uses,
        };
        let ttl = match data.duration("ttl")? {
            Some(t) if role.secret_id_ttl > 0 && (t == 0 || t > role.secret_id_ttl) => {
                return Err(Error::bad_request(
                    "ttl cannot be longer than the role's secret_id_ttl",
                ))
            }
            Some(t) => t,
            None => role.secret_id_ttl,
        };
        let metadata = parse_metadata(req)?;

        // Vault's deriveSecretIDTTL: the mount's max caps the lifetime.
        let mount_max = req.ttls.max_ttl;
        let effective_ttl = if mount_max > 0 && ttl > mount_max {
            mount_max
        } else {
            ttl
        };

        let secret_hmac = self.secret_hmac(&role, &secret_id);
        let _secret_guard = self.secret_lock(&secret_hmac).lock().await;
        if self
            .secret_entry(&req.storage, &role, &secret_hmac)
            .await?
            .is_some()
        {
            return Err(Error::bad_request(
                "failed to store secret_id: SecretID is already registered",
            ));
        }
        let now = now_nanos();
        let entry = SecretIdEntry {
            secret_id_hmac: secret_hmac.clone(),
            secret_id_accessor: crate::util::ids::uuid(),
            secret_id_num_uses: num_uses,
            secret_id_ttl: ttl,
            creation_time: now,
            expiration_time: if effective_ttl > 0 {
                now + effective_ttl * 1_000_000_000
            } else {
                0
            },
            last_updated_time: now,
            metadata,
            cidr_list,
            token_bound_cidrs: token_cidrs,
        };
        let bucket = self.bucket(&role);
        let accessor = AccessorEntry {
            secret_id_hmac: secret_hmac.clone(),
            bucket: bucket.clone(),
        };
        req.storage
            .batch(vec![
                BatchOp::Put(
                    self.accessor_key(&entry.secret_id_accessor),
                    serde_json::to_vec(&accessor)?,
                ),
                BatchOp::Put(
                    secret_key(&bucket, &secret_hmac),
                    serde_json::to_vec(&entry)?,
                ),
            ])
            .await?;

        let mut out = Map::new();
        out.insert("secret_id".into(), json!(secret_id));
        out.insert("secret_id_accessor".into(), json!(entry.secret_id_accessor));
        out.insert("secret_id_num_uses".into(), json!(entry.secret_id_num_uses));
        out.insert("secret_id_ttl".into(), json!(effective_ttl));
        Ok(Some(Response::data(out)))
    }

    /// `LIST role/:role_name/secret-id`: the accessors of the role's secret IDs.
    pub(super) async fn list_secret_ids(&self, req: &mut Request) -> Result<Option<Response>> {
        let role = self.role_for_secret_ids(req).await?;
        let bucket = self.bucket(&role);
        let mut keys = Vec::new();
        for hmac in req.storage.list(&format!("secret_id/{bucket}/")).await? {
            if hmac.is_empty() || hmac.ends_with('/') {
                continue;
            }
            if let Some(entry) = req
                .storage
                .get_json::<SecretIdEntry>(&secret_key(&bucket, &hmac))
                .await?
            {
                keys.push(entry.secret_id_accessor);
            }
        }
        keys.sort();
        Ok(Some(Response::list(keys)))
    }

    /// `POST role/:role_name/secret-id/lookup`: unknown or expired → 204.
    pub(super) async fn lookup_secret_id(&self, req: &mut Request) -> Result<Option<Response>> {
        role_name(req)?;
        let secret_id = req.data.str_or("secret_id", "")?;
        if secret_id.is_empty() {
            return Err(Error::bad_request("missing secret_id"));
        }
        let role = self.role_for_secret_ids(req).await?;
        let secret_hmac = self.secret_hmac(&role, &secret_id);
        match self.secret_entry(&req.storage, &role, &secret_hmac).await? {
            Some(entry) if !entry.expired(now_nanos()) => {
                Ok(Some(Response::data(entry.lookup_data())))
            }
            _ => Ok(None),
        }
    }

    /// `POST|DELETE role/:role_name/secret-id/destroy`: unknown → 204.
    pub(super) async fn destroy_secret_id(&self, req: &mut Request) -> Result<Option<Response>> {
        role_name(req)?;
        let secret_id = req.data.str_or("secret_id", "")?;
        if secret_id.is_empty() {
            return Err(Error::bad_request("missing secret_id"));
        }
        let role = self.role_for_secret_ids(req).await?;
        let secret_hmac = self.secret_hmac(&role, &secret_id);
        let _guard = self.secret_lock(&secret_hmac).lock().await;
        if let Some(entry) = self.secret_entry(&req.storage, &role, &secret_hmac).await? {
            self.remove_secret_entry(&req.storage, &role, &entry)
                .await?;
        }
        Ok(None)
    }

    /// Resolves an accessor of `role` to its secret ID entry. An unknown
    /// accessor is Vault's 404 carrying the error in `data`.
    async fn entry_by_accessor(
        &self,
        req: &Request,
        role: &RoleEntry,
        accessor: &str,
    ) -> Result<std::result::Result<Option<SecretIdEntry>, Response>> {
        let Some(index) = req
            .storage
            .get_json::<AccessorEntry>(&self.accessor_key(accessor))
            .await?
        else {
            let mut data = Map::new();
            data.insert(
                "error".into(),
                json!(format!(
                    "failed to find accessor entry for secret_id_accessor: {accessor:?}"
                )),
            );
            return Ok(Err(Response {
                data: Some(data),
                status: Some(404),
                ..Default::default()
            }));
        };
        if index.bucket != self.bucket(role) {
            return Ok(Ok(None));
        }
        self.secret_entry(&req.storage, role, &index.secret_id_hmac)
            .await
            .map(Ok)
    }

    /// `POST role/:role_name/secret-id-accessor/lookup`.
    pub(super) async fn lookup_accessor(&self, req: &mut Request) -> Result<Option<Response>> {
        role_name(req)?;
        let accessor = req.data.str_or("secret_id_accessor", "")?;
        if accessor.is_empty() {
            return Err(Error::bad_request("missing secret_id_accessor"));
        }
        let role = self.role_for_secret_ids(req).await?;
        match self.entry_by_accessor(req, &role, &accessor).await? {
            Err(not_found) => Ok(Some(not_found)),
            Ok(Some(entry)) if !entry.expired(now_nanos()) => {
                Ok(Some(Response::data(entry.lookup_data())))
            }
            Ok(_) => Ok(None),
        }
    }

    /// `POST|DELETE role/:role_name/secret-id-accessor/destroy`.
    pub(super) async fn destroy_accessor(&self, req: &mut Request) -> Result<Option<Response>> {
        role_name(req)?;
        let accessor = req.data.str_or("secret_id_accessor", "")?;
        if accessor.is_empty() {
            return Err(Error::bad_request("missing secret_id_accessor"));
        }
        let role = self.role_for_secret_ids(req).await?;
        let entry = match self.entry_by_accessor(req, &role, &accessor).await? {
            Err(not_found) => return Ok(Some(not_found)),
            Ok(None) => return Err(Error::bad_request("invalid secret id accessor")),
            Ok(Some(entry)) => entry,
        };
        let _guard = self.secret_lock(&entry.secret_id_hmac).lock().await;
        if let Some(entry) = self
            .secret_entry(&req.storage, &role, &entry.secret_id_hmac)
            .await?
        {
            self.remove_secret_entry(&req.storage, &role, &entry)
                .await?;
        }
        Ok(None)
    }

    /// Deletes every secret ID of a role (role deletion). Callers hold `role_lock`.
    pub(super) async fn flush_secret_ids(&self, req: &Request, role: &RoleEntry) -> Result<()> {
        let bucket = self.bucket(role);
        for hmac in req.storage.list(&format!("secret_id/{bucket}/")).await? {
            if hmac.ends_with('/') {
                continue;
            }
            let _guard = self.secret_lock(&hmac).lock().await;
            let key = secret_key(&bucket, &hmac);
            let mut ops = vec![BatchOp::Delete(key.clone())];
            if let Some(entry) = req.storage.get_json::<SecretIdEntry>(&key).await? {
                ops.push(BatchOp::Delete(
                    self.accessor_key(&entry.secret_id_accessor),
                ));
            }
            req.storage.batch(ops).await?;
        }
        Ok(())
    }
}

/// A time as Go's `time.Time` marshals it; 0 is Go's zero time.
fn go_time(nanos: i64) -> String {
    rfc3339_nano(nanos).unwrap_or_else(|| GO_ZERO_TIME.to_string())
}
