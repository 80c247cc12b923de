//! Chains from a presented client certificate to the trusted certificates,
//! built and checked as Go's `crypto/x509` `Certificate.Verify` does, since
//! Vault's cert auth is that call with the roles' CA certificates as roots,
//! the presented intermediates, and the clientAuth usage
//! (https://developer.hashicorp.com/vault/docs/auth/cert). The checks, in
//! Verify's order:
//!
//! 1. the leaf handles its critical extensions and is inside its validity;
//! 2. a trusted certificate presented as the leaf is a chain by itself;
//! 3. otherwise, walking up from the leaf, a parent candidate (a trusted or
//!    presented certificate named as the child's issuer, not already on the
//!    path) is only a parent if it may sign certificates and its key
//!    verifies the child's signature; a parent that then fails a check of
//!    its own (critical extensions, validity, name constraints, CA flag,
//!    path length) makes the chain invalid with Go's error;
//! 4. a complete chain is usable for client authentication if every
//!    certificate on it with an extended key usage allows clientAuth.
//!
//! No chain at all is Go's unknown-authority case, which Vault does not
//! report as an error: `verify` answers an empty list.

use crate::util::gotime::rfc3339_of;
use std::fmt;

use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{Oid, OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA};
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

use super::name_constraints;

/// Go's bound on signature checks while building chains.
const MAX_SIGNATURE_CHECKS: usize = 100;

/// A parsed certificate with its DER.
pub struct Certificate<'a> {
    pub der: &'a [u8],
    pub x509: X509Certificate<'a>,
}

impl<'a> Certificate<'a> {
    pub fn parse(der: &'a [u8]) -> Option<Self> {
        let (_, x509) = X509Certificate::from_der(der).ok()?;
        Some(Certificate { der, x509 })
    }

    /// Go's `IsCA`: a basicConstraints extension with `cA` set.
    pub fn is_ca(&self) -> bool {
        matches!(self.x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
    }

    /// Whether the extended key usage, if any, allows clientAuth.
    pub fn allows_client_auth(&self) -> bool {
        match self.x509.extended_key_usage() {
            Ok(Some(eku)) => eku.value.any || eku.value.client_auth,
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// A chain from the leaf (first) to a trusted certificate (last).
pub type Chain<'c, 'a> = Vec<&'c Certificate<'a>>;

/// Why a chain is invalid, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    NotYetValid {
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    },
    Expired {
        now: OffsetDateTime,
        not_after: OffsetDateTime,
    },
    UnhandledCriticalExtension,
    /// A name constraint of a CA refuses a name below it (Go's full text).
    NameConstraint(String),
    NotAuthorizedToSign,
    TooManyIntermediates,
    IncompatibleUsage,
    TooManySignatureChecks,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const VALIDITY: &str = "x509: certificate has expired or is not yet valid";
        match self {
            Invalid::NotYetValid { now, not_before } => write!(
                f,
                "{VALIDITY}: current time {} is before {}",
                rfc3339_of(*now),
                rfc3339_of(*not_before)
            ),
            Invalid::Expired { now, not_after } => write!(
                f,
                "{VALIDITY}: current time {} is after {}",
                rfc3339_of(*now),
                rfc3339_of(*not_after)
            ),
            Invalid::UnhandledCriticalExtension => {
                f.write_str("x509: unhandled critical extension")
            }
            Invalid::NameConstraint(text) => f.write_str(text),
            Invalid::NotAuthorizedToSign => {
                f.write_str("x509: certificate is not authorized to sign other certificates")
            }
            Invalid::TooManyIntermediates => {
                f.write_str("x509: too many intermediates for path length constraint")
            }
            Invalid::IncompatibleUsage => {
                f.write_str("x509: certificate specifies an incompatible key usage")
            }
            Invalid::TooManySignatureChecks => f.write_str(
                "x509: signature check attempts limit reached while verifying certificate chain",
            ),
        }
    }
}

/// Every chain from `leaf` through `intermediates` to one of `roots` that
/// is usable for client authentication; empty if none reaches a root.
pub fn verify<'c, 'a>(
    leaf: &'c Certificate<'a>,
    intermediates: &'c [Certificate<'a>],
    roots: &'c [Certificate<'a>],
    now: OffsetDateTime,
) -> Result<Vec<Chain<'c, 'a>>, Invalid> {
    check_critical_extensions(leaf)?;
    check_validity(leaf, now)?;
    let chains = if roots.iter().any(|root| root.der == leaf.der) {
        vec![vec![leaf]]
    } else {
        let mut builder = Builder {
            intermediates,
            roots,
            now,
            signature_checks: 0,
        };
        builder.chains_above(&mut vec![leaf])?
    };
    if chains.is_empty() {
        return Ok(chains);
    }
    let usable: Vec<_> = chains
        .into_iter()
        .filter(|chain| chain.iter().all(|cert| cert.allows_client_auth()))
        .collect();
    if usable.is_empty() {
        return Err(Invalid::IncompatibleUsage);
    }
    Ok(usable)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Intermediate,
}

struct Builder<'c, 'a> {
    intermediates: &'c [Certificate<'a>],
    roots: &'c [Certificate<'a>],
    now: OffsetDateTime,
    signature_checks: usize,
}

impl<'c, 'a> Builder<'c, 'a> {
    /// The chains completing `path` (leaf first). As in Go, the outcome of
    /// the last parent that verified the signature decides the error when
    /// no chain is found.
    fn chains_above(
        &mut self,
        path: &mut Vec<&'c Certificate<'a>>,
    ) -> Result<Vec<Chain<'c, 'a>>, Invalid> {
        let child = *path.last().expect("path starts at the leaf");
        let candidates = (self.roots.iter().map(|c| (Role::Root, c)))
            .chain(self.intermediates.iter().map(|c| (Role::Intermediate, c)));
        let mut chains = Vec::new();
        let mut last_error = None;
        for (role, candidate) in candidates {
            if candidate.x509.subject().as_raw() != child.x509.issuer().as_raw()
                || already_on(path, candidate)
            {
                continue;
            }
            self.signature_checks += 1;
            if self.signature_checks > MAX_SIGNATURE_CHECKS {
                return Err(Invalid::TooManySignatureChecks);
            }
            if !may_sign(candidate) || !signature_verifies(child, candidate) {
                continue;
            }
            if let Err(e) = check_parent(candidate, role, path, self.now) {
                last_error = Some(e);
                continue;
            }
            path.push(candidate);
            match role {
                Role::Root => {
                    chains.push(path.clone());
                    last_error = None;
                }
                Role::Intermediate => match self.chains_above(path) {
                    Ok(found) => {
                        chains.extend(found);
                        last_error = None;
                    }
                    Err(e) => last_error = Some(e),
                },
            }
            path.pop();
        }
        match last_error {
            Some(e) if chains.is_empty() => Err(e),
            _ => Ok(chains),
        }
    }
}

/// Go's loop guard: the same subject and key already on the path.
fn already_on(path: &[&Certificate<'_>], candidate: &Certificate<'_>) -> bool {
    path.iter().any(|c| {
        c.x509.subject().as_raw() == candidate.x509.subject().as_raw()
            && c.x509.public_key().raw == candidate.x509.public_key().raw
    })
}

/// Go's constraints on a signer (`CheckSignatureFrom`): a v3 certificate
/// signs only with basicConstraints `cA`, and a keyUsage must include
/// keyCertSign (RFC 5280 4.2.1.3, 4.2.1.9).
fn may_sign(parent: &Certificate<'_>) -> bool {
    let ca = match parent.x509.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => parent.x509.version() != X509Version::V3,
        Err(_) => false,
    };
    let key_cert_sign = match parent.x509.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    ca && key_cert_sign
}

/// The parent's key verifies the child's signature; SHA-1 signatures are
/// refused, as Go refuses them.
fn signature_verifies(child: &Certificate<'_>, parent: &Certificate<'_>) -> bool {
    let algorithm: &Oid<'_> = &child.x509.signature_algorithm.algorithm;
    if *algorithm == OID_PKCS1_SHA1WITHRSA || *algorithm == OID_SHA1_WITH_RSA {
        return false;
    }
    child
        .x509
        .verify_signature(Some(parent.x509.public_key()))
        .is_ok()
}

/// Go's checks of a parent that signed the path's head (`isValid`).
fn check_parent(
    parent: &Certificate<'_>,
    role: Role,
    path: &[&Certificate<'_>],
    now: OffsetDateTime,
) -> Result<(), Invalid> {
    check_critical_extensions(parent)?;
    check_validity(parent, now)?;
    name_constraints::check(parent, path).map_err(Invalid::NameConstraint)?;
    let basic_constraints = parent.x509.basic_constraints().ok().flatten();
    if role == Role::Intermediate && !basic_constraints.as_ref().is_some_and(|bc| bc.value.ca) {
        return Err(Invalid::NotAuthorizedToSign);
    }
    let path_len = basic_constraints.and_then(|bc| bc.value.path_len_constraint);
    let intermediates_below = path.len() - 1;
    if path_len.is_some_and(|max| intermediates_below > max as usize) {
        return Err(Invalid::TooManyIntermediates);
    }
    Ok(())
}

fn check_validity(cert: &Certificate<'_>, now: OffsetDateTime) -> Result<(), Invalid> {
    let validity = cert.x509.validity();
    let (not_before, not_after) = (
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    );
    if now < not_before {
        return Err(Invalid::NotYetValid { now, not_before });
    }
    if now > not_after {
        return Err(Invalid::Expired { now, not_after });
    }
    Ok(())
}

/// The extensions Go's parser understands; any other critical extension
/// makes the certificate unusable.
fn check_critical_extensions(cert: &Certificate<'_>) -> Result<(), Invalid> {
    const HANDLED: &[&str] = &[
        "2.5.29.14",         // subjectKeyIdentifier
        "2.5.29.15",         // keyUsage
        "2.5.29.17",         // subjectAltName
        "2.5.29.19",         // basicConstraints
        "2.5.29.30",         // nameConstraints (its name types are checked below)
        "2.5.29.31",         // cRLDistributionPoints
        "2.5.29.32",         // certificatePolicies
        "2.5.29.33",         // policyMappings
        "2.5.29.35",         // authorityKeyIdentifier
        "2.5.29.36",         // policyConstraints
        "2.5.29.37",         // extKeyUsage
        "2.5.29.54",         // inhibitAnyPolicy
        "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
    ];
    for ext in cert.x509.extensions().iter().filter(|e| e.critical) {
        let handled = HANDLED.contains(&ext.oid.to_id_string().as_str())
            && match ext.parsed_extension() {
                ParsedExtension::NameConstraints(nc) => name_constraints::all_supported(nc),
                ParsedExtension::ParseError { .. } => false,
                _ => true,
            };
        if !handled {
            return Err(Invalid::UnhandledCriticalExtension);
        }
    }
    Ok(())
}
