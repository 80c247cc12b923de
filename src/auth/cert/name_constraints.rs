//! A CA's nameConstraints (RFC 5280 4.2.1.10) applied to the names of the
//! certificates below it, as Go's `crypto/x509` applies them: DNS names,
//! email addresses, IP addresses and URI hosts from subjectAltName are
//! checked against the excluded subtrees first, then against the permitted
//! ones of the same type; the subject's common name is not a name here.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, GeneralSubtree, NameConstraints};

use super::chain::Certificate;

const NOT_AUTHORIZED: &str =
    "x509: a root or intermediate certificate is not authorized to sign for this name";

/// Whether every subtree is of a type this check understands (Go treats a
/// critical extension with another type as unhandled).
pub fn all_supported(nc: &NameConstraints<'_>) -> bool {
    subtrees(nc).all(|(_, tree)| {
        matches!(
            tree.base,
            GeneralName::DNSName(_)
                | GeneralName::RFC822Name(_)
                | GeneralName::URI(_)
                | GeneralName::IPAddress(_)
        )
    })
}

fn subtrees<'n, 'a>(
    nc: &'n NameConstraints<'a>,
) -> impl Iterator<Item = (bool, &'n GeneralSubtree<'a>)> {
    let excluded = nc.excluded_subtrees.iter().flatten().map(|t| (true, t));
    let permitted = nc.permitted_subtrees.iter().flatten().map(|t| (false, t));
    excluded.chain(permitted)
}

/// `ca`'s constraints against every certificate of `below` that has a
/// subjectAltName; the error is Go's full text.
pub fn check(ca: &Certificate<'_>, below: &[&Certificate<'_>]) -> Result<(), String> {
    let Ok(Some(nc)) = ca.x509.name_constraints() else {
        return Ok(());
    };
    for cert in below {
        let Ok(Some(san)) = cert.x509.subject_alternative_name() else {
            continue;
        };
        for name in &san.value.general_names {
            check_name(nc.value, name)?;
        }
    }
    Ok(())
}

fn check_name(nc: &NameConstraints<'_>, name: &GeneralName<'_>) -> Result<(), String> {
    let (kind, shown) = match name {
        GeneralName::DNSName(d) => ("DNS name", format!("{d:?}")),
        GeneralName::RFC822Name(e) => ("email address", format!("{e:?}")),
        GeneralName::IPAddress(ip) => match ip_addr(ip) {
            Some(ip) => ("IP address", format!("\"{ip}\"")),
            None => return Ok(()),
        },
        GeneralName::URI(u) => ("URI", format!("{u:?}")),
        _ => return Ok(()),
    };
    let mut permitted_of_kind = false;
    let mut permitted = false;
    for (excluded, tree) in subtrees(nc) {
        let Some(matched) = matches(name, &tree.base)? else {
            continue;
        };
        if excluded && matched {
            let constraint = constraint_text(&tree.base);
            return Err(format!(
                "{NOT_AUTHORIZED}: {kind} {shown} is excluded by constraint {constraint:?}"
            ));
        }
        if !excluded {
            permitted_of_kind = true;
            permitted |= matched;
        }
    }
    if permitted_of_kind && !permitted {
        return Err(format!(
            "{NOT_AUTHORIZED}: {kind} {shown} is not permitted by any constraint"
        ));
    }
    Ok(())
}

/// Whether `name` falls in `constraint`; `None` when the constraint is of
/// another type.
fn matches(name: &GeneralName<'_>, constraint: &GeneralName<'_>) -> Result<Option<bool>, String> {
    Ok(Some(match (name, constraint) {
        (GeneralName::DNSName(d), GeneralName::DNSName(c)) => {
            domain_matches(d, c).ok_or_else(|| format!("x509: cannot parse dnsName {d:?}"))?
        }
        (GeneralName::RFC822Name(e), GeneralName::RFC822Name(c)) => {
            email_matches(e, c).ok_or_else(|| format!("x509: cannot parse rfc822Name {e:?}"))?
        }
        (GeneralName::IPAddress(ip), GeneralName::IPAddress(net)) => ip_matches(ip, net),
        (GeneralName::URI(u), GeneralName::URI(c)) => uri_host_matches(u, c)?,
        _ => return Ok(None),
    }))
}

fn constraint_text(constraint: &GeneralName<'_>) -> String {
    match constraint {
        GeneralName::DNSName(c) | GeneralName::RFC822Name(c) | GeneralName::URI(c) => c.to_string(),
        GeneralName::IPAddress(net) => {
            let half = net.len() / 2;
            let bits: u32 = net[half..].iter().map(|b| b.leading_ones()).sum();
            ip_addr(&net[..half])
                .map(|ip| format!("{ip}/{bits}"))
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The labels of a domain, last first; `None` for an empty label or a byte
/// outside printable ASCII.
fn reverse_labels(domain: &str) -> Option<Vec<&str>> {
    if domain.is_empty() {
        return Some(Vec::new());
    }
    let labels: Vec<&str> = domain.split('.').rev().collect();
    labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| (33..=126).contains(&b)))
        .then_some(labels)
}

/// A constraint `example.com` covers it and its subdomains; `.example.com`
/// only the subdomains; an empty one everything.
fn domain_matches(domain: &str, constraint: &str) -> Option<bool> {
    if constraint.is_empty() {
        return Some(true);
    }
    let name = reverse_labels(domain)?;
    let (subdomains_only, constraint) = match constraint.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, constraint),
    };
    let wanted = reverse_labels(constraint)?;
    if name.len() < wanted.len() || (subdomains_only && name.len() == wanted.len()) {
        return Some(false);
    }
    Some(
        wanted
            .iter()
            .zip(&name)
            .all(|(w, n)| w.eq_ignore_ascii_case(n)),
    )
}

/// A constraint with `@` is one mailbox; otherwise a domain for the
/// address's host part.
fn email_matches(email: &str, constraint: &str) -> Option<bool> {
    let (local, host) = email.rsplit_once('@')?;
    match constraint.rsplit_once('@') {
        Some((c_local, c_host)) => Some(local == c_local && host.eq_ignore_ascii_case(c_host)),
        None => domain_matches(host, constraint),
    }
}

fn uri_host_matches(uri: &str, constraint: &str) -> Result<bool, String> {
    let host = url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if host.is_empty() {
        return Err(format!(
            "URI with empty host ({uri:?}) cannot be matched against constraints"
        ));
    }
    if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "URI with IP ({uri:?}) cannot be matched against constraints"
        ));
    }
    domain_matches(&host, constraint).ok_or_else(|| format!("x509: cannot parse URI {uri:?}"))
}

fn ip_matches(ip: &[u8], net: &[u8]) -> bool {
    let half = net.len() / 2;
    ip.len() == half
        && ip
            .iter()
            .zip(&net[..half])
            .zip(&net[half..])
            .all(|((a, n), m)| a & m == n & m)
}

fn ip_addr(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_constraints_follow_go() {
        assert_eq!(domain_matches("example.com", "example.com"), Some(true));
        assert_eq!(domain_matches("a.example.com", "example.com"), Some(true));
        assert_eq!(domain_matches("a.example.com", ".example.com"), Some(true));
        assert_eq!(domain_matches("example.com", ".example.com"), Some(false));
        assert_eq!(domain_matches("badexample.com", "example.com"), Some(false));
        assert_eq!(domain_matches("A.Example.COM", "example.com"), Some(true));
        assert_eq!(domain_matches("anything", ""), Some(true));
        assert_eq!(domain_matches("a..b", "b"), None);
    }

    #[test]
    fn email_constraints_follow_go() {
        assert_eq!(
            email_matches("me@example.com", "me@example.com"),
            Some(true)
        );
        assert_eq!(
            email_matches("you@example.com", "me@example.com"),
            Some(false)
        );
        assert_eq!(
            email_matches("me@a.example.com", ".example.com"),
            Some(true)
        );
        assert_eq!(email_matches("me@example.com", "example.com"), Some(true));
        assert_eq!(email_matches("not-an-address", "example.com"), None);
    }

    #[test]
    fn ip_constraints_mask_the_address() {
        assert!(ip_matches(&[10, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
        assert!(!ip_matches(&[11, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
        assert!(!ip_matches(&[0; 16], &[10, 0, 0, 0, 255, 0, 0, 0]));
    }

    #[test]
    fn uri_constraints_match_the_host() {
        assert_eq!(
            uri_host_matches("spiffe://example.com/x", "example.com"),
            Ok(true)
        );
        assert_eq!(
            uri_host_matches("https://other.org/", "example.com"),
            Ok(false)
        );
        assert!(uri_host_matches("https://10.0.0.1/", "example.com").is_err());
    }
}
