//! Path items from a backend's declarations (`LogicalBackend::describe`):
//! one item per path, one operation per method, fields as a JSON body (or
//! as the query of a path that is only read), LIST as `GET ?list=true`,
//! the path's flags as Vault's `x-vault-*` extensions.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::document::{response_ref, ERRORS};
use super::prose::Prose;
use super::schema::field_schema;
use super::Mount;
use crate::core::mounts::MountClass;
use crate::logical::framework::{Answer, FieldKind, Fields, LogicalBackend, PathInfo};
use crate::logical::{special_path_matches, Operation};

/// Path parameter values naming what `tests/openapi/run` creates, so that a
/// fuzz run also reaches past "not found".
const PARAM_EXAMPLES: &[(&str, &str)] = &[
    ("role", "web"),
    ("role_name", "web"),
    ("issuer_ref", "default"),
    ("key_ref", "default"),
    ("exported", "internal"),
];

/// What each status of an answer of this media type means, where a path
/// answering it answers more than "the body, or nothing" (OCSP answers its
/// refusals as OCSP responses too).
const RAW_ANSWERS: &[(&str, &[(u16, &str)])] = &[(
    "application/ocsp-response",
    &[
        (
            200,
            "The signed OCSPResponse: good, revoked, or unknown (a certificate of no issuer of \
             the mount, signed by the default issuer).",
        ),
        (
            400,
            "malformedRequest (`30 03 0A 01 01`): the request cannot be read.",
        ),
        (
            401,
            "unauthorized (`30 03 0A 01 06`): OCSP is disabled (`config/crl`), the path is \
             unified OCSP, or no issuer may sign (`ocsp-signing` usage).",
        ),
        (500, "internalError (`30 03 0A 01 02`)."),
    ],
)];

/// What a request body of this media type is, where a path takes one
/// undecoded.
const RAW_BODIES: &[(&str, &str)] = &[(
    "application/ocsp-request",
    "The DER OCSPRequest (under 2048 bytes).",
)];

/// `issuer/:issuer_ref/sign/:role` → `issuer/{issuer_ref}/sign/{role}`.
pub fn template(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |s| match s.strip_prefix(':').or_else(|| s.strip_prefix('*')) {
                Some(name) => format!("{{{name}}}"),
                None => s.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// A concrete path a pattern serves (`roles/:name` → `roles/x`), to test
/// against the backend's root-protected patterns as Vault's generator does.
pub fn sample_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| if s.starts_with([':', '*']) { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Adds the items of every path of `backend` mounted as `mount`; the first
/// of two paths shown alike wins, as it wins the routing.
pub fn add_backend(
    mount: &Mount,
    backend: &dyn LogicalBackend,
    prose: &Prose,
    out: &mut BTreeMap<String, Value>,
) {
    for (info, operations) in backend.describe() {
        let pattern = template(info.pattern.as_str());
        let path = PathItem {
            mount,
            info: &info,
            operations: &operations,
            key: format!("/{}{pattern}", mount.default_prefix),
            sudo: special_path_matches(backend.root_paths(), &sample_path(info.pattern.as_str())),
            prose,
        };
        let shown = format!("/{}{pattern}", mount.shown_at);
        out.entry(shown).or_insert_with(|| path.item());
    }
}

/// One declared path, being described.
struct PathItem<'a> {
    mount: &'a Mount<'a>,
    info: &'a PathInfo,
    operations: &'a [Operation],
    /// Where the committed document shows it (the key of its prose).
    key: String,
    sudo: bool,
    prose: &'a Prose,
}

impl PathItem<'_> {
    fn serves(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    fn item(&self) -> Value {
        let mut item = Map::new();
        item.insert("x-vaultlet-mount-type".into(), json!(self.mount.spec_type));
        if let Some(description) = self.prose.description(&self.key) {
            item.insert("description".into(), json!(description));
        }
        if self.info.unauthenticated {
            item.insert("x-vault-unauthenticated".into(), json!(true));
        }
        if self.sudo {
            item.insert("x-vault-sudo".into(), json!(true));
        }
        let params = self.path_parameters();
        if !params.is_empty() {
            item.insert("parameters".into(), Value::Array(params));
        }
        let reads = self.serves(Operation::Read) || self.serves(Operation::List);
        if reads {
            item.insert("get".into(), self.get());
        }
        if self.serves(Operation::Update) {
            item.insert("post".into(), self.write("post"));
        }
        if self.serves(Operation::Patch) {
            item.insert("patch".into(), self.write("patch"));
        }
        if self.serves(Operation::Delete) {
            let mut op = self.operation("delete", "delete");
            op.insert("responses".into(), self.responses(success()));
            item.insert("delete".into(), Value::Object(op));
        }
        if self.serves(Operation::Header) {
            let mut op = self.operation("head", "head");
            op.insert("responses".into(), self.responses(success()));
            item.insert("head".into(), Value::Object(op));
        }
        Value::Object(item)
    }

    fn path_parameters(&self) -> Vec<Value> {
        let mut params = Vec::new();
        if let Some((name, current)) = &self.mount.parameter {
            params.push(json!({
                "name": name,
                "description": "Path that the backend was mounted at",
                "in": "path",
                "required": true,
                "schema": { "type": "string", "default": current },
            }));
        }
        for (name, rest) in self.info.pattern.captures() {
            let description = match self.prose.parameter(&self.key, name) {
                Some(text) => text.to_string(),
                None if rest => format!("`{name}` (the rest of the path)"),
                None => format!("`{name}` (one path segment)"),
            };
            let mut param = json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": description,
                "schema": { "type": "string" },
            });
            if let Some((_, example)) = PARAM_EXAMPLES.iter().find(|(n, _)| *n == name) {
                param["example"] = json!(example);
            }
            params.push(param);
        }
        params
    }

    /// An operation's head: its id, tag, security and summary.
    fn operation(&self, method: &str, verb: &str) -> Map<String, Value> {
        let bare: String = self
            .info
            .pattern
            .as_str()
            .chars()
            .filter(|c| !matches!(c, ':' | '*'))
            .collect();
        let slug = bare
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let slug = if slug.is_empty() { "root" } else { &slug };
        let tag = match (self.mount.spec_type, self.mount.class) {
            ("system", _) => "system",
            (_, MountClass::Auth) => "auth",
            (_, MountClass::Secret) => "secrets",
        };
        let mut op = Map::new();
        op.insert(
            "operationId".into(),
            json!(format!("{}-{verb}-{slug}", self.mount.spec_type)),
        );
        op.insert("tags".into(), json!([tag]));
        if self.info.unauthenticated {
            op.insert("security".into(), json!([{}, { "VaultToken": [] }]));
        }
        if let Some(summary) = self.prose.summary(&self.key, method) {
            op.insert("summary".into(), json!(summary));
        }
        op
    }

    fn get(&self) -> Value {
        let list_only = self.serves(Operation::List) && !self.serves(Operation::Read);
        let mut op = self.operation("get", if list_only { "list" } else { "read" });
        let mut query = Vec::new();
        if self.serves(Operation::List) {
            query.push(if list_only {
                json!({
                    "name": "list",
                    "in": "query",
                    "required": true,
                    "description": "Must be `true`: LIST (also sent as the `LIST` verb).",
                    "schema": { "type": "string", "enum": ["true"] },
                })
            } else {
                json!({
                    "name": "list",
                    "in": "query",
                    "required": false,
                    "description": "`true` lists instead of reading.",
                    "schema": { "type": "string", "enum": ["true", "false"] },
                })
            });
        }
        // Fields go in the query only where no body can carry them.
        if !self.serves(Operation::Update) {
            for (name, kind) in self.fields() {
                let prose = self.prose.field(&self.key, name, kind);
                let mut param = Map::new();
                param.insert("name".into(), json!(name));
                param.insert("in".into(), json!("query"));
                if let Some(description) = prose.and_then(|p| p.description.as_deref()) {
                    param.insert("description".into(), json!(description));
                }
                param.insert("schema".into(), Value::Object(field_schema(kind, prose)));
                query.push(Value::Object(param));
            }
        }
        if !query.is_empty() {
            op.insert("parameters".into(), Value::Array(query));
        }
        let answers = match self.info.answer {
            Answer::Document => BTreeMap::from([(
                200,
                json!({
                    "description": "the OpenAPI document (this document's form)",
                    "content": { "application/json": { "schema": { "type": "object" } } },
                }),
            )]),
            Answer::Raw(media) => raw_answers(media),
            Answer::Envelope if list_only => BTreeMap::from([(200, response_ref("List"))]),
            Answer::Envelope => BTreeMap::from([(200, response_ref("Data"))]),
        };
        op.insert("responses".into(), self.responses(answers));
        Value::Object(op)
    }

    /// `post` (JSON) or `patch` (JSON merge patch): the fields as the body.
    fn write(&self, method: &str) -> Value {
        let mut op = self.operation(method, if method == "post" { "write" } else { "patch" });
        let body = match self.info.raw_body {
            Some(media) if method == "post" => {
                let mut schema = json!({ "type": "string", "format": "binary" });
                if let Some((_, description)) = RAW_BODIES.iter().find(|(m, _)| *m == media) {
                    schema["description"] = json!(description);
                }
                Some(json!({ "required": true, "content": { media: { "schema": schema } } }))
            }
            _ => self.json_body(method),
        };
        if let Some(body) = body {
            op.insert("requestBody".into(), body);
        }
        let answers = match self.info.answer {
            Answer::Raw(media) => raw_answers(media),
            Answer::Envelope | Answer::Document => success(),
        };
        op.insert("responses".into(), self.responses(answers));
        Value::Object(op)
    }

    fn json_body(&self, method: &str) -> Option<Value> {
        let schema = match self.info.fields {
            Fields::Arbitrary => json!({ "type": "object" }),
            _ => {
                let mut properties = Map::new();
                for (name, kind) in self.fields() {
                    let prose = self.prose.field(&self.key, name, kind);
                    let mut schema = field_schema(kind, prose);
                    if let Some(description) = prose.and_then(|p| p.description.as_deref()) {
                        schema.insert("description".into(), json!(description));
                    }
                    properties.insert(name.to_string(), Value::Object(schema));
                }
                if properties.is_empty() {
                    return None;
                }
                json!({ "type": "object", "properties": properties })
            }
        };
        let media = match method {
            "patch" => "application/merge-patch+json",
            _ => "application/json",
        };
        Some(json!({ "required": false, "content": { media: { "schema": schema } } }))
    }

    /// The declared fields and their kinds.
    fn fields(&self) -> Vec<(&'static str, FieldKind)> {
        self.info.fields.iter().map(|f| (f.name, f.kind)).collect()
    }

    /// `answers`, then the errors the logical layer may answer (a path
    /// served without a token is never refused one), by status.
    fn responses(&self, mut answers: BTreeMap<u16, Value>) -> Value {
        for (status, name) in ERRORS {
            if *status == 403 && self.info.unauthenticated {
                continue;
            }
            answers.entry(*status).or_insert_with(|| response_ref(name));
        }
        Value::Object(
            answers
                .into_iter()
                .map(|(status, answer)| (status.to_string(), answer))
                .collect(),
        )
    }
}

/// Vault's envelope, or nothing.
fn success() -> BTreeMap<u16, Value> {
    BTreeMap::from([
        (200, response_ref("Data")),
        (204, response_ref("NoContent")),
    ])
}

fn raw_answers(media: &str) -> BTreeMap<u16, Value> {
    if let Some((_, statuses)) = RAW_ANSWERS.iter().find(|(m, _)| *m == media) {
        return statuses
            .iter()
            .map(|(status, description)| {
                let content =
                    json!({ media: { "schema": { "type": "string", "format": "binary" } } });
                (
                    *status,
                    json!({ "description": description, "content": content }),
                )
            })
            .collect();
    }
    BTreeMap::from([
        (
            200,
            json!({
                "description": "the raw body",
                "content": { media: { "schema": { "type": "string" } } },
            }),
        ),
        (
            204,
            json!({ "description": "nothing to return (no such issuer or CRL yet)" }),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler;
    use crate::logical::framework::{Backend, Capture, Field, Path};
    use crate::logical::{Request, Response, Result};

    #[test]
    fn patterns_become_templates_and_samples() {
        assert_eq!(
            template("issuer/:issuer_ref/sign/:role"),
            "issuer/{issuer_ref}/sign/{role}"
        );
        assert_eq!(template("ocsp/*req"), "ocsp/{req}");
        assert_eq!(template(""), "");
        assert_eq!(sample_path("revoke-orphan/:x/*rest"), "revoke-orphan/x/x");
    }

    struct Fake;

    async fn nothing(_: &Fake, _: &mut Request) -> Result<Option<Response>> {
        Ok(None)
    }

    const ROLE: &[Field] = &[Field::duration("ttl"), Field::list("domains")];

    #[async_trait::async_trait]
    impl Backend for Fake {
        const PATHS: &'static [&'static [Path<Self>]] = &[&[
            Path::new("ocsp")
                .unauthenticated()
                .raw_body("application/ocsp-request")
                .answers(Answer::Raw("application/ocsp-response"))
                .update(handler!(nothing)),
            Path::new("ocsp/*req")
                .unauthenticated()
                .answers(Answer::Raw("application/ocsp-response"))
                .read(handler!(nothing)),
            Path::new("ca/pem")
                .answers(Answer::Raw("application/pem-certificate-chain"))
                .read(handler!(nothing)),
            Path::new("roles").list(handler!(nothing)),
            Path::new("roles/:role")
                .captures(&[("role", Capture::Name)])
                .fields(&[ROLE])
                .read(handler!(nothing))
                .update(handler!(nothing))
                .delete(handler!(nothing)),
            Path::new("data/*path")
                .arbitrary_fields()
                .read(handler!(nothing))
                .update(handler!(nothing))
                .patch(handler!(nothing)),
            Path::new("spec")
                .answers(Answer::Document)
                .fields(&[&[Field::bool("generic")]])
                .read(handler!(nothing)),
            Path::new("revoke/:serial").update(handler!(nothing)),
        ]];
        const ROOT_PATHS: &'static [&'static str] = &["revoke/*"];
    }

    fn items(parameter: Option<(String, String)>) -> BTreeMap<String, Value> {
        let shown_at = match &parameter {
            Some((name, _)) => format!("{{{name}}}/"),
            None => "fake/".to_string(),
        };
        let mount = Mount {
            spec_type: "fake",
            class: MountClass::Secret,
            default_prefix: "fake/".into(),
            shown_at,
            parameter,
        };
        let prose = Prose::load().expect("descriptions.json");
        let mut out = BTreeMap::new();
        add_backend(&mount, &Fake, &prose, &mut out);
        out
    }

    fn statuses(op: &Value) -> Vec<&str> {
        op["responses"]
            .as_object()
            .map(|r| r.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn ocsp_takes_and_answers_der_and_refuses_no_token() {
        let items = items(None);
        let post = &items["/fake/ocsp"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/ocsp-request"]["schema"]["format"],
            "binary"
        );
        assert_eq!(post["requestBody"]["required"], true);
        assert_eq!(post["security"], json!([{}, { "VaultToken": [] }]));
        for op in [post, &items["/fake/ocsp/{req}"]["get"]] {
            assert_eq!(
                statuses(op),
                ["200", "400", "401", "404", "405", "500", "503"]
            );
            assert!(op["responses"]["401"]["content"]["application/ocsp-response"].is_object());
        }
        let req = &items["/fake/ocsp/{req}"]["parameters"][0];
        assert_eq!(req["description"], "`req` (the rest of the path)");
    }

    #[test]
    fn raw_bodies_and_the_document_are_not_envelopes() {
        let items = items(None);
        let pem = &items["/fake/ca/pem"]["get"];
        assert_eq!(
            statuses(pem),
            ["200", "204", "400", "403", "404", "405", "500", "503"]
        );
        assert!(
            pem["responses"]["200"]["content"]["application/pem-certificate-chain"].is_object()
        );
        let spec = &items["/fake/spec"]["get"];
        assert!(spec["responses"]["200"]["content"]["application/json"].is_object());
        // Read only: the fields are the query.
        assert_eq!(spec["parameters"][0]["name"], "generic");
        assert_eq!(
            spec["parameters"][0]["schema"],
            json!({ "type": "boolean" })
        );
    }

    #[test]
    fn operations_follow_the_declared_handlers_and_fields() {
        let items = items(None);
        let list = &items["/fake/roles"]["get"];
        assert_eq!(list["operationId"], "fake-list-roles");
        assert_eq!(list["parameters"][0]["required"], true);
        assert_eq!(list["responses"]["200"], response_ref("List"));

        let role = &items["/fake/roles/{role}"];
        assert_eq!(role["parameters"][0]["example"], "web");
        assert!(
            role["get"].get("parameters").is_none(),
            "fields go in the body"
        );
        let body = &role["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["properties"]["ttl"]["x-vaultlet-format"], "duration");
        assert_eq!(body["properties"]["domains"]["type"], "array");
        assert_eq!(statuses(&role["delete"])[..2], ["200", "204"]);
        assert!(role.get("patch").is_none());

        let data = &items["/fake/data/{path}"];
        assert_eq!(
            data["post"]["requestBody"]["content"]["application/json"]["schema"],
            json!({ "type": "object" })
        );
        assert!(
            data["patch"]["requestBody"]["content"]["application/merge-patch+json"].is_object()
        );

        assert_eq!(items["/fake/revoke/{serial}"]["x-vault-sudo"], true);
        assert!(items["/fake/roles/{role}"].get("x-vault-sudo").is_none());
    }

    #[test]
    fn generic_mount_paths_make_the_mount_a_parameter() {
        let items = items(Some(("fake_mount_path".into(), "fake".into())));
        let role = &items["/{fake_mount_path}/roles/{role}"];
        assert_eq!(role["parameters"][0]["name"], "fake_mount_path");
        assert_eq!(role["parameters"][0]["schema"]["default"], "fake");
        assert_eq!(role["parameters"][1]["name"], "role");
    }
}
