//! `sys/ha-status`: the nodes of an HA cluster as the active knows them
//! (itself, then each standby that echoed lately, with when it did); a
//! server without HA lists itself alone. A standby forwards the request.

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::core::ha::{hostname, HaNode};
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Request, Response, Result};
use crate::util::gotime::rfc3339_nano;

pub(super) const PATHS: &[Path<SystemBackend>] =
    &[Path::new("ha-status").read(handler!(ha_status))];

async fn ha_status(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let nodes: Vec<Value> = match core.ha() {
        Some(ha) => ha.nodes().iter().map(node_json).collect(),
        None => vec![json!({
            "hostname": hostname(),
            "api_address": "",
            "cluster_address": "",
            "active_node": true,
            "last_echo": null,
            "version": crate::VAULT_VERSION,
        })],
    };
    let mut data = Map::new();
    data.insert("nodes".into(), Value::Array(nodes));
    Ok(Some(Response::data(data)))
}

fn node_json(node: &HaNode) -> Value {
    json!({
        "hostname": node.node.hostname,
        "api_address": node.node.api_address,
        "cluster_address": node.node.cluster_address,
        "active_node": node.active_node,
        // Go's `time.Time` in JSON: RFC 3339 with nanoseconds.
        "last_echo": node
            .last_echo
            .and_then(|at| rfc3339_nano(at.unix_timestamp_nanos() as i64)),
        "version": node.node.version,
    })
}
