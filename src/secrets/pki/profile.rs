//! From request + role to certificate contents: Vault's
//! `GenerateCreationBundle` (names, validation, validity period) and the
//! leaf / CA extension profiles.

use std::net::IpAddr;

use time::OffsetDateTime;

use super::csr::Csr;
use super::der;
use super::names;
use super::public_key;
use super::roles::Role;
use super::store::LoadedIssuer;
use super::x509::{self, AiaUrls, BasicConstraints, Profile, Sans, Subject};
use crate::logical::framework::Field;
use crate::logical::{Error, FieldData, GoDuration, MountTtls, Result};

/// The names a certificate is asked for ([`NameInput::from_data`]).
pub const NAME_FIELDS: &[Field] = &[
    Field::string("common_name"),
    Field::list("alt_names"),
    Field::list("ip_sans"),
    Field::list("uri_sans"),
    Field::list("other_sans"),
    Field::bool("exclude_cn_from_sans"),
    Field::string("serial_number"),
];

/// How long a certificate is asked to be valid ([`NameInput`]).
pub const VALIDITY_FIELDS: &[Field] = &[Field::duration("ttl"), Field::string("not_after")];

/// A subject's names beside its common name, which roles and CA requests
/// take ([`ca_role`], `Role::apply`).
pub const SUBJECT_FIELDS: &[Field] = &[
    Field::list("ou"),
    Field::list("organization"),
    Field::list("country"),
    Field::list("locality"),
    Field::list("province"),
    Field::list("street_address"),
    Field::list("postal_code"),
];

/// A CA certificate's lifetime and constraints, which root and intermediate
/// generation and `sign-intermediate` share ([`ca_role`],
/// [`requested_path_len`] and the CA handlers).
pub const CA_FIELDS: &[Field] = &[
    Field::duration("not_before_duration"),
    Field::int("max_path_length"),
    Field::list("permitted_dns_domains"),
    Field::list("excluded_dns_domains"),
    Field::list("key_usage"),
    Field::int("signature_bits"),
    Field::bool("use_pss"),
];

/// The request parameters that shape a certificate's names and lifetime.
#[derive(Debug, Clone, Default)]
pub struct NameInput {
    pub common_name: String,
    pub alt_names: Option<Vec<String>>,
    pub ip_sans: Vec<String>,
    pub uri_sans: Vec<String>,
    pub other_sans: Vec<String>,
    pub exclude_cn_from_sans: bool,
    pub serial_number: String,
    pub ttl: i64,
    pub not_after: Option<String>,
    pub skid: Option<String>,
}

impl NameInput {
    /// The [`NAME_FIELDS`] and [`VALIDITY_FIELDS`] of a request.
    pub fn from_data(data: &FieldData) -> Result<NameInput> {
        Ok(NameInput {
            common_name: data.str_or("common_name", "")?,
            alt_names: data.comma_list("alt_names")?,
            ip_sans: data.comma_list_or_empty("ip_sans")?,
            uri_sans: data.comma_list_or_empty("uri_sans")?,
            other_sans: data.comma_list_or_empty("other_sans")?,
            exclude_cn_from_sans: data.bool_or("exclude_cn_from_sans", false)?,
            serial_number: data.str_or("serial_number", "")?,
            ..NameInput::validity(data)?
        })
    }

    /// Only the [`VALIDITY_FIELDS`] (sign-verbatim takes the names from
    /// the CSR as they are).
    pub fn validity(data: &FieldData) -> Result<NameInput> {
        Ok(NameInput {
            ttl: data.duration_or("ttl", 0)?,
            not_after: data.str("not_after")?.filter(|s| !s.is_empty()),
            ..NameInput::default()
        })
    }
}

/// What the validated request resolved to.
#[derive(Debug, Clone)]
pub struct Creation {
    pub subject: Subject,
    pub sans: Sans,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub skid: Option<Vec<u8>>,
    pub warnings: Vec<String>,
}

/// How an issuer's NotAfter limits what it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAfterRule {
    Err,
    Truncate,
    Permit,
}

impl NotAfterRule {
    pub fn of(issuer: &LoadedIssuer) -> NotAfterRule {
        match issuer.entry.leaf_not_after_behavior.as_str() {
            "truncate" => NotAfterRule::Truncate,
            "permit" => NotAfterRule::Permit,
            _ => NotAfterRule::Err,
        }
    }
}

pub fn unix(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Files a requested name (common name or alt name) as Vault does: with
/// an `@` it is an email address; otherwise it must pass Go's IDNA length
/// checks and is a DNS SAN only if it is a hostname (dropped if not).
fn dns_or_email(value: &str, emails: &mut Vec<String>, dns: &mut Vec<String>) -> Result<()> {
    if value.contains('@') {
        emails.push(value.to_string());
        return Ok(());
    }
    if let Some(error) = names::idna_error(value) {
        return Err(Error::bad_request(error));
    }
    if let Some(c) = names::to_ascii(value).filter(|c| names::is_wild_hostname(c)) {
        dns.push(c);
    }
    Ok(())
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for v in list {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Vault's `GenerateCreationBundle`: names from request/CSR checked against
/// the role, subject built from the role, validity computed.
pub fn creation(
    role: &Role,
    input: &NameInput,
    csr: Option<&Csr>,
    issuer: Option<(&LoadedIssuer, NotAfterRule)>,
    ttls: MountTtls,
) -> Result<Creation> {
    let mut warnings = Vec::new();
    let mut cn = String::new();
    if let Some(csr) = csr {
        if role.use_csr_common_name {
            cn = csr.common_name.clone();
        }
    }
    if cn.is_empty() {
        cn = input.common_name.clone();
        if cn.is_empty() && role.require_cn {
            return Err(Error::bad_request("the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false"));
        }
    }
    let mut serial_number = input.serial_number.clone();
    if serial_number.is_empty() && role.serial_number_source != "json" {
        if let Some(csr) = csr {
            serial_number = csr.subject_serial_number.clone();
        }
    }
    let use_csr_sans = csr.is_some() && role.use_csr_sans;
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    if let (Some(csr), true) = (csr, use_csr_sans) {
        dns = csr.dns.clone();
        emails = csr.email.clone();
    }
    if !cn.is_empty() && !input.exclude_cn_from_sans {
        dns_or_email(&cn, &mut emails, &mut dns)?;
    }
    if !use_csr_sans {
        if let Some(alt) = &input.alt_names {
            let mut sorted = alt.clone();
            sorted.sort();
            sorted.dedup();
            for v in &sorted {
                dns_or_email(v, &mut emails, &mut dns)?;
            }
        }
    }
    if !cn.is_empty() && !names::common_name_allowed(role, &cn) {
        return Err(Error::bad_request(format!(
            "common name {cn} not allowed by this role"
        )));
    }
    if !serial_number.is_empty() && !names::serial_number_allowed(role, &serial_number) {
        return Err(Error::bad_request(format!(
            "serial_number {serial_number} not allowed by this role"
        )));
    }
    if let Some(bad) = names::first_disallowed(role, &dns) {
        return Err(Error::bad_request(format!(
            "subject alternate name {bad} not allowed by this role"
        )));
    }
    if let Some(bad) = names::first_disallowed(role, &emails) {
        return Err(Error::bad_request(format!(
            "email address {bad} not allowed by this role"
        )));
    }

    // Other SANs: request values, then the CSR's.
    let mut other_input = input.other_sans.clone();
    let mut csr_other_raw = Vec::new();
    if let (Some(csr), true) = (csr, role.use_csr_sans) {
        for o in &csr.other {
            match &o.utf8 {
                Some(v) => other_input.push(format!("{};UTF8:{}", o.oid, v)),
                None => csr_other_raw.push(o.clone()),
            }
        }
    }
    let mut other = Vec::new();
    if !other_input.is_empty() {
        let requested = names::parse_other_sans(&other_input)
            .map_err(|e| Error::bad_request(format!("could not parse requested other SAN: {e}")))?;
        names::check_other_sans(role, &requested).map_err(Error::bad_request)?;
        for (oid, value) in requested {
            let oid_der = der::oid_from_str(&oid).ok_or_else(|| {
                Error::bad_request(format!(
                    "could not parse requested other SAN: invalid OID {oid:?}"
                ))
            })?;
            other.push((oid_der, der::explicit(0, &der::utf8(&value))));
        }
    }
    let any_other_san = role.allowed_other_sans.len() == 1 && role.allowed_other_sans[0] == "*";
    if !csr_other_raw.is_empty() && !any_other_san {
        return Err(Error::bad_request(
            "could not parse requested other SAN: only UTF8 other SANs are supported",
        ));
    }
    for o in csr_other_raw {
        other.push((o.oid_der, o.value_der));
    }

    // IP SANs.
    let mut ips: Vec<IpAddr> = Vec::new();
    if let (Some(csr), true) = (csr, use_csr_sans) {
        if !csr.ip.is_empty() {
            if !role.allow_ip_sans {
                return Err(Error::bad_request("IP Subject Alternative Names are not allowed in this role, but was provided some via CSR"));
            }
            ips = csr.ip.clone();
        }
    } else if !input.ip_sans.is_empty() {
        if !role.allow_ip_sans {
            return Err(Error::bad_request(format!(
                "IP Subject Alternative Names are not allowed in this role, but was provided [{}]",
                input.ip_sans.join(" ")
            )));
        }
        for v in &input.ip_sans {
            ips.push(v.parse().map_err(|_| {
                Error::bad_request(format!("the value {v:?} is not a valid IP address"))
            })?);
        }
    }
    if !role.allowed_ip_sans_cidr.is_empty() {
        let nets: Vec<ipnet::IpNet> = role
            .allowed_ip_sans_cidr
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        for ip in &ips {
            if !nets.iter().any(|n| n.contains(ip)) {
                return Err(Error::bad_request(format!(
                    "IP address {ip} is not allowed by this role"
                )));
            }
        }
    }

    // URI SANs.
    let mut uris = Vec::new();
    if let (Some(csr), true) = (csr, use_csr_sans) {
        if !csr.uri.is_empty() {
            if role.allowed_uri_sans.is_empty() {
                return Err(Error::bad_request("URI Subject Alternative Names are not allowed in this role, but were provided via CSR"));
            }
            for u in &csr.uri {
                if !names::uri_allowed(role, u) {
                    return Err(Error::bad_request("URI Subject Alternative Names were provided via CSR which are not valid for this role"));
                }
                uris.push(u.clone());
            }
        }
    } else if !input.uri_sans.is_empty() {
        if role.allowed_uri_sans.is_empty() {
            return Err(Error::bad_request("URI Subject Alternative Names are not allowed in this role, but were provided via the API"));
        }
        for u in &input.uri_sans {
            if !names::uri_allowed(role, u) {
                return Err(Error::bad_request("URI Subject Alternative Names were provided via the API which are not valid for this role"));
            }
            if url::Url::parse(u).is_err() {
                return Err(Error::bad_request(format!(
                    "the provided URI Subject Alternative Name {u:?} is not a valid URI"
                )));
            }
            uris.push(u.clone());
        }
    }

    let subject = Subject {
        common_name: cn,
        serial_number,
        country: dedup(role.country.clone()),
        organization: dedup(role.organization.clone()),
        ou: dedup(role.ou.clone()),
        locality: dedup(role.locality.clone()),
        province: dedup(role.province.clone()),
        street_address: dedup(role.street_address.clone()),
        postal_code: dedup(role.postal_code.clone()),
    };

    let (not_before, not_after, ttl_warnings) = validity(role, input, issuer, ttls)?;
    warnings.extend(ttl_warnings);

    let skid = match &input.skid {
        Some(raw) => {
            let cleaned: String = raw
                .chars()
                .filter(|c| !matches!(c, ':' | '-' | ' '))
                .collect();
            Some(hex::decode(&cleaned).map_err(|e| {
                Error::bad_request(format!(
                    "cannot parse requested SKID value as hex: {}",
                    go_hex_error(&e)
                ))
            })?)
        }
        None => None,
    };

    Ok(Creation {
        subject,
        sans: Sans {
            dns: dedup(dns),
            email: dedup(emails),
            ip: ips,
            uri: uris,
            other,
        },
        not_before,
        not_after,
        skid,
        warnings,
    })
}

fn go_hex_error(e: &hex::FromHexError) -> String {
    match e {
        hex::FromHexError::OddLength => "encoding/hex: odd length hex string".into(),
        hex::FromHexError::InvalidHexCharacter { c, .. } => {
            format!("encoding/hex: invalid byte: U+{:04X} {c:?}", *c as u32)
        }
        other => other.to_string(),
    }
}

/// Vault's `GetCertificateNotAfter` plus the not-before back-dating.
pub fn validity(
    role: &Role,
    input: &NameInput,
    issuer: Option<(&LoadedIssuer, NotAfterRule)>,
    ttls: MountTtls,
) -> Result<(OffsetDateTime, OffsetDateTime, Vec<String>)> {
    let mut warnings = Vec::new();
    let now_precise = OffsetDateTime::now_utc();
    let now = now_precise.unix_timestamp();
    let mut ttl = input.ttl;
    let not_after_alt = if role.not_after.is_empty() {
        input.not_after.clone()
    } else {
        Some(role.not_after.clone())
    };
    if ttl > 0 && not_after_alt.is_some() {
        return Err(Error::bad_request("Either ttl or not_after should be provided. Both should not be provided in the same request."));
    }
    if ttl == 0 && role.ttl > 0 {
        ttl = role.ttl;
    }
    let max_ttl = if role.max_ttl > 0 {
        role.max_ttl
    } else {
        ttls.max_ttl
    };
    if ttl == 0 {
        ttl = ttls.default_ttl;
    }
    if ttl > max_ttl {
        warnings.push(format!(
            "TTL {:?} is longer than permitted maxTTL {:?}, so maxTTL is being used",
            GoDuration(ttl).to_string(),
            GoDuration(max_ttl).to_string()
        ));
        ttl = max_ttl;
    }
    // Sub-second precision as Vault's: a leaf asked to end with its CA
    // (default TTLs on a fresh root) ends just after it.
    let precise_not_after = match &not_after_alt {
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                Error::bad_request(format!(
                    "parsing time {s:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {s:?} as \"2006\""
                ))
            })?,
        None => now_precise
            .checked_add(time::Duration::seconds(ttl))
            .ok_or_else(|| Error::bad_request("TTL is out of range"))?,
    };
    let mut not_after = precise_not_after.unix_timestamp();
    if let Some((ca, rule)) = issuer {
        if precise_not_after > unix(ca.cert.not_after) {
            match rule {
                NotAfterRule::Permit => {}
                NotAfterRule::Truncate => not_after = ca.cert.not_after,
                NotAfterRule::Err => {
                    return Err(Error::bad_request(format!(
                        "cannot satisfy request, as TTL would result in notAfter of {} that is beyond the expiration of the CA certificate at {}",
                        rfc3339(precise_not_after),
                        rfc3339(unix(ca.cert.not_after))
                    )))
                }
            }
        }
    }
    let not_before = now - role.not_before_duration;
    if not_after < not_before {
        return Err(Error::bad_request("notAfter before notBefore"));
    }
    if let Some((ca, _)) = issuer {
        if not_before < ca.cert.not_before {
            return Err(Error::bad_request("notBefore before signer's notBefore"));
        }
    }
    Ok((unix(not_before), unix(not_after), warnings))
}

/// A leaf (end-entity) certificate profile from a role.
pub fn leaf_profile(
    role: &Role,
    creation: &Creation,
    spki: Vec<u8>,
    issuer: &LoadedIssuer,
    urls: AiaUrls,
) -> Result<Profile> {
    let mut ekus = Vec::new();
    if role.server_flag {
        ekus.push(x509::eku_server_auth());
    }
    if role.client_flag {
        ekus.push(x509::eku_client_auth());
    }
    if role.code_signing_flag {
        ekus.extend(x509::ext_key_usage_oid("CodeSigning"));
    }
    if role.email_protection_flag {
        ekus.extend(x509::ext_key_usage_oid("EmailProtection"));
    }
    for name in &role.ext_key_usage {
        if let Some(oid) = x509::ext_key_usage_oid(name.trim()) {
            if !ekus.contains(&oid) {
                ekus.push(oid);
            }
        }
    }
    for oid in &role.ext_key_usage_oids {
        ekus.extend(der::oid_from_str(oid));
    }
    let key_bytes = public_key::info(&spki)
        .map(|k| k.key_bytes)
        .unwrap_or_default();
    Ok(Profile {
        serial: x509::random_serial().map_err(Error::internal)?,
        subject: creation.subject.to_der(),
        not_before: creation.not_before,
        not_after: creation.not_after,
        basic_constraints: role
            .basic_constraints_valid_for_non_ca
            .then_some(BasicConstraints {
                ca: false,
                path_len: None,
            }),
        key_usage: x509::parse_key_usages(&role.key_usage),
        ext_key_usage: ekus,
        subject_key_id: public_key::key_identifier(&key_bytes),
        authority_key_id: issuer.cert.subject_key_id.clone(),
        urls,
        sans: creation.sans.clone(),
        policy_identifiers: role
            .policy_identifiers
            .iter()
            .filter_map(|p| x509::policy_information(p))
            .collect(),
        permitted_dns_domains: vec![],
        extra_extensions: vec![],
        spki,
    })
}

/// A CA certificate profile (root or intermediate).
pub fn ca_profile(
    creation: &Creation,
    spki: Vec<u8>,
    path_len: Option<u32>,
    extra_key_usage: u16,
    authority_key_id: Option<Vec<u8>>,
    urls: AiaUrls,
    permitted_dns_domains: Vec<String>,
) -> Result<Profile> {
    let key_bytes = public_key::info(&spki)
        .map(|k| k.key_bytes)
        .unwrap_or_default();
    let ski = creation
        .skid
        .clone()
        .unwrap_or_else(|| public_key::key_identifier(&key_bytes));
    Ok(Profile {
        serial: x509::random_serial().map_err(Error::internal)?,
        subject: creation.subject.to_der(),
        not_before: creation.not_before,
        not_after: creation.not_after,
        basic_constraints: Some(BasicConstraints { ca: true, path_len }),
        key_usage: x509::KU_KEY_CERT_SIGN | x509::KU_CRL_SIGN | extra_key_usage,
        ext_key_usage: vec![],
        authority_key_id: authority_key_id.or_else(|| Some(ski.clone())),
        subject_key_id: ski,
        urls,
        sans: creation.sans.clone(),
        policy_identifiers: vec![],
        permitted_dns_domains,
        extra_extensions: vec![],
        spki,
    })
}

/// Subject fields of CA generation requests (root, intermediate CSR,
/// sign-intermediate), as an implicit role.
pub fn ca_role(data: &FieldData) -> Result<Role> {
    Ok(Role {
        ou: data.comma_list_or_empty("ou")?,
        organization: data.comma_list_or_empty("organization")?,
        country: data.comma_list_or_empty("country")?,
        locality: data.comma_list_or_empty("locality")?,
        province: data.comma_list_or_empty("province")?,
        street_address: data.comma_list_or_empty("street_address")?,
        postal_code: data.comma_list_or_empty("postal_code")?,
        not_before_duration: data.duration_or("not_before_duration", 30)?,
        require_cn: false,
        use_csr_common_name: false,
        use_csr_sans: false,
        ..Role::permissive()
    })
}

/// `max_path_length`: -1 (or absent) = unlimited.
pub fn requested_path_len(data: &FieldData) -> Result<Option<Option<u32>>> {
    Ok(match data.int("max_path_length")? {
        None => None,
        Some(n) if n < -1 => {
            return Err(Error::bad_request(
                "unable to create certificate: x509: invalid MaxPathLen, must be greater or equal to -1",
            ))
        }
        Some(-1) => Some(None),
        Some(n) => Some(Some(u32::try_from(n).unwrap_or(u32::MAX))),
    })
}
