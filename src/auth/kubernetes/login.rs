//! `auth/kubernetes/login`: a service-account JWT, checked here (claims,
//! and the signature with `pem_keys`) and then by the API server's
//! TokenReview, logs in through a role that binds its name and namespace.

use serde_json::{Map, Value};

use super::config::{self, KubeConfig};
use super::roles::{self, KubeRole, ALIAS_SA_NAME};
use super::{review, KubernetesBackend};
use crate::auth::jose::{self, Alg, Expected, Jws};
use crate::auth::token_fields::peer_in_bound_cidrs;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{glob_match, Error, Request, Response, Result};

pub(super) const PATHS: &[Path<KubernetesBackend>] = &[Path::new("login")
    .unauthenticated()
    .fields(&[&[Field::string("role"), Field::string("jwt")]])
    .update(handler!(login))];

const LOCAL_CA_CERT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
const LOCAL_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The service account a token speaks for, from the legacy secret-token
/// claims or the projected token's `kubernetes.io` claim (preferred).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub name: String,
    pub uid: String,
    pub namespace: String,
    pub secret_name: String,
    pub audiences: Vec<String>,
}

impl ServiceAccount {
    pub fn from_claims(claims: &Map<String, Value>) -> ServiceAccount {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let mut sa = ServiceAccount {
            name: s(claims.get("kubernetes.io/serviceaccount/service-account.name")),
            uid: s(claims.get("kubernetes.io/serviceaccount/service-account.uid")),
            namespace: s(claims.get("kubernetes.io/serviceaccount/namespace")),
            secret_name: s(claims.get("kubernetes.io/serviceaccount/secret.name")),
            audiences: jose::audiences(claims).unwrap_or_default(),
        };
        if let Some(projected) = claims.get("kubernetes.io").filter(|v| v.is_object()) {
            sa.namespace = s(projected.get("namespace"));
            if let Some(account) = projected.get("serviceaccount").filter(|v| v.is_object()) {
                sa.name = s(account.get("name"));
                sa.uid = s(account.get("uid"));
            }
        }
        sa
    }
}

fn read_local(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

async fn login(_: &KubernetesBackend, req: &mut Request) -> Result<Option<Response>> {
    let role_name = req.data.str_or("role", "")?;
    if role_name.is_empty() {
        return Err(Error::bad_request("missing role"));
    }
    let jwt = req.data.str_or("jwt", "")?;
    if jwt.is_empty() {
        return Err(Error::bad_request("missing jwt"));
    }
    let Some(role) = roles::load_role(req, &role_name).await? else {
        return Err(Error::BadRequest(format!(
            "invalid role name {role_name:?}"
        )));
    };
    if !peer_in_bound_cidrs(req, &role.token.token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let Some(mut config) = config::load(req).await? else {
        return Err(Error::bad_request("could not load backend configuration"));
    };
    if !config.disable_local_ca_jwt {
        if config.token_reviewer_jwt.is_empty() {
            config.token_reviewer_jwt = read_local(LOCAL_JWT_PATH).unwrap_or_default();
        }
        if config.kubernetes_ca_cert.is_empty() {
            config.kubernetes_ca_cert = read_local(LOCAL_CA_CERT_PATH).unwrap_or_default();
        }
    }

    let sa = parse_and_validate(&jwt, &role, &config)?;
    // The alias name (Vault's getAliasName) needs these before the review.
    if role.alias_name_source == ALIAS_SA_NAME {
        if sa.namespace.is_empty() || sa.name.is_empty() {
            return Err(Error::Forbidden(
                "service account namespace and name must be set".into(),
            ));
        }
    } else if sa.uid.is_empty() {
        return Err(Error::Forbidden("could not parse UID from claims".into()));
    }

    // vaultlet extension: pem_keys and no host means local verification only.
    let local_only = config.kubernetes_host.is_empty() && !config.pem_keys.is_empty();
    if !local_only {
        if let Err(e) = review::lookup(&config, &jwt, &role.audience, &sa).await {
            tracing::debug!(error = %e, "kubernetes login unauthorized");
            return Err(Error::PermissionDenied);
        }
    }
    if sa.uid.is_empty() {
        return Err(Error::Forbidden("could not parse UID from claims".into()));
    }
    let uid = sa.uid.clone();

    let mut auth = role.token.to_auth();
    auth.alias_name = Some(if role.alias_name_source == ALIAS_SA_NAME {
        format!("{}/{}", sa.namespace, sa.name)
    } else {
        uid.clone()
    });
    auth.display_name = format!("{}-{}", sa.namespace, sa.name);
    auth.metadata.insert("service_account_uid".into(), uid);
    auth.metadata
        .insert("service_account_name".into(), sa.name.clone());
    auth.metadata
        .insert("service_account_namespace".into(), sa.namespace.clone());
    auth.metadata
        .insert("service_account_secret_name".into(), sa.secret_name.clone());
    // Vault's alias metadata are the service account's; the token's add the role.
    auth.alias_metadata = auth.metadata.clone();
    auth.metadata.insert("role".into(), role_name);
    Ok(Some(Response::auth(auth)))
}

/// The plugin's `parseAndValidateJWT`: signature (only with `pem_keys`),
/// algorithm, issuer (when enabled and configured), audience, time claims,
/// then the name and namespace bindings. Failures are 403s.
fn parse_and_validate(jwt: &str, role: &KubeRole, config: &KubeConfig) -> Result<ServiceAccount> {
    let jws = Jws::parse(jwt).map_err(|e| {
        tracing::debug!(error = %e, "kubernetes login: malformed JWT");
        Error::PermissionDenied
    })?;
    if !jws.alg.is_some_and(|a| Alg::KUBERNETES.contains(&a)) || jws.signature.is_empty() {
        return Err(Error::PermissionDenied);
    }
    if !config.pem_keys.is_empty() && !jws.verify_with(&jose::keys_from_pems(&config.pem_keys)) {
        return Err(Error::PermissionDenied);
    }
    let issuer = if config.disable_iss_validation {
        ""
    } else {
        config.issuer.as_str()
    };
    let audiences: Vec<String> = if role.audience.trim().is_empty() {
        Vec::new()
    } else {
        vec![role.audience.clone()]
    };
    let expected = Expected {
        issuer,
        audiences: &audiences,
        algorithms: &Alg::KUBERNETES,
        allow_missing_times: true,
        ..Default::default()
    };
    jose::validate_claims(&jws, &expected).map_err(Error::Forbidden)?;
    let sa = ServiceAccount::from_claims(&jws.claims);

    let names = &role.bound_service_account_names;
    if (names.len() > 1 || names.first().map(String::as_str) != Some("*"))
        && !names.iter().any(|n| glob_match(n, &sa.name))
    {
        return Err(Error::Forbidden(
            "service account name not authorized".into(),
        ));
    }
    let namespaces = &role.bound_service_account_namespaces;
    let allowed = namespaces.first().map(String::as_str) == Some("*")
        || namespaces.iter().any(|n| glob_match(n, &sa.namespace));
    if !allowed {
        if !role.bound_service_account_namespace_selector.is_empty() {
            return Err(Error::Forbidden(
                "namespace not authorized err=namespace selectors are not supported by vaultlet"
                    .into(),
            ));
        }
        return Err(Error::Forbidden("namespace not authorized".into()));
    }
    Ok(sa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projected_claims_win_over_legacy_ones() {
        let legacy = json!({
            "kubernetes.io/serviceaccount/service-account.name": "vault-auth",
            "kubernetes.io/serviceaccount/service-account.uid": "u-1",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "vault-auth-token-x",
        });
        let sa = ServiceAccount::from_claims(legacy.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            (
                sa.name.as_str(),
                sa.uid.as_str(),
                sa.namespace.as_str(),
                sa.secret_name.as_str()
            ),
            ("vault-auth", "u-1", "default", "vault-auth-token-x")
        );
        let projected = json!({
            "aud": ["vault://ns/issuer"],
            "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "cm", "uid": "u-2"}},
        });
        let sa = ServiceAccount::from_claims(projected.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            (sa.name.as_str(), sa.uid.as_str(), sa.namespace.as_str()),
            ("cm", "u-2", "ns")
        );
        assert_eq!(sa.audiences, vec!["vault://ns/issuer"]);
    }
}
