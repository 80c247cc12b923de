//! Vault's key backup: base64 of `{"policy": …, "archived_keys": …}` in
//! the JSON of Vault's `keysutil.Policy`, so that a backup taken from Vault
//! or OpenBao restores here and the reverse. Private keys travel as Vault
//! holds them: symmetric keys as bytes, ed25519 as seed and public key,
//! ECDSA as the big integers `ec_d`, `ec_x`, `ec_y`.

use std::collections::BTreeMap;

use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::asymmetric::ecdsa_signing;
use super::ciphertext::{b64decode, b64encode};
use super::go_rsa::{GoRsaKey, BIG_FIELDS as GO_RSA_BIG_FIELDS};
use super::policy::{KeyType, KeyVersion, Policy};
use crate::logical::{Error, Result};
use crate::util::gotime::rfc3339_nano;

/// Vault's `KeyType` numbers.
const TYPES: &[(i64, KeyType)] = &[
    (0, KeyType::Aes256Gcm96),
    (1, KeyType::EcdsaP256),
    (2, KeyType::Ed25519),
    (3, KeyType::Rsa2048),
    (4, KeyType::Rsa4096),
    (5, KeyType::ChaCha20Poly1305),
    (6, KeyType::EcdsaP384),
    (7, KeyType::EcdsaP521),
    (8, KeyType::Aes128Gcm96),
    (9, KeyType::Rsa3072),
    (10, KeyType::Hmac),
];

/// Fields that hold Go `*big.Int`s (bare JSON numbers of any size, or
/// arrays of them), besides those of an RSA key.
const BIG_FIELDS: &[&str] = &["ec_x", "ec_y", "ec_d"];
/// Marks a string this writer turns into a bare number.
pub(super) const BIG_MARK: &str = "#big#";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct VaultKey {
    key: Option<String>,
    hmac_key: Option<String>,
    time: String,
    ec_x: Option<String>,
    ec_y: Option<String>,
    ec_d: Option<String>,
    rsa_key: Option<GoRsaKey>,
    public_key: String,
    convergent_version: i64,
    creation_time: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct VaultPolicy {
    name: String,
    keys: BTreeMap<String, VaultKey>,
    derived: bool,
    kdf: i64,
    convergent_encryption: bool,
    exportable: bool,
    min_decryption_version: i64,
    min_encryption_version: i64,
    latest_version: i64,
    archive_version: i64,
    archive_min_version: i64,
    min_available_version: i64,
    deletion_allowed: bool,
    convergent_version: i64,
    #[serde(rename = "type")]
    key_type: i64,
    backup_info: Option<Value>,
    restore_info: Option<Value>,
    allow_plaintext_backup: bool,
    auto_rotate_period: i64,
    key_size: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Archive {
    keys: Vec<VaultKey>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Backup {
    policy: VaultPolicy,
    archived_keys: Archive,
}

/// A decimal big integer as big-endian bytes, `len` wide.
pub(super) fn decimal_to_bytes(text: &str, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    for digit in text.chars() {
        let mut carry = digit.to_digit(10)?;
        for byte in out.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(out)
}

/// Big-endian bytes as a decimal big integer.
pub(super) fn bytes_to_decimal(bytes: &[u8]) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for byte in number.iter_mut() {
            let v = (rem << 8) | u32::from(*byte);
            *byte = (v / 10) as u8;
            rem = v % 10;
        }
        digits.push(char::from(b'0' + rem as u8));
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().collect()
}

/// Quotes the bare big numbers of [`BIG_FIELDS`] and of RSA keys (alone or
/// in an array) so that JSON readers without arbitrary precision keep every
/// digit.
fn quote_big_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, key_len)) = BIG_FIELDS
        .iter()
        .chain(GO_RSA_BIG_FIELDS)
        .filter_map(|f| rest.find(&format!("\"{f}\":")).map(|i| (i, f.len() + 3)))
        .min()
    {
        out.push_str(&rest[..start + key_len]);
        rest = &rest[start + key_len..];
        let in_array = rest.trim_start().starts_with('[');
        loop {
            let trimmed =
                rest.trim_start_matches(|c: char| c.is_whitespace() || c == '[' || c == ',');
            out.push_str(&rest[..rest.len() - trimmed.len()]);
            let digits: String = trimmed.chars().take_while(char::is_ascii_digit).collect();
            rest = &trimmed[digits.len()..];
            if !digits.is_empty() {
                out.push('"');
                out.push_str(&digits);
                out.push('"');
            }
            if digits.is_empty() || !in_array || !rest.trim_start().starts_with(',') {
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn unquote_big_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mark = format!("\"{BIG_MARK}");
    while let Some(start) = rest.find(&mark) {
        out.push_str(&rest[..start]);
        rest = &rest[start + mark.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn bad_backup() -> Error {
    Error::bad_request("failed to restore the policy: invalid backup")
}

fn to_vault_key(key_type: KeyType, entry: &KeyVersion) -> Result<VaultKey> {
    let mut out = VaultKey {
        hmac_key: Some(b64encode(&entry.hmac_key)),
        time: rfc3339_nano(entry.creation_time).unwrap_or_default(),
        creation_time: entry.creation_time / 1_000_000_000,
        ..Default::default()
    };
    if let Some(curve) = key_type.curve() {
        let pair = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), &entry.key)
            .map_err(|_| Error::internal("stored key cannot be parsed"))?;
        let d: EcPrivateKeyBin = pair
            .private_key()
            .as_be_bytes()
            .map_err(|_| Error::internal("stored key cannot be encoded"))?;
        let point = pair.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        out.ec_d = Some(format!("{BIG_MARK}{}", bytes_to_decimal(d.as_ref())));
        out.ec_x = Some(format!(
            "{BIG_MARK}{}",
            bytes_to_decimal(&point[1..1 + half])
        ));
        out.ec_y = Some(format!(
            "{BIG_MARK}{}",
            bytes_to_decimal(&point[1 + half..])
        ));
        out.public_key = super::asymmetric::public_key(key_type, &entry.key)?.1;
    } else if key_type == KeyType::Ed25519 {
        let raw = super::asymmetric::ed25519_raw(&entry.key)?;
        out.public_key = b64encode(&raw[32..]);
        out.key = Some(b64encode(&raw));
    } else if key_type.is_rsa() {
        out.rsa_key = Some(GoRsaKey::from_pkcs8(&entry.key)?);
    } else {
        out.key = Some(b64encode(&entry.key));
    }
    Ok(out)
}

fn from_vault_key(key_type: KeyType, key: &VaultKey) -> Result<KeyVersion> {
    let bytes = |v: &Option<String>| match v {
        Some(text) => b64decode(text).map_err(|_| bad_backup()),
        None => Ok(Vec::new()),
    };
    let material = if let Some(curve) = key_type.curve() {
        let width = match curve {
            super::asymmetric::EcCurve::P256 => 32,
            super::asymmetric::EcCurve::P384 => 48,
            super::asymmetric::EcCurve::P521 => 66,
        };
        let big = |v: &Option<String>| {
            v.as_deref()
                .and_then(|t| decimal_to_bytes(t, width))
                .ok_or_else(bad_backup)
        };
        let mut point = vec![4u8];
        point.extend(big(&key.ec_x)?);
        point.extend(big(&key.ec_y)?);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            ecdsa_signing(curve),
            &big(&key.ec_d)?,
            &point,
        )
        .map_err(|_| bad_backup())?;
        pair.to_pkcs8v1()
            .map_err(|_| bad_backup())?
            .as_ref()
            .to_vec()
    } else if key_type == KeyType::Ed25519 {
        let raw = bytes(&key.key)?;
        if raw.len() != 64 {
            return Err(bad_backup());
        }
        let pair = Ed25519KeyPair::from_seed_and_public_key(&raw[..32], &raw[32..])
            .map_err(|_| bad_backup())?;
        pair.to_pkcs8().map_err(|_| bad_backup())?.as_ref().to_vec()
    } else if key_type.is_rsa() {
        key.rsa_key
            .as_ref()
            .ok_or_else(bad_backup)?
            .to_pkcs8(key_type)?
    } else {
        bytes(&key.key)?
    };
    let creation_time =
        time::OffsetDateTime::parse(&key.time, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp_nanos() as i64)
            .unwrap_or(key.creation_time * 1_000_000_000);
    Ok(KeyVersion {
        key: material,
        hmac_key: bytes(&key.hmac_key)?,
        creation_time,
        parsed: Default::default(),
    })
}

/// The backup of `policy`, as Vault writes it.
pub fn export(policy: &Policy, backup_time: &str) -> Result<String> {
    let type_number = TYPES
        .iter()
        .find(|(_, t)| *t == policy.key_type)
        .map(|(n, _)| *n)
        .unwrap_or(0);
    let mut keys = BTreeMap::new();
    let mut archived = vec![VaultKey {
        time: "0001-01-01T00:00:00Z".into(),
        ..Default::default()
    }];
    for version in 1..=policy.latest_version {
        let shown = match policy.keys.get(&version) {
            Some(entry) => to_vault_key(policy.key_type, entry)?,
            None => VaultKey {
                time: "0001-01-01T00:00:00Z".into(),
                ..Default::default()
            },
        };
        if version >= policy.min_decryption_version {
            if let Some(entry) = policy.keys.get(&version) {
                keys.insert(version.to_string(), to_vault_key(policy.key_type, entry)?);
            }
        }
        archived.push(shown);
    }
    let backup = Backup {
        policy: VaultPolicy {
            name: policy.name.clone(),
            keys,
            derived: policy.derived,
            kdf: 1,
            convergent_encryption: policy.convergent_encryption,
            exportable: policy.exportable,
            min_decryption_version: policy.min_decryption_version,
            min_encryption_version: policy.min_encryption_version,
            latest_version: policy.latest_version,
            archive_version: policy.latest_version,
            archive_min_version: 0,
            min_available_version: policy.min_available_version,
            deletion_allowed: policy.deletion_allowed,
            convergent_version: if policy.convergent_encryption { 3 } else { 0 },
            key_type: type_number,
            backup_info: Some(serde_json::json!({
                "time": backup_time,
                "version": policy.latest_version,
            })),
            restore_info: policy.restore_info.clone(),
            allow_plaintext_backup: policy.allow_plaintext_backup,
            auto_rotate_period: policy.auto_rotate_period * 1_000_000_000,
            key_size: policy.key_size,
        },
        archived_keys: Archive { keys: archived },
    };
    let text = serde_json::to_string(&backup)?;
    Ok(b64encode(unquote_big_numbers(&text).as_bytes()))
}

/// A key from a backup made by Vault, OpenBao or [`export`], named `name`
/// (or as it was backed up).
pub fn import(backup: &str, name: Option<&str>) -> Result<Policy> {
    let raw = b64decode(backup)?;
    let text = String::from_utf8(raw).map_err(|_| bad_backup())?;
    let parsed: Backup = serde_json::from_str(&quote_big_numbers(&text))
        .map_err(|e| Error::BadRequest(format!("failed to restore the policy: {e}")))?;
    let p = parsed.policy;
    let key_type = TYPES
        .iter()
        .find(|(n, _)| *n == p.key_type)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::BadRequest(format!("unsupported key type {}", p.key_type)))?;
    if p.derived && p.kdf != 1 {
        return Err(Error::bad_request(
            "failed to restore the policy: only the hkdf_sha256 key derivation is supported",
        ));
    }
    let mut keys = BTreeMap::new();
    for (version, key) in parsed.archived_keys.keys.iter().enumerate() {
        let has_material = key.key.is_some() || key.ec_d.is_some() || key.rsa_key.is_some();
        if version > 0 && has_material && version as i64 >= p.min_available_version {
            keys.insert(version as i64, from_vault_key(key_type, key)?);
        }
    }
    for (version, key) in &p.keys {
        let version: i64 = version.parse().map_err(|_| bad_backup())?;
        keys.insert(version, from_vault_key(key_type, key)?);
    }
    if !keys.contains_key(&p.latest_version) {
        return Err(bad_backup());
    }
    Ok(Policy {
        name: name.map(str::to_string).unwrap_or(p.name),
        key_type,
        derived: p.derived,
        convergent_encryption: p.convergent_encryption,
        exportable: p.exportable,
        allow_plaintext_backup: p.allow_plaintext_backup,
        deletion_allowed: p.deletion_allowed,
        latest_version: p.latest_version,
        min_decryption_version: p.min_decryption_version.max(1),
        min_encryption_version: p.min_encryption_version,
        min_available_version: p.min_available_version,
        auto_rotate_period: p.auto_rotate_period / 1_000_000_000,
        key_size: p.key_size,
        keys,
        backup_info: p.backup_info,
        restore_info: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_integers_round_trip_through_decimal() {
        let bytes = [0u8, 1, 2, 255, 254, 7];
        let text = bytes_to_decimal(&bytes);
        assert_eq!(text, "4345298439");
        assert_eq!(decimal_to_bytes(&text, 6).as_deref(), Some(&bytes[..]));
        assert_eq!(decimal_to_bytes("256", 1), None, "too wide");
    }

    #[test]
    fn bare_big_numbers_are_quoted_and_unquoted() {
        let go = r#"{"ec_x":123456789012345678901234567890,"ec_y": 7,"ec_d":null,"n":5}"#;
        assert_eq!(
            quote_big_numbers(go),
            r#"{"ec_x":"123456789012345678901234567890","ec_y": "7","ec_d":null,"n":5}"#
        );
        assert_eq!(
            unquote_big_numbers(r##"{"ec_x":"#big#123","k":"v"}"##),
            r#"{"ec_x":123,"k":"v"}"#
        );
    }
}
