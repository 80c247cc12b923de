//! Signing keys on aws-lc-rs: public keys as Vault shows them, and
//! signatures over a message or its digest.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, PublicKeyX509Der};
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use std::sync::OnceLock;

use super::policy::{KeyType, KeyVersion};
use super::rsa_pss::{self, PssSalt};
use crate::logical::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    P256,
    P384,
    P521,
}

impl EcCurve {
    /// The digest length ECDSA uses whole on this curve.
    fn digest_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 64,
        }
    }

    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            EcCurve::P256 => &digest::SHA256,
            EcCurve::P384 => &digest::SHA384,
            EcCurve::P521 => &digest::SHA512,
        }
    }

    fn go_name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        }
    }
}

pub fn ecdsa_signing(curve: EcCurve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        EcCurve::P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    }
}

fn ecdsa_verification(curve: EcCurve) -> &'static signature::EcdsaVerificationAlgorithm {
    match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_ASN1,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_ASN1,
        EcCurve::P521 => &signature::ECDSA_P521_SHA512_ASN1,
    }
}

fn broken_key() -> Error {
    Error::internal("stored key cannot be parsed")
}

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// `(name, public_key)` of a version in a key read: ed25519 keys as base64
/// of the raw key, the others as a PEM `PUBLIC KEY`.
pub fn public_key(key_type: KeyType, pkcs8: &[u8]) -> Result<(String, String)> {
    use base64::Engine as _;
    if key_type == KeyType::Ed25519 {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| broken_key())?;
        let raw = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
        return Ok(("ed25519".into(), raw));
    }
    Ok((
        match key_type.curve() {
            Some(curve) => curve.go_name().to_string(),
            None => "rsa".to_string(),
        },
        pem("PUBLIC KEY", &spki(key_type, pkcs8)?),
    ))
}

/// A signing key as `export/signing-key` shows it: ed25519 as base64 of
/// seed and public key, ECDSA as a SEC 1 `EC PRIVATE KEY` PEM, RSA as a
/// PKCS#1 `RSA PRIVATE KEY` PEM.
pub fn private_key_export(key_type: KeyType, pkcs8: &[u8]) -> Result<String> {
    use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyRfc5915Der};
    use base64::Engine as _;
    if key_type == KeyType::Ed25519 {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| broken_key())?;
        let seed: Curve25519SeedBin = pair
            .seed()
            .map_err(|_| broken_key())?
            .as_be_bytes()
            .map_err(|_| broken_key())?;
        let mut raw = seed.as_ref().to_vec();
        raw.extend_from_slice(pair.public_key().as_ref());
        return Ok(base64::engine::general_purpose::STANDARD.encode(raw));
    }
    if let Some(curve) = key_type.curve() {
        let pair =
            EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8).map_err(|_| broken_key())?;
        let der: EcPrivateKeyRfc5915Der = pair.private_key().as_der().map_err(|_| broken_key())?;
        return Ok(pem("EC PRIVATE KEY", der.as_ref()).trim_end().to_string());
    }
    let pkcs1 = pkcs8_inner_key(pkcs8).ok_or_else(broken_key)?;
    Ok(pem("RSA PRIVATE KEY", pkcs1).trim_end().to_string())
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_inner_key(der: &[u8]) -> Option<&[u8]> {
    let (info, _) = take_der(der, 0x30)?;
    let (_, rest) = take_der(info, 0x02)?;
    let (_, rest) = take_der(rest, 0x30)?;
    let (key, _) = take_der(rest, 0x04)?;
    Some(key)
}

/// The SubjectPublicKeyInfo DER of a signing key.
pub fn spki(key_type: KeyType, pkcs8: &[u8]) -> Result<Vec<u8>> {
    fn der(spki: Result<PublicKeyX509Der<'static>, Unspecified>) -> Result<Vec<u8>> {
        Ok(spki.map_err(|_| broken_key())?.as_ref().to_vec())
    }
    if let Some(curve) = key_type.curve() {
        let pair =
            EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8).map_err(|_| broken_key())?;
        return der(pair.public_key().as_der());
    }
    if key_type.is_rsa() {
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|_| broken_key())?;
        return der(pair.public_key().as_der());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| broken_key())?;
    Ok(pair
        .public_key()
        .as_der()
        .map_err(|_| broken_key())?
        .as_ref()
        .to_vec())
}

/// Vault's `hash_algorithm` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha2_224,
    Sha2_256,
    Sha2_384,
    Sha2_512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    None,
}

impl HashAlgorithm {
    pub fn parse(name: &str) -> Option<HashAlgorithm> {
        Some(match name {
            "sha2-224" => HashAlgorithm::Sha2_224,
            "" | "sha2-256" => HashAlgorithm::Sha2_256,
            "sha2-384" => HashAlgorithm::Sha2_384,
            "sha2-512" => HashAlgorithm::Sha2_512,
            "sha3-224" => HashAlgorithm::Sha3_224,
            "sha3-256" => HashAlgorithm::Sha3_256,
            "sha3-384" => HashAlgorithm::Sha3_384,
            "sha3-512" => HashAlgorithm::Sha3_512,
            "none" => HashAlgorithm::None,
            _ => return None,
        })
    }

    pub fn digest(self) -> Option<&'static digest::Algorithm> {
        Some(match self {
            HashAlgorithm::Sha2_224 => &digest::SHA224,
            HashAlgorithm::Sha2_256 => &digest::SHA256,
            HashAlgorithm::Sha2_384 => &digest::SHA384,
            HashAlgorithm::Sha2_512 => &digest::SHA512,
            HashAlgorithm::Sha3_256 => &digest::SHA3_256,
            HashAlgorithm::Sha3_384 => &digest::SHA3_384,
            HashAlgorithm::Sha3_512 => &digest::SHA3_512,
            HashAlgorithm::Sha3_224 | HashAlgorithm::None => return None,
        })
    }
}

/// How a signature is made.
#[derive(Debug, Clone, Copy)]
pub struct SignOptions {
    pub hash: HashAlgorithm,
    pub prehashed: bool,
    /// RSA: PSS with this salt length, or PKCS#1 v1.5 when `None`.
    pub pss: Option<PssSalt>,
}

/// What is signed: the message itself (ed25519) or its digest.
fn digest_of(input: &[u8], opts: SignOptions) -> Result<Vec<u8>> {
    if opts.prehashed {
        return Ok(input.to_vec());
    }
    let alg = opts
        .hash
        .digest()
        .ok_or_else(|| Error::bad_request("unsupported hash algorithm"))?;
    Ok(digest::digest(alg, input).as_ref().to_vec())
}

/// An ECDSA digest in the curve's own digest length, with the same value
/// as an integer (shorter ones padded with leading zeros) or cut to its
/// leftmost bytes, as ECDSA itself truncates.
fn curve_digest(curve: EcCurve, digest: &[u8]) -> Result<Digest> {
    let len = curve.digest_len();
    let mut bytes = vec![0u8; len];
    if digest.len() >= len {
        bytes.copy_from_slice(&digest[..len]);
    } else {
        bytes[len - digest.len()..].copy_from_slice(digest);
    }
    Digest::import_less_safe(&bytes, curve.digest_algorithm())
        .map_err(|_| Error::internal("digest import failed"))
}

fn rsa_digest(opts: SignOptions, input: &[u8]) -> Result<Digest> {
    let alg: &'static digest::Algorithm = match opts.hash {
        HashAlgorithm::Sha2_256 => &digest::SHA256,
        HashAlgorithm::Sha2_384 => &digest::SHA384,
        HashAlgorithm::Sha2_512 => &digest::SHA512,
        _ => return Err(Error::bad_request("unsupported hash algorithm")),
    };
    if opts.prehashed {
        Digest::import_less_safe(input, alg)
            .map_err(|_| Error::bad_request("invalid input length for the hash algorithm"))
    } else {
        Ok(digest::digest(alg, input))
    }
}

/// A version's private key, parsed. Parsing validates the key (for ECDSA
/// it recomputes the public point), which costs about as much as a
/// signature, so a version keeps its parsed pair.
enum SigningKey {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcCurve, EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl SigningKey {
    fn parse(key_type: KeyType, pkcs8: &[u8]) -> Result<SigningKey> {
        if key_type == KeyType::Ed25519 {
            return Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map(SigningKey::Ed25519)
                .map_err(|_| broken_key());
        }
        if let Some(curve) = key_type.curve() {
            return EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8)
                .map(|pair| SigningKey::Ecdsa(curve, pair))
                .map_err(|_| broken_key());
        }
        aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8)
            .map(SigningKey::Rsa)
            .map_err(|_| broken_key())
    }
}

/// The parsed form of one version's signing key, made on first use. A copy
/// starts empty: it parses again rather than share state with the original.
#[derive(Default)]
pub struct ParsedSigningKey(OnceLock<SigningKey>);

impl Clone for ParsedSigningKey {
    fn clone(&self) -> Self {
        ParsedSigningKey::default()
    }
}

impl std::fmt::Debug for ParsedSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ParsedSigningKey(parsed)"
        } else {
            "ParsedSigningKey(empty)"
        })
    }
}

impl ParsedSigningKey {
    fn get(&self, key_type: KeyType, pkcs8: &[u8]) -> Result<&SigningKey> {
        if let Some(key) = self.0.get() {
            return Ok(key);
        }
        let key = SigningKey::parse(key_type, pkcs8)?;
        Ok(self.0.get_or_init(|| key))
    }
}

/// An ed25519 private key as Go holds it: seed then public key, 64 bytes.
pub fn ed25519_raw(pkcs8: &[u8]) -> Result<Vec<u8>> {
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| broken_key())?;
    let seed: aws_lc_rs::encoding::Curve25519SeedBin = pair
        .seed()
        .and_then(|seed| seed.as_be_bytes())
        .map_err(|_| broken_key())?;
    let mut raw = seed.as_ref().to_vec();
    raw.extend_from_slice(pair.public_key().as_ref());
    Ok(raw)
}

/// The ed25519 key a derived key's version has for `context`: Vault takes
/// the seed from HKDF-SHA256 over the 64-byte private key, the context as
/// info.
pub fn derived_ed25519(pkcs8: &[u8], context: &[u8]) -> Result<Ed25519KeyPair> {
    if context.is_empty() {
        return Err(Error::bad_request(
            "error deriving key: missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
        ));
    }
    let seed = super::ciphertext::derive(&ed25519_raw(pkcs8)?, context, 32)?;
    Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| broken_key())
}

/// Checks an ed25519 signature against a public key.
pub fn verify_ed25519(public_key: &[u8], input: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(input, sig)
        .is_ok()
}

/// Signs `input` with a version's key; ECDSA signatures are ASN.1 DER.
pub fn sign(
    key: &KeyVersion,
    key_type: KeyType,
    input: &[u8],
    opts: SignOptions,
) -> Result<Vec<u8>> {
    match key.parsed.get(key_type, &key.key)? {
        SigningKey::Ed25519(pair) => Ok(pair.sign(input).as_ref().to_vec()),
        SigningKey::Ecdsa(curve, pair) => {
            let digest = curve_digest(*curve, &digest_of(input, opts)?)?;
            Ok(pair
                .sign_digest(&digest)
                .map_err(|_| Error::internal("signing failed"))?
                .as_ref()
                .to_vec())
        }
        SigningKey::Rsa(pair) => {
            let digest = rsa_digest(opts, input)?;
            let digest_len = digest.algorithm().output_len();
            let encoding: &'static dyn signature::RsaEncoding = match opts.pss {
                Some(salt) => {
                    rsa_pss::signing_encoding(salt, pair.public_modulus_len() * 8, digest_len)?
                }
                None => match digest_len {
                    32 => &signature::RSA_PKCS1_SHA256,
                    48 => &signature::RSA_PKCS1_SHA384,
                    _ => &signature::RSA_PKCS1_SHA512,
                },
            };
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign_digest(encoding, &digest, &mut sig)
                .map_err(|_| Error::internal("signing failed"))?;
            Ok(sig)
        }
    }
}

/// Checks a signature (ECDSA in ASN.1 DER) made by [`sign`] or by Vault.
pub fn verify(
    key: &KeyVersion,
    key_type: KeyType,
    input: &[u8],
    sig: &[u8],
    opts: SignOptions,
) -> Result<bool> {
    match key.parsed.get(key_type, &key.key)? {
        SigningKey::Ed25519(pair) => Ok(UnparsedPublicKey::new(
            &signature::ED25519,
            pair.public_key().as_ref(),
        )
        .verify(input, sig)
        .is_ok()),
        SigningKey::Ecdsa(curve, pair) => {
            let digest = curve_digest(*curve, &digest_of(input, opts)?)?;
            Ok(
                UnparsedPublicKey::new(ecdsa_verification(*curve), pair.public_key().as_ref())
                    .verify_digest(&digest, sig)
                    .is_ok(),
            )
        }
        SigningKey::Rsa(pair) => {
            let digest = rsa_digest(opts, input)?;
            let digest_len = digest.algorithm().output_len();
            let candidates: Vec<&'static signature::RsaParameters> = match opts.pss {
                Some(salt) => rsa_pss::verification_parameters(
                    salt,
                    pair.public_modulus_len() * 8,
                    digest_len,
                )?,
                None => vec![match digest_len {
                    32 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    48 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA512,
                }],
            };
            Ok(candidates.into_iter().any(|params| {
                UnparsedPublicKey::new(params, pair.public_key().as_ref())
                    .verify_digest(&digest, sig)
                    .is_ok()
            }))
        }
    }
}

/// An ASN.1 ECDSA signature as JWS's fixed-width `r || s`, and back.
pub fn ecdsa_to_jws(curve_of: KeyType, der: &[u8]) -> Result<Vec<u8>> {
    let width = match curve_of.curve() {
        Some(EcCurve::P256) => 32,
        Some(EcCurve::P384) => 48,
        Some(EcCurve::P521) => 66,
        None => return Ok(der.to_vec()),
    };
    let (r, s) = parse_ecdsa_der(der).ok_or_else(|| Error::internal("bad ECDSA signature"))?;
    let mut out = vec![0u8; width * 2];
    let place = |int: &[u8], slot: &mut [u8]| {
        let int = strip_zeros(int);
        let width = slot.len();
        let int = &int[int.len().saturating_sub(width)..];
        slot[width - int.len()..].copy_from_slice(int);
    };
    let (left, right) = out.split_at_mut(width);
    place(r, left);
    place(s, right);
    Ok(out)
}

pub fn ecdsa_from_jws(der_of: KeyType, fixed: &[u8]) -> Option<Vec<u8>> {
    der_of.curve()?;
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let int = |v: &[u8]| {
        let v = strip_zeros(v);
        let mut body = Vec::new();
        if v.is_empty() || v[0] & 0x80 != 0 {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        der_len(&mut out, body.len());
        out.extend(body);
        out
    };
    let mut seq = int(r);
    seq.extend(int(s));
    let mut out = vec![0x30];
    der_len(&mut out, seq.len());
    out.extend(seq);
    Some(out)
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    &v[first..]
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
}

/// Whether `sig` is an ASN.1 ECDSA signature at all.
pub fn is_ecdsa_der(sig: &[u8]) -> bool {
    parse_ecdsa_der(sig).is_some()
}

/// `(r, s)` of a DER `SEQUENCE { INTEGER, INTEGER }`.
fn parse_ecdsa_der(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, _) = take_der(der, 0x30)?;
    let (r, rest) = take_der(seq, 0x02)?;
    let (s, _) = take_der(rest, 0x02)?;
    Some((r, s))
}

/// The contents of the DER element at the start of `input` (if it has
/// `tag`), and what follows it.
fn take_der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            n if n < 0x80 => (n as usize, rest),
            0x81 => (*rest.first()? as usize, rest.get(1..)?),
            0x82 => (
                ((*rest.first()? as usize) << 8) | *rest.get(1)? as usize,
                rest.get(2..)?,
            ),
            _ => return None,
        };
        Some((rest.get(..len)?, rest.get(len..)?))
    }
}
