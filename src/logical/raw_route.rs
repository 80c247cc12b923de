//! Endpoints the HTTP layer answers itself, before routing and without a
//! token (Vault's `sys/health`, `sys/init`, `sys/seal-status`, ...), declared
//! as data next to their handlers so that the OpenAPI document describes
//! them as it describes a backend's paths.

use super::framework::Field;

/// One such endpoint (always answered without a token).
#[derive(Debug, Clone, Copy)]
pub struct RawRoute {
    /// Relative to `/v1/`: `sys/health`.
    pub path: &'static str,
    /// `GET`: its parameters come in the query.
    pub read: Option<RawOperation>,
    /// `HEAD` too: the `GET` answers without their bodies.
    pub head: bool,
    /// `PUT` and `POST` alike: their parameters come in a JSON body.
    pub write: Option<RawOperation>,
    /// `DELETE`.
    pub delete: Option<RawOperation>,
}

impl RawRoute {
    /// The HTTP methods answered.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.read.is_some() {
            methods.push("GET");
        }
        if self.head {
            methods.push("HEAD");
        }
        if self.write.is_some() {
            methods.extend(["PUT", "POST"]);
        }
        if self.delete.is_some() {
            methods.push("DELETE");
        }
        methods
    }
}

/// What one operation takes and answers.
#[derive(Debug, Clone, Copy)]
pub struct RawOperation {
    pub params: &'static [RawParam],
    pub answers: &'static [RawAnswer],
}

/// A parameter, and the value the handler takes when it is absent.
#[derive(Debug, Clone, Copy)]
pub struct RawParam {
    pub field: Field,
    pub default: Option<i64>,
}

impl RawParam {
    pub const fn new(field: Field) -> RawParam {
        RawParam {
            field,
            default: None,
        }
    }

    /// An integer parameter with its default.
    pub const fn int(name: &'static str, default: i64) -> RawParam {
        RawParam {
            field: Field::int(name),
            default: Some(default),
        }
    }
}

/// One status an operation answers.
#[derive(Debug, Clone, Copy)]
pub enum RawAnswer {
    /// A JSON body described by `schema`, a name under the document's
    /// `components/schemas`.
    Json {
        status: u16,
        description: &'static str,
        schema: &'static str,
    },
    /// Vault's error body (`{"errors": [...]}`) with this status.
    Error(u16),
    /// No body, with this status.
    Empty {
        status: u16,
        description: &'static str,
    },
}
