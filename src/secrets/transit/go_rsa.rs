//! RSA keys in a Vault key backup: Go's `*rsa.PrivateKey` as
//! `encoding/json` writes it (exported fields, big integers as bare decimal
//! numbers), converted to and from the PKCS#8 DER transit stores.

use aws_lc_rs::encoding::AsDer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backup::{bytes_to_decimal, decimal_to_bytes, BIG_MARK};
use super::policy::KeyType;
use crate::logical::{Error, Result};
use crate::util::der;

/// Go's `rsa.PrivateKey`. Big integers are decimal strings here; the backup
/// reader and writer turn them into bare JSON numbers and back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GoRsaKey {
    n: String,
    e: i64,
    d: String,
    primes: Vec<String>,
    precomputed: GoPrecomputed,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct GoPrecomputed {
    #[serde(rename = "Dp")]
    dp: String,
    #[serde(rename = "Dq")]
    dq: String,
    #[serde(rename = "Qinv")]
    qinv: String,
    /// Go fills this only for keys with more than two primes.
    #[serde(rename = "CRTValues")]
    crt_values: Vec<Value>,
}

/// Field names of [`GoRsaKey`] that hold big integers.
pub const BIG_FIELDS: &[&str] = &["N", "D", "Primes", "Dp", "Dq", "Qinv"];

fn bad_backup() -> Error {
    Error::bad_request("failed to restore the policy: invalid backup")
}

/// A non-negative decimal as a DER INTEGER.
fn decimal_integer(digits: &str) -> Result<Vec<u8>> {
    // A decimal digit is less than half a byte.
    let bytes = decimal_to_bytes(digits, digits.len() / 2 + 1).ok_or_else(bad_backup)?;
    Ok(der::uint(&bytes))
}

/// The DER INTEGERs of a sequence, in order.
fn integers(mut content: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, _, rest) = der::read(content)?;
        if tag != der::TAG_INTEGER {
            return None;
        }
        let skip = value.iter().take_while(|b| **b == 0).count();
        out.push(&value[skip.min(value.len())..]);
        content = rest;
    }
    Some(out)
}

impl GoRsaKey {
    /// The key of a stored version (PKCS#8), as Go would write it.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<GoRsaKey> {
        let broken = || Error::internal("stored key cannot be encoded");
        let (_, outer, _, _) = der::read(pkcs8).ok_or_else(broken)?;
        let (_, _version, _, rest) = der::read(outer).ok_or_else(broken)?;
        let (_, _algorithm, _, rest) = der::read(rest).ok_or_else(broken)?;
        let (tag, pkcs1, _, _) = der::read(rest).ok_or_else(broken)?;
        if tag != der::TAG_OCTET_STRING {
            return Err(broken());
        }
        let (_, fields, _, _) = der::read(pkcs1).ok_or_else(broken)?;
        let ints = integers(fields).ok_or_else(broken)?;
        let [_, n, e, d, p, q, dp, dq, qinv] = ints[..] else {
            return Err(broken());
        };
        let big = |v: &[u8]| format!("{BIG_MARK}{}", bytes_to_decimal(v));
        let e = e.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
        Ok(GoRsaKey {
            n: big(n),
            e,
            d: big(d),
            primes: vec![big(p), big(q)],
            precomputed: GoPrecomputed {
                dp: big(dp),
                dq: big(dq),
                qinv: big(qinv),
                crt_values: Vec::new(),
            },
        })
    }

    /// The PKCS#8 DER of this key, checked by aws-lc-rs (which refuses
    /// inconsistent parameters) and against the size `key_type` names.
    pub fn to_pkcs8(&self, key_type: KeyType) -> Result<Vec<u8>> {
        let [p, q] = &self.primes[..] else {
            // Go writes more primes only for multi-prime keys, which Vault
            // never generates.
            return Err(bad_backup());
        };
        let pre = &self.precomputed;
        let fields = [
            der::int(0),
            decimal_integer(&self.n)?,
            der::int(self.e),
            decimal_integer(&self.d)?,
            decimal_integer(p)?,
            decimal_integer(q)?,
            decimal_integer(&pre.dp)?,
            decimal_integer(&pre.dq)?,
            decimal_integer(&pre.qinv)?,
        ];
        let pair =
            aws_lc_rs::rsa::KeyPair::from_der(&der::seq(&fields)).map_err(|_| bad_backup())?;
        let bits = pair.public_modulus_len() * 8;
        let expected = match key_type {
            KeyType::Rsa2048 => 2048,
            KeyType::Rsa3072 => 3072,
            _ => 4096,
        };
        if bits != expected {
            return Err(bad_backup());
        }
        let pkcs8 =
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(|_| bad_backup())?;
        Ok(pkcs8.as_ref().to_vec())
    }
}
