//! RSA-PSS salt lengths as Vault's `salt_length` names them, and the
//! aws-lc-rs signing encodings and verification parameters for each.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::signature::{self, RsaEncoding, RsaParameters, RsaPssSaltLength};

use crate::logical::{Error, Result};

/// Vault's `salt_length`: `auto` (the maximum when signing; when verifying
/// Go detects any length, vaultlet accepts the maximum and the hash length,
/// the two lengths signers use), `hash`, or a number of bytes (Go's 0 and
/// -1 spell `auto` and `hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PssSalt {
    Auto,
    Hash,
    Bytes(i64),
}

impl PssSalt {
    pub fn parse(text: &str) -> Result<PssSalt> {
        match text {
            "" | "auto" => return Ok(PssSalt::Auto),
            "hash" => return Ok(PssSalt::Hash),
            _ => {}
        }
        let n: i64 = text.parse().map_err(|_| {
            Error::BadRequest(format!(
                "salt length neither 'auto', 'hash', nor an int: {text}"
            ))
        })?;
        match n {
            0 => Ok(PssSalt::Auto),
            -1 => Ok(PssSalt::Hash),
            n if n < -1 => Err(Error::BadRequest(format!("salt length is invalid: {n}"))),
            n => Ok(PssSalt::Bytes(n)),
        }
    }

    /// The lengths to try, most likely first, for a key of `modulus_bits`
    /// and a digest of `digest_len` bytes.
    fn lengths(self, modulus_bits: usize, digest_len: usize) -> Result<Vec<RsaPssSaltLength>> {
        match self {
            PssSalt::Auto => Ok(vec![RsaPssSaltLength::Max, RsaPssSaltLength::Digest]),
            PssSalt::Hash => Ok(vec![RsaPssSaltLength::Digest]),
            PssSalt::Bytes(n) => {
                // RFC 8017 section 9.1.1: emLen >= hLen + sLen + 2.
                let max = (modulus_bits - 1).div_ceil(8) as i64 - 2 - digest_len as i64;
                u16::try_from(n)
                    .ok()
                    .filter(|_| n <= max)
                    .map(|n| vec![RsaPssSaltLength::Custom(n)])
                    .ok_or_else(|| {
                        Error::BadRequest(format!("requested salt length {n} is invalid"))
                    })
            }
        }
    }
}

/// aws-lc-rs takes encodings and parameters by `'static` reference; the
/// fixed ones are constants, a custom salt length is made once and kept.
/// Lengths are bounded by the largest key (at most ~1500 distinct values).
fn custom<T: Send + Sync + 'static>(
    cache: &'static OnceLock<Mutex<HashMap<(usize, u16), &'static T>>>,
    key: (usize, u16),
    make: impl FnOnce() -> T,
) -> &'static T {
    let mut map = cache
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key)
        .or_insert_with(|| Box::leak(Box::new(make())))
}

fn pss_encoding(digest_len: usize, salt: RsaPssSaltLength) -> Result<&'static dyn RsaEncoding> {
    static CUSTOM: OnceLock<
        Mutex<HashMap<(usize, u16), &'static signature::RsaSignatureEncoding>>,
    > = OnceLock::new();
    let base = match digest_len {
        32 => signature::RSA_PSS_SHA256,
        48 => signature::RSA_PSS_SHA384,
        64 => signature::RSA_PSS_SHA512,
        _ => return Err(Error::bad_request("unsupported hash algorithm")),
    };
    Ok(match salt {
        RsaPssSaltLength::Custom(n) => {
            let encoding: &'static signature::RsaSignatureEncoding =
                custom(&CUSTOM, (digest_len, n), || base.with_pss_salt_length(salt));
            encoding
        }
        RsaPssSaltLength::Max => match digest_len {
            32 => &const { signature::RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Max) },
            48 => &const { signature::RSA_PSS_SHA384.with_pss_salt_length(RsaPssSaltLength::Max) },
            _ => &const { signature::RSA_PSS_SHA512.with_pss_salt_length(RsaPssSaltLength::Max) },
        },
        _ => match digest_len {
            32 => &signature::RSA_PSS_SHA256,
            48 => &signature::RSA_PSS_SHA384,
            _ => &signature::RSA_PSS_SHA512,
        },
    })
}

fn pss_parameters(digest_len: usize, salt: RsaPssSaltLength) -> Result<&'static RsaParameters> {
    static CUSTOM: OnceLock<Mutex<HashMap<(usize, u16), &'static RsaParameters>>> = OnceLock::new();
    Ok(match salt {
        RsaPssSaltLength::Custom(n) => custom(&CUSTOM, (digest_len, n), || match digest_len {
            32 => signature::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(salt),
            48 => signature::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(salt),
            _ => signature::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(salt),
        }),
        RsaPssSaltLength::Max => match digest_len {
            32 => {
                &const { signature::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max) }
            }
            48 => {
                &const { signature::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Max) }
            }
            _ => {
                &const { signature::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Max) }
            }
        },
        _ => match digest_len {
            32 => &signature::RSA_PSS_2048_8192_SHA256,
            48 => &signature::RSA_PSS_2048_8192_SHA384,
            _ => &signature::RSA_PSS_2048_8192_SHA512,
        },
    })
}

/// The encoding a PSS signature is made with.
pub fn signing_encoding(
    salt: PssSalt,
    modulus_bits: usize,
    digest_len: usize,
) -> Result<&'static dyn RsaEncoding> {
    let first = salt.lengths(modulus_bits, digest_len)?[0];
    pss_encoding(digest_len, first)
}

/// The parameters a PSS signature may have been made with, most likely
/// first.
pub fn verification_parameters(
    salt: PssSalt,
    modulus_bits: usize,
    digest_len: usize,
) -> Result<Vec<&'static RsaParameters>> {
    salt.lengths(modulus_bits, digest_len)?
        .into_iter()
        .map(|length| pss_parameters(digest_len, length))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_lengths_parse_as_vault_reads_them() {
        assert_eq!(PssSalt::parse("auto").ok(), Some(PssSalt::Auto));
        assert_eq!(PssSalt::parse("0").ok(), Some(PssSalt::Auto));
        assert_eq!(PssSalt::parse("hash").ok(), Some(PssSalt::Hash));
        assert_eq!(PssSalt::parse("-1").ok(), Some(PssSalt::Hash));
        assert_eq!(PssSalt::parse("20").ok(), Some(PssSalt::Bytes(20)));
        let err = |t| PssSalt::parse(t).err().map(|e| e.to_string());
        assert_eq!(
            err("abc").as_deref(),
            Some("salt length neither 'auto', 'hash', nor an int: abc")
        );
        assert_eq!(err("-2").as_deref(), Some("salt length is invalid: -2"));
    }

    #[test]
    fn a_salt_longer_than_the_key_allows_is_refused() {
        // 2048-bit key, SHA-256: 256 - 32 - 2 = 222 bytes at most.
        assert!(signing_encoding(PssSalt::Bytes(222), 2048, 32).is_ok());
        let err = signing_encoding(PssSalt::Bytes(223), 2048, 32).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("requested salt length 223 is invalid")
        );
    }
}
