//! vaultlet's snapshot file: every record of a physical store (barrier
//! ciphertext and the seal's records, as stored), written as a stream and
//! read back whole, versioned and closed by a SHA-256 of everything before
//! it, so a truncated, altered or foreign file is refused before anything
//! is written.
//!
//! Layout (integers big-endian):
//! ```text
//! "VAULTLET-SNAPSHOT\n"                  magic
//! u16 version (1)
//! u32 length, JSON header                storage type, creation time (informational)
//! { 0x01, u32 length, key, u32 length, value }   one per record
//! 0x00, u64 record count
//! 32 bytes: SHA-256 of all bytes above
//! ```

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8] = b"VAULTLET-SNAPSHOT\n";
pub const VERSION: u16 = 1;
const RECORD: u8 = 0x01;
const END: u8 = 0x00;
const DIGEST_LEN: usize = 32;
/// A header is a few fields; anything longer is not one of ours.
const MAX_HEADER: usize = 64 * 1024;

/// What a snapshot says about itself (not trusted for anything but display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The store it was taken from (`inmem`, `redb`, `postgresql`).
    pub storage_type: String,
    /// RFC 3339.
    pub created_at: String,
    /// The vaultlet version that wrote it.
    pub version: String,
}

/// Why a file is not a snapshot that can be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("not a vaultlet snapshot (the file does not start with {:?})", String::from_utf8_lossy(MAGIC).trim_end())]
    NotASnapshot,
    #[error("snapshot format version {0} is not supported (this server reads version {VERSION})")]
    Version(u16),
    #[error("the snapshot is truncated")]
    Truncated,
    #[error("the snapshot's checksum does not match its contents (corrupted or altered)")]
    Checksum,
    #[error("the snapshot is malformed: {0}")]
    Malformed(String),
}

/// Writes a snapshot piece by piece, hashing as it goes.
pub struct Encoder {
    hash: digest::Context,
    count: u64,
}

impl Encoder {
    /// The encoder and the file's first bytes.
    pub fn start(header: &Header) -> (Self, Vec<u8>) {
        let mut encoder = Encoder {
            hash: digest::Context::new(&digest::SHA256),
            count: 0,
        };
        let json = serde_json::to_vec(header).unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + 6 + json.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        push_sized(&mut out, &json);
        encoder.hash.update(&out);
        (encoder, out)
    }

    /// One record's bytes. Keys and values longer than 4 GiB do not exist
    /// in any store (PostgreSQL's `bytea` stops at 1 GiB).
    pub fn record(&mut self, key: &str, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + key.len() + value.len());
        out.push(RECORD);
        push_sized(&mut out, key.as_bytes());
        push_sized(&mut out, value);
        self.hash.update(&out);
        self.count += 1;
        out
    }

    /// The closing bytes: the record count and the checksum.
    pub fn finish(self) -> Vec<u8> {
        let mut out = vec![END];
        out.extend_from_slice(&self.count.to_be_bytes());
        let mut hash = self.hash;
        hash.update(&out);
        out.extend_from_slice(hash.finish().as_ref());
        out
    }
}

fn push_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
}

/// A snapshot read back and verified: its header and every record by key.
#[derive(Debug)]
pub struct Snapshot {
    pub header: Header,
    pub records: BTreeMap<String, Vec<u8>>,
}

/// Reads a whole snapshot, checking the magic, the version, the checksum
/// and the record count before any record is trusted.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, FormatError> {
    if bytes.len() < MAGIC.len() || !bytes.starts_with(MAGIC) {
        return Err(FormatError::NotASnapshot);
    }
    let mut reader = Reader {
        bytes,
        at: MAGIC.len(),
    };
    let version = u16::from_be_bytes(reader.array()?);
    if version != VERSION {
        return Err(FormatError::Version(version));
    }
    let body_end = bytes
        .len()
        .checked_sub(DIGEST_LEN)
        .ok_or(FormatError::Truncated)?;
    let expected = digest::digest(&digest::SHA256, &bytes[..body_end]);
    let header_len = reader.length()?;
    if header_len > MAX_HEADER {
        return Err(FormatError::Malformed("header too long".into()));
    }
    // The checksum covers everything, so a record is only looked at once
    // the whole file is known to be intact.
    if bytes.len() < reader.at + header_len + 1 + 8 + DIGEST_LEN {
        return Err(FormatError::Truncated);
    }
    if expected.as_ref() != &bytes[body_end..] {
        return Err(FormatError::Checksum);
    }
    let header: Header = serde_json::from_slice(reader.take(header_len)?)
        .map_err(|e| FormatError::Malformed(format!("header: {e}")))?;
    let mut records = BTreeMap::new();
    loop {
        match reader.array::<1>()?[0] {
            RECORD => {
                let len = reader.length()?;
                let key = std::str::from_utf8(reader.take(len)?)
                    .map_err(|_| FormatError::Malformed("a key is not UTF-8".into()))?
                    .to_string();
                if key.is_empty() || key.split('/').any(|s| s == "..") {
                    return Err(FormatError::Malformed(format!("invalid key {key:?}")));
                }
                let len = reader.length()?;
                let value = reader.take(len)?.to_vec();
                if records.insert(key.clone(), value).is_some() {
                    return Err(FormatError::Malformed(format!("key {key:?} appears twice")));
                }
            }
            END => break,
            other => {
                return Err(FormatError::Malformed(format!(
                    "unknown record tag {other:#04x}"
                )))
            }
        }
    }
    let count = u64::from_be_bytes(reader.array()?);
    if count != records.len() as u64 {
        return Err(FormatError::Malformed(format!(
            "it says {count} records and holds {}",
            records.len()
        )));
    }
    if reader.at != body_end {
        return Err(FormatError::Malformed(
            "bytes after the record count".into(),
        ));
    }
    Ok(Snapshot { header, records })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(len).ok_or(FormatError::Truncated)?;
        let out = self.bytes.get(self.at..end).ok_or(FormatError::Truncated)?;
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn length(&mut self) -> Result<usize, FormatError> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            storage_type: "inmem".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            version: "0.1.0".into(),
        }
    }

    fn encode(records: &[(&str, &[u8])]) -> Vec<u8> {
        let (mut encoder, mut out) = Encoder::start(&header());
        for (key, value) in records {
            out.extend(encoder.record(key, value));
        }
        out.extend(encoder.finish());
        out
    }

    #[test]
    fn records_come_back_as_written() {
        let bytes = encode(&[("a", b"1"), ("b/c", b""), ("seal/keyring", &[0, 255, 7])]);
        let snapshot = decode(&bytes).expect("decodes");
        assert_eq!(snapshot.header, header());
        assert_eq!(snapshot.records.len(), 3);
        assert_eq!(snapshot.records["b/c"], b"");
        assert_eq!(snapshot.records["seal/keyring"], vec![0, 255, 7]);
        assert!(decode(&encode(&[])).expect("empty").records.is_empty());
    }

    #[test]
    fn damage_anywhere_is_refused() {
        let bytes = encode(&[("a", b"one"), ("b", b"two")]);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(decode(&bad).is_err(), "a flipped byte at {at} was accepted");
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "a cut at {len} was accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn foreign_files_and_versions_are_named() {
        assert_eq!(
            decode(b"\x1f\x8b\x08\x00 a gzip file").unwrap_err(),
            FormatError::NotASnapshot
        );
        let mut bytes = encode(&[("a", b"1")]);
        bytes[MAGIC.len() + 1] = 9;
        assert_eq!(decode(&bytes).unwrap_err(), FormatError::Version(9));
    }

    #[test]
    fn a_well_sealed_file_with_bad_records_is_refused() {
        // Correct checksum, but a key twice and a traversal key.
        for records in [
            vec![("a", b"1" as &[u8]), ("a", b"2")],
            vec![("x/../y", b"1" as &[u8])],
        ] {
            let err = decode(&encode(&records)).unwrap_err();
            assert!(matches!(err, FormatError::Malformed(_)), "{err:?}");
        }
    }
}
