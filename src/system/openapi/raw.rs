//! Path items for the endpoints the HTTP layer answers itself (`sys/health`
//! and its neighbours), from their declarations next to their handlers.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::document::{error_ref, schema_ref};
use super::prose::Prose;
use super::schema::field_schema;
use crate::logical::raw_route::{RawAnswer, RawOperation, RawParam, RawRoute};

/// Adds an item for each of `routes`.
pub fn add_raw_routes(routes: &[RawRoute], prose: &Prose, out: &mut BTreeMap<String, Value>) {
    for route in routes {
        let path = format!("/{}", route.path);
        let mut item = Map::new();
        item.insert("x-vaultlet-mount-type".into(), json!("system"));
        if let Some(description) = prose.description(&path) {
            item.insert("description".into(), json!(description));
        }
        item.insert("x-vault-unauthenticated".into(), json!(true));
        let methods = [
            ("get", route.read),
            ("head", route.read.filter(|_| route.head)),
            ("put", route.write),
            ("post", route.write),
        ];
        for (method, operation) in methods {
            if let Some(operation) = operation {
                let op = Operation {
                    route,
                    path: &path,
                    method,
                    prose,
                };
                item.insert(method.into(), op.describe(&operation));
            }
        }
        out.insert(path, Value::Object(item));
    }
}

struct Operation<'a> {
    route: &'a RawRoute,
    path: &'a str,
    method: &'static str,
    prose: &'a Prose,
}

impl Operation<'_> {
    fn reads(&self) -> bool {
        matches!(self.method, "get" | "head")
    }

    fn describe(&self, operation: &RawOperation) -> Value {
        let name = self.route.path.trim_start_matches("sys/");
        let mut op = Map::new();
        op.insert(
            "operationId".into(),
            json!(format!("system-{}-{name}", self.method)),
        );
        op.insert("tags".into(), json!(["system"]));
        op.insert("security".into(), json!([{}]));
        if !operation.params.is_empty() {
            if self.reads() {
                let query: Vec<Value> = operation.params.iter().map(|p| self.query(p)).collect();
                op.insert("parameters".into(), Value::Array(query));
            } else {
                let properties: Map<String, Value> = operation
                    .params
                    .iter()
                    .map(|p| {
                        (
                            p.field.name.to_string(),
                            Value::Object(self.schema(p, true)),
                        )
                    })
                    .collect();
                op.insert(
                    "requestBody".into(),
                    json!({
                        "required": false,
                        "content": { "application/json": { "schema": {
                            "type": "object",
                            "properties": properties,
                        } } },
                    }),
                );
            }
        }
        let responses: Map<String, Value> = operation
            .answers
            .iter()
            .map(|answer| self.answer(answer))
            .collect();
        op.insert("responses".into(), Value::Object(responses));
        Value::Object(op)
    }

    fn query(&self, param: &RawParam) -> Value {
        let mut query = Map::new();
        query.insert("name".into(), json!(param.field.name));
        query.insert("in".into(), json!("query"));
        if let Some(description) = self.description(param) {
            query.insert("description".into(), json!(description));
        }
        query.insert("schema".into(), Value::Object(self.schema(param, false)));
        Value::Object(query)
    }

    fn description(&self, param: &RawParam) -> Option<&'static str> {
        self.prose
            .field(self.path, param.field.name, param.field.kind)
            .and_then(|p| p.description.as_deref())
    }

    fn schema(&self, param: &RawParam, described: bool) -> Map<String, Value> {
        let mut schema = field_schema(param.field.kind, None);
        if let Some(default) = param.default {
            schema.insert("default".into(), json!(default));
        }
        if let Some(description) = self.description(param).filter(|_| described) {
            schema.insert("description".into(), json!(description));
        }
        schema
    }

    fn answer(&self, answer: &RawAnswer) -> (String, Value) {
        match *answer {
            RawAnswer::Json {
                status,
                description,
                schema,
            } => {
                let mut response = json!({ "description": description });
                // HEAD answers the same statuses without the bodies.
                if self.method != "head" {
                    response["content"] =
                        json!({ "application/json": { "schema": schema_ref(schema) } });
                }
                (status.to_string(), response)
            }
            RawAnswer::Error(status) => (
                status.to_string(),
                error_ref(status).unwrap_or_else(|| json!({ "description": "an error" })),
            ),
        }
    }
}
