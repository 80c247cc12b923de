//! Audit devices: one JSON line per request and per response, with every
//! string value of the data, and every token and accessor, replaced by an
//! `hmac-sha256:` hash under the device's own key. If audit devices are
//! enabled and none can record a request, the request fails (Vault's rule:
//! nothing happens unaudited).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, RwLock, Weak};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::audit_headers::{AuditedHeaders, HeaderTable, RequestHeaders};
use super::token::TokenEntry;
use crate::logical::{Connection, Error, Operation, Result};
use crate::storage::Storage;
use crate::util::gotime::rfc3339;
use crate::util::ids::random_bytes;
use crate::util::keyed_hash::Hasher;

const TABLE_KEY: &str = "core/audit";

/// A device as stored (`sys/audit/:path`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditConfig {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
    pub local: bool,
    /// The device's HMAC key (hex); never shown.
    pub hmac_key: String,
}

impl AuditConfig {
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.kind,
            "description": self.description,
            "options": self.options,
            "local": self.local,
            "path": self.path,
        })
    }
}

enum Sink {
    Stdout,
    /// Shared by every device writing the same file (see [`AuditFiles`]).
    File(SharedFile),
}

/// An open audit file and the lock its writers take.
type SharedFile = Arc<Mutex<File>>;

/// A file's device and inode numbers.
type FileIdentity = (u64, u64);

/// The audit files open, by identity (device and inode, whatever path
/// named them): devices that write the same file share one handle and its
/// lock, so their records never interleave.
#[derive(Default)]
struct AuditFiles {
    open: Mutex<HashMap<FileIdentity, Weak<Mutex<File>>>>,
}

impl AuditFiles {
    fn open(&self, path: &str) -> std::io::Result<SharedFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let metadata = file.metadata()?;
        let identity = (metadata.dev(), metadata.ino());
        let mut open = self
            .open
            .lock()
            .map_err(|_| std::io::Error::other("audit file table lock poisoned"))?;
        if let Some(shared) = open.get(&identity).and_then(Weak::upgrade) {
            return Ok(shared);
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let shared = Arc::new(Mutex::new(file));
        open.retain(|_, file| file.strong_count() > 0);
        open.insert(identity, Arc::downgrade(&shared));
        Ok(shared)
    }
}

struct Device {
    config: AuditConfig,
    hasher: Hasher,
    log_raw: bool,
    sink: Sink,
}

impl Device {
    fn open(config: AuditConfig, files: &AuditFiles) -> Result<Device> {
        let file_path = config.options.get("file_path").cloned().unwrap_or_default();
        let sink = match file_path.as_str() {
            "" => return Err(Error::bad_request("file_path is required")),
            "-" | "stdout" => Sink::Stdout,
            path => Sink::File(files.open(path).map_err(|e| {
                Error::BadRequest(format!(
                    "sanity check failed; unable to open {path:?} for writing: {e}"
                ))
            })?),
        };
        let key = hex::decode(&config.hmac_key)
            .map_err(|_| Error::internal("corrupt audit device key"))?;
        let log_raw = config
            .options
            .get("log_raw")
            .and_then(|v| crate::logical::parse_bool(v))
            .unwrap_or(false);
        Ok(Device {
            hasher: Hasher::new(&key),
            log_raw,
            sink,
            config,
        })
    }

    fn hash(&self, value: &str) -> String {
        format!("hmac-sha256:{}", self.hasher.hash_raw(value))
    }

    fn hash_value(&self, value: &mut Value) {
        if self.log_raw {
            return;
        }
        match value {
            Value::String(s) => *s = self.hash(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.hash_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.hash_value(v)),
            _ => {}
        }
    }

    /// The entry a new device writes first: an update of `sys/audit/test`.
    fn write_test_message(&self) -> std::io::Result<()> {
        let entry = json!({
            "time": now_rfc3339_nanos(),
            "type": "request",
            "request": {
                "id": crate::util::ids::uuid(),
                "operation": "update",
                "namespace": {"id": "root"},
                "path": "sys/audit/test",
                "data": {"test": if self.log_raw { "data".to_string() } else { self.hash("data") }},
            },
        });
        self.write(&entry)
    }

    /// Writes one record and its newline in a single write, under the
    /// file's lock.
    fn write(&self, entry: &Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        match &self.sink {
            Sink::Stdout => std::io::stdout().lock().write_all(&line),
            Sink::File(file) => file
                .lock()
                .map_err(|_| std::io::Error::other("audit file lock poisoned"))?
                .write_all(&line),
        }
    }
}

/// What is known about a request when it is audited.
pub struct AuditRequest<'a> {
    pub id: &'a str,
    pub operation: Operation,
    pub path: &'a str,
    pub data: &'a Map<String, Value>,
    pub client_token: Option<&'a str>,
    pub token: Option<&'a TokenEntry>,
    pub connection: &'a Connection,
    /// The configured audited headers the request carried.
    pub headers: &'a RequestHeaders,
}

/// What is recorded of a successful response.
pub struct AuditedResponse<'a> {
    pub data: &'a Option<Map<String, Value>>,
    pub auth: &'a Option<Value>,
    pub warnings: &'a [String],
}

pub struct AuditBroker {
    storage: Arc<dyn Storage>,
    devices: RwLock<Vec<Arc<Device>>>,
    files: AuditFiles,
    /// `sys/config/auditing/request-headers`.
    pub headers: AuditedHeaders,
}

impl AuditBroker {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        AuditBroker {
            headers: AuditedHeaders::new(storage.clone()),
            storage,
            devices: RwLock::new(Vec::new()),
            files: AuditFiles::default(),
        }
    }

    fn snapshot(&self) -> Vec<Arc<Device>> {
        self.devices.read().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn is_enabled(&self) -> bool {
        !self.snapshot().is_empty()
    }

    /// The headers a request should hand over for its audit records:
    /// `None` when nothing would record them (no header configured, or no
    /// device enabled), so that requests copy no headers then.
    pub fn wanted_headers(&self) -> Option<Arc<HeaderTable>> {
        let table = self.headers.table();
        (!table.is_empty() && self.is_enabled()).then_some(table)
    }

    /// Opens the stored devices and reads the audited headers (at unseal).
    pub async fn load(&self) -> Result<()> {
        self.headers.load().await?;
        let configs: Vec<AuditConfig> = match self.storage.get(TABLE_KEY).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::internal(format!("corrupt audit table: {e}")))?,
            None => Vec::new(),
        };
        let mut devices = Vec::new();
        for config in configs {
            match Device::open(config, &self.files) {
                Ok(device) => devices.push(Arc::new(device)),
                Err(err) => tracing::error!(%err, "audit device could not be opened"),
            }
        }
        if let Ok(mut guard) = self.devices.write() {
            *guard = devices;
        }
        Ok(())
    }

    pub fn clear(&self) {
        if let Ok(mut guard) = self.devices.write() {
            guard.clear();
        }
        self.headers.clear();
    }

    async fn persist(&self, devices: &[Arc<Device>]) -> Result<()> {
        let configs: Vec<&AuditConfig> = devices.iter().map(|d| &d.config).collect();
        self.storage
            .put(TABLE_KEY, serde_json::to_vec(&configs)?)
            .await?;
        Ok(())
    }

    pub fn list(&self) -> Vec<AuditConfig> {
        self.snapshot().iter().map(|d| d.config.clone()).collect()
    }

    pub async fn enable(
        &self,
        path: &str,
        kind: &str,
        description: String,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<()> {
        if kind != "file" {
            return Err(Error::BadRequest(format!("unknown backend type: {kind:?}")));
        }
        let path = crate::core::mounts::normalize_mount_path(path);
        let mut devices = self.snapshot();
        if devices.iter().any(|d| d.config.path == path) {
            return Err(Error::BadRequest(format!("path already in use: {path}")));
        }
        let config = AuditConfig {
            path,
            kind: kind.to_string(),
            description,
            options,
            local,
            hmac_key: hex::encode(random_bytes(32)),
        };
        let device = Device::open(config, &self.files)?;
        // As Vault: a device that cannot record a test entry is not
        // enabled (a full disk would otherwise fail every later request).
        device
            .write_test_message()
            .map_err(|e| Error::BadRequest(format!("audit backend failed test message: {e}")))?;
        devices.push(Arc::new(device));
        self.persist(&devices).await?;
        if let Ok(mut guard) = self.devices.write() {
            *guard = devices;
        }
        Ok(())
    }

    pub async fn disable(&self, path: &str) -> Result<()> {
        let path = crate::core::mounts::normalize_mount_path(path);
        let mut devices = self.snapshot();
        devices.retain(|d| d.config.path != path);
        self.persist(&devices).await?;
        if let Ok(mut guard) = self.devices.write() {
            *guard = devices;
        }
        Ok(())
    }

    /// `sys/audit-hash/:path`.
    pub fn hash(&self, path: &str, input: &str) -> Result<String> {
        let path = crate::core::mounts::normalize_mount_path(path);
        self.snapshot()
            .iter()
            .find(|d| d.config.path == path)
            .map(|d| d.hash(input))
            .ok_or_else(|| Error::BadRequest(format!("unknown audit backend {path}")))
    }

    fn auth_json(device: &Device, token: Option<&TokenEntry>) -> Value {
        let Some(token) = token else {
            return Value::Null;
        };
        let mut metadata = json!(token.meta);
        device.hash_value(&mut metadata);
        json!({
            "client_token": device.hash(&token.id),
            "accessor": device.hash(&token.accessor),
            "display_name": token.display_name,
            "policies": token.policies,
            "token_policies": token.policies,
            "metadata": metadata,
            "entity_id": "",
            "token_type": token.token_type,
            "token_ttl": token.creation_ttl,
            "token_issue_time": rfc3339(token.creation_time),
        })
    }

    /// The request's audited headers; those configured with `hmac` are
    /// hashed even on a `log_raw` device, as in Vault.
    fn headers_json(device: &Device, headers: &RequestHeaders) -> Value {
        headers
            .iter()
            .map(|(name, header)| {
                let values: Vec<String> = header
                    .values
                    .iter()
                    .map(|v| {
                        if header.hmac {
                            device.hash(v)
                        } else {
                            v.clone()
                        }
                    })
                    .collect();
                (name.clone(), json!(values))
            })
            .collect::<Map<String, Value>>()
            .into()
    }

    fn request_json(device: &Device, req: &AuditRequest<'_>, mount_type: &str) -> Value {
        let mut data = Value::Object(req.data.clone());
        device.hash_value(&mut data);
        let (remote_address, remote_port) = match req.connection.remote_addr {
            Some(addr) => (addr.ip().to_string(), addr.port()),
            None => (String::new(), 0),
        };
        let mut request = json!({
            "id": req.id,
            "operation": req.operation.as_str(),
            "mount_type": mount_type,
            "client_token": req.client_token.map(|t| device.hash(t)).unwrap_or_default(),
            "client_token_accessor": req.token.map(|t| device.hash(&t.accessor)).unwrap_or_default(),
            "namespace": {"id": "root"},
            "path": req.path,
            "data": if req.data.is_empty() { Value::Null } else { data },
            "remote_address": remote_address,
            "remote_port": remote_port,
        });
        if let (false, Some(map)) = (req.headers.is_empty(), request.as_object_mut()) {
            map.insert("headers".into(), Self::headers_json(device, req.headers));
        }
        request
    }

    /// Records the request. Fails if no device could write it.
    pub fn log_request(&self, req: &AuditRequest<'_>, error: Option<&str>) -> Result<()> {
        self.log_all(|device| {
            let mut entry = json!({
                "time": now_rfc3339_nanos(),
                "type": "request",
                "auth": Self::auth_json(device, req.token),
                "request": Self::request_json(device, req, ""),
            });
            if let (Some(error), Some(map)) = (error, entry.as_object_mut()) {
                map.insert("error".into(), json!(error));
            }
            entry
        })
    }

    /// Records the response (or the error the request ended with).
    pub fn log_response(
        &self,
        req: &AuditRequest<'_>,
        mount_type: &str,
        response: Option<AuditedResponse<'_>>,
        error: Option<&str>,
    ) -> Result<()> {
        self.log_all(|device| {
            let mut entry = json!({
                "time": now_rfc3339_nanos(),
                "type": "response",
                "auth": Self::auth_json(device, req.token),
                "request": Self::request_json(device, req, mount_type),
            });
            let Some(map) = entry.as_object_mut() else { return entry };
            if let Some(AuditedResponse { data, auth, warnings }) = response {
                let mut data = data.clone().map(Value::Object).unwrap_or(Value::Null);
                device.hash_value(&mut data);
                let mut auth = auth.clone().unwrap_or(Value::Null);
                if let Some(auth) = auth.as_object_mut() {
                    for key in ["client_token", "accessor", "metadata"] {
                        if let Some(value) = auth.get_mut(key) {
                            device.hash_value(value);
                        }
                    }
                }
                map.insert(
                    "response".into(),
                    json!({ "mount_type": mount_type, "data": data, "auth": auth, "warnings": warnings }),
                );
            }
            if let Some(error) = error {
                map.insert("error".into(), json!(error));
            }
            entry
        })
    }

    fn log_all(&self, entry_for: impl Fn(&Device) -> Value) -> Result<()> {
        let devices = self.snapshot();
        if devices.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        for device in &devices {
            match device.write(&entry_for(device)) {
                Ok(()) => written += 1,
                Err(err) => {
                    tracing::error!(device = %device.config.path, %err, "audit device failed")
                }
            }
        }
        if written == 0 {
            return Err(Error::internal("no audit device could record the request"));
        }
        Ok(())
    }
}

fn now_rfc3339_nanos() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
