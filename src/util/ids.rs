//! Random identifiers and secrets (tokens, accessors, secret IDs, UUIDs),
//! from aws-lc-rs's system RNG.

use aws_lc_rs::rand;

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

/// A random UUID v4 string. Its bytes come from aws-lc-rs's generator,
/// which runs in user space, rather than from a system call per UUID (one
/// is made for every request).
pub fn uuid() -> String {
    let mut bytes = [0u8; 16];
    match rand::fill(&mut bytes) {
        Ok(()) => uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
        Err(_) => uuid::Uuid::new_v4().to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_the_requested_length_and_alphabet() {
        let s = random_base62(95);
        assert_eq!(s.len(), 95);
        assert!(s.bytes().all(|b| BASE62.contains(&b)));
    }
}
