//! JWT handling: compact JWS parsing, claim validation with several
//! leeway settings, JWKS documents and PEM public keys. Properties: no
//! panic (overflow included, the fuzz build has debug assertions), an
//! unsigned or unparseable token is never valid, and no key verifies a
//! signature over a token whose algorithm is unknown.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaultlet::auth::jose::{self, Alg, Expected, Jws};

fuzz_target!(|data: &[u8]| {
    // The JWKS / PEM key side sees the bytes as they are.
    let keys = jose::parse_jwks(data).unwrap_or_default();
    let text = String::from_utf8_lossy(data);
    let pem_key = jose::parse_public_key_pem(&text);

    let Ok(jws) = Jws::parse(&text) else { return };
    assert!(!jws.verify_with(&[]));
    if jws.alg.is_none() || jws.signature.is_empty() {
        assert!(!jws.verify_with(&keys));
    }
    if let Ok(material) = pem_key {
        let key = jose::PublicKey { kid: None, material };
        let _ = jws.verify_with(std::slice::from_ref(&key));
    }
    let _ = jose::audiences(&jws.claims);
    let audiences = vec!["aud".to_string()];
    for (leeway, allow_missing) in [(0, false), (-1, true), (i64::MAX, false), (i64::MIN, true)] {
        let expected = Expected {
            issuer: "iss",
            subject: "",
            audiences: &audiences,
            algorithms: &Alg::ALL,
            not_before_leeway: leeway,
            expiration_leeway: leeway,
            clock_skew_leeway: leeway,
            allow_missing_times: allow_missing,
        };
        let result = jose::validate_claims(&jws, &expected);
        if jws.signature.is_empty() {
            assert!(result.is_err());
        }
        let default = Expected::default();
        let _ = jose::validate_claims(&jws, &default);
    }
});
