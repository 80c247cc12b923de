//! The registered-claim checks of HashiCorp's `cap/jwt` validator, with
//! its error texts: algorithm, issuer, subject, audience and the time
//! claims with their leeways.

use crate::util::gotime::now_unix;
use serde_json::{Map, Value};

use super::jws::Jws;
use super::keys::Alg;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jose::test_support::compact;

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
            let jws = Jws::parse(&compact(&header, &claims, sign)).expect("parses");
            assert_eq!(
                validate_claims(&jws, &expected(leeway)).is_ok(),
                valid,
                "{claims} with leeway {leeway}"
            );
        }
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
