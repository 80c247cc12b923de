use serde_json::json;

use super::{parse, Value};

fn json_of(text: &str) -> serde_json::Value {
    parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .to_json()
}

fn error_of(text: &str) -> String {
    parse(text).expect_err(text).to_string()
}

#[test]
fn a_server_configuration_in_vaults_documented_layout() {
    let text = r#"
ui            = true
cluster_addr  = "https://127.0.0.1:8201"
api_addr      = "https://127.0.0.1:8200"
disable_mlock = true

storage "raft" {
  path    = "/var/lib/vault"
  node_id = "node1"
}

listener "tcp" {
  address       = "127.0.0.1:8200"
  tls_cert_file = "/etc/vault/cert.pem"
  tls_key_file  = "/etc/vault/key.pem"
}

telemetry {
  prometheus_retention_time = "30s"
  disable_hostname          = true
}
"#;
    let body = parse(text).unwrap();
    assert_eq!(body.attribute("ui"), Some(&Value::Bool(true)));
    let listener = body.items_named("listener").next().unwrap();
    assert_eq!(listener.labels(), ["tcp"]);
    assert_eq!(listener.line, 12);
    let settings = listener.value.as_object().unwrap();
    assert_eq!(
        settings.attribute("address").and_then(Value::as_text),
        Some("127.0.0.1:8200".into())
    );
    assert_eq!(
        json_of(text)["telemetry"],
        json!({"prometheus_retention_time": "30s", "disable_hostname": true})
    );
}

#[test]
fn several_items_on_one_line_as_hcl1_allows() {
    assert_eq!(
        json_of(r#"listener "tcp" { address = "127.0.0.1:8200" tls_disable = 1 }"#),
        json!({"listener": {"tcp": {"address": "127.0.0.1:8200", "tls_disable": 1}}})
    );
    assert_eq!(
        json_of(r#"path "a" { capabilities = ["read"], min_wrapping_ttl = "1s" } path "b" {}"#)
            ["path"],
        json!({"a": {"capabilities": ["read"], "min_wrapping_ttl": "1s"}, "b": {}})
    );
}

#[test]
fn values() {
    let text = r#"
int = 42
neg = -7
hex = 0x1F
octal = 017
float = 1.5
exp = 1e3
yes = true
list = [1, "two", [3], { four = 4 },]
empty = []
escaped = "a\tb\"c\u00e9\\"
templated = "${identity.entity.id} and ${ "quoted" }"
dotted.key-name = "x"
"quoted key" = "y"
"#;
    assert_eq!(
        json_of(text),
        json!({
            "int": 42, "neg": -7, "hex": 31, "octal": 15, "float": 1.5, "exp": 1000.0,
            "yes": true, "list": [1, "two", [3], {"four": 4}], "empty": [],
            "escaped": "a\tb\"c\u{e9}\\",
            "templated": "${identity.entity.id} and ${ \"quoted\" }",
            "dotted.key-name": "x", "quoted key": "y",
        })
    );
}

#[test]
fn comments_and_heredocs() {
    let text = "# hash\n// slashes\n/* block\n comment */ a = 1\nb = <<EOF\nline one\n  line two\nEOF\nc = <<-EOT\n    x\n      y\n    EOT\n";
    assert_eq!(
        json_of(text),
        json!({"a": 1, "b": "line one\n  line two\n", "c": "x\n  y\n"})
    );
}

#[test]
fn labels_nest_and_repeated_blocks_stay_in_order() {
    let body = parse("path \"a\" {}\npath \"b\" { x = 1 }\npath \"a\" { y = 2 }").unwrap();
    let paths: Vec<_> = body
        .items_named("path")
        .map(|i| i.labels()[0].as_str())
        .collect();
    assert_eq!(paths, ["a", "b", "a"]);
    assert_eq!(
        json_of("factor \"one\" \"two\" { k = 1 }\nfactor \"one\" \"three\" { k = 2 }"),
        json!({"factor": {"one": {"two": {"k": 1}, "three": {"k": 2}}}})
    );
}

#[test]
fn errors_read_as_hcl1s() {
    assert_eq!(
        error_of("path \"x\" {"),
        "At 1:12: object expected closing RBRACE got: EOF"
    );
    assert_eq!(
        error_of("path \"x\" { capabilities = [read] }"),
        "At 1:28: unexpected token while parsing list: IDENT"
    );
    assert_eq!(
        error_of("a \"b\" = 1"),
        "At 1:7: nested object expected: LBRACE got: ASSIGN"
    );
    assert_eq!(
        error_of("path \"x\""),
        "At 1:9: key 'path \"x\"' expected start of object ('{') or assignment ('=')"
    );
    assert_eq!(
        error_of("path \"x\" {\n\n"),
        "At 3:2: object expected closing RBRACE got: EOF"
    );
    assert_eq!(
        error_of("a = [1 2]"),
        "At 1:8: error parsing list, expected comma or list end, got: NUMBER"
    );
    assert_eq!(error_of("a = \"open"), "At 1:5: literal not terminated");
    assert_eq!(error_of("a = \"x\ny\""), "At 1:5: literal not terminated");
    assert_eq!(error_of("a = 1 /* open"), "At 1:7: comment not terminated");
    assert_eq!(
        error_of("a = <<EOF\nnever closed\n"),
        "At 1:5: heredoc not terminated"
    );
    assert_eq!(error_of("a = \"\\q\""), "At 1:6: unknown escape sequence");
    assert_eq!(error_of("a = 1 + 2"), "At 1:7: illegal char '+'");
    assert_eq!(
        error_of("= 1"),
        "At 1:1: expected to find at least one object key"
    );
    assert_eq!(
        error_of("}"),
        "At 1:1: expected: IDENT | STRING | ASSIGN | LBRACE got: RBRACE"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse(&deep).unwrap_err();
    assert!(err.too_deep, "{err}");
    let ok = format!(
        "a = {}{}",
        "[".repeat(super::MAX_NESTING),
        "]".repeat(super::MAX_NESTING)
    );
    assert!(parse(&ok).is_ok());
}

#[test]
fn arbitrary_text_never_panics() {
    let samples = [
        "",
        "{",
        "}",
        "[",
        "\"",
        "<<",
        "<<-",
        "<<EOF",
        "0x",
        "-",
        "1e",
        "1e+",
        "a.b.c = 1.2.3",
        "\\",
        "/",
        "/*",
        "a = \"${\"",
        "a = \"\\u12\"",
        "a = \"\\777\"",
        "é = 1",
        "a b c d {",
    ];
    for text in samples {
        let _ = parse(text);
    }
}
