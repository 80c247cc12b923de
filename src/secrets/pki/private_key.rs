//! Private keys: generation, PEM import/export in Vault's formats, public key
//! encodings and signing, all with aws-lc-rs.

use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use super::der;
use super::public_key::{self, curve_bits, KeyType, OID_EC, OID_ED25519, OID_RSA};

/// Validates `key_type`/`key_bits` for key generation, applying Vault's
/// defaults (0 → 2048 for RSA, 256 for EC).
pub fn generation_params(key_type: &str, key_bits: i64) -> Result<(KeyType, u32), String> {
    match key_type {
        "rsa" => match key_bits {
            0 => Ok((KeyType::Rsa, 2048)),
            2048 | 3072 | 4096 | 8192 => Ok((KeyType::Rsa, key_bits as u32)),
            bits if bits < 2048 => Err(format!(
                "RSA keys < 2048 bits are unsafe and not supported: got {bits}"
            )),
            _ => Err(format!("unsupported bit length for RSA key: {key_bits}")),
        },
        "ec" => match key_bits {
            0 => Ok((KeyType::Ec, 256)),
            256 | 384 | 521 => Ok((KeyType::Ec, key_bits as u32)),
            224 => Err(
                "unsupported bit length for EC key: 224 (P-224 is not supported by this server)"
                    .into(),
            ),
            _ => Err(format!("unsupported bit length for EC key: {key_bits}")),
        },
        "ed25519" => Ok((KeyType::Ed25519, 0)),
        other => Err(format!("unknown key type {other}")),
    }
}

enum Inner {
    Rsa(signature::RsaKeyPair),
    Ec(EcdsaKeyPair, u32),
    Ed(Ed25519KeyPair),
}

/// A usable private key.
pub struct PrivateKey {
    inner: Inner,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({}, {})",
            self.key_type().as_str(),
            self.bits()
        )
    }
}

fn ec_alg(bits: u32) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match bits {
        256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        521 => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        _ => None,
    }
}

/// The hash a signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// Vault's names for revocation signature algorithms (matched without
/// case): key type, hash bits, PSS, and Go's name for the same algorithm.
const SIGNING_NAMES: &[(&str, KeyType, u32, bool, &str)] = &[
    ("SHA256WithRSA", KeyType::Rsa, 256, false, "SHA256-RSA"),
    ("SHA384WithRSA", KeyType::Rsa, 384, false, "SHA384-RSA"),
    ("SHA512WithRSA", KeyType::Rsa, 512, false, "SHA512-RSA"),
    ("SHA256WithRSAPSS", KeyType::Rsa, 256, true, "SHA256-RSAPSS"),
    ("SHA384WithRSAPSS", KeyType::Rsa, 384, true, "SHA384-RSAPSS"),
    ("SHA512WithRSAPSS", KeyType::Rsa, 512, true, "SHA512-RSAPSS"),
    ("ECDSAWithSHA256", KeyType::Ec, 256, false, "ECDSA-SHA256"),
    ("ECDSAWithSHA384", KeyType::Ec, 384, false, "ECDSA-SHA384"),
    ("ECDSAWithSHA512", KeyType::Ec, 512, false, "ECDSA-SHA512"),
    ("Ed25519", KeyType::Ed25519, 0, false, "Ed25519"),
    ("PureEd25519", KeyType::Ed25519, 0, false, "Ed25519"),
];

/// Checks a requested `revocation_signature_algorithm` against the
/// issuer's public key and returns Vault's spelling of it. EC keys sign
/// with their curve's hash only (aws-lc-rs binds the two), so another hash
/// is refused rather than silently replaced.
pub fn revocation_signing_name(
    requested: &str,
    key: &public_key::PublicKeyInfo,
) -> Result<String, String> {
    let Some(&(_, kind, bits, _, go_name)) = SIGNING_NAMES
        .iter()
        .find(|entry| entry.0.eq_ignore_ascii_case(requested))
    else {
        let valid: Vec<String> = SIGNING_NAMES
            .iter()
            .map(|entry| entry.0.to_ascii_lowercase())
            .collect();
        return Err(format!(
            "Unknown signature algorithm value: {requested} - valid values are {}",
            valid.join(", ")
        ));
    };
    let own = key
        .key_type
        .ok_or("the issuer's key type is not supported")?;
    if own != kind {
        let own_name = match own {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "ECDSA",
            KeyType::Ed25519 => "Ed25519",
        };
        return Err(format!(
            "unable to use issuer of type {own_name} to sign with {go_name} key type"
        ));
    }
    let curve_hash = match key.bits {
        384 => 384,
        521 => 512,
        _ => 256,
    };
    if kind == KeyType::Ec && bits != curve_hash {
        return Err(format!(
            "this server signs with a P-{} key using SHA-{curve_hash} only; {requested} is not supported for this issuer",
            key.bits
        ));
    }
    // Vault reports the canonical name (PureEd25519 reads back as Ed25519).
    let canonical = SIGNING_NAMES
        .iter()
        .find(|entry| entry.4 == go_name)
        .map_or(requested, |entry| entry.0);
    Ok(canonical.to_string())
}

/// How a key signs: the hash, and for RSA whether with RSASSA-PSS
/// (`use_pss`) rather than PKCS#1 v1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signing {
    pub hash: Hash,
    pub pss: bool,
}

impl Hash {
    fn bits(self) -> u32 {
        match self {
            Hash::Sha256 => 256,
            Hash::Sha384 => 384,
            Hash::Sha512 => 512,
        }
    }

    /// The hash's AlgorithmIdentifier with NULL parameters, as Go writes it
    /// inside RSASSA-PSS parameters.
    fn algorithm_identifier(self) -> Vec<u8> {
        let last = match self {
            Hash::Sha256 => 1,
            Hash::Sha384 => 2,
            Hash::Sha512 => 3,
        };
        der::seq(&[der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, last]), der::null()])
    }

    pub fn from_bits(bits: i64) -> Option<Hash> {
        match bits {
            256 => Some(Hash::Sha256),
            384 => Some(Hash::Sha384),
            512 => Some(Hash::Sha512),
            _ => None,
        }
    }
}

impl PrivateKey {
    pub fn generate(key_type: KeyType, bits: u32) -> Result<PrivateKey, String> {
        let inner = match key_type {
            KeyType::Rsa => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    8192 => KeySize::Rsa8192,
                    _ => return Err(format!("unsupported bit length for RSA key: {bits}")),
                };
                Inner::Rsa(
                    signature::RsaKeyPair::generate(size)
                        .map_err(|_| "RSA key generation failed")?,
                )
            }
            KeyType::Ec => {
                let alg = ec_alg(bits)
                    .ok_or_else(|| format!("unsupported bit length for EC key: {bits}"))?;
                Inner::Ec(
                    EcdsaKeyPair::generate(alg).map_err(|_| "EC key generation failed")?,
                    bits,
                )
            }
            KeyType::Ed25519 => {
                Inner::Ed(Ed25519KeyPair::generate().map_err(|_| "Ed25519 key generation failed")?)
            }
        };
        Ok(PrivateKey { inner })
    }

    /// Parses the first private key block of a PEM string.
    pub fn from_pem(pem_text: &str) -> Result<PrivateKey, String> {
        let blocks =
            pem::parse_many(pem_text.as_bytes()).map_err(|e| format!("error parsing PEM: {e}"))?;
        for block in blocks {
            match block.tag() {
                "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
                    return PrivateKey::from_der(block.tag(), block.contents());
                }
                _ => continue,
            }
        }
        Err("no private key found in PEM data".into())
    }

    pub fn from_der(tag: &str, der_bytes: &[u8]) -> Result<PrivateKey, String> {
        let bad = |_| "unable to parse private key".to_string();
        match tag {
            "RSA PRIVATE KEY" => Ok(PrivateKey {
                inner: Inner::Rsa(signature::RsaKeyPair::from_der(der_bytes).map_err(bad)?),
            }),
            "EC PRIVATE KEY" => {
                for bits in [256, 384, 521] {
                    if let Some(alg) = ec_alg(bits) {
                        if let Ok(k) = EcdsaKeyPair::from_private_key_der(alg, der_bytes) {
                            return Ok(PrivateKey {
                                inner: Inner::Ec(k, bits),
                            });
                        }
                    }
                }
                Err("unable to parse private key: unsupported EC curve".into())
            }
            _ => {
                let (alg_oid, params) =
                    pkcs8_algorithm(der_bytes).ok_or("unable to parse PKCS#8 private key")?;
                if alg_oid == der::oid(OID_RSA) {
                    Ok(PrivateKey {
                        inner: Inner::Rsa(
                            signature::RsaKeyPair::from_pkcs8(der_bytes).map_err(bad)?,
                        ),
                    })
                } else if alg_oid == der::oid(OID_EC) {
                    let bits = curve_bits(&params)
                        .ok_or("unable to parse private key: unsupported EC curve")?;
                    let alg =
                        ec_alg(bits).ok_or("unable to parse private key: unsupported EC curve")?;
                    Ok(PrivateKey {
                        inner: Inner::Ec(
                            EcdsaKeyPair::from_pkcs8(alg, der_bytes).map_err(bad)?,
                            bits,
                        ),
                    })
                } else if alg_oid == der::oid(OID_ED25519) {
                    let k = Ed25519KeyPair::from_pkcs8(der_bytes)
                        .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes))
                        .map_err(bad)?;
                    Ok(PrivateKey {
                        inner: Inner::Ed(k),
                    })
                } else {
                    Err("unsupported private key type".into())
                }
            }
        }
    }

    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::Rsa(_) => KeyType::Rsa,
            Inner::Ec(..) => KeyType::Ec,
            Inner::Ed(_) => KeyType::Ed25519,
        }
    }

    pub fn bits(&self) -> u32 {
        match &self.inner {
            Inner::Rsa(k) => (k.public_modulus_len() * 8) as u32,
            Inner::Ec(_, bits) => *bits,
            Inner::Ed(_) => 0,
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Result<Vec<u8>, String> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &self.inner {
            Inner::Rsa(k) => k.public_key().as_der(),
            Inner::Ec(k, _) => k.public_key().as_der(),
            Inner::Ed(k) => k.public_key().as_der(),
        };
        der.map(|d| d.as_ref().to_vec())
            .map_err(|_| "unable to encode public key".to_string())
    }

    /// The key in Vault's native PEM form (PKCS#1, SEC1 or PKCS#8 for Ed25519).
    pub fn to_pem(&self) -> Result<String, String> {
        let fail = |_| "unable to encode private key".to_string();
        let (tag, bytes) = match &self.inner {
            Inner::Rsa(k) => {
                let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(k).map_err(fail)?;
                (
                    "RSA PRIVATE KEY",
                    pkcs8_inner_key(pkcs8.as_ref()).ok_or("unable to encode private key")?,
                )
            }
            Inner::Ec(k, _) => {
                let sec1: EcPrivateKeyRfc5915Der<'static> =
                    k.private_key().as_der().map_err(fail)?;
                ("EC PRIVATE KEY", sec1.as_ref().to_vec())
            }
            Inner::Ed(k) => (
                "PRIVATE KEY",
                k.to_pkcs8v1().map_err(fail)?.as_ref().to_vec(),
            ),
        };
        Ok(der::pem_encode(tag, &bytes))
    }

    /// The key as PKCS#8 `PRIVATE KEY`.
    pub fn to_pkcs8_pem(&self) -> Result<String, String> {
        let fail = |_| "unable to encode private key".to_string();
        let bytes = match &self.inner {
            Inner::Rsa(k) => AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(k)
                .map_err(fail)?
                .as_ref()
                .to_vec(),
            Inner::Ec(k, _) => k.to_pkcs8v1().map_err(fail)?.as_ref().to_vec(),
            Inner::Ed(k) => k.to_pkcs8v1().map_err(fail)?.as_ref().to_vec(),
        };
        Ok(der::pem_encode("PRIVATE KEY", &bytes))
    }

    /// How this key signs: RSA honours `signature_bits` and `use_pss`, EC
    /// is matched to the curve, Ed25519 has no choice (both flags ignored,
    /// as Vault ignores them for those keys).
    pub fn signing(&self, signature_bits: i64, use_pss: bool) -> Signing {
        let (hash, pss) = match &self.inner {
            Inner::Rsa(_) => (
                Hash::from_bits(signature_bits).unwrap_or(Hash::Sha256),
                use_pss,
            ),
            Inner::Ec(_, 384) => (Hash::Sha384, false),
            Inner::Ec(_, 521) => (Hash::Sha512, false),
            _ => (Hash::Sha256, false),
        };
        Signing { hash, pss }
    }

    /// How CRLs are signed: an RSA issuer's `revocation_signature_algorithm`
    /// (SHA-256 PKCS#1 v1.5 when unset); EC keys use their curve's hash.
    pub fn revocation_signing(&self, configured: &str) -> Signing {
        let name = configured.to_ascii_lowercase();
        let pss = name.ends_with("pss");
        let bits = match name.trim_end_matches("pss") {
            "sha384withrsa" => 384,
            "sha512withrsa" => 512,
            _ => 256,
        };
        self.signing(bits, pss)
    }

    /// Vault's name for a signing scheme of this key, as an issuer's
    /// `revocation_signature_algorithm` records it (`SHA256WithRSA`,
    /// `SHA384WithRSAPSS`, `ECDSAWithSHA256`, `Ed25519`).
    pub fn signing_name(&self, signing: Signing) -> String {
        let bits = signing.hash.bits();
        match &self.inner {
            Inner::Rsa(_) if signing.pss => format!("SHA{bits}WithRSAPSS"),
            Inner::Rsa(_) => format!("SHA{bits}WithRSA"),
            Inner::Ec(..) => format!("ECDSAWithSHA{bits}"),
            Inner::Ed(_) => "Ed25519".into(),
        }
    }

    /// DER AlgorithmIdentifier of the signatures this key makes; RSASSA-PSS
    /// parameters as Go's: MGF1 with the same hash, salt of the hash's
    /// length, default trailer.
    pub fn signature_algorithm(&self, signing: Signing) -> Vec<u8> {
        let hash = signing.hash;
        match &self.inner {
            Inner::Rsa(_) if signing.pss => {
                let params = der::seq(&[
                    der::explicit(0, &hash.algorithm_identifier()),
                    der::explicit(
                        1,
                        &der::seq(&[
                            der::oid(&[1, 2, 840, 113549, 1, 1, 8]),
                            hash.algorithm_identifier(),
                        ]),
                    ),
                    der::explicit(2, &der::int(i64::from(hash.bits() / 8))),
                ]);
                der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 1, 10]), params])
            }
            Inner::Rsa(_) => {
                let last = match hash {
                    Hash::Sha256 => 11,
                    Hash::Sha384 => 12,
                    Hash::Sha512 => 13,
                };
                der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 1, last]), der::null()])
            }
            Inner::Ec(_, bits) => {
                let last = match bits {
                    384 => 3,
                    521 => 4,
                    _ => 2,
                };
                der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, last])])
            }
            Inner::Ed(_) => der::seq(&[der::oid(OID_ED25519)]),
        }
    }

    pub fn sign(&self, signing: Signing, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let enc: &'static dyn signature::RsaEncoding = match (signing.hash, signing.pss) {
                    (Hash::Sha256, false) => &signature::RSA_PKCS1_SHA256,
                    (Hash::Sha384, false) => &signature::RSA_PKCS1_SHA384,
                    (Hash::Sha512, false) => &signature::RSA_PKCS1_SHA512,
                    (Hash::Sha256, true) => &signature::RSA_PSS_SHA256,
                    (Hash::Sha384, true) => &signature::RSA_PSS_SHA384,
                    (Hash::Sha512, true) => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(enc, &rng, message, &mut sig)
                    .map_err(|_| "RSA signing failed")?;
                Ok(sig)
            }
            Inner::Ec(k, _) => Ok(k
                .sign(&rng, message)
                .map_err(|_| "ECDSA signing failed")?
                .as_ref()
                .to_vec()),
            Inner::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

/// `(algorithm OID encoding, parameters encoding)` of a PKCS#8 PrivateKeyInfo.
fn pkcs8_algorithm(der_bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, body, _, _) = der::read(der_bytes)?;
    let (_, _, _, rest) = der::read(body)?; // version
    let (_, alg, _, _) = der::read(rest)?;
    let (_, _, oid, params) = der::read(alg)?;
    Some((oid.to_vec(), params.to_vec()))
}

/// The inner private key (PKCS#1 for RSA) of a PKCS#8 PrivateKeyInfo.
fn pkcs8_inner_key(der_bytes: &[u8]) -> Option<Vec<u8>> {
    let (_, body, _, _) = der::read(der_bytes)?;
    let (_, _, _, rest) = der::read(body)?;
    let (_, _, _, rest) = der::read(rest)?;
    let (tag, key, _, _) = der::read(rest)?;
    (tag == der::TAG_OCTET_STRING).then(|| key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::pki::public_key::verify;

    #[test]
    fn every_supported_key_round_trips_through_pem_and_signs() {
        for (kt, bits) in [
            (KeyType::Rsa, 2048),
            (KeyType::Ec, 256),
            (KeyType::Ec, 384),
            (KeyType::Ec, 521),
            (KeyType::Ed25519, 0),
        ] {
            let key = PrivateKey::generate(kt, bits).expect("generate");
            let pem = key.to_pem().expect("pem");
            assert!(!pem.ends_with('\n'));
            let back = PrivateKey::from_pem(&pem).expect("parse native");
            assert_eq!((back.key_type(), back.bits()), (kt, bits));
            let back8 =
                PrivateKey::from_pem(&key.to_pkcs8_pem().expect("pkcs8")).expect("parse pkcs8");
            assert_eq!(back8.spki().ok(), key.spki().ok());
            let spki = key.spki().expect("spki");
            let info = public_key::info(&spki).expect("info");
            assert_eq!((info.key_type, info.bits), (Some(kt), bits));
            for pss in [false, true] {
                let signing = key.signing(0, pss);
                let sig = key.sign(signing, b"hello").expect("sign");
                let alg = key.signature_algorithm(signing);
                assert!(verify(&spki, &alg, b"hello", &sig));
                assert!(!verify(&spki, &alg, b"hellO", &sig));
            }
        }
    }

    #[test]
    fn pss_parameters_are_gos_bytes() {
        // crypto/x509's pssParametersSHA256: SHA-256, MGF1-SHA-256, salt 32.
        let go: &[u8] = &[
            48, 52, 160, 15, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 1, 5, 0, 161, 28, 48, 26,
            6, 9, 42, 134, 72, 134, 247, 13, 1, 1, 8, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2,
            1, 5, 0, 162, 3, 2, 1, 32,
        ];
        let key = PrivateKey::generate(KeyType::Rsa, 2048).expect("key");
        let alg = key.signature_algorithm(key.signing(256, true));
        let (_, body, _, _) = der::read(&alg).expect("algorithm identifier");
        let (_, _, oid, params) = der::read(body).expect("oid");
        assert_eq!(oid, der::oid(&[1, 2, 840, 113549, 1, 1, 10]));
        assert_eq!(params, go);
    }

    #[test]
    fn revocation_algorithms_must_fit_the_issuers_key() {
        let info = |kt, bits| {
            let key = PrivateKey::generate(kt, bits).expect("key");
            public_key::info(&key.spki().expect("spki")).expect("info")
        };
        let rsa = info(KeyType::Rsa, 2048);
        assert_eq!(
            revocation_signing_name("sha512withrsapss", &rsa).as_deref(),
            Ok("SHA512WithRSAPSS")
        );
        assert_eq!(
            revocation_signing_name("ECDSAWithSHA256", &rsa),
            Err("unable to use issuer of type RSA to sign with ECDSA-SHA256 key type".into())
        );
        assert!(revocation_signing_name("bogus", &rsa)
            .is_err_and(|e| e.starts_with("Unknown signature algorithm value: bogus")));
        let p384 = info(KeyType::Ec, 384);
        assert!(revocation_signing_name("ECDSAWithSHA384", &p384).is_ok());
        assert!(revocation_signing_name("ECDSAWithSHA256", &p384).is_err());
        let ed = info(KeyType::Ed25519, 0);
        assert_eq!(
            revocation_signing_name("PureEd25519", &ed).as_deref(),
            Ok("Ed25519")
        );
    }

    #[test]
    fn native_pem_headers_match_vault() {
        let rsa = PrivateKey::generate(KeyType::Rsa, 2048)
            .and_then(|k| k.to_pem())
            .unwrap_or_default();
        assert!(rsa.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let ec = PrivateKey::generate(KeyType::Ec, 256)
            .and_then(|k| k.to_pem())
            .unwrap_or_default();
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    }

    #[test]
    fn bad_key_parameters_are_refused() {
        assert!(generation_params("rsa", 1024).is_err());
        assert!(generation_params("ec", 100).is_err());
        assert!(generation_params("dsa", 0).is_err());
        assert_eq!(generation_params("rsa", 0), Ok((KeyType::Rsa, 2048)));
        assert!(PrivateKey::from_pem("junk").is_err());
    }
}
