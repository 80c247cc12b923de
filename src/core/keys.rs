//! Secrets of the server itself: random identifiers, and the keyed hash
//! under which tokens and secret IDs are stored (a store dump reveals no
//! usable credential).

use aws_lc_rs::{hmac, rand};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random base62 characters.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if rand::fill(&mut buf).is_err() {
            continue;
        }
        // Rejection sampling keeps the alphabet uniform (248 = 4 * 62).
        out.extend(
            buf.iter()
                .filter(|b| **b < 248)
                .map(|b| BASE62[(*b % 62) as usize] as char),
        );
    }
    out.truncate(len);
    out
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The system RNG failing is not recoverable in a server minting secrets.
    rand::fill(&mut buf).expect("system random number generator failed");
    buf
}

/// A random UUID v4 string.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stable UUID-formatted id derived from `parts` (SHA-256, version-4
/// layout), for ids that must be the same every time they are computed.
pub fn derived_uuid(parts: &[&str]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// A keyed hash (HMAC-SHA256) with a key kept in storage.
#[derive(Clone)]
pub struct Hasher {
    key: hmac::Key,
}

impl Hasher {
    pub fn new(key_bytes: &[u8]) -> Self {
        Hasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, key_bytes),
        }
    }

    /// Hex of plain HMAC-SHA256(`value`), as audit devices publish it
    /// (`sys/audit-hash` must be reproducible by anyone holding the key).
    pub fn hash_raw(&self, value: &str) -> String {
        hex::encode(hmac::sign(&self.key, value.as_bytes()).as_ref())
    }

    /// Hex of HMAC-SHA256(`domain` || 0 || `value`): each domain (tokens,
    /// accessors, secret IDs) hashes into its own space.
    pub fn hash(&self, domain: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        hex::encode(ctx.sign().as_ref())
    }
}

/// Constant-time equality for secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_the_requested_length_and_alphabet() {
        let s = random_base62(95);
        assert_eq!(s.len(), 95);
        assert!(s.bytes().all(|b| BASE62.contains(&b)));
    }

    #[test]
    fn hashes_are_domain_separated() {
        let h = Hasher::new(b"k");
        assert_ne!(h.hash("token", "x"), h.hash("accessor", "x"));
        assert_eq!(h.hash("token", "x"), h.hash("token", "x"));
    }
}
