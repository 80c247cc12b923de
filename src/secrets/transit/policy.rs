//! A named key (Vault's `keysutil.Policy`): its type, its versions (the
//! keyring) and the settings that govern them, as stored under
//! `policy/<name>` in the mount's view.

use std::collections::BTreeMap;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::asymmetric::{ecdsa_signing, EcCurve, ParsedSigningKey};
use super::ciphertext::b64encode;
use crate::logical::{Error, Result};
use crate::util::gotime::{now_nanos, now_unix, rfc3339_nano};

/// The key types transit creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "aes128-gcm96")]
    Aes128Gcm96,
    #[serde(rename = "aes256-gcm96")]
    Aes256Gcm96,
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "ecdsa-p521")]
    EcdsaP521,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    #[serde(rename = "hmac")]
    Hmac,
}

impl KeyType {
    pub fn parse(name: &str) -> Result<KeyType> {
        serde_json::from_value(Value::String(name.to_string()))
            .map_err(|_| Error::BadRequest(format!("unknown key type {name}")))
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// AES-GCM, ChaCha20-Poly1305 or RSA-OAEP: encrypt/decrypt/rewrap/datakey.
    pub fn supports_encryption(self) -> bool {
        self.is_symmetric_cipher() || self.is_rsa()
    }

    fn is_symmetric_cipher(self) -> bool {
        matches!(
            self,
            KeyType::Aes128Gcm96 | KeyType::Aes256Gcm96 | KeyType::ChaCha20Poly1305
        )
    }

    pub fn supports_signing(self) -> bool {
        matches!(
            self,
            KeyType::Ed25519
                | KeyType::EcdsaP256
                | KeyType::EcdsaP384
                | KeyType::EcdsaP521
                | KeyType::Rsa2048
                | KeyType::Rsa3072
                | KeyType::Rsa4096
        )
    }

    /// Key derivation from a context: the symmetric ciphers and ed25519.
    pub fn supports_derivation(self) -> bool {
        self.is_symmetric_cipher() || self == KeyType::Ed25519
    }

    pub fn curve(self) -> Option<EcCurve> {
        match self {
            KeyType::EcdsaP256 => Some(EcCurve::P256),
            KeyType::EcdsaP384 => Some(EcCurve::P384),
            KeyType::EcdsaP521 => Some(EcCurve::P521),
            _ => None,
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }
}

/// Whether a restored key's name is one a path can name.
pub fn is_key_name(name: &str) -> bool {
    crate::logical::framework::is_generic_name(name)
}

/// One version of a key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyVersion {
    /// Symmetric key bytes, or the private key as PKCS#8 DER.
    #[serde(with = "crate::util::base64_serde")]
    pub key: Vec<u8>,
    /// The HMAC key of `hmac/` for keys that are not `hmac` keys.
    #[serde(with = "crate::util::base64_serde")]
    pub hmac_key: Vec<u8>,
    /// Unix nanoseconds.
    pub creation_time: i64,
    /// `key` parsed as a signing key pair, on first use.
    #[serde(skip)]
    pub parsed: ParsedSigningKey,
}

/// A stored key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: KeyType,
    #[serde(default)]
    pub derived: bool,
    #[serde(default)]
    pub convergent_encryption: bool,
    #[serde(default)]
    pub exportable: bool,
    #[serde(default)]
    pub allow_plaintext_backup: bool,
    #[serde(default)]
    pub deletion_allowed: bool,
    pub latest_version: i64,
    pub min_decryption_version: i64,
    #[serde(default)]
    pub min_encryption_version: i64,
    #[serde(default)]
    pub min_available_version: i64,
    /// Seconds; 0 = never rotated automatically.
    #[serde(default)]
    pub auto_rotate_period: i64,
    /// Key size of `hmac` keys, in bytes.
    #[serde(default)]
    pub key_size: usize,
    pub keys: BTreeMap<i64, KeyVersion>,
    /// When and at which version the key was last backed up, and when it
    /// was restored (Vault's `backup_info` and `restore_info`).
    #[serde(default)]
    pub backup_info: Option<Value>,
    #[serde(default)]
    pub restore_info: Option<Value>,
}

/// What a new key is made with (`keys/:name` create).
pub struct NewKey {
    pub key_type: KeyType,
    pub derived: bool,
    pub convergent_encryption: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub auto_rotate_period: i64,
    pub key_size: usize,
}

fn random(len: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::internal("no randomness"))?;
    Ok(bytes)
}

impl Policy {
    /// A new key with its first version.
    pub fn create(name: &str, new: NewKey) -> Result<Policy> {
        if new.convergent_encryption && !new.derived {
            return Err(Error::bad_request(
                "convergent encryption requires derivation to be enabled",
            ));
        }
        if new.derived && !new.key_type.supports_derivation() {
            return Err(Error::BadRequest(format!(
                "key derivation not supported for key type {}",
                new.key_type.as_str()
            )));
        }
        if new.convergent_encryption && !new.key_type.supports_derivation() {
            return Err(Error::BadRequest(format!(
                "convergent encryption not supported for keys of type {}",
                new.key_type.as_str()
            )));
        }
        if new.key_type == KeyType::Hmac && !(32..=512).contains(&new.key_size) {
            return Err(Error::bad_request(
                "invalid key size for HMAC key, must be between 32 and 512 bytes",
            ));
        }
        let mut policy = Policy {
            name: name.to_string(),
            key_type: new.key_type,
            derived: new.derived,
            convergent_encryption: new.convergent_encryption,
            exportable: new.exportable,
            allow_plaintext_backup: new.allow_plaintext_backup,
            deletion_allowed: false,
            latest_version: 0,
            min_decryption_version: 1,
            min_encryption_version: 0,
            min_available_version: 0,
            auto_rotate_period: new.auto_rotate_period,
            key_size: new.key_size,
            keys: BTreeMap::new(),
            backup_info: None,
            restore_info: None,
        };
        policy.rotate()?;
        Ok(policy)
    }

    /// Adds a new latest version.
    pub fn rotate(&mut self) -> Result<()> {
        let key = match self.key_type {
            KeyType::Aes128Gcm96 => random(16)?,
            KeyType::Aes256Gcm96 | KeyType::ChaCha20Poly1305 => random(32)?,
            KeyType::Hmac => random(self.key_size)?,
            KeyType::Ed25519 => {
                Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                    .map_err(|_| Error::internal("ed25519 key generation failed"))?
                    .as_ref()
                    .to_vec()
            }
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
                let curve = self
                    .key_type
                    .curve()
                    .ok_or_else(|| Error::internal("curve"))?;
                EcdsaKeyPair::generate_pkcs8(
                    ecdsa_signing(curve),
                    &aws_lc_rs::rand::SystemRandom::new(),
                )
                .map_err(|_| Error::internal("ecdsa key generation failed"))?
                .as_ref()
                .to_vec()
            }
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                let size = match self.key_type {
                    KeyType::Rsa2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    KeyType::Rsa3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    _ => aws_lc_rs::rsa::KeySize::Rsa4096,
                };
                let pair = aws_lc_rs::rsa::KeyPair::generate(size)
                    .map_err(|_| Error::internal("rsa key generation failed"))?;
                pair.as_der()
                    .map_err(|_| Error::internal("rsa key encoding failed"))?
                    .as_ref()
                    .to_vec()
            }
        };
        self.latest_version += 1;
        self.keys.insert(
            self.latest_version,
            KeyVersion {
                key,
                hmac_key: random(32)?,
                creation_time: now_nanos(),
                parsed: Default::default(),
            },
        );
        Ok(())
    }

    /// The version of a new encryption/signature: `requested` (0 = latest)
    /// within the allowed range.
    pub fn encryption_version(&self, requested: i64) -> Result<i64> {
        let version = if requested == 0 {
            self.latest_version
        } else {
            requested
        };
        if version > self.latest_version {
            return Err(Error::bad_request(
                "requested version for encryption is higher than the latest key version",
            ));
        }
        if self.min_encryption_version > 0 && version < self.min_encryption_version {
            return Err(Error::bad_request(
                "requested version for encryption is less than the minimum encryption key version",
            ));
        }
        Ok(version)
    }

    /// The key of a ciphertext's version, checked against the window of
    /// versions allowed to decrypt.
    pub fn decryption_key(&self, version: i64) -> Result<&KeyVersion> {
        if version <= 0 {
            return Err(Error::bad_request("invalid ciphertext: version number"));
        }
        if version > self.latest_version {
            return Err(Error::bad_request("invalid ciphertext: version is too new"));
        }
        if version < self.min_decryption_version {
            return Err(Error::bad_request(
                "ciphertext or signature version is disallowed by policy (too old)",
            ));
        }
        self.keys
            .get(&version)
            .ok_or_else(|| Error::bad_request("invalid ciphertext: key version not found"))
    }

    pub fn version(&self, version: i64) -> Result<&KeyVersion> {
        self.keys
            .get(&version)
            .ok_or_else(|| Error::internal(format!("key version {version} is missing")))
    }

    /// The `data` of a key read, as Vault shows it. A derived signing key
    /// has a public key per context: shown for `context`, else empty.
    pub fn to_data(&self, context: &[u8]) -> Result<Map<String, Value>> {
        let mut keys = Map::new();
        for (version, entry) in self.keys.range(self.min_decryption_version.max(1)..) {
            let shown = if self.key_type.supports_signing() {
                let (name, public_key) = if !self.derived {
                    super::asymmetric::public_key(self.key_type, &entry.key)?
                } else if context.is_empty() {
                    (self.key_type.as_str(), String::new())
                } else {
                    let pair = super::asymmetric::derived_ed25519(&entry.key, context)?;
                    (
                        self.key_type.as_str(),
                        b64encode(pair.public_key().as_ref()),
                    )
                };
                json!({
                    "certificate_chain": "",
                    "creation_time": rfc3339_nano(entry.creation_time).unwrap_or_default(),
                    "name": name,
                    "public_key": public_key,
                })
            } else {
                json!(entry.creation_time / 1_000_000_000)
            };
            keys.insert(version.to_string(), shown);
        }
        let t = self.key_type;
        let mut data = Map::new();
        data.insert(
            "allow_plaintext_backup".into(),
            json!(self.allow_plaintext_backup),
        );
        data.insert("auto_rotate_period".into(), json!(self.auto_rotate_period));
        if let Some(info) = &self.backup_info {
            data.insert("backup_info".into(), info.clone());
        }
        if let Some(info) = &self.restore_info {
            data.insert("restore_info".into(), info.clone());
        }
        data.insert("deletion_allowed".into(), json!(self.deletion_allowed));
        data.insert("derived".into(), json!(self.derived));
        data.insert("exportable".into(), json!(self.exportable));
        data.insert("imported_key".into(), json!(false));
        data.insert("keys".into(), Value::Object(keys));
        data.insert("latest_version".into(), json!(self.latest_version));
        data.insert(
            "min_available_version".into(),
            json!(self.min_available_version),
        );
        data.insert(
            "min_decryption_version".into(),
            json!(self.min_decryption_version),
        );
        data.insert(
            "min_encryption_version".into(),
            json!(self.min_encryption_version),
        );
        data.insert("name".into(), json!(self.name));
        data.insert("supports_decryption".into(), json!(t.supports_encryption()));
        data.insert("supports_derivation".into(), json!(t.supports_derivation()));
        data.insert("supports_encryption".into(), json!(t.supports_encryption()));
        data.insert("supports_signing".into(), json!(t.supports_signing()));
        data.insert("type".into(), json!(t.as_str()));
        if self.derived {
            data.insert("kdf".into(), json!("hkdf_sha256"));
            data.insert(
                "convergent_encryption".into(),
                json!(self.convergent_encryption),
            );
            if self.convergent_encryption {
                data.insert("convergent_encryption_version".into(), json!(3));
            }
        }
        if t == KeyType::Hmac {
            data.remove("keys");
            data.insert("key_size".into(), json!(self.key_size));
        }
        Ok(data)
    }

    /// Whether the last rotation is older than `auto_rotate_period`.
    pub fn due_for_rotation(&self) -> bool {
        if self.auto_rotate_period <= 0 {
            return false;
        }
        let last = self
            .keys
            .get(&self.latest_version)
            .map(|k| k.creation_time / 1_000_000_000)
            .unwrap_or(0);
        now_unix() >= last + self.auto_rotate_period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_key(key_type: KeyType, auto_rotate_period: i64) -> NewKey {
        NewKey {
            key_type,
            derived: false,
            convergent_encryption: false,
            exportable: false,
            allow_plaintext_backup: false,
            auto_rotate_period,
            key_size: 32,
        }
    }

    #[test]
    fn a_key_is_due_for_rotation_once_its_latest_version_is_a_period_old() {
        let fresh = Policy::create("k", new_key(KeyType::Aes256Gcm96, 3600));
        let Ok(mut policy) = fresh else {
            panic!("key creation failed");
        };
        assert!(!policy.due_for_rotation());
        if let Some(latest) = policy.keys.get_mut(&1) {
            latest.creation_time -= 3601 * 1_000_000_000;
        }
        assert!(policy.due_for_rotation());
        assert!(policy.rotate().is_ok());
        assert!(!policy.due_for_rotation(), "the new version is fresh");
        policy.auto_rotate_period = 0;
        if let Some(latest) = policy.keys.get_mut(&2) {
            latest.creation_time = 0;
        }
        assert!(!policy.due_for_rotation(), "a period of 0 never rotates");
    }

    #[test]
    fn versions_outside_the_window_are_refused() {
        let Ok(mut policy) = Policy::create("k", new_key(KeyType::ChaCha20Poly1305, 0)) else {
            panic!("key creation failed");
        };
        assert!(policy.rotate().is_ok());
        policy.min_decryption_version = 2;
        policy.min_encryption_version = 2;
        assert!(policy.decryption_key(1).is_err());
        assert!(policy.decryption_key(3).is_err());
        assert!(policy.decryption_key(2).is_ok());
        assert_eq!(policy.encryption_version(0).ok(), Some(2));
        assert!(policy.encryption_version(1).is_err());
    }
}
