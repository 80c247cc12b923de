//! Compact JWS: split, decoded and checked against verification keys
//! (`none`, HMAC and unknown algorithms never verify).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::keys::{Alg, PublicKey};

/// A compact JWS, split and decoded but not yet verified.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The `alg` header as sent (`none`, `HS256`, …).
    pub alg_name: String,
    pub alg: Option<Alg>,
    pub kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub signing_input: String,
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

fn b64_decode(part: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        let at = part
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .unwrap_or(0);
        format!("illegal base64 data at input byte {at}")
    })
}

impl Jws {
    /// Parses a compact JWS whose payload is a JSON object of claims.
    pub fn parse(token: &str) -> Result<Jws, String> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        if parts.len() != 3 {
            return Err("go-jose/go-jose: compact JWS format must have three parts".into());
        }
        let header: Map<String, Value> = serde_json::from_slice(&b64_decode(parts[0])?)
            .map_err(|e| format!("go-jose/go-jose: {e}"))?;
        let claims: Map<String, Value> = serde_json::from_slice(&b64_decode(parts[1])?)
            .map_err(|e| format!("go-jose/go-jose: {e}"))?;
        let signature = b64_decode(parts[2])?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Jws {
            alg: Alg::from_name(&alg_name),
            alg_name,
            kid: header
                .get("kid")
                .and_then(Value::as_str)
                .map(str::to_string),
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature,
            claims,
        })
    }

    /// Does one of `keys` verify the signature? `none`, HMAC and unknown
    /// algorithms, and empty signatures, never do.
    pub fn verify_with(&self, keys: &[PublicKey]) -> bool {
        let Some(alg) = self.alg else {
            return false;
        };
        if self.signature.is_empty() {
            return false;
        }
        keys.iter()
            .any(|key| key.verify(alg, self.signing_input.as_bytes(), &self.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jose::keys::parse_public_key_pem;
    use crate::auth::jose::test_support::compact;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    #[test]
    fn es256_and_eddsa_verify_and_wrong_keys_do_not() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let ec =
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec key");
        let ed = Ed25519KeyPair::generate().expect("ed key");
        let ec_pem = pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            ec.public_key().as_der().expect("der").as_ref().to_vec(),
        ));
        let ed_pem = pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            ed.public_key().as_der().expect("der").as_ref().to_vec(),
        ));
        let ec_key = PublicKey {
            kid: None,
            material: parse_public_key_pem(&ec_pem).expect("ec pem"),
        };
        let ed_key = PublicKey {
            kid: None,
            material: parse_public_key_pem(&ed_pem).expect("ed pem"),
        };
        let claims = serde_json::json!({"sub": "x"});
        let t = compact(&serde_json::json!({"alg": "ES256"}), &claims, |m| {
            ec.sign(&rng, m).expect("sign").as_ref().to_vec()
        });
        let jws = Jws::parse(&t).expect("parse");
        assert!(jws.verify_with(std::slice::from_ref(&ec_key)));
        assert!(!jws.verify_with(std::slice::from_ref(&ed_key)));
        let t = compact(&serde_json::json!({"alg": "EdDSA"}), &claims, |m| {
            ed.sign(m).as_ref().to_vec()
        });
        let jws = Jws::parse(&t).expect("parse");
        assert!(jws.verify_with(&[ec_key.clone(), ed_key.clone()]));
        // alg none with an empty signature never verifies.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
        );
        let jws = Jws::parse(&none).expect("parse");
        assert!(!jws.verify_with(&[ec_key, ed_key]));
    }

    #[test]
    fn malformed_tokens_and_keys_are_refused() {
        assert!(Jws::parse("a.b").is_err());
        assert!(Jws::parse("!!.e30.e30").is_err());
        assert!(parse_public_key_pem("junk").is_err());
    }
}
