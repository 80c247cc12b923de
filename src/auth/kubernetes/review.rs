//! The Kubernetes TokenReview call (`POST
//! {kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews`), as the
//! plugin's `token_review.go` makes and judges it.

use serde_json::{json, Value};

use super::config::KubeConfig;
use super::login::ServiceAccount;
use crate::auth::outbound;

/// The API server URL: Vault takes `kubernetes_host` as a URL; a bare
/// `host[:port]` is taken as HTTPS.
fn base_url(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    }
}

/// Asks the API server whether `jwt` is a valid token of `sa`. Any error
/// means "permission denied" to the caller; the text is only logged.
pub async fn lookup(
    config: &KubeConfig,
    jwt: &str,
    role_audience: &str,
    sa: &ServiceAccount,
) -> Result<(), String> {
    let want_aud: Vec<String> = if role_audience.is_empty() {
        sa.audiences.clone()
    } else {
        vec![role_audience.to_string()]
    };
    let mut spec = json!({ "token": jwt });
    if !want_aud.is_empty() {
        spec["audiences"] = json!(want_aud);
    }
    let body = json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {},
    });
    let bearer = if config.token_reviewer_jwt.is_empty() {
        jwt
    } else {
        config.token_reviewer_jwt.as_str()
    };
    let client = outbound::http_client(&config.kubernetes_ca_cert, false)?;
    let url = format!(
        "{}/apis/authentication.k8s.io/v1/tokenreviews",
        base_url(&config.kubernetes_host)
    );
    let resp = client
        .post(&url)
        .header(
            "Authorization",
            format!("Bearer {bearer}").trim().to_string(),
        )
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(serde_json::to_vec(&body).map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| format!("Post {url:?}: {}", outbound::error_chain(&e)))?;
    let status = resp.status().as_u16();
    let body = outbound::read_limited(resp).await?;
    if status == 401 {
        return Err("lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token".into());
    }
    if !(200..=206).contains(&status) {
        return Err(format!(
            "the server responded with the status code {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    let review: Value =
        serde_json::from_slice(&body).map_err(|e| format!("decoding TokenReview: {e}"))?;
    // A metav1.Status object (its `status` a string) that is not Success.
    if let Some(s) = review.get("status").and_then(Value::as_str) {
        if s != "Success" {
            let reason = review.get("message").and_then(Value::as_str).unwrap_or(s);
            if review.get("code").and_then(Value::as_i64) == Some(401) {
                return Err("lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token".into());
            }
            return Err(reason.to_string());
        }
    }
    let status = review.get("status").cloned().unwrap_or(Value::Null);
    let error = status.get("error").and_then(Value::as_str).unwrap_or("");
    if !error.is_empty() {
        return Err(format!("lookup failed: {error}"));
    }
    if status.get("authenticated").and_then(Value::as_bool) != Some(true) {
        return Err("lookup failed: service account jwt not valid".into());
    }
    if !want_aud.is_empty() {
        let got: Vec<String> = status
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if !want_aud.iter().any(|a| got.contains(a)) {
            return Err(format!(
                "lookup failed: service account jwt valid for audience(s) [{}], but wanted [{}]",
                got.join(" "),
                want_aud.join(" ")
            ));
        }
    }
    let user = status.get("user").cloned().unwrap_or(Value::Null);
    let username = user.get("username").and_then(Value::as_str).unwrap_or("");
    let parts: Vec<&str> = username.split(':').collect();
    if parts.len() != 4 {
        return Err("lookup failed: unexpected username format".into());
    }
    if parts[0] != "system" || parts[1] != "serviceaccount" {
        return Err("lookup failed: username returned is not a service account".into());
    }
    let uid = user.get("uid").and_then(Value::as_str).unwrap_or("");
    if sa.name != parts[3] {
        return Err("JWT names did not match".into());
    }
    if sa.uid != uid {
        return Err("JWT UIDs did not match".into());
    }
    if sa.namespace != parts[2] {
        return Err("JWT namepaces did not match".into());
    }
    Ok(())
}
