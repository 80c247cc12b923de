//! Flattened JWS (RFC 7515) as ACME sends it: RS256/384/512,
//! PS256/384/512, ES256/384/512 and EdDSA (Ed25519), verified by the JWT
//! auth methods' aws-lc-rs verifier (`auth::jose`), with RFC 7638
//! thumbprints. No JOSE crate: it would bring more (and another crypto
//! provider) than the little it would save.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::der;
use super::problem::{AcmeResult, Problem};
use crate::auth::jose::{self as keys, Alg};

/// A public key as a JWK (only the members a thumbprint uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

fn b64(member: &Option<String>) -> AcmeResult<Vec<u8>> {
    member
        .as_deref()
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Problem::malformed("invalid JWK"))
}

impl Jwk {
    /// RFC 7638: SHA-256 over the required members in lexical order,
    /// base64url.
    pub fn thumbprint(&self) -> AcmeResult<String> {
        let text = |v: &Option<String>| -> AcmeResult<String> {
            let v = v
                .as_deref()
                .ok_or_else(|| Problem::malformed("invalid JWK"))?;
            Ok(serde_json::to_string(v).unwrap_or_default())
        };
        let canonical = match self.kty.as_str() {
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                text(&self.e)?,
                text(&self.n)?
            ),
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                text(&self.crv)?,
                text(&self.x)?,
                text(&self.y)?
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                text(&self.crv)?,
                text(&self.x)?
            ),
            _ => return Err(Problem::malformed("unsupported JWK key type")),
        };
        Ok(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
    }

    /// The key as a certificate's `subjectPublicKey` holds it (to match a
    /// certificate's key against this one).
    pub fn key_bytes(&self) -> AcmeResult<Vec<u8>> {
        match self.kty.as_str() {
            "RSA" => {
                let n = der::uint(&b64(&self.n)?);
                let e = der::uint(&b64(&self.e)?);
                Ok(der::seq(&[n, e]))
            }
            "EC" => Ok([vec![4], b64(&self.x)?, b64(&self.y)?].concat()),
            "OKP" => b64(&self.x),
            _ => Err(Problem::malformed("unsupported JWK key type")),
        }
    }

    /// Checks `signature` over `message` for `alg` (with the JWT auth
    /// methods' verifier); the algorithm must fit the key.
    fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> AcmeResult<()> {
        let value = serde_json::to_value(self).unwrap_or_default();
        let material = keys::material_from_jwk(&value)
            .ok_or_else(|| Problem::malformed("unsupported or invalid JWK"))?;
        let alg = Alg::from_name(alg)
            .ok_or_else(|| Problem::malformed(format!("unsupported algorithm {alg}")))?;
        let key = keys::PublicKey {
            kid: None,
            material,
        };
        if key.verify(alg, message, sig) {
            Ok(())
        } else {
            Err(Problem::malformed("JWS signature verification failed"))
        }
    }
}

/// How the request names its key.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A new key (`new-account`, revocation by certificate key).
    Jwk(Jwk),
    /// An account URL.
    Kid(String),
}

/// A verified request: the protected header's facts and the payload.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: Signer,
    /// `None` for POST-as-GET (an empty payload).
    pub payload: Option<Value>,
    /// The `jwk` member exactly as the client wrote it (an external
    /// account binding signs these bytes).
    pub jwk_text: Option<String>,
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> AcmeResult<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::malformed(format!("missing required field '{name}'")))
}

fn decode(part: &str, what: &str) -> AcmeResult<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| Problem::malformed(format!("failed to base64 decode '{what}'")))
}

/// The protected header, parsed before the key is known: what it says and
/// how the signature is to be checked.
pub struct Parsed {
    pub alg: String,
    pub signer: Signer,
    pub nonce: String,
    pub url: String,
    jwk_text: Option<String>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

/// Parses a flattened JWS body; the signature is checked by
/// [`Parsed::verify`] once the key is known.
pub fn parse(body: &Map<String, Value>) -> AcmeResult<Parsed> {
    if body.contains_key("header") || body.contains_key("signatures") {
        return Err(Problem::malformed(
            "JWS with unprotected headers or several signatures",
        ));
    }
    let protected = field(body, "protected")?;
    let payload = field(body, "payload")?;
    let signature = field(body, "signature")?;
    let header_bytes = decode(protected, "protected")?;
    let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
        .map_err(|e| Problem::malformed(format!("failed to json unmarshal 'protected': {e}")))?;
    // As Vault: which key signed is checked before the algorithm.
    let key = match (header.get("jwk"), header.get("kid")) {
        (Some(_), Some(_)) => {
            return Err(Problem::malformed(
                "failed to json unmarshal 'protected': invalid header: got both account 'kid' and 'jwk' in the same message; expected only one",
            ))
        }
        (None, None) => {
            return Err(Problem::malformed(
                "failed to json unmarshal 'protected': invalid header: got neither required fields of 'kid' nor 'jwk'",
            ))
        }
        (Some(jwk), None) => Ok(jwk),
        (None, Some(kid)) => Err(kid),
    };
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    // The algorithms Vault accepts on the outer JWS: every one the JWT
    // auth methods verify (never `none` or HMAC).
    if Alg::from_name(alg).is_none() {
        return Err(Problem::malformed(
            "failed to json unmarshal 'protected': invalid header: unexpected value for 'algo'",
        ));
    }
    let signer = match key {
        Ok(jwk) => Signer::Jwk(
            serde_json::from_value(jwk.clone())
                .map_err(|e| Problem::malformed(format!("invalid 'jwk': {e}")))?,
        ),
        Err(kid) => Signer::Kid(
            kid.as_str()
                .ok_or_else(|| Problem::malformed("invalid 'kid'"))?
                .to_string(),
        ),
    };
    let text = |name: &str| {
        header
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(Parsed {
        alg: alg.to_string(),
        signer,
        nonce: text("nonce"),
        url: text("url"),
        jwk_text: member_text(&header_bytes, "jwk"),
        signing_input: format!("{protected}.{payload}").into_bytes(),
        signature: decode(signature, "signature")?,
        payload: decode(payload, "payload")?,
    })
}

impl Parsed {
    /// Checks the signature with `key` and decodes the payload.
    pub fn verify(self, key: &Jwk) -> AcmeResult<Verified> {
        key.verify(&self.alg, &self.signing_input, &self.signature)?;
        let payload = if self.payload.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&self.payload).map_err(|e| {
                Problem::malformed(format!("failed to json unmarshal 'payload': {e}"))
            })?)
        };
        Ok(Verified {
            signer: self.signer,
            payload,
            jwk_text: self.jwk_text,
        })
    }
}

/// The text of a top-level member of a JSON object, byte for byte as
/// written (the last one when repeated, as Go's decoder keeps); `None`
/// when absent or when `json` is no object.
pub fn member_text(json: &[u8], name: &str) -> Option<String> {
    /// The end of the JSON value that starts at `from` (after whitespace).
    fn value_end(json: &[u8], from: usize) -> Option<(usize, usize)> {
        let start = from + json[from..].iter().position(|b| !b.is_ascii_whitespace())?;
        let mut values = serde_json::Deserializer::from_slice(&json[start..]).into_iter::<Value>();
        values.next()?.ok()?;
        Some((start, start + values.byte_offset()))
    }
    fn skip_to(json: &[u8], from: usize) -> Option<(usize, u8)> {
        let at = from + json[from..].iter().position(|b| !b.is_ascii_whitespace())?;
        Some((at, json[at]))
    }
    let (open, b'{') = skip_to(json, 0)? else {
        return None;
    };
    let mut found = None;
    let mut at = open + 1;
    loop {
        if let (_, b'}') = skip_to(json, at)? {
            return found;
        }
        let (key_start, key_end) = value_end(json, at)?;
        let key: String = serde_json::from_slice(&json[key_start..key_end]).ok()?;
        let (colon, b':') = skip_to(json, key_end)? else {
            return None;
        };
        let (start, end) = value_end(json, colon + 1)?;
        if key == name {
            found = Some(String::from_utf8_lossy(&json[start..end]).into_owned());
        }
        match skip_to(json, end)? {
            (comma, b',') => at = comma + 1,
            (_, b'}') => return found,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 section 3.1's example key and thumbprint.
    #[test]
    fn thumbprint_matches_rfc_7638() {
        let jwk = Jwk {
            kty: "RSA".into(),
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
            crv: None,
            x: None,
            y: None,
        };
        assert_eq!(
            jwk.thumbprint().ok().as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn member_text_is_byte_for_byte() {
        let json =
            br#" { "alg" : "ES256", "jwk" : {"kty": "EC",  "x":"a"} , "n":[1, {"jwk":2}] } "#;
        assert_eq!(
            member_text(json, "jwk").as_deref(),
            Some(r#"{"kty": "EC",  "x":"a"}"#)
        );
        assert_eq!(member_text(json, "nonce"), None);
        assert_eq!(
            member_text(br#"{"jwk":1,"jwk":2}"#, "jwk").as_deref(),
            Some("2")
        );
        assert_eq!(member_text(b"[1]", "jwk"), None);
        assert_eq!(member_text(b"{}", "jwk"), None);
    }

    #[test]
    fn both_or_neither_key_member_is_malformed() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let body = |header: &str| {
            let mut m = Map::new();
            m.insert("protected".into(), Value::from(enc(header)));
            m.insert("payload".into(), Value::from(""));
            m.insert("signature".into(), Value::from(enc("x")));
            m
        };
        let neither = parse(&body(r#"{"alg":"ES256","nonce":"n","url":"u"}"#));
        assert!(neither.is_err_and(|p| p.detail.contains("neither")));
        let both = parse(&body(r#"{"alg":"ES256","kid":"k","jwk":{"kty":"EC"}}"#));
        assert!(both.is_err_and(|p| p.detail.contains("both")));
        let hmac = parse(&body(r#"{"alg":"HS256","kid":"k"}"#));
        assert!(hmac.is_err_and(|p| p.detail.contains("'algo'")));
    }
}
