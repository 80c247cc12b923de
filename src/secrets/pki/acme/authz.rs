//! Authorizations and their challenges (RFC 8555 §7.5): reading and
//! deactivating an authorization, and answering a challenge, which starts
//! its validation in the background.

use serde_json::{json, Value};

use super::super::PkiBackend;
use super::problem::{AcmeResult, Problem};
use super::state::{self, Authorization, Challenge, Status};
use super::{validate, Call, Directory, Reply};

fn challenge_url(dir: &Directory, authz: &str, kind: &str) -> String {
    dir.link(&format!("challenge/{authz}/{kind}"))
}

fn challenge_body(dir: &Directory, authz: &Authorization, c: &Challenge) -> Value {
    let mut body = json!({
        "type": c.kind,
        "url": challenge_url(dir, &authz.id, &c.kind),
        "token": c.token,
        "status": c.status.as_str(),
    });
    if let Some(t) = c.validated {
        body["validated"] = json!(state::rfc3339(t));
    }
    if let Some(error) = &c.error {
        body["error"] = error.clone();
    }
    body
}

fn body(dir: &Directory, authz: &Authorization) -> Value {
    let mut body = json!({
        "identifier": authz.identifier.json(),
        "status": authz.status.as_str(),
        "wildcard": authz.wildcard,
        "challenges": authz.challenges.iter().map(|c| challenge_body(dir, authz, c)).collect::<Vec<_>>(),
    });
    if let Some(t) = authz.expires {
        body["expires"] = json!(state::rfc3339(t));
    }
    body
}

/// `authorization/:id`: POST-as-GET, or `{"status":"deactivated"}`.
pub async fn get(backend: &PkiBackend, dir: &Directory, id: &str, call: Call) -> AcmeResult<Reply> {
    let account = call.account()?;
    let _guard = backend.acme.lock.lock().await;
    let mut authz = state::authorization(&dir.storage, &account.id, id).await?;
    let payload = super::object(&call.payload)?;
    if !payload.is_empty() {
        if payload.len() != 1
            || payload.get("status").and_then(Value::as_str) != Some("deactivated")
        {
            return Err(Problem::malformed("unexpected request parameters"));
        }
        if matches!(authz.status, Status::Pending | Status::Valid) {
            authz.status = Status::Deactivated;
            for c in &mut authz.challenges {
                c.status = Status::Invalid;
            }
            state::put_authorization(&dir.storage, &account.id, &authz).await?;
        }
    }
    Ok(Reply::json(200, body(dir, &authz)))
}

/// `challenge/:auth_id/:type`: `{}` asks the server to validate (it
/// answers `processing` at once); an empty payload reads the challenge.
pub async fn challenge(
    backend: &PkiBackend,
    dir: &Directory,
    id: &str,
    kind: &str,
    call: Call,
) -> AcmeResult<Reply> {
    let account = call.account()?;
    let _guard = backend.acme.lock.lock().await;
    let mut authz = state::authorization(&dir.storage, &account.id, id).await?;
    let Some(index) = authz.challenges.iter().position(|c| c.kind == kind) else {
        return Err(Problem::malformed(format!(
            "unknown challenge of type '{kind}' in authorization"
        )));
    };
    let up = dir.link(&format!("authorization/{}", authz.id));
    let respond = |authz: &Authorization| {
        Reply::json(200, challenge_body(dir, authz, &authz.challenges[index])).up(up.clone())
    };
    let Some(payload) = &call.payload else {
        return Ok(respond(&authz));
    };
    if payload.as_object().is_none_or(|m| !m.is_empty()) {
        return Err(Problem::malformed("unexpected request parameters"));
    }
    if authz.challenges[index].status != Status::Pending {
        return Ok(respond(&authz));
    }
    if authz.status != Status::Pending {
        return Err(Problem::malformed(
            "cannot accept already validated authorization",
        ));
    }
    if authz
        .challenges
        .iter()
        .any(|c| c.status == Status::Processing)
    {
        return Err(Problem::malformed(
            "only a single challenge within an authorization can be accepted",
        ));
    }
    authz.challenges[index].status = Status::Processing;
    state::put_authorization(&dir.storage, &account.id, &authz).await?;
    let challenge = &authz.challenges[index];
    validate::spawn(
        backend.acme.clone(),
        validate::Job {
            storage: dir.storage.clone(),
            account: account.id.clone(),
            authz: authz.id.clone(),
            kind: challenge.kind.clone(),
            key_authorization: format!("{}.{}", challenge.token, account.thumbprint),
            token: challenge.token.clone(),
            identifier: authz.identifier.value.clone(),
            resolver: dir.config.resolver(),
        },
    );
    Ok(respond(&authz))
}
