//! Token roles (`auth/token/roles/:role_name`): what tokens created through
//! `auth/token/create/:role_name` may be, as Vault's token store keeps them.
//! See <https://developer.hashicorp.com/vault/api-docs/auth/token#create-update-token-role>.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::TokenBackend;
use crate::core::token::sanitize_policies;
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{glob_match, Error, Request, Response, Result};

const ROLE_NAME: &[(&str, Capture)] = &[("role_name", Capture::Name)];
const ROLES_PREFIX: &str = "roles/";

const ROLE_FIELDS: &[Field] = &[
    Field::list("allowed_policies"),
    Field::list("disallowed_policies"),
    Field::list("allowed_policies_glob"),
    Field::list("disallowed_policies_glob"),
    Field::bool("orphan"),
    Field::bool("renewable"),
    Field::string("path_suffix"),
    Field::list("allowed_entity_aliases"),
    Field::list("token_bound_cidrs"),
    Field::duration("token_explicit_max_ttl"),
    Field::duration("token_period"),
    Field::string("token_type"),
    Field::bool("token_no_default_policy"),
    Field::int("token_num_uses"),
    // Deprecated names of the `token_` fields, still read and shown.
    Field::duration("period"),
    Field::duration("explicit_max_ttl"),
    Field::list("bound_cidrs"),
];

pub(super) const PATHS: &[Path<TokenBackend>] = &[
    Path::new("roles").list(handler!(list_roles)),
    Path::new("roles/:role_name")
        .captures(ROLE_NAME)
        .fields(&[ROLE_FIELDS])
        .existence_check(|_, r| Box::pin(role_exists(r)))
        .read(handler!(read_role))
        .create(handler!(write_role))
        .update(handler!(write_role))
        .delete(handler!(delete_role)),
];

/// A stored role. Durations in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleEntry {
    pub name: String,
    pub allowed_policies: Vec<String>,
    pub disallowed_policies: Vec<String>,
    pub allowed_policies_glob: Vec<String>,
    pub disallowed_policies_glob: Vec<String>,
    pub orphan: bool,
    pub renewable: bool,
    pub path_suffix: String,
    /// Lower-cased; `None` until set (read back as `null`).
    pub allowed_entity_aliases: Option<Vec<String>>,
    pub token_bound_cidrs: Vec<String>,
    pub token_explicit_max_ttl: i64,
    pub token_period: i64,
    pub token_type: TokenType,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    /// What the deprecated fields were set to, shown as given.
    pub period: i64,
    pub explicit_max_ttl: i64,
    pub bound_cidrs: Vec<String>,
}

impl Default for RoleEntry {
    fn default() -> Self {
        RoleEntry {
            name: String::new(),
            allowed_policies: Vec::new(),
            disallowed_policies: Vec::new(),
            allowed_policies_glob: Vec::new(),
            disallowed_policies_glob: Vec::new(),
            orphan: false,
            renewable: true,
            path_suffix: String::new(),
            allowed_entity_aliases: None,
            token_bound_cidrs: Vec::new(),
            token_explicit_max_ttl: 0,
            token_period: 0,
            token_type: TokenType::DefaultService,
            token_no_default_policy: false,
            token_num_uses: 0,
            period: 0,
            explicit_max_ttl: 0,
            bound_cidrs: Vec::new(),
        }
    }
}

/// The kind of token a role makes: fixed, or a default the caller may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TokenType {
    Service,
    Batch,
    #[default]
    DefaultService,
    DefaultBatch,
}

impl TokenType {
    fn parse(text: &str) -> Result<TokenType> {
        Ok(match text {
            "service" => TokenType::Service,
            "batch" => TokenType::Batch,
            "default-service" | "default" => TokenType::DefaultService,
            "default-batch" => TokenType::DefaultBatch,
            other => {
                return Err(Error::BadRequest(format!(
                    "invalid 'token_type' value {other:?}"
                )))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            TokenType::Service => "service",
            TokenType::Batch => "batch",
            TokenType::DefaultService => "default-service",
            TokenType::DefaultBatch => "default-batch",
        }
    }

    /// The type of a token created through the role, given what the caller
    /// asked (`""` for nothing).
    pub fn resolve(self, asked: &str) -> String {
        match self {
            TokenType::DefaultService => asked.to_string(),
            TokenType::DefaultBatch if asked.is_empty() => "batch".into(),
            TokenType::DefaultBatch => asked.to_string(),
            TokenType::Service => "service".into(),
            TokenType::Batch => "batch".into(),
        }
    }
}

impl RoleEntry {
    /// Whether the role restricts policies itself (then the caller's own
    /// policies do not bound the token's).
    pub fn restricts_policies(&self) -> bool {
        !self.allowed_policies.is_empty()
            || !self.disallowed_policies.is_empty()
            || !self.allowed_policies_glob.is_empty()
            || !self.disallowed_policies_glob.is_empty()
    }

    /// The token's policies under the role's allowed and disallowed sets
    /// (Vault's rules when the role has any): the requested ones, else the
    /// allowed ones, else the parent's; `default` added unless refused.
    pub fn policies(
        &self,
        requested: Option<Vec<String>>,
        parent_policies: &[String],
        no_default_policy: bool,
    ) -> Result<Vec<String>> {
        let disallowed = |p: &str| {
            self.disallowed_policies.iter().any(|d| d == p)
                || self
                    .disallowed_policies_glob
                    .iter()
                    .any(|g| glob_match(g, p))
        };
        let add_default =
            !no_default_policy && !self.token_no_default_policy && !disallowed("default");
        let mut policies = requested
            .filter(|r| !r.is_empty())
            .map(|r| sanitize_policies(&r, add_default))
            .unwrap_or_default();
        if !self.allowed_policies.is_empty() || !self.allowed_policies_glob.is_empty() {
            let allowed = sanitize_policies(&self.allowed_policies, add_default);
            if policies.is_empty() {
                policies = allowed;
            } else {
                let globs = sanitize_policies(&self.allowed_policies_glob, false);
                let permitted =
                    |p: &String| allowed.contains(p) || globs.iter().any(|g| glob_match(g, p));
                if !policies.iter().all(permitted) {
                    return Err(Error::BadRequest(format!(
                        "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                        go_quoted_list(&policies),
                        go_quoted_list(&allowed),
                        go_quoted_list(&globs)
                    )));
                }
            }
        } else if policies.is_empty() {
            policies = sanitize_policies(parent_policies, add_default);
        }
        if let Some(refused) = policies.iter().find(|p| disallowed(p)) {
            return Err(Error::BadRequest(format!(
                "token policy {refused:?} is disallowed by this role"
            )));
        }
        Ok(policies)
    }

    /// Whether the role lets a token be created for `alias`.
    pub fn allows_entity_alias(&self, alias: &str) -> bool {
        let alias = alias.to_lowercase();
        self.allowed_entity_aliases
            .iter()
            .flatten()
            .any(|a| *a == alias || glob_match(a, &alias))
    }

    fn read_data(&self) -> Map<String, Value> {
        let mut data = json!({
            "period": self.period,
            "token_period": self.token_period,
            "explicit_max_ttl": self.explicit_max_ttl,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "disallowed_policies": self.disallowed_policies,
            "allowed_policies": self.allowed_policies,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "allowed_policies_glob": self.allowed_policies_glob,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "renewable": self.renewable,
            "token_type": self.token_type.as_str(),
            "allowed_entity_aliases": self.allowed_entity_aliases,
            "token_no_default_policy": self.token_no_default_policy,
        });
        let Some(map) = data.as_object_mut() else {
            return Map::new();
        };
        if !self.token_bound_cidrs.is_empty() {
            map.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        }
        if !self.bound_cidrs.is_empty() {
            map.insert("bound_cidrs".into(), json!(self.bound_cidrs));
        }
        if self.token_num_uses > 0 {
            map.insert("token_num_uses".into(), json!(self.token_num_uses));
        }
        map.clone()
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The stored role, if any.
pub async fn load_role(req: &Request, name: &str) -> Result<Option<RoleEntry>> {
    Ok(req
        .storage
        .get_json(&format!("{ROLES_PREFIX}{}", name.to_lowercase()))
        .await?)
}

async fn role_exists(req: &Request) -> Result<bool> {
    Ok(load_role(req, req.param("role_name")?).await?.is_some())
}

async fn list_roles(_b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    Ok(Some(Response::list(
        req.storage.list_leaves(ROLES_PREFIX).await?,
    )))
}

async fn read_role(_b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    let role = load_role(req, req.param("role_name")?).await?;
    Ok(role.map(|r| Response::data(r.read_data())))
}

async fn delete_role(_b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("role_name")?.to_lowercase();
    req.storage.delete(&format!("{ROLES_PREFIX}{name}")).await?;
    Ok(None)
}

/// Vault's `pathSuffixSanitize` (`\w[\w-.]+\w`), matched anywhere.
fn path_suffix_allowed(suffix: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    suffix
        .split(|c: char| !(word(c) || c == '-' || c == '.'))
        .any(|run| {
            let chars: Vec<char> = run.chars().collect();
            let first = chars.iter().position(|c| word(*c));
            let last = chars.iter().rposition(|c| word(*c));
            matches!((first, last), (Some(f), Some(l)) if l >= f + 2)
        })
}

/// A CIDR list as Vault parses and prints it: a single address stays bare
/// (`127.0.0.1/32` reads back as `127.0.0.1`).
fn parse_cidrs(field: &str, cidrs: Vec<String>) -> Result<Vec<String>> {
    cidrs
        .into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .map(|c| {
            if let Ok(net) = c.parse::<ipnet::IpNet>() {
                return Ok(if net.prefix_len() == net.max_prefix_len() {
                    net.addr().to_string()
                } else {
                    net.to_string()
                });
            }
            c.parse::<std::net::IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| {
                    Error::BadRequest(format!(
                        "error parsing {field}: failed to parse address {c:?}"
                    ))
                })
        })
        .collect()
}

/// `POST auth/token/roles/:role_name`: fields not given keep their value
/// on update and take their default on create.
async fn write_role(_b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("role_name")?.to_lowercase();
    let mut role = load_role(req, &name).await?.unwrap_or_default();
    role.name.clone_from(&name);
    let data = &req.data;
    let mut warnings = Vec::new();
    if let Some(orphan) = data.bool("orphan")? {
        role.orphan = orphan;
    }
    if let Some(renewable) = data.bool("renewable")? {
        role.renewable = renewable;
    }
    if let Some(suffix) = data.str("path_suffix")? {
        if !suffix.is_empty() && !path_suffix_allowed(&suffix) {
            return Err(Error::bad_request(
                "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
            ));
        }
        role.path_suffix = suffix;
    }
    if role.path_suffix.contains("..") {
        return Err(Error::bad_request(
            "error registering path suffix: path cannot contain parent references",
        ));
    }
    if let Some(list) = data.comma_list("allowed_policies")? {
        role.allowed_policies = sanitize_policies(&list, false);
    }
    if let Some(list) = data.comma_list("disallowed_policies")? {
        role.disallowed_policies = lowercase_unique(list);
    }
    if let Some(list) = data.comma_list("allowed_policies_glob")? {
        role.allowed_policies_glob = sanitize_policies(&list, false);
    }
    if let Some(list) = data.comma_list("disallowed_policies_glob")? {
        role.disallowed_policies_glob = lowercase_unique(list);
    }
    match data.raw().get("token_type") {
        Some(Value::Null) => return Err(Error::bad_request("Invalid 'token_type' value: null")),
        Some(_) => role.token_type = TokenType::parse(&data.str_or("token_type", "")?)?,
        None => {}
    }
    if let Some(no_default) = data.bool("token_no_default_policy")? {
        role.token_no_default_policy = no_default;
    }
    if let Some((period, deprecated)) = preferred(
        data.duration("token_period")?,
        data.duration("period")?,
        "period",
        &mut warnings,
    ) {
        role.token_period = period;
        role.period = if deprecated { period } else { 0 };
    }
    let cidrs = preferred(
        data.comma_list("token_bound_cidrs")?,
        data.comma_list("bound_cidrs")?,
        "bound_cidrs",
        &mut warnings,
    );
    if let Some((cidrs, deprecated)) = cidrs {
        let field = if deprecated {
            "bound_cidrs"
        } else {
            "token_bound_cidrs"
        };
        role.token_bound_cidrs = parse_cidrs(field, cidrs)?;
        role.bound_cidrs = if deprecated {
            role.token_bound_cidrs.clone()
        } else {
            Vec::new()
        };
    }
    if let Some((ttl, deprecated)) = preferred(
        data.duration("token_explicit_max_ttl")?,
        data.duration("explicit_max_ttl")?,
        "explicit_max_ttl",
        &mut warnings,
    ) {
        role.token_explicit_max_ttl = ttl;
        role.explicit_max_ttl = if deprecated { ttl } else { 0 };
    }
    if role.token_explicit_max_ttl > req.ttls.max_ttl {
        warnings.push(format!(
            "Given explicit max TTL of {} is greater than system/mount allowed value of {} seconds; until this is fixed attempting to create tokens against this role will result in an error",
            role.token_explicit_max_ttl, req.ttls.max_ttl
        ));
    }
    if let Some(uses) = data.int("token_num_uses")? {
        if uses < 0 {
            return Err(Error::bad_request(
                "error parsing role fields: 'token_num_uses' cannot be negative",
            ));
        }
        role.token_num_uses = uses;
    }
    if role.token_type == TokenType::Batch {
        let refusal = if !role.orphan {
            Some("non-orphan tokens")
        } else if role.token_period != 0 {
            Some("periodic tokens")
        } else if role.renewable {
            Some("renewable tokens")
        } else if role.token_explicit_max_ttl != 0 {
            Some("tokens with an explicit max TTL")
        } else {
            None
        };
        if let Some(what) = refusal {
            return Err(Error::BadRequest(format!(
                "'token_type' cannot be 'batch' when role is set to generate {what}"
            )));
        }
    }
    if let Some(aliases) = data.comma_list("allowed_entity_aliases")? {
        role.allowed_entity_aliases = Some(lowercase_unique(aliases));
    }
    req.storage
        .put_json(&format!("{ROLES_PREFIX}{name}"), &role)
        .await?;
    Ok(Response::warnings(warnings))
}

/// A `token_` field and its deprecated name: the new one wins (with
/// Vault's warning when both came); `true` when the value is the
/// deprecated field's, which a read then shows too.
fn preferred<T>(
    current: Option<T>,
    deprecated: Option<T>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<(T, bool)> {
    match (current, deprecated) {
        (Some(value), old) => {
            if old.is_some() {
                warnings.push(format!(
                    "Both 'token_{name}' and deprecated '{name}' value supplied, ignoring the deprecated value"
                ));
            }
            Some((value, false))
        }
        (None, Some(value)) => Some((value, true)),
        (None, None) => None,
    }
}

/// Vault's `strutil.RemoveDuplicates(list, true)`: trimmed, lower-cased,
/// no empties, sorted, unique.
fn lowercase_unique(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = list
        .into_iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_suffixes_need_three_word_characters_in_a_run() {
        assert!(path_suffix_allowed("v1x"));
        assert!(path_suffix_allowed("my-app.v2"));
        assert!(!path_suffix_allowed("v1"));
        assert!(!path_suffix_allowed("a-"));
        assert!(
            path_suffix_allowed("!!abc"),
            "matched anywhere, as Go's MatchString"
        );
    }

    #[test]
    fn a_role_with_allowed_policies_bounds_the_request_and_may_exceed_the_parent() {
        let role = RoleEntry {
            allowed_policies: vec!["a".into(), "b".into()],
            disallowed_policies: vec!["c".into()],
            ..Default::default()
        };
        let parent = vec!["default".to_string()];
        assert_eq!(
            role.policies(None, &parent, false).expect("allowed"),
            ["a", "b", "default"]
        );
        assert_eq!(
            role.policies(Some(vec!["a".into()]), &parent, true)
                .expect("subset"),
            ["a"]
        );
        let err = role
            .policies(Some(vec!["x".into()]), &parent, false)
            .expect_err("not allowed");
        assert!(err
            .to_string()
            .contains("must be subset of the role's allowed policies"));
        let only_disallowed = RoleEntry {
            disallowed_policies: vec!["root".into()],
            ..Default::default()
        };
        assert!(only_disallowed
            .policies(Some(vec!["root".into()]), &parent, false)
            .is_err());
    }
}
