//! Roles (`roles/:name`): the issuance policy of `issue/:role` and
//! `sign/:role`. A write fills every omitted field with its default; a
//! patch merges into the stored role.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::profile::SUBJECT_FIELDS;
use super::x509::{self, PolicyEntry};
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, FieldData, Request, Response, Result};
use crate::storage::StorageView;

pub const ROLE_PREFIX: &str = "role/";

/// Every field a role write takes but the subject's names
/// ([`SUBJECT_FIELDS`]); [`Role::apply`] reads them.
const ROLE_FIELDS: &[Field] = &[
    Field::duration("ttl"),
    Field::duration("max_ttl"),
    Field::bool("allow_localhost"),
    Field::list("allowed_domains"),
    Field::bool("allowed_domains_template"),
    Field::bool("allow_bare_domains"),
    Field::bool("allow_subdomains"),
    Field::bool("allow_glob_domains"),
    Field::bool("allow_wildcard_certificates"),
    Field::bool("allow_any_name"),
    Field::bool("enforce_hostnames"),
    Field::bool("allow_ip_sans"),
    Field::list("allowed_ip_sans_cidr"),
    Field::list("allowed_uri_sans"),
    Field::bool("allowed_uri_sans_template"),
    Field::list("allowed_other_sans"),
    Field::list("allowed_serial_numbers"),
    Field::list("allowed_user_ids"),
    Field::bool("allow_token_displayname"),
    Field::bool("server_flag"),
    Field::bool("client_flag"),
    Field::bool("code_signing_flag"),
    Field::bool("email_protection_flag"),
    Field::string("key_type"),
    Field::int("key_bits"),
    Field::int("signature_bits"),
    Field::bool("use_pss"),
    Field::list("key_usage"),
    Field::list("ext_key_usage"),
    Field::list("ext_key_usage_oids"),
    Field::bool("use_csr_common_name"),
    Field::bool("use_csr_sans"),
    Field::bool("generate_lease"),
    Field::bool("no_store"),
    Field::bool("require_cn"),
    Field::list("cn_validations"),
    Field::list("policy_identifiers"),
    Field::bool("basic_constraints_valid_for_non_ca"),
    Field::duration("not_before_duration"),
    Field::string("not_after"),
    Field::string("issuer_ref"),
    Field::string("serial_number_source"),
    Field::bool("no_store_metadata"),
    Field::string("name"),
];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("roles").list(handler!(list_roles)),
    Path::new("roles/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[ROLE_FIELDS, SUBJECT_FIELDS])
        .read(handler!(read_role))
        .update(handler!(b, r => write_role(b, r, Write::Replace)))
        .patch(handler!(b, r => write_role(b, r, Write::Merge)))
        .delete(handler!(delete_role)),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
    pub ttl: i64,
    pub max_ttl: i64,
    pub allow_localhost: bool,
    pub allowed_domains: Vec<String>,
    pub allowed_domains_template: bool,
    pub allow_bare_domains: bool,
    pub allow_subdomains: bool,
    pub allow_glob_domains: bool,
    pub allow_wildcard_certificates: bool,
    pub allow_any_name: bool,
    pub enforce_hostnames: bool,
    pub allow_ip_sans: bool,
    pub allowed_ip_sans_cidr: Vec<String>,
    pub allowed_uri_sans: Vec<String>,
    pub allowed_uri_sans_template: bool,
    pub allowed_other_sans: Vec<String>,
    pub allowed_serial_numbers: Vec<String>,
    pub allowed_user_ids: Vec<String>,
    pub allow_token_displayname: bool,
    pub server_flag: bool,
    pub client_flag: bool,
    pub code_signing_flag: bool,
    pub email_protection_flag: bool,
    pub key_type: String,
    pub key_bits: i64,
    pub signature_bits: i64,
    pub use_pss: bool,
    pub key_usage: Vec<String>,
    pub ext_key_usage: Vec<String>,
    pub ext_key_usage_oids: Vec<String>,
    pub use_csr_common_name: bool,
    pub use_csr_sans: bool,
    pub ou: Vec<String>,
    pub organization: Vec<String>,
    pub country: Vec<String>,
    pub locality: Vec<String>,
    pub province: Vec<String>,
    pub street_address: Vec<String>,
    pub postal_code: Vec<String>,
    pub generate_lease: bool,
    pub no_store: bool,
    pub require_cn: bool,
    pub cn_validations: Vec<String>,
    pub policy_identifiers: Vec<String>,
    pub basic_constraints_valid_for_non_ca: bool,
    pub not_before_duration: i64,
    pub not_after: String,
    pub issuer_ref: String,
    pub serial_number_source: String,
    /// Sign-intermediate and root generation use an implicit role whose
    /// max path length comes from the request.
    #[serde(skip)]
    pub max_path_length: Option<i64>,
}

impl Default for Role {
    fn default() -> Self {
        Role {
            ttl: 0,
            max_ttl: 0,
            allow_localhost: true,
            allowed_domains: vec![],
            allowed_domains_template: false,
            allow_bare_domains: false,
            allow_subdomains: false,
            allow_glob_domains: false,
            allow_wildcard_certificates: true,
            allow_any_name: false,
            enforce_hostnames: true,
            allow_ip_sans: true,
            allowed_ip_sans_cidr: vec![],
            allowed_uri_sans: vec![],
            allowed_uri_sans_template: false,
            allowed_other_sans: vec![],
            allowed_serial_numbers: vec![],
            allowed_user_ids: vec![],
            allow_token_displayname: false,
            server_flag: true,
            client_flag: true,
            code_signing_flag: false,
            email_protection_flag: false,
            key_type: "rsa".into(),
            key_bits: 0,
            signature_bits: 0,
            use_pss: false,
            key_usage: vec![
                "DigitalSignature".into(),
                "KeyAgreement".into(),
                "KeyEncipherment".into(),
            ],
            ext_key_usage: vec![],
            ext_key_usage_oids: vec![],
            use_csr_common_name: true,
            use_csr_sans: true,
            ou: vec![],
            organization: vec![],
            country: vec![],
            locality: vec![],
            province: vec![],
            street_address: vec![],
            postal_code: vec![],
            generate_lease: false,
            no_store: false,
            require_cn: true,
            cn_validations: vec!["email".into(), "hostname".into()],
            policy_identifiers: vec![],
            basic_constraints_valid_for_non_ca: false,
            not_before_duration: 30,
            not_after: String::new(),
            issuer_ref: "default".into(),
            serial_number_source: "json-csr".into(),
            max_path_length: None,
        }
    }
}

macro_rules! apply {
    ($role:ident, $data:ident, bool: $($b:ident),*; list: $($l:ident),*; dur: $($d:ident),*; str: $($s:ident),*) => {
        $( if let Some(v) = $data.bool(stringify!($b))? { $role.$b = v; } )*
        $( if let Some(v) = $data.comma_list(stringify!($l))? { $role.$l = v; } )*
        $( if let Some(v) = $data.duration(stringify!($d))? { $role.$d = v; } )*
        $( if let Some(v) = $data.str(stringify!($s))? { $role.$s = v; } )*
    };
}

impl Role {
    /// The role `base` with the fields present in `data` applied, then
    /// validated and normalised as Vault stores it.
    pub fn apply(mut self, data: &FieldData) -> Result<Role> {
        let role = &mut self;
        apply!(role, data,
            bool: allow_localhost, allowed_domains_template, allow_bare_domains, allow_subdomains, allow_glob_domains,
                allow_wildcard_certificates, allow_any_name, enforce_hostnames, allow_ip_sans, allowed_uri_sans_template,
                allow_token_displayname, server_flag, client_flag, code_signing_flag, email_protection_flag, use_pss,
                use_csr_common_name, use_csr_sans, generate_lease, no_store, require_cn, basic_constraints_valid_for_non_ca;
            list: allowed_domains, allowed_ip_sans_cidr, allowed_uri_sans, allowed_other_sans, allowed_serial_numbers,
                allowed_user_ids, key_usage, ext_key_usage, ext_key_usage_oids, ou, organization, country, locality,
                province, street_address, postal_code, cn_validations, policy_identifiers;
            dur: ttl, max_ttl, not_before_duration;
            str: key_type, not_after, issuer_ref, serial_number_source);
        if let Some(bits) = data.int("key_bits")? {
            role.key_bits = bits;
        }
        if let Some(bits) = data.int("signature_bits")? {
            role.signature_bits = bits;
        }
        if role.no_store {
            role.generate_lease = false;
        }
        if role.issuer_ref.is_empty() {
            role.issuer_ref = "default".into();
        }
        if role.max_ttl > 0 && role.ttl > role.max_ttl {
            return Err(Error::bad_request(
                "\"ttl\" value must be less than \"max_ttl\" value",
            ));
        }
        role.normalise_key()?;
        role.cn_validations = normalise_cn_validations(&role.cn_validations)?;
        if !role.not_after.is_empty()
            && time::OffsetDateTime::parse(
                &role.not_after,
                &time::format_description::well_known::Rfc3339,
            )
            .is_err()
        {
            return Err(Error::bad_request(format!(
                "parsing time {:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {:?} as \"2006\"",
                role.not_after, role.not_after
            )));
        }
        if role.ttl > 0 && !role.not_after.is_empty() {
            return Err(Error::bad_request("Either ttl or not_after should be provided. Both should not be provided in the same request."));
        }
        let any_other_san = role.allowed_other_sans.len() == 1 && role.allowed_other_sans[0] == "*";
        if !any_other_san {
            super::names::parse_other_sans(&role.allowed_other_sans).map_err(|e| {
                Error::bad_request(format!("error parsing allowed_other_sans: {e}"))
            })?;
        }
        for oid in &role.ext_key_usage_oids {
            if super::der::oid_from_str(oid).is_none() {
                return Err(Error::bad_request(format!(
                    "{oid:?} could not be parsed as a valid oid for an extended key usage"
                )));
            }
        }
        if let Some(bad) = role
            .allowed_ip_sans_cidr
            .iter()
            .find(|c| c.parse::<ipnet::IpNet>().is_err())
        {
            return Err(Error::bad_request(format!(
                "error parsing allowed_ip_sans_cidr: invalid CIDR address: {bad}"
            )));
        }
        // A JSON array of entries is stored entry by entry, as Vault does.
        if let Some(Value::String(text)) = data.raw().get("policy_identifiers") {
            if let Ok(entries) = serde_json::from_str::<Vec<PolicyEntry>>(text) {
                role.policy_identifiers = entries
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap_or_default())
                    .collect();
            }
        }
        for entry in &role.policy_identifiers {
            if x509::policy_information(entry).is_none() {
                return Err(Error::bad_request(format!(
                    "invalid policy identifier {entry:?}"
                )));
            }
        }
        match role.serial_number_source.as_str() {
            "json-csr" | "json" => {}
            "" => role.serial_number_source = "json-csr".into(),
            _ => return Err(Error::bad_request("invalid value for serial_number_source")),
        }
        Ok(self)
    }

    fn normalise_key(&mut self) -> Result<()> {
        match self.key_type.as_str() {
            "rsa" => {
                if self.key_bits == 0 {
                    self.key_bits = 2048;
                }
                if self.key_bits < 2048 {
                    return Err(Error::bad_request(format!(
                        "RSA keys < 2048 bits are unsafe and not supported: got {}",
                        self.key_bits
                    )));
                }
                if ![2048, 3072, 4096, 8192].contains(&self.key_bits) {
                    return Err(Error::bad_request(format!(
                        "unsupported bit length for RSA key: {}",
                        self.key_bits
                    )));
                }
                match self.signature_bits {
                    0 => self.signature_bits = 256,
                    256 | 384 | 512 => {}
                    other => {
                        return Err(Error::bad_request(format!(
                            "unsupported signature hash bit length for RSA: {other}"
                        )))
                    }
                }
            }
            "ec" => {
                if self.key_bits == 0 {
                    self.key_bits = 256;
                }
                if ![224, 256, 384, 521].contains(&self.key_bits) {
                    return Err(Error::bad_request(format!(
                        "unsupported bit length for EC key: {}",
                        self.key_bits
                    )));
                }
            }
            "ed25519" | "any" => {
                self.key_bits = 0;
            }
            other => return Err(Error::bad_request(format!("unknown key type {other}"))),
        }
        Ok(())
    }

    /// The role as Vault returns it (durations in whole seconds).
    pub fn data(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut m)) = serde_json::to_value(self) else {
            return Map::new();
        };
        m.insert("allow_globs_in_identity_templates".into(), json!(false));
        m
    }

    /// The implicit role of `sign-verbatim` and CA signing: any name, any key.
    pub fn permissive() -> Role {
        Role {
            allow_localhost: true,
            allow_any_name: true,
            allow_ip_sans: true,
            allow_wildcard_certificates: true,
            enforce_hostnames: false,
            key_type: "any".into(),
            allowed_other_sans: vec!["*".into()],
            allowed_serial_numbers: vec!["*".into()],
            allowed_uri_sans: vec!["*".into()],
            allowed_user_ids: vec!["*".into()],
            cn_validations: vec!["disabled".into()],
            use_csr_common_name: true,
            use_csr_sans: true,
            require_cn: false,
            key_usage: vec![],
            server_flag: false,
            client_flag: false,
            ..Role::default()
        }
    }
}

fn normalise_cn_validations(values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let lower = v.trim().to_ascii_lowercase();
        match lower.as_str() {
            "email" | "hostname" | "disabled" => {
                if !out.contains(&lower) {
                    out.push(lower);
                }
            }
            _ => {
                return Err(Error::bad_request(format!(
                    "cn_validations value incorrect: {v}"
                )))
            }
        }
    }
    if out.contains(&"disabled".to_string()) && out.len() > 1 {
        return Err(Error::bad_request(
            "cn_validations value incorrect: cannot specify 'disabled' with other values",
        ));
    }
    if out.is_empty() {
        out = vec!["email".into(), "hostname".into()];
    }
    Ok(out)
}

async fn list_roles(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let names = req.storage.list(ROLE_PREFIX).await?;
    Ok(Some(Response::list(names)))
}

async fn read_role(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let role = get_role(&req.storage, req.param("name")?).await?;
    Ok(role.map(|r| Response::data(r.data())))
}

async fn delete_role(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?;
    let result = req.storage.delete(&format!("{ROLE_PREFIX}{name}")).await;
    backend.invalidate_config();
    result?;
    Ok(None)
}

/// What a role write starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// POST: the defaults.
    Replace,
    /// PATCH: the stored role (which must exist).
    Merge,
}

async fn write_role(
    backend: &PkiBackend,
    req: &mut Request,
    write: Write,
) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    let base = match write {
        Write::Merge => get_role(&req.storage, &name)
            .await?
            .ok_or(Error::NotFound)?,
        Write::Replace => Role::default(),
    };
    let role = base.apply(&req.data)?;
    let set = backend.issuers(&req.storage).await?;
    let mut warnings = Vec::new();
    if role.issuer_ref == "default" {
        if set.default_issuer().is_none() {
            warnings.push("Issuing Certificate was set to default, but no default issuing certificate (configurable at /config/issuers) is currently set".to_string());
        }
    } else if set.resolve(&role.issuer_ref).is_none() {
        return Err(Error::bad_request(format!(
            "unable to resolve issuer reference: unable to find PKI issuer for reference: {}",
            role.issuer_ref
        )));
    }
    let result = put_role(&req.storage, &name, &role).await;
    backend.invalidate_config();
    result?;
    let mut resp = Response::data(role.data());
    resp.warnings = warnings;
    Ok(Some(resp))
}

pub async fn get_role(storage: &StorageView, name: &str) -> Result<Option<Role>> {
    Ok(storage.get_json(&format!("{ROLE_PREFIX}{name}")).await?)
}

async fn put_role(storage: &StorageView, name: &str, role: &Role) -> Result<()> {
    Ok(storage
        .put_json(&format!("{ROLE_PREFIX}{name}"), role)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(v: Value) -> FieldData {
        FieldData::new(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn the_guide_role_gets_vault_defaults() {
        let role = Role::default()
            .apply(&fd(json!({"allowed_domains":"svc","require_cn":"false","allow_subdomains":"true","max_ttl":"720h"})))
            .expect("role");
        let d = role.data();
        assert_eq!(d["max_ttl"], json!(2_592_000));
        assert_eq!(d["ttl"], json!(0));
        assert_eq!(d["key_bits"], json!(2048));
        assert_eq!(d["allowed_domains"], json!(["svc"]));
        assert_eq!(d["require_cn"], json!(false));
        assert_eq!(d["not_before_duration"], json!(30));
        assert_eq!(
            d["key_usage"],
            json!(["DigitalSignature", "KeyAgreement", "KeyEncipherment"])
        );
        assert!(!d.contains_key("max_path_length"));
    }

    #[test]
    fn ttl_above_max_ttl_is_refused() {
        let err = Role::default()
            .apply(&fd(json!({"ttl":"2h","max_ttl":"1h"})))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("\"ttl\" value must be less than \"max_ttl\" value")
        );
    }
}
