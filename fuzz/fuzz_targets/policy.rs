//! ACL policy parsing (HCL, JSON, base64 of either) and ACL matching.
//! Properties: no panic; parsing is deterministic; for every path a parsed
//! policy mentions (and variations of it), `allow` and `capabilities`
//! agree, and adding a policy that denies everything everywhere (by exact
//! rule on that path) denies it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use vaultlet::core::policy::{Acl, Capability, PathKind, Policy};

const OPS: [Capability; 6] = [
    Capability::Read,
    Capability::List,
    Capability::Create,
    Capability::Update,
    Capability::Patch,
    Capability::Delete,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::parse("fuzz", text) else { return };
    let again = Policy::parse("fuzz", text).expect("parses twice");
    assert_eq!(policy.rules(), again.rules(), "parsing is not deterministic");

    let acl = Acl::new(&[&policy], false);
    assert!(!acl.is_root());
    let mut paths: Vec<String> = vec![String::new(), "sys/mounts".into(), "secret/x".into()];
    for rule in policy.rules().iter().take(8) {
        let concrete = rule.path.replace('+', "seg").replace('*', "");
        paths.push(concrete.clone());
        paths.push(format!("{concrete}x"));
        paths.push(format!("{concrete}/"));
        paths.push(format!("/{concrete}/deeper/path"));
        if rule.kind == PathKind::Exact {
            paths.push(rule.path.clone());
        }
    }
    let mut empty = Map::new();
    let mut some = Map::new();
    some.insert("ttl".into(), Value::String("1h".into()));
    for path in &paths {
        let caps = acl.capabilities(path);
        assert!(!caps.is_empty());
        assert!(caps.windows(2).all(|w| w[0] < w[1]), "unsorted {caps:?}");
        if caps.iter().any(|c| c == "deny") {
            assert_eq!(caps, ["deny"], "deny must collapse");
        }
        for op in OPS {
            for data in [&mut empty, &mut some] {
                let decision = acl.allow(path, op, data);
                assert!(!decision.root);
                if op == Capability::List && decision.allowed {
                    // capabilities() looks a path up as a list does.
                    assert!(caps.iter().any(|c| c == "list"), "{path}: list allowed but caps {caps:?}");
                }
                if caps == ["deny"] {
                    let list_path = if path.ends_with('/') { path.clone() } else { format!("{path}/") };
                    assert!(!acl.allow(&list_path, Capability::List, data).allowed);
                }
            }
        }
        // An exact deny on the path beats every rule of this policy.
        let trimmed = path.trim_start_matches('/');
        if !trimmed.is_empty() && !trimmed.contains(['"', '\\', '*', '+', '{', '}', '$']) {
            let deny_text = format!("path \"{trimmed}\" {{ capabilities = [\"deny\"] }}");
            if let Ok(deny) = Policy::parse("deny", &deny_text) {
                let both = Acl::new(&[&policy, &deny], false);
                for op in OPS {
                    assert!(
                        !both.allow(trimmed, op, &empty).allowed,
                        "exact deny on {trimmed:?} did not deny {op:?}"
                    );
                }
            }
        }
    }
    let root = Acl::new(&[&policy], true);
    assert!(root.allow("anything", Capability::Sudo, &empty).allowed);
});
