//! Public keys as certificates and CSRs carry them (SubjectPublicKeyInfo):
//! what they are, their key identifiers, and signature verification, with
//! aws-lc-rs.

use aws_lc_rs::signature;

use super::der;

pub const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
pub const OID_EC: &[u64] = &[1, 2, 840, 10045, 2, 1];
pub const OID_ED25519: &[u64] = &[1, 3, 101, 112];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_P384: &[u64] = &[1, 3, 132, 0, 34];
const OID_P521: &[u64] = &[1, 3, 132, 0, 35];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa,
    Ec,
    Ed25519,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ec => "ec",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// Go's `x509.PublicKeyAlgorithm` name, which Vault's messages quote.
    pub fn go_name(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "ECDSA",
            KeyType::Ed25519 => "Ed25519",
        }
    }

    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "rsa" => Some(KeyType::Rsa),
            "ec" => Some(KeyType::Ec),
            "ed25519" => Some(KeyType::Ed25519),
            _ => None,
        }
    }
}

/// Curve size from an EC algorithm's parameters (the named-curve OID).
pub fn curve_bits(params_der: &[u8]) -> Option<u32> {
    if params_der == der::oid(OID_P256).as_slice() {
        Some(256)
    } else if params_der == der::oid(OID_P384).as_slice() {
        Some(384)
    } else if params_der == der::oid(OID_P521).as_slice() {
        Some(521)
    } else if params_der == der::oid(&[1, 3, 132, 0, 33]).as_slice() {
        Some(224)
    } else {
        None
    }
}

/// What a SubjectPublicKeyInfo holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub key_type: Option<KeyType>,
    pub bits: u32,
    /// The subjectPublicKey BIT STRING contents (what SKIs hash).
    pub key_bytes: Vec<u8>,
    pub alg_params: Vec<u8>,
}

pub fn info(spki_der: &[u8]) -> Option<PublicKeyInfo> {
    let (tag, body, _, _) = der::read(spki_der)?;
    if tag != der::TAG_SEQUENCE {
        return None;
    }
    let (_, alg, _, rest) = der::read(body)?;
    let (_, _, oid, params) = der::read(alg)?;
    let (tag, bits, _, _) = der::read(rest)?;
    if tag != der::TAG_BIT_STRING || bits.is_empty() {
        return None;
    }
    let key_bytes = bits[1..].to_vec();
    let (key_type, size) = if oid == der::oid(OID_RSA).as_slice() {
        (
            Some(KeyType::Rsa),
            rsa_modulus_bits(&key_bytes).unwrap_or(0),
        )
    } else if oid == der::oid(OID_EC).as_slice() {
        (Some(KeyType::Ec), curve_bits(params).unwrap_or(0))
    } else if oid == der::oid(OID_ED25519).as_slice() {
        (Some(KeyType::Ed25519), 0)
    } else {
        (None, 0)
    };
    Some(PublicKeyInfo {
        key_type,
        bits: size,
        key_bytes,
        alg_params: params.to_vec(),
    })
}

fn rsa_modulus_bits(pkcs1_public: &[u8]) -> Option<u32> {
    let (_, body, _, _) = der::read(pkcs1_public)?;
    let (tag, n, _, _) = der::read(body)?;
    if tag != der::TAG_INTEGER {
        return None;
    }
    let skip = n.iter().take_while(|b| **b == 0).count();
    let n = &n[skip..];
    let first = *n.first()?;
    Some((n.len() as u32 - 1) * 8 + (8 - first.leading_zeros()))
}

/// RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(key_bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key_bytes)
        .as_ref()
        .to_vec()
}

/// Verifies `signature` over `message` made by the holder of `spki_der`'s key
/// with the algorithm `sig_alg_der` (an AlgorithmIdentifier).
pub fn verify(spki_der: &[u8], sig_alg_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use signature::VerificationAlgorithm;
    let Some(info) = info(spki_der) else {
        return false;
    };
    let Some((_, alg_body, _, _)) = der::read(sig_alg_der) else {
        return false;
    };
    let Some((_, _, oid, params)) = der::read(alg_body) else {
        return false;
    };
    let rsa = |last: u64| der::oid(&[1, 2, 840, 113549, 1, 1, last]);
    let ecdsa = |last: u64| der::oid(&[1, 2, 840, 10045, 4, 3, last]);
    let alg: &'static dyn VerificationAlgorithm = if oid == rsa(11) {
        &signature::RSA_PKCS1_2048_8192_SHA256
    } else if oid == rsa(12) {
        &signature::RSA_PKCS1_2048_8192_SHA384
    } else if oid == rsa(13) {
        &signature::RSA_PKCS1_2048_8192_SHA512
    } else if oid == rsa(5) {
        &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
    } else if oid == rsa(10) {
        let sha384 = der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 2]);
        let sha512 = der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 3]);
        if contains(params, &sha512) {
            &signature::RSA_PSS_2048_8192_SHA512
        } else if contains(params, &sha384) {
            &signature::RSA_PSS_2048_8192_SHA384
        } else {
            &signature::RSA_PSS_2048_8192_SHA256
        }
    } else if oid == der::oid(OID_ED25519) {
        &signature::ED25519
    } else {
        let hash = if oid == ecdsa(2) {
            256
        } else if oid == ecdsa(3) {
            384
        } else if oid == ecdsa(4) {
            512
        } else {
            return false;
        };
        match (curve_bits(&info.alg_params), hash) {
            (Some(256), 256) => &signature::ECDSA_P256_SHA256_ASN1,
            (Some(256), 384) => &signature::ECDSA_P256_SHA384_ASN1,
            (Some(256), 512) => &signature::ECDSA_P256_SHA512_ASN1,
            (Some(384), 256) => &signature::ECDSA_P384_SHA256_ASN1,
            (Some(384), 384) => &signature::ECDSA_P384_SHA384_ASN1,
            (Some(384), 512) => &signature::ECDSA_P384_SHA512_ASN1,
            (Some(521), 256) => &signature::ECDSA_P521_SHA256_ASN1,
            (Some(521), 384) => &signature::ECDSA_P521_SHA384_ASN1,
            (Some(521), 512) => &signature::ECDSA_P521_SHA512_ASN1,
            _ => return false,
        }
    };
    signature::UnparsedPublicKey::new(alg, &info.key_bytes)
        .verify(message, sig)
        .is_ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
