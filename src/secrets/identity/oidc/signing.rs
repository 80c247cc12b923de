//! Signing keys of identity tokens, on aws-lc-rs: generated per algorithm,
//! kept as PKCS#8, published as a JWK and used to sign a compact JWS.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::logical::{Error, Result};
use crate::util::ids;

/// The algorithms Vault signs identity tokens with, in its discovery
/// document's order.
pub const ALGORITHMS: [&str; 7] = [
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA",
];

pub fn is_supported(algorithm: &str) -> bool {
    ALGORITHMS.contains(&algorithm)
}

/// One key pair with its key id, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER, base64.
    pub pkcs8: String,
}

fn ec_signing(algorithm: &str) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match algorithm {
        "ES256" => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        "ES384" => Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        "ES512" => Some(&signature::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => None,
    }
}

fn rsa_padding(algorithm: &str) -> Option<&'static dyn signature::RsaEncoding> {
    match algorithm {
        "RS256" => Some(&signature::RSA_PKCS1_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_SHA512),
        _ => None,
    }
}

fn crypto_failed(_: impl std::fmt::Debug) -> Error {
    Error::internal("identity token key operation failed")
}

impl SigningKey {
    /// A new key pair for `algorithm` (RSA keys are 2048 bits, as Vault's).
    pub fn generate(algorithm: &str) -> Result<SigningKey> {
        let der: Vec<u8> = if rsa_padding(algorithm).is_some() {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto_failed)?;
            let doc: Pkcs8V1Der = pair.as_der().map_err(crypto_failed)?;
            doc.as_ref().to_vec()
        } else if let Some(alg) = ec_signing(algorithm) {
            let pair = EcdsaKeyPair::generate(alg).map_err(crypto_failed)?;
            pair.to_pkcs8v1().map_err(crypto_failed)?.as_ref().to_vec()
        } else if algorithm == "EdDSA" {
            let pair = Ed25519KeyPair::generate().map_err(crypto_failed)?;
            pair.to_pkcs8v1().map_err(crypto_failed)?.as_ref().to_vec()
        } else {
            return Err(Error::BadRequest(format!(
                "unknown signing algorithm {algorithm:?}"
            )));
        };
        Ok(SigningKey {
            kid: ids::uuid(),
            algorithm: algorithm.to_string(),
            pkcs8: STANDARD.encode(der),
        })
    }

    fn der(&self) -> Result<Vec<u8>> {
        STANDARD.decode(&self.pkcs8).map_err(crypto_failed)
    }

    /// The public half as a JWK (`use`, `kty`, `kid`, `alg` and the key's
    /// own members), as Vault's `.well-known/keys` lists it.
    pub fn public_jwk(&self) -> Result<Value> {
        let der = self.der()?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let mut jwk = Map::new();
        jwk.insert("use".into(), json!("sig"));
        if rsa_padding(&self.algorithm).is_some() {
            let pair = RsaKeyPair::from_pkcs8(&der).map_err(crypto_failed)?;
            let parts: PublicKeyComponents<Vec<u8>> = pair.public_key().into();
            jwk.insert("kty".into(), json!("RSA"));
            jwk.insert("kid".into(), json!(self.kid));
            jwk.insert("alg".into(), json!(self.algorithm));
            jwk.insert("n".into(), json!(b64(&parts.n)));
            jwk.insert("e".into(), json!(b64(&parts.e)));
        } else if let Some(alg) = ec_signing(&self.algorithm) {
            let pair = EcdsaKeyPair::from_pkcs8(alg, &der).map_err(crypto_failed)?;
            let point = pair.public_key().as_ref();
            let len = (point.len() - 1) / 2;
            let crv = match self.algorithm.as_str() {
                "ES256" => "P-256",
                "ES384" => "P-384",
                _ => "P-521",
            };
            jwk.insert("kty".into(), json!("EC"));
            jwk.insert("kid".into(), json!(self.kid));
            jwk.insert("crv".into(), json!(crv));
            jwk.insert("alg".into(), json!(self.algorithm));
            jwk.insert("x".into(), json!(b64(&point[1..1 + len])));
            jwk.insert("y".into(), json!(b64(&point[1 + len..])));
        } else {
            let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(crypto_failed)?;
            jwk.insert("kty".into(), json!("OKP"));
            jwk.insert("kid".into(), json!(self.kid));
            jwk.insert("crv".into(), json!("Ed25519"));
            jwk.insert("alg".into(), json!(self.algorithm));
            jwk.insert("x".into(), json!(b64(pair.public_key().as_ref())));
        }
        Ok(Value::Object(jwk))
    }

    /// A compact JWS of `claims`, its header naming the algorithm and key.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String> {
        let header = json!({"alg": self.algorithm, "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let der = self.der()?;
        let rng = SystemRandom::new();
        let sig = if let Some(padding) = rsa_padding(&self.algorithm) {
            let pair = RsaKeyPair::from_pkcs8(&der).map_err(crypto_failed)?;
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(padding, &rng, input.as_bytes(), &mut sig)
                .map_err(crypto_failed)?;
            sig
        } else if let Some(alg) = ec_signing(&self.algorithm) {
            let pair = EcdsaKeyPair::from_pkcs8(alg, &der).map_err(crypto_failed)?;
            pair.sign(&rng, input.as_bytes())
                .map_err(crypto_failed)?
                .as_ref()
                .to_vec()
        } else {
            let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(crypto_failed)?;
            pair.sign(input.as_bytes()).as_ref().to_vec()
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jose::{material_from_jwk, Jws, PublicKey};

    #[test]
    fn every_algorithm_signs_what_its_jwk_verifies() {
        let claims: Map<String, Value> = json!({"sub": "e-1"}).as_object().cloned().unwrap();
        for algorithm in ALGORITHMS {
            let key = SigningKey::generate(algorithm).expect("generate");
            let jwk = key.public_jwk().expect("jwk");
            let public = PublicKey {
                kid: Some(key.kid.clone()),
                material: material_from_jwk(&jwk).expect("material"),
            };
            let token = key.sign(&claims).expect("sign");
            let jws = Jws::parse(&token).expect("parse");
            assert_eq!(jws.kid.as_deref(), Some(key.kid.as_str()));
            assert!(jws.verify_with(&[public]), "{algorithm}");
            let other = SigningKey::generate(algorithm).expect("generate");
            let other = PublicKey {
                kid: None,
                material: material_from_jwk(&other.public_jwk().expect("jwk")).expect("m"),
            };
            assert!(!jws.verify_with(&[other]), "{algorithm} with another key");
        }
        assert!(SigningKey::generate("HS256").is_err());
    }
}
