//! Orders (RFC 8555 §7.4): `new-order`, `order/:id`, `orders`,
//! `order/:id/finalize` (synchronous issuance through the same profile
//! code as `sign/:role`) and `order/:id/cert`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::super::cert_info::CertInfo;
use super::super::profile::{self, NameInput, NotAfterRule};
use super::super::{certs, csr, issue, names, public_key, x509, PkiBackend};
use super::problem::{AcmeResult, Kind, Problem};
use super::state::{self, Authorization, Challenge, Identifier, Order, Status};
use super::{Call, Directory, Reply};

/// An order may be worked on this long.
const ORDER_LIFETIME: i64 = 24 * 3600;

/// The DNS names and IPs an identifier list (or a CSR) asks for, in one
/// comparable form.
fn name_set(
    dns: impl Iterator<Item = String>,
    ips: impl Iterator<Item = IpAddr>,
) -> BTreeSet<String> {
    dns.map(|d| format!("dns:{}", d.to_ascii_lowercase()))
        .chain(ips.map(|ip| format!("ip:{ip}")))
        .collect()
}

fn parse_identifier(dir: &Directory, value: &Value) -> AcmeResult<Identifier> {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    let name = value.get("value").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return Err(Problem::malformed("identifier value is empty"));
    }
    let role = &dir.role;
    match kind {
        "ip" => {
            let ip: IpAddr = name
                .parse()
                .map_err(|_| Problem::malformed(format!("invalid IP address: {name}")))?;
            if !role.allow_ip_sans {
                return Err(Problem::new(
                    Kind::RejectedIdentifier,
                    format!(
                        "role ({}) does not allow IP sans, so cannot issue certificate for {ip}",
                        dir.role_name
                    ),
                ));
            }
            Ok(Identifier {
                kind: "ip".into(),
                value: ip.to_string(),
            })
        }
        "dns" => {
            if name.parse::<IpAddr>().is_ok() {
                return Err(Problem::malformed(format!(
                    "dns identifier is an IP address: {name}"
                )));
            }
            let base = name.strip_prefix("*.").unwrap_or(name);
            if base.contains('*') {
                return Err(Problem::malformed(format!(
                    "wildcard must be the entire leftmost label: {name}"
                )));
            }
            if name.starts_with("*.") && base.split('.').count() < 2 {
                return Err(Problem::malformed(
                    "wildcard must not be entire domain name; need at least two domain labels",
                ));
            }
            if names::to_ascii(base).as_deref() != Some(base) {
                return Err(Problem::malformed(format!(
                    "failed IDNA round-tripping to ASCII: {name}"
                )));
            }
            if names::first_disallowed(role, &[name.to_string()]).is_some() {
                return Err(Problem::after(
                    Kind::RejectedIdentifier,
                    format!(
                        "role ({}) will not issue certificate for name {name}",
                        dir.role_name
                    ),
                ));
            }
            Ok(Identifier {
                kind: "dns".into(),
                value: name.to_string(),
            })
        }
        other => Err(Problem::new(
            Kind::UnsupportedIdentifier,
            format!("unsupported identifier type {other}"),
        )),
    }
}

fn challenge(kind: &str) -> Challenge {
    Challenge {
        kind: kind.into(),
        token: state::random_token(21),
        status: Status::Pending,
        validated: None,
        error: None,
        attempts: 0,
    }
}

/// One authorization for an identifier, with the challenges that can
/// prove it: a wildcard only by dns-01, an IP only by http-01 (Vault
/// checks tls-alpn-01 for DNS names only).
fn authorization(order: &str, identifier: &Identifier) -> Authorization {
    let (value, wildcard) = match identifier.value.strip_prefix("*.") {
        Some(base) => (base.to_string(), true),
        None => (identifier.value.clone(), false),
    };
    let kinds: &[&str] = match (identifier.kind.as_str(), wildcard) {
        ("ip", _) => &["http-01"],
        (_, true) => &["dns-01"],
        _ => &["http-01", "dns-01", "tls-alpn-01"],
    };
    Authorization {
        id: state::new_id(),
        order: order.into(),
        identifier: Identifier {
            kind: identifier.kind.clone(),
            value,
        },
        wildcard,
        status: Status::Pending,
        expires: None,
        challenges: kinds.iter().map(|k| challenge(k)).collect(),
    }
}

pub async fn new_order(backend: &PkiBackend, dir: &Directory, call: Call) -> AcmeResult<Reply> {
    let account = call.account()?;
    let payload = super::object(&call.payload)?;
    for field in ["notBefore", "notAfter"] {
        if payload
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            return Err(Problem::after(
                Kind::Malformed,
                "NotBefore and NotAfter are not supported",
            ));
        }
    }
    let requested = payload
        .get("identifiers")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| Problem::malformed("no identifiers in order"))?;
    let mut identifiers = Vec::new();
    for value in requested {
        let id = parse_identifier(dir, value)?;
        if !identifiers.contains(&id) {
            identifiers.push(id);
        }
    }
    let order_id = state::new_id();
    let mut authz_ids = Vec::new();
    for identifier in &identifiers {
        let authz = authorization(&order_id, identifier);
        state::put_authorization(&dir.storage, &account.id, &authz).await?;
        authz_ids.push(authz.id);
    }
    let order = Order {
        id: order_id,
        status: Status::Pending,
        identifiers,
        authorizations: authz_ids,
        expires: state::now() + ORDER_LIFETIME,
        cert_serial: None,
        cert_expiry: None,
    };
    state::put_order(&dir.storage, &account.id, &order).await?;
    count_order(backend, dir, "created");
    let url = order_url(dir, &order.id);
    Ok(Reply::json(201, body(dir, &order, None)).at(url))
}

/// `vaultlet.pki.acme_orders_total` for this mount and outcome.
fn count_order(backend: &PkiBackend, dir: &Directory, outcome: &str) {
    backend
        .metrics
        .acme_orders
        .with(&[&dir.mount_point, outcome])
        .inc();
}

fn order_url(dir: &Directory, id: &str) -> String {
    dir.link(&format!("order/{id}"))
}

/// The order as RFC 8555 §7.1.3 shows it; for a final order only its
/// valid authorizations are listed (as Vault does).
fn body(dir: &Directory, order: &Order, valid_authz: Option<&[String]>) -> Value {
    let authz: Vec<String> = valid_authz
        .unwrap_or(&order.authorizations)
        .iter()
        .map(|id| dir.link(&format!("authorization/{id}")))
        .collect();
    let mut body = json!({
        "status": order.status.as_str(),
        "expires": state::rfc3339(order.expires),
        "identifiers": order.identifiers.iter().map(Identifier::json).collect::<Vec<_>>(),
        "authorizations": authz,
        "finalize": dir.link(&format!("order/{}/finalize", order.id)),
    });
    if order.status == Status::Valid {
        body["certificate"] = json!(dir.link(&format!("order/{}/cert", order.id)));
    }
    body
}

/// The order with its status brought up to date from its authorizations
/// (Vault's rules: valid and invalid are final, an expired order is
/// invalid, ready once every authorization is valid).
async fn current(
    backend: &PkiBackend,
    dir: &Directory,
    kid: &str,
    id: &str,
) -> AcmeResult<(Order, Vec<String>)> {
    let mut order = state::order(&dir.storage, kid, id).await?;
    let mut valid = Vec::new();
    let mut any_failed = false;
    let mut all_valid = true;
    for authz_id in &order.authorizations {
        let authz = state::authorization(&dir.storage, kid, authz_id).await?;
        match authz.status {
            Status::Valid => valid.push(authz_id.clone()),
            Status::Pending => all_valid = false,
            _ => {
                any_failed = true;
                all_valid = false;
            }
        }
    }
    let before = order.status;
    match order.status {
        Status::Valid | Status::Invalid => {}
        _ if state::now() > order.expires => order.status = Status::Invalid,
        Status::Ready | Status::Processing => {}
        _ if all_valid => order.status = Status::Ready,
        _ if any_failed => order.status = Status::Invalid,
        _ => {}
    }
    if order.status != before {
        state::put_order(&dir.storage, kid, &order).await?;
        if order.status == Status::Invalid {
            count_order(backend, dir, "invalid");
        }
    }
    Ok((order, valid))
}

pub async fn get(backend: &PkiBackend, dir: &Directory, id: &str, call: Call) -> AcmeResult<Reply> {
    let account = call.account()?;
    let _guard = backend.acme.lock.lock().await;
    let (order, valid) = current(backend, dir, &account.id, id).await?;
    let filter =
        matches!(order.status, Status::Valid | Status::Invalid).then_some(valid.as_slice());
    Ok(Reply::json(200, body(dir, &order, filter)).at(order_url(dir, &order.id)))
}

/// `orders`: the account's orders that are not invalid.
pub async fn list(backend: &PkiBackend, dir: &Directory, call: Call) -> AcmeResult<Reply> {
    let account = call.account()?;
    let _guard = backend.acme.lock.lock().await;
    let mut urls = Vec::new();
    for id in state::order_ids(&dir.storage, &account.id).await? {
        let (order, _) = current(backend, dir, &account.id, &id).await?;
        if order.status != Status::Invalid {
            urls.push(order_url(dir, &order.id));
        }
    }
    Ok(Reply::json(200, json!({ "orders": urls })))
}

pub async fn finalize(
    backend: &PkiBackend,
    dir: &Directory,
    id: &str,
    call: Call,
) -> AcmeResult<Reply> {
    let account = call.account()?;
    let payload = super::object(&call.payload)?;
    // As Vault: the CSR is read before the order is looked at.
    let der = payload
        .get("csr")
        .and_then(Value::as_str)
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
        .ok_or_else(|| Problem::after(Kind::Malformed, "missing or undecodable 'csr'"))?;
    let mut request = csr::parse_der(&der)
        .map_err(|e| Problem::after(Kind::Malformed, format!("failed to parse csr: {e}")))?;
    let _guard = backend.acme.lock.lock().await;
    let (mut order, _) = current(backend, dir, &account.id, id).await?;
    if state::now() > order.expires {
        return Err(Problem::malformed(format!("order {id} is expired")));
    }
    if order.status != Status::Ready {
        return Err(Problem::after(
            Kind::OrderNotReady,
            format!(
                "order is status {}, needs to be in ready state",
                order.status.as_str()
            ),
        ));
    }
    check_csr(dir, account, &order, &mut request)?;

    let set = backend.issuers(&dir.storage).await?;
    let issuer = issue::signing_issuer(&set, &dir.issuer_ref)?;
    // ACME truncates a leaf at its issuer's expiry whatever the issuer says.
    let rule = match NotAfterRule::of(&issuer) {
        NotAfterRule::Err => NotAfterRule::Truncate,
        other => other,
    };
    let input = NameInput {
        common_name: request.common_name.clone(),
        alt_names: Some(request.dns.clone()),
        ip_sans: request.ip.iter().map(IpAddr::to_string).collect(),
        ..NameInput::default()
    };
    let mut creation = profile::creation(
        &dir.role,
        &input,
        Some(&request),
        Some((&issuer, rule)),
        dir.ttls,
    )
    .map_err(|e| {
        Problem::after(
            Kind::BadCsr,
            format!("refusing to sign CSR: {}", error_text(e)),
        )
    })?;
    let cap = profile::unix(state::now() + dir.config.max_ttl());
    if creation.not_after > cap {
        creation.not_after = cap;
    }
    let cert = issue::sign_and_store(
        backend,
        &dir.storage,
        &dir.role,
        &creation,
        request.spki.clone(),
        &issuer,
    )
    .await?;
    backend
        .metrics
        .pki_issued
        .with(&[
            &dir.mount_point,
            &dir.role_name,
            &issuer.entry.id,
            "success",
        ])
        .inc();
    state::put_account_cert(&dir.storage, &account.id, &cert.serial).await?;
    order.status = Status::Valid;
    order.cert_serial = Some(cert.serial);
    order.cert_expiry = Some(cert.not_after);
    state::put_order(&dir.storage, &account.id, &order).await?;
    count_order(backend, dir, "finalized");
    Ok(Reply::json(200, body(dir, &order, None)).at(order_url(dir, &order.id)))
}

fn error_text(e: crate::logical::Error) -> String {
    match e {
        crate::logical::Error::BadRequest(msg) => msg,
        other => other.to_string(),
    }
}

/// Vault's CSR rules for ACME: the names must be exactly the order's, the
/// key must be usable by the role and differ from the account's, no CA,
/// and (unless the role's EKUs are allowed) server authentication only.
/// What the CSR asks beyond its names (emails, URIs, other names) is
/// dropped.
fn check_csr(
    dir: &Directory,
    account: &state::Account,
    order: &Order,
    request: &mut csr::Csr,
) -> AcmeResult<()> {
    let bad = |text: String| Problem::after(Kind::BadCsr, text);
    if !request.signature_valid() {
        return Err(bad("request signature invalid".into()));
    }
    if request.requests_ca {
        return Err(bad("refusing to accept CA Basic Constraints in CSR".into()));
    }
    request.email.clear();
    request.uri.clear();
    request.other.clear();
    let cn = request.common_name.clone();
    let mut dns = request.dns.clone();
    let mut ips = request.ip.clone();
    if !cn.is_empty() {
        match cn.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(cn.clone()),
        }
    }
    let asked = name_set(dns.into_iter(), ips.into_iter());
    let ordered = name_set(
        order
            .identifiers
            .iter()
            .filter(|i| i.kind == "dns")
            .map(|i| i.value.clone()),
        order
            .identifiers
            .iter()
            .filter_map(|i| i.value.parse().ok().filter(|_| i.kind == "ip")),
    );
    if asked != ordered {
        return Err(bad(format!(
            "CSR names {:?} do not match the order's identifiers {:?}",
            asked, ordered
        )));
    }
    let csr_key = public_key::info(&request.spki).map(|i| i.key_bytes);
    if csr_key.is_some() && csr_key == account.jwk.key_bytes().ok() {
        return Err(bad(
            "certificate public key must not match account key".into()
        ));
    }
    request
        .check_key(&dir.role.key_type, dir.role.key_bits)
        .map_err(|e| bad(format!("refusing to sign CSR: {}", error_text(e))))?;
    if !dir.config.allow_role_ext_key_usage
        && request
            .ext_key_usage
            .iter()
            .any(|eku| *eku != x509::eku_server_auth())
    {
        return Err(bad("ACME certs only allow ServerAuth key usage".into()));
    }
    if cn.is_empty() && dir.role.require_cn {
        request.common_name = request
            .dns
            .iter()
            .find(|d| d.starts_with("*."))
            .or_else(|| request.dns.first())
            .cloned()
            .or_else(|| request.ip.first().map(IpAddr::to_string))
            .unwrap_or_default();
    }
    Ok(())
}

/// `order/:id/cert`: the leaf, its issuer and the issuer's chain, PEM.
pub async fn certificate(
    backend: &PkiBackend,
    dir: &Directory,
    id: &str,
    call: Call,
) -> AcmeResult<Reply> {
    let account = call.account()?;
    let order = state::order(&dir.storage, &account.id, id).await?;
    let serial = match (&order.status, &order.cert_serial) {
        (Status::Valid, Some(serial)) => serial.clone(),
        _ => {
            return Err(Problem::after(
                Kind::OrderNotReady,
                format!(
                    "order is status {}, needs to be in valid state",
                    order.status.as_str()
                ),
            ))
        }
    };
    let der = certs::load(&dir.storage, &serial).await?.ok_or_else(|| {
        Problem::internal(format!("certificate {serial} is missing from storage"))
    })?;
    let leaf = CertInfo::parse(&der).map_err(Problem::internal)?;
    let set = backend.issuers(&dir.storage).await?;
    let mut pems = vec![leaf.pem()];
    if let Some(issuer) = set.issuers.values().find(|i| leaf.signed_by(&i.cert)) {
        for pem in std::iter::once(&issuer.pem).chain(issuer.chain.iter()) {
            let pem = pem.trim().to_string();
            if !pems.iter().any(|p| p.trim() == pem) {
                pems.push(pem);
            }
        }
    }
    let text = pems
        .iter()
        .map(|p| format!("{}\n", p.trim()))
        .collect::<String>();
    Ok(Reply::pem(text))
}
