//! Role name policy: which common names, DNS/email SANs, URI SANs, other
//! SANs and subject serial numbers a role permits (Vault's `ValidateNames`
//! family), plus hostname syntax and IDNA conversion.

use super::roles::Role;
use crate::logical::glob_match;

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn is_wild_label(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    match s.split_once('*') {
        Some((before, after)) => {
            (before.is_empty() || is_label(before))
                && (after.is_empty() || is_label(after))
                && !after.contains('*')
        }
        None => false,
    }
}

/// Vault's `wildHostnameRegex`: a hostname whose left-most label may hold
/// one wildcard.
pub fn is_wild_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    match labels.split_first() {
        Some((first, rest)) if first.contains('*') => {
            is_wild_label(first) && !rest.is_empty() && rest.iter().all(|l| is_label(l))
        }
        Some(_) => labels.iter().all(|l| is_label(l)),
        None => false,
    }
}

/// What Go's `idna` profile with `VerifyDNSLength` (which Vault runs on a
/// requested common name and DNS alt names) refuses, in its words: a name
/// it cannot convert, an empty label (a trailing dot included), a label
/// over 63 bytes or a name over 253.
pub fn idna_error(name: &str) -> Option<String> {
    let invalid = |label: &str| Some(format!("idna: invalid label {label:?}"));
    let ascii = if name.is_ascii() {
        name.to_string()
    } else {
        match url::Host::parse(name) {
            Ok(url::Host::Domain(d)) => d,
            _ => return invalid(name),
        }
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return invalid(name);
    }
    if let Some(long) = labels.iter().find(|l| l.len() > 63) {
        return invalid(long);
    }
    if ascii.len() > 253 {
        return invalid(name);
    }
    None
}

/// IDNA ToASCII with strict domain-name rules and DNS length checks; `None`
/// when the name cannot be a domain name.
pub fn to_ascii(name: &str) -> Option<String> {
    let ascii = if name.is_ascii() {
        name.to_string()
    } else {
        match url::Host::parse(name).ok()? {
            url::Host::Domain(d) => d,
            _ => return None,
        }
    };
    let trimmed = ascii.strip_suffix('.').unwrap_or(&ascii);
    if trimmed.is_empty() || trimmed.len() > 253 {
        return None;
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        if !label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'*')
        {
            return None;
        }
    }
    Some(ascii)
}

fn ends_with_ci(name: &str, suffix: &str) -> bool {
    let (name, suffix) = (name.as_bytes(), suffix.as_bytes());
    name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Returns the first name the role does not permit.
pub fn first_disallowed<'a>(role: &Role, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .find(|n| !name_allowed(role, n))
        .map(String::as_str)
}

fn name_allowed(role: &Role, name: &str) -> bool {
    let mut reduced = name.to_string();
    let mut email_domain = reduced.clone();
    let mut is_email = false;
    let mut wildcard_label = String::new();
    if reduced.contains('@') {
        let parts: Vec<&str> = reduced.split('@').collect();
        if parts.len() != 2 {
            return false;
        }
        reduced = parts[1].to_string();
        email_domain = reduced.clone();
        is_email = true;
    }
    let is_wildcard = reduced.contains('*');
    if is_wildcard {
        if !role.allow_wildcard_certificates || reduced.matches('*').count() > 1 {
            return false;
        }
        match reduced.split_once('.') {
            Some((label, rest)) => {
                if rest.contains('*') {
                    return false;
                }
                wildcard_label = label.to_string();
                reduced = rest.to_string();
            }
            None => {
                wildcard_label = reduced.clone();
                reduced = String::new();
            }
        }
    }
    if is_email && is_wildcard {
        return false;
    }
    if role.enforce_hostnames && !reduced.is_empty() {
        let Some(mut converted) = to_ascii(&reduced) else {
            return false;
        };
        if is_wildcard {
            converted = format!("{wildcard_label}.{converted}");
        }
        if !is_wild_hostname(&converted) {
            return false;
        }
    }
    if role.allow_any_name {
        return true;
    }
    if role.allow_localhost {
        if reduced == "localhost"
            || reduced == "localdomain"
            || (is_email && (email_domain == "localhost" || email_domain == "localdomain"))
        {
            return true;
        }
        if role.allow_subdomains
            && (reduced.ends_with(".localhost")
                || (is_wildcard && reduced == "localhost")
                || reduced.ends_with(".localdomain")
                || (is_wildcard && reduced == "localdomain"))
        {
            return true;
        }
    }
    for domain in role.allowed_domains.iter().filter(|d| !d.is_empty()) {
        if role.allow_bare_domains
            && (name.eq_ignore_ascii_case(domain)
                || (is_email && email_domain.eq_ignore_ascii_case(domain)))
        {
            return true;
        }
        if role.allow_subdomains
            && (ends_with_ci(&reduced, &format!(".{domain}"))
                || (is_wildcard && reduced.eq_ignore_ascii_case(domain)))
        {
            return true;
        }
        if role.allow_glob_domains
            && domain.contains('*')
            && glob_match(&domain.to_lowercase(), &name.to_lowercase())
        {
            return true;
        }
    }
    false
}

/// Vault's `ValidateCommonName`: the role's name rules plus `cn_validations`.
pub fn common_name_allowed(role: &Role, cn: &str) -> bool {
    if role.cn_validations.len() == 1 && role.cn_validations[0] == "disabled" {
        return true;
    }
    if !name_allowed(role, cn) {
        return false;
    }
    if role.cn_validations.is_empty() {
        return true;
    }
    let wanted = if cn.contains('@') {
        "email"
    } else {
        "hostname"
    };
    role.cn_validations.iter().any(|v| v == wanted)
}

pub fn uri_allowed(role: &Role, uri: &str) -> bool {
    role.allowed_uri_sans
        .iter()
        .any(|pattern| glob_match(pattern, uri))
}

pub fn serial_number_allowed(role: &Role, serial: &str) -> bool {
    role.allowed_serial_numbers
        .iter()
        .filter(|s| !s.is_empty())
        .any(|s| (s.contains('*') && glob_match(s, serial)) || s == serial)
}

/// Parses `<oid>;UTF8:<value>` other SANs into `(oid, value)` pairs.
pub fn parse_other_sans(values: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for other in values {
        let (oid, rest) = other
            .split_once(';')
            .ok_or_else(|| format!("expected a semicolon in other SAN {other:?}"))?;
        let (kind, value) = rest
            .split_once(':')
            .ok_or_else(|| format!("expected a colon in other SAN {other:?}"))?;
        if !kind.eq_ignore_ascii_case("utf8") && !kind.eq_ignore_ascii_case("utf-8") {
            return Err(format!("only utf8 other SANs are supported; found non-supported type in other SAN {other:?}"));
        }
        out.push((oid.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Checks other SANs against `allowed_other_sans`; the error is Vault's text.
pub fn check_other_sans(role: &Role, requested: &[(String, String)]) -> Result<(), String> {
    if role.allowed_other_sans.len() == 1 && role.allowed_other_sans[0] == "*" {
        return Ok(());
    }
    let allowed = parse_other_sans(&role.allowed_other_sans)
        .map_err(|e| format!("error parsing role's allowed SANs: {e}"))?;
    for (oid, value) in requested {
        let patterns: Vec<&String> = allowed
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, v)| v)
            .collect();
        if patterns.is_empty() {
            return Err(format!("other SAN OID {oid} not allowed by this role"));
        }
        if !patterns.iter().any(|p| glob_match(p, value)) {
            return Err(format!(
                "other SAN {value} not allowed for OID {oid} by this role"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide_role() -> Role {
        Role {
            allowed_domains: vec!["svc".into()],
            allow_subdomains: true,
            require_cn: false,
            max_ttl: 720 * 3600,
            ..Role::default()
        }
    }

    #[test]
    fn the_guide_role_permits_subdomains_wildcards_and_localhost() {
        let role = guide_role();
        for ok in ["foo.bar.svc", "*.bar.svc", "localhost", "a.svc", "*.svc"] {
            assert!(name_allowed(&role, ok), "{ok} should pass");
        }
        for bad in [
            "svc",
            "x.svc.cluster.local",
            "example.com",
            "foo..svc",
            "a*b*.svc",
            "*.*.svc",
        ] {
            assert!(!name_allowed(&role, bad), "{bad} should fail");
        }
    }

    #[test]
    fn bare_glob_and_any_name() {
        let bare = Role {
            allowed_domains: vec!["example.com".into()],
            allow_bare_domains: true,
            ..Role::default()
        };
        assert!(name_allowed(&bare, "example.com"));
        assert!(!name_allowed(&bare, "a.example.com"));
        let globbed = Role {
            allowed_domains: vec!["*.corp.*".into()],
            allow_glob_domains: true,
            ..Role::default()
        };
        assert!(name_allowed(&globbed, "a.corp.net"));
        assert!(!name_allowed(&globbed, "a.other.net"));
        let any = Role {
            allow_any_name: true,
            ..Role::default()
        };
        assert!(name_allowed(&any, "anything.example"));
        assert!(!name_allowed(&any, "not a hostname"));
        let any_loose = Role {
            allow_any_name: true,
            enforce_hostnames: false,
            ..Role::default()
        };
        assert!(name_allowed(&any_loose, "not a hostname"));
    }

    #[test]
    fn wildcards_can_be_forbidden() {
        let role = Role {
            allow_wildcard_certificates: false,
            ..guide_role()
        };
        assert!(!name_allowed(&role, "*.bar.svc"));
    }

    #[test]
    fn hostname_syntax() {
        assert!(is_wild_hostname("a.b.c"));
        assert!(is_wild_hostname("*.b.c"));
        assert!(is_wild_hostname("x*.b.c"));
        assert!(!is_wild_hostname("*"));
        assert!(!is_wild_hostname("a_b.c"));
        assert!(!is_wild_hostname("-a.c"));
    }

    #[test]
    fn non_ascii_names_never_panic() {
        let role = Role {
            enforce_hostnames: false,
            ..guide_role()
        };
        for name in ["é.svc", "ééé", "x.é", "@é", "*.é"] {
            let _ = name_allowed(&role, name);
            let _ = name_allowed(&guide_role(), name);
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "spiffe://cluster.local/*",
            "spiffe://cluster.local/ns/a/sa/b"
        ));
        assert!(!glob_match("spiffe://cluster.local/*", "spiffe://other/ns"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbc"));
        assert!(!glob_match("a*c", "abbd"));
    }

    #[test]
    fn other_sans() {
        let parsed =
            parse_other_sans(&["1.3.6.1.4.1.311.20.2.3;UTF8:user@example.com".to_string()])
                .unwrap_or_default();
        assert_eq!(
            parsed,
            vec![(
                "1.3.6.1.4.1.311.20.2.3".to_string(),
                "user@example.com".to_string()
            )]
        );
        assert!(parse_other_sans(&["1.2.3;IA5:x".to_string()]).is_err());
        let role = Role {
            allowed_other_sans: vec!["1.2.3;UTF8:a*".into()],
            ..Role::default()
        };
        assert!(check_other_sans(&role, &[("1.2.3".into(), "ab".into())]).is_ok());
        assert!(check_other_sans(&role, &[("1.2.3".into(), "b".into())]).is_err());
        assert!(check_other_sans(&role, &[("1.2.4".into(), "a".into())]).is_err());
    }
}
