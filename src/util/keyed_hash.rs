//! The keyed hash under which tokens, accessors and secret IDs are stored
//! (a store dump reveals no usable credential), and constant-time
//! comparison of secrets.

use aws_lc_rs::hmac;

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
        hex_of(ctx.sign().as_ref())
    }
}

/// Lowercase hex of a digest (at most 64 bytes), as `hex::encode` writes
/// it, without building the string a character at a time: every request
/// hashes its token.
fn hex_of(digest: &[u8]) -> String {
    let mut buf = [0u8; 128];
    let Some(out) = buf.get_mut(..digest.len() * 2) else {
        return hex::encode(digest);
    };
    match hex::encode_to_slice(digest, out) {
        Ok(()) => String::from_utf8_lossy(out).into_owned(),
        Err(_) => hex::encode(digest),
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
    fn hashes_are_domain_separated() {
        let h = Hasher::new(b"k");
        assert_ne!(h.hash("token", "x"), h.hash("accessor", "x"));
        assert_eq!(h.hash("token", "x"), h.hash("token", "x"));
    }

    #[test]
    fn hex_of_is_hex_encode() {
        for digest in [&[][..], &[0x00, 0xab, 0xff][..], &[7u8; 64][..]] {
            assert_eq!(hex_of(digest), hex::encode(digest));
        }
    }
}
