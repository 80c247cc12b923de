//! JSON Web Tokens for the JWT and Kubernetes auth methods: compact JWS
//! parsing, signature verification with aws-lc-rs (RS/PS 256–512,
//! ES256/384/512, EdDSA; `none` and HMAC never verify), public keys from PEM
//! (SPKI or certificate) and JWKS documents, the registered-claim checks of
//! HashiCorp's `cap/jwt` validator with its error texts, and the outbound
//! HTTPS client (rustls on aws-lc-rs, bounded timeouts) used for JWKS, OIDC
//! discovery and the Kubernetes TokenReview API.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Timeout for every outbound request (connect and whole exchange).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The usable signature keys of a JWKS document (`{"keys": [...]}`); keys
/// for encryption or of unknown types are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<PublicKey>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("failed to decode keys: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "failed to decode keys: no \"keys\" array".to_string())?;
    let b64 = |jwk: &Value, name: &str| -> Option<Vec<u8>> {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    let mut out = Vec::new();
    for jwk in keys {
        if jwk.get("use").and_then(Value::as_str) == Some("enc") {
            continue;
        }
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_string);
        let material = match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => match (b64(jwk, "n"), b64(jwk, "e")) {
                (Some(n), Some(e)) => Some(KeyMaterial::RsaComponents { n, e }),
                _ => None,
            },
            Some("EC") => {
                let curve = match jwk.get("crv").and_then(Value::as_str) {
                    Some("P-256") => Some((Curve::P256, 32)),
                    Some("P-384") => Some((Curve::P384, 48)),
                    Some("P-521") => Some((Curve::P521, 66)),
                    _ => None,
                };
                match (curve, b64(jwk, "x"), b64(jwk, "y")) {
                    (Some((curve, len)), Some(x), Some(y)) if x.len() == len && y.len() == len => {
                        let mut point = vec![4u8];
                        point.extend_from_slice(&x);
                        point.extend_from_slice(&y);
                        Some(KeyMaterial::Ec { curve, point })
                    }
                    _ => None,
                }
            }
            Some("OKP") if jwk.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                b64(jwk, "x").map(KeyMaterial::Ed25519)
            }
            _ => None,
        };
        if let Some(material) = material {
            out.push(PublicKey { kid, material });
        }
    }
    Ok(out)
}

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

/// The `aud` claim as a list (a single string is a list of one).
pub fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, String> {
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience".to_string())
            })
            .collect(),
        Some(_) => Err(
            "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience".into(),
        ),
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<i64, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| {
                format!("json: cannot unmarshal number into Go struct field Claims.{name}")
            }),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field Claims.{name} of type jwt.NumericDate",
            match other {
                Value::String(_) => "string",
                Value::Bool(_) => "bool",
                Value::Array(_) => "array",
                _ => "object",
            }
        )),
    }
}

fn str_claim(claims: &Map<String, Value>, name: &str) -> String {
    claims
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// What `cap/jwt`'s `Expected` asserts. Leeways are seconds: 0 means the
/// default (150 s for exp/nbf derivation, 60 s clock skew), negative none.
#[derive(Debug, Clone, Default)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audiences: &'a [String],
    pub algorithms: &'a [Alg],
    pub not_before_leeway: i64,
    pub expiration_leeway: i64,
    pub clock_skew_leeway: i64,
    /// Kubernetes: a token without iat, nbf and exp is accepted.
    pub allow_missing_times: bool,
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn leeway(value: i64, default: i64) -> i64 {
    match value {
        v if v < 0 => 0,
        0 => default,
        v => v,
    }
}

/// `cap/jwt` `Validator.validateAll` after the signature check: algorithm,
/// iss, sub, aud, then the time claims, with cap's error texts.
pub fn validate_claims(jws: &Jws, expected: &Expected<'_>) -> Result<(), String> {
    let algs: &[Alg] = if expected.algorithms.is_empty() {
        &[Alg::RS256]
    } else {
        expected.algorithms
    };
    if jws.signature.is_empty() {
        return Err("invalid algorithm (alg) header parameter: token must be signed".into());
    }
    if !jws.alg.is_some_and(|a| algs.contains(&a)) {
        return Err(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                .into(),
        );
    }
    let claims = &jws.claims;
    let aud = audiences(claims)?;
    let iat = numeric_date(claims, "iat")?;
    let mut exp = numeric_date(claims, "exp")?;
    let mut nbf = numeric_date(claims, "nbf")?;
    if !expected.issuer.is_empty() && expected.issuer != str_claim(claims, "iss") {
        return Err("invalid issuer (iss) claim".into());
    }
    if !expected.subject.is_empty() && expected.subject != str_claim(claims, "sub") {
        return Err("invalid subject (sub) claim".into());
    }
    if !expected.audiences.is_empty() && !expected.audiences.iter().any(|a| aud.contains(a)) {
        return Err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        );
    }
    if iat == 0 && exp == 0 && nbf == 0 {
        if expected.allow_missing_times {
            return Ok(());
        }
        return Err(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token".into(),
        );
    }
    // Saturating: the claims are the token's (any JSON number, saturated to
    // i64) and the leeways the role's; found by fuzzing, `i64::MAX` values
    // overflowed here.
    if exp == 0 {
        exp = iat
            .max(nbf)
            .saturating_add(leeway(expected.expiration_leeway, 150));
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            exp.saturating_sub(leeway(expected.not_before_leeway, 150))
        };
    }
    let skew = leeway(expected.clock_skew_leeway, 60);
    let now = now_unix();
    if now.saturating_add(skew) < nbf {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now.saturating_sub(skew) > exp {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if iat != 0 && now.saturating_add(skew) < iat {
        return Err("invalid issued at (iat) claim: token issued in the future".into());
    }
    Ok(())
}

/// An async HTTPS client trusting `ca_pem` (when given) or else, when
/// `system_roots`, the system's roots; otherwise no roots at all (Vault's
/// Kubernetes client with no CA). rustls on aws-lc-rs, bounded timeouts.
pub fn http_client(ca_pem: &str, system_roots: bool) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    if !ca_pem.trim().is_empty() {
        let blocks = pem::parse_many(ca_pem.trim().as_bytes()).unwrap_or_default();
        for block in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
            let _ = roots.add(rustls::pki_types::CertificateDer::from(
                block.contents().to_vec(),
            ));
        }
        if roots.is_empty() {
            return Err("could not parse CA PEM value successfully".into());
        }
    } else if system_roots {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(HTTP_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| e.to_string())
}

/// GET `url`, requiring 200; the body (at most 1 MiB is read).
pub async fn http_get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let resp = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?;
    let status = resp.status();
    let body = read_limited(resp).await?;
    if status.as_u16() != 200 {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    Ok(body)
}

/// Reads a response body, refusing more than 1 MiB.
pub async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    const LIMIT: usize = 1 << 20;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > LIMIT {
            return Err("response body too large".into());
        }
    }
    Ok(body)
}

/// An error with its sources, as Go prints wrapped errors.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let s = inner.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{h}.{c}");
        let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
        format!("{input}.{sig}")
    }

    /// Fuzzing regression: extreme claims and leeways saturate instead of
    /// overflowing, and the outcome stays sane.
    #[test]
    fn extreme_times_and_leeways_do_not_overflow() {
        let expected = |leeway: i64| Expected {
            algorithms: &[Alg::RS256],
            not_before_leeway: leeway,
            expiration_leeway: leeway,
            clock_skew_leeway: leeway,
            ..Expected::default()
        };
        let now = now_unix();
        let sign = |_: &[u8]| b"sig".to_vec();
        let header = serde_json::json!({"alg": "RS256"});
        for (claims, leeway, valid) in [
            (serde_json::json!({"iat": 9.3e18}), 0, false),
            (serde_json::json!({"nbf": -9.3e18}), 0, false),
            (serde_json::json!({"exp": -9.3e18}), 0, false),
            (serde_json::json!({"exp": 9.3e18}), i64::MAX, true),
            (
                serde_json::json!({"iat": now, "exp": now + 60}),
                i64::MAX,
                true,
            ),
            (
                serde_json::json!({"nbf": i64::MIN, "exp": i64::MAX}),
                i64::MAX,
                true,
            ),
        ] {
            let jws = Jws::parse(&token(&header, &claims, sign)).expect("parses");
            assert_eq!(
                validate_claims(&jws, &expected(leeway)).is_ok(),
                valid,
                "{claims} with leeway {leeway}"
            );
        }
    }
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
        let t = token(&serde_json::json!({"alg": "ES256"}), &claims, |m| {
            ec.sign(&rng, m).expect("sign").as_ref().to_vec()
        });
        let jws = Jws::parse(&t).expect("parse");
        assert!(jws.verify_with(std::slice::from_ref(&ec_key)));
        assert!(!jws.verify_with(std::slice::from_ref(&ed_key)));
        let t = token(&serde_json::json!({"alg": "EdDSA"}), &claims, |m| {
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

    #[test]
    fn time_claims_follow_cap() {
        let jws = |claims: Value| Jws {
            alg_name: "RS256".into(),
            alg: Some(Alg::RS256),
            kid: None,
            signing_input: String::new(),
            signature: vec![1],
            claims: claims.as_object().cloned().unwrap_or_default(),
        };
        let now = now_unix();
        let e = Expected {
            algorithms: &Alg::ALL,
            ..Default::default()
        };
        assert!(validate_claims(&jws(serde_json::json!({"exp": now + 60})), &e).is_ok());
        assert_eq!(
            validate_claims(&jws(serde_json::json!({"exp": now - 120})), &e).err(),
            Some("invalid expiration time (exp) claim: token is expired".to_string())
        );
        assert_eq!(
            validate_claims(&jws(serde_json::json!({"nbf": now + 600})), &e).err(),
            Some("invalid not before (nbf) claim: token not yet valid".to_string())
        );
        assert!(validate_claims(&jws(serde_json::json!({})), &e).is_err());
        let k8s = Expected {
            allow_missing_times: true,
            ..e.clone()
        };
        assert!(validate_claims(&jws(serde_json::json!({})), &k8s).is_ok());
        // A single-string aud counts as a list of one.
        let aud = vec!["a".to_string()];
        let with_aud = Expected {
            audiences: &aud,
            ..k8s
        };
        assert!(validate_claims(&jws(serde_json::json!({"aud": "a"})), &with_aud).is_ok());
        assert!(validate_claims(&jws(serde_json::json!({"aud": ["b"]})), &with_aud).is_err());
    }
}
