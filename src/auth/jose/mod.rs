//! JSON Web Tokens for the JWT and Kubernetes auth methods (and the JWS of
//! the PKI ACME server): verification
//! keys from PEM and JWKS, compact JWS parsing and signature checks with
//! aws-lc-rs (RS/PS 256–512, ES256/384/512, EdDSA; `none` and HMAC never
//! verify), and the registered-claim checks of HashiCorp's `cap/jwt`
//! validator with its error texts.

mod claims;
mod jws;
mod keys;

pub use claims::{audiences, validate_claims, Expected};
pub use jws::Jws;
pub use keys::{
    keys_from_pems, material_from_jwk, parse_jwks, parse_public_key_pem, Alg, Curve, KeyMaterial,
    PublicKey,
};

#[cfg(test)]
mod test_support {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::Value;

    /// A compact JWS of `header` and `claims`, signed by `sign`.
    pub fn compact(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{h}.{c}");
        let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
        format!("{input}.{sig}")
    }
}
