//! Verification keys: the algorithms vaultlet verifies, public keys from
//! PEM (SPKI or certificate) and from JWKS documents, and one key's
//! signature check with aws-lc-rs.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// A JWS signature algorithm vaultlet can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Alg {
    /// Every algorithm, in Vault's default `jwt_supported_algs` order.
    pub const ALL: [Alg; 10] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::EdDSA,
    ];

    /// The algorithms Kubernetes signs service-account tokens with (no EdDSA).
    pub const KUBERNETES: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
    ];

    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }
}

/// An elliptic curve of an EC public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

/// The material of one verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// DER `RSAPublicKey` (PKCS#1).
    RsaDer(Vec<u8>),
    /// Big-endian modulus and exponent (from a JWK).
    RsaComponents {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point (`04 || x || y`).
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

/// A verification key with its JWKS key id, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: Option<String>,
    pub material: KeyMaterial,
}

impl PublicKey {
    /// Does `signature` over `message` verify with this key under `alg`?
    /// A key of the wrong type for `alg` never verifies.
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        use signature as s;
        let rsa_params = match alg {
            Alg::RS256 => Some(&s::RSA_PKCS1_2048_8192_SHA256),
            Alg::RS384 => Some(&s::RSA_PKCS1_2048_8192_SHA384),
            Alg::RS512 => Some(&s::RSA_PKCS1_2048_8192_SHA512),
            Alg::PS256 => Some(&s::RSA_PSS_2048_8192_SHA256),
            Alg::PS384 => Some(&s::RSA_PSS_2048_8192_SHA384),
            Alg::PS512 => Some(&s::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        match (&self.material, rsa_params) {
            (KeyMaterial::RsaDer(der), Some(params)) => {
                return UnparsedPublicKey::new(params, der)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::RsaComponents { n, e }, Some(params)) => {
                return RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            (_, Some(_)) => return false,
            _ => {}
        }
        match (&self.material, alg) {
            (KeyMaterial::Ec { curve, point }, Alg::ES256) if *curve == Curve::P256 => {
                UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ec { curve, point }, Alg::ES384) if *curve == Curve::P384 => {
                UnparsedPublicKey::new(&s::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ec { curve, point }, Alg::ES512) if *curve == Curve::P521 => {
                UnparsedPublicKey::new(&s::ECDSA_P521_SHA512_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ed25519(raw), Alg::EdDSA) => UnparsedPublicKey::new(&s::ED25519, raw)
                .verify(message, sig)
                .is_ok(),
            _ => false,
        }
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

fn key_from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Option<KeyMaterial> {
    let bits = spki.subject_public_key.data.to_vec();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_RSA => Some(KeyMaterial::RsaDer(bits)),
        OID_ED25519 => Some(KeyMaterial::Ed25519(bits)),
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string())?;
            let curve = match curve.as_str() {
                OID_P256 => Curve::P256,
                OID_P384 => Curve::P384,
                OID_P521 => Curve::P521,
                _ => return None,
            };
            Some(KeyMaterial::Ec { curve, point: bits })
        }
        _ => None,
    }
}

/// The key a JWK holds (RSA, EC on P-256/384/521, Ed25519); `None` for any
/// other key or a malformed member.
pub fn material_from_jwk(jwk: &Value) -> Option<KeyMaterial> {
    let b64 = |name: &str| -> Option<Vec<u8>> {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => Some(KeyMaterial::RsaComponents {
            n: b64("n")?,
            e: b64("e")?,
        }),
        Some("EC") => {
            let (curve, len) = match jwk.get("crv").and_then(Value::as_str) {
                Some("P-256") => (Curve::P256, 32),
                Some("P-384") => (Curve::P384, 48),
                Some("P-521") => (Curve::P521, 66),
                _ => return None,
            };
            let (x, y) = (b64("x")?, b64("y")?);
            if x.len() != len || y.len() != len {
                return None;
            }
            Some(KeyMaterial::Ec {
                curve,
                point: [vec![4u8], x, y].concat(),
            })
        }
        Some("OKP") if jwk.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
            b64("x").map(KeyMaterial::Ed25519)
        }
        _ => None,
    }
}

/// Vault's `certutil.ParsePublicKeyPEM`: the first PEM block, a PKIX public
/// key or else a certificate, holding an RSA, ECDSA or Ed25519 key.
pub fn parse_public_key_pem(text: &str) -> Result<KeyMaterial, String> {
    const NONE: &str = "data does not contain any valid public keys";
    let block = pem::parse_many(text.trim().as_bytes())
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .ok_or_else(|| NONE.to_string())?;
    let der = block.contents();
    if let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(der) {
        return key_from_spki(&spki).ok_or_else(|| NONE.to_string());
    }
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => key_from_spki(cert.public_key()).ok_or_else(|| NONE.to_string()),
        Err(_) => Err("x509: malformed certificate".to_string()),
    }
}

/// Keys without a key id from configured PEM texts (Vault's
/// `jwt_validation_pubkeys`, Kubernetes' `pem_keys`); the config write
/// refused unparseable ones, so any left are skipped.
pub fn keys_from_pems(pems: &[String]) -> Vec<PublicKey> {
    pems.iter()
        .filter_map(|pem| parse_public_key_pem(pem).ok())
        .map(|material| PublicKey {
            kid: None,
            material,
        })
        .collect()
}

/// The usable signature keys of a JWKS document (`{"keys": [...]}`); keys
/// for encryption or of unknown types are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<PublicKey>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("failed to decode keys: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "failed to decode keys: no \"keys\" array".to_string())?;
    let mut out = Vec::new();
    for jwk in keys {
        if jwk.get("use").and_then(Value::as_str) == Some("enc") {
            continue;
        }
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_string);
        let material = material_from_jwk(jwk);
        if let Some(material) = material {
            out.push(PublicKey { kid, material });
        }
    }
    Ok(out)
}
