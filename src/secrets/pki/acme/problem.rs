//! RFC 8555 problem documents: the one place where ACME failures get
//! their type, HTTP status and canonical sentence (Vault's `acme_errors.go`
//! statuses). Problems carry no `Replay-Nonce`, as in Vault.

use serde_json::{json, Value};

use crate::logical::{Error, Response};

/// The problem types this server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AccountDoesNotExist,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadRevocationReason,
    ExternalAccountRequired,
    IncorrectResponse,
    Malformed,
    OrderNotReady,
    RejectedIdentifier,
    ServerInternal,
    Unauthorized,
    UnsupportedIdentifier,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::AccountDoesNotExist => "accountDoesNotExist",
            Kind::AlreadyRevoked => "alreadyRevoked",
            Kind::BadCsr => "badCSR",
            Kind::BadNonce => "badNonce",
            Kind::BadRevocationReason => "badRevocationReason",
            Kind::ExternalAccountRequired => "externalAccountRequired",
            Kind::IncorrectResponse => "incorrectResponse",
            Kind::Malformed => "malformed",
            Kind::OrderNotReady => "orderNotReady",
            Kind::RejectedIdentifier => "rejectedIdentifier",
            Kind::ServerInternal => "serverInternal",
            Kind::Unauthorized => "unauthorized",
            Kind::UnsupportedIdentifier => "unsupportedIdentifier",
        }
    }

    /// Vault's status for the type.
    fn status(self) -> u16 {
        match self {
            Kind::OrderNotReady => 403,
            Kind::Unauthorized | Kind::ExternalAccountRequired => 401,
            Kind::ServerInternal => 500,
            _ => 400,
        }
    }

    /// The canonical sentence Vault appends to (or prefixes) the detail.
    pub fn sentence(self) -> &'static str {
        match self {
            Kind::AccountDoesNotExist => "the request specified an account that does not exist",
            Kind::AlreadyRevoked => {
                "the request specified a certificate to be revoked that has already been revoked"
            }
            Kind::BadCsr => "the CSR is unacceptable",
            Kind::BadNonce => "the client sent an unacceptable anti-replay nonce",
            Kind::BadRevocationReason => {
                "the revocation reason provided is not allowed by the server"
            }
            Kind::ExternalAccountRequired => {
                "the request must include a value for the 'externalAccountBinding' field"
            }
            Kind::IncorrectResponse => {
                "the response received didn't match the challenge's requirements"
            }
            Kind::Malformed => "the request message was malformed",
            Kind::OrderNotReady => {
                "the request attempted to finalize an order that is not ready to be finalized"
            }
            Kind::RejectedIdentifier => "the server will not issue certificates for the identifier",
            Kind::ServerInternal => "the server experienced an internal error",
            Kind::Unauthorized => "the client lacks sufficient authorization",
            Kind::UnsupportedIdentifier => "an identifier is of an unsupported type",
        }
    }
}

/// One problem: its type and the detail a client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub detail: String,
}

pub type AcmeResult<T> = std::result::Result<T, Problem>;

impl Problem {
    /// `<context>: <canonical sentence>`, as most of Vault's details read.
    pub fn new(kind: Kind, context: impl std::fmt::Display) -> Problem {
        Problem {
            kind,
            detail: format!("{context}: {}", kind.sentence()),
        }
    }

    /// `<canonical sentence>: <context>`.
    pub fn after(kind: Kind, context: impl std::fmt::Display) -> Problem {
        Problem {
            kind,
            detail: format!("{}: {context}", kind.sentence()),
        }
    }

    /// A detail written out in full.
    pub fn exact(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
        }
    }

    pub fn malformed(context: impl std::fmt::Display) -> Problem {
        Problem::new(Kind::Malformed, context)
    }

    pub fn internal(context: impl std::fmt::Display) -> Problem {
        Problem::exact(Kind::ServerInternal, context.to_string())
    }

    /// The problem object as it appears inside a challenge (`error`).
    pub fn to_json(&self) -> Value {
        json!({
            "type": format!("urn:ietf:params:acme:error:{}", self.kind.id()),
            "detail": self.detail,
            "status": self.kind.status(),
        })
    }

    /// The response: `application/problem+json`, Vault's status.
    pub fn into_response(self) -> Response {
        let body = json!({
            "type": format!("urn:ietf:params:acme:error:{}", self.kind.id()),
            "detail": self.detail,
        });
        Response::raw(
            self.kind.status(),
            "application/problem+json",
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    }
}

/// A storage or signing failure below the ACME layer: a client error
/// stays one (`malformed`), anything else is `serverInternal`.
impl From<Error> for Problem {
    fn from(err: Error) -> Problem {
        match err {
            Error::BadRequest(msg) => Problem::after(Kind::Malformed, msg),
            other => Problem::internal(other),
        }
    }
}

impl From<crate::storage::StorageError> for Problem {
    fn from(err: crate::storage::StorageError) -> Problem {
        Problem::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_vaults() {
        assert_eq!(Kind::OrderNotReady.status(), 403);
        assert_eq!(Kind::Unauthorized.status(), 401);
        assert_eq!(Kind::BadNonce.status(), 400);
        assert_eq!(Kind::ServerInternal.status(), 500);
    }

    #[test]
    fn a_bad_nonce_reads_as_in_vault() {
        let p = Problem::new(Kind::BadNonce, "invalid or reused nonce");
        assert_eq!(
            p.detail,
            "invalid or reused nonce: the client sent an unacceptable anti-replay nonce"
        );
    }
}
