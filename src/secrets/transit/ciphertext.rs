//! Vault's `vault:v<N>:<base64>` values (ciphertexts, signatures, HMACs)
//! and the AEAD under them: a 12-byte random (or, for convergent keys,
//! derived) nonce, then the ciphertext and its tag.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine as _;

use super::policy::{KeyType, KeyVersion, Policy};
use crate::logical::{Error, Result};

const NONCE_LEN: usize = 12;

/// `vault:v<version>:<payload>`.
pub fn format(version: i64, payload: &str) -> String {
    format!("vault:v{version}:{payload}")
}

/// The version and payload of a `vault:v<N>:…` value; `what` names it in
/// errors ("ciphertext", "signature").
pub fn parse<'a>(value: &'a str, what: &str) -> Result<(i64, &'a str)> {
    let no_prefix = || Error::BadRequest(format!("invalid {what}: no prefix"));
    let rest = value.strip_prefix("vault:v").ok_or_else(no_prefix)?;
    let (version, payload) = rest.split_once(':').ok_or_else(no_prefix)?;
    let version: i64 = version.parse().map_err(|_| {
        Error::BadRequest(format!(
            "invalid {what}: version number could not be decoded"
        ))
    })?;
    Ok((version, payload))
}

pub fn b64decode(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::BadRequest(go_base64_error(text, e)))
}

pub fn b64encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's `base64.CorruptInputError` text.
fn go_base64_error(text: &str, err: base64::DecodeError) -> String {
    let at = match err {
        base64::DecodeError::InvalidByte(at, _) => at,
        base64::DecodeError::InvalidLastSymbol(at, _) => at,
        base64::DecodeError::InvalidLength(len) => len,
        base64::DecodeError::InvalidPadding => text.trim_end_matches('=').len(),
    };
    format!("illegal base64 data at input byte {at}")
}

/// The key a version encrypts with: its own, or one derived from the
/// context (HKDF-SHA256, the context as info) for derived keys.
pub fn encryption_key(policy: &Policy, entry: &KeyVersion, context: &[u8]) -> Result<Vec<u8>> {
    if !policy.derived {
        return Ok(entry.key.clone());
    }
    require_context(context)?;
    derive(&entry.key, context, entry.key.len())
}

/// The encryption key and the nonce key of a convergent key's version for
/// `context`: Vault's convergent version 3 derives both in one HKDF output,
/// the encryption key first and 32 bytes of HMAC key after it (HKDF's
/// output does not depend on its length, so the encryption key is the same
/// as [`encryption_key`]'s).
pub fn convergent_keys(entry: &KeyVersion, context: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    require_context(context)?;
    let len = entry.key.len();
    let mut both = derive(&entry.key, context, len + 32)?;
    let nonce_key = both.split_off(len);
    Ok((both, nonce_key))
}

fn require_context(context: &[u8]) -> Result<()> {
    if context.is_empty() {
        return Err(Error::bad_request("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"));
    }
    Ok(())
}

/// HKDF-SHA256 with an empty salt and `info` as its info, `len` bytes.
pub fn derive(key: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(key);
    let info = [info];
    let okm = prk
        .expand(&info, Len(len))
        .map_err(|_| Error::internal("key derivation failed"))?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out)
        .map_err(|_| Error::internal("key derivation failed"))?;
    Ok(out)
}

fn aead_key(key_type: KeyType, key: &[u8]) -> Result<LessSafeKey> {
    let alg = match key_type {
        KeyType::Aes128Gcm96 => &aead::AES_128_GCM,
        KeyType::Aes256Gcm96 => &aead::AES_256_GCM,
        KeyType::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        other => {
            return Err(Error::BadRequest(format!(
                "message encryption not supported for key type {}",
                other.as_str()
            )))
        }
    };
    let unbound = UnboundKey::new(alg, key).map_err(|_| Error::internal("bad key length"))?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts under `key`: nonce (random, or for convergent keys an HMAC of
/// the plaintext under `convergent_nonce_key`), then ciphertext and tag,
/// base64.
pub fn seal(
    key_type: KeyType,
    key: &[u8],
    plaintext: &[u8],
    aad: &[u8],
    convergent_nonce_key: Option<&[u8]>,
) -> Result<String> {
    if key_type.is_rsa() {
        return rsa_encrypt(key, plaintext);
    }
    let sealing = aead_key(key_type, key)?;
    let mut nonce = [0u8; NONCE_LEN];
    if let Some(nonce_key) = convergent_nonce_key {
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, nonce_key),
            plaintext,
        );
        nonce.copy_from_slice(&tag.as_ref()[..NONCE_LEN]);
    } else {
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::internal("no randomness"))?;
    }
    // Nonce, then the plaintext encrypted in place, then the tag.
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + sealing.algorithm().tag_len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = sealing
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| Error::internal("encryption failed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(b64encode(&out))
}

/// Decrypts a payload made by [`seal`] (or by Vault).
pub fn open(key_type: KeyType, key: &[u8], payload: &str, aad: &[u8]) -> Result<Vec<u8>> {
    if key_type.is_rsa() {
        return rsa_decrypt(key, payload);
    }
    let opening = aead_key(key_type, key)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| Error::bad_request("invalid ciphertext: could not decode base64"))?;
    if raw.len() < NONCE_LEN + opening.algorithm().tag_len() {
        return Err(Error::bad_request("invalid ciphertext length"));
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| Error::bad_request("invalid ciphertext length"))?;
    let mut sealed = sealed.to_vec();
    let plain = opening
        .open_in_place(nonce, Aad::from(aad), &mut sealed)
        .map_err(|_| Error::bad_request("cipher: message authentication failed"))?;
    Ok(plain.to_vec())
}

/// RSA-OAEP with SHA-256 and no label, as Vault encrypts with RSA keys.
fn rsa_encrypt(pkcs8: &[u8], plaintext: &[u8]) -> Result<String> {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
    let private = PrivateDecryptingKey::from_pkcs8(pkcs8)
        .map_err(|_| Error::internal("stored key cannot be parsed"))?;
    let public = OaepPublicEncryptingKey::new(private.public_key())
        .map_err(|_| Error::internal("stored key cannot be parsed"))?;
    if plaintext.len() > public.max_plaintext_size(&OAEP_SHA256_MGF1SHA256) {
        return Err(Error::bad_request(
            "crypto/rsa: message too long for RSA key size",
        ));
    }
    let mut out = vec![0u8; public.ciphertext_size()];
    let sealed = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
        .map_err(|_| Error::internal("encryption failed"))?;
    Ok(b64encode(sealed))
}

fn rsa_decrypt(pkcs8: &[u8], payload: &str) -> Result<Vec<u8>> {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
    let raw = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| Error::bad_request("invalid ciphertext: could not decode base64"))?;
    let private = PrivateDecryptingKey::from_pkcs8(pkcs8)
        .map_err(|_| Error::internal("stored key cannot be parsed"))?;
    let opening = OaepPrivateDecryptingKey::new(private)
        .map_err(|_| Error::internal("stored key cannot be parsed"))?;
    let mut out = vec![0u8; opening.key_size_bytes()];
    let plain = opening
        .decrypt(&OAEP_SHA256_MGF1SHA256, &raw, &mut out, None)
        .map_err(|_| Error::bad_request("crypto/rsa: decryption error"))?;
    Ok(plain.to_vec())
}
