//! Duration parsing (Go's `time.ParseDuration`, integer seconds, `Nd`) and
//! Go-style printing. Properties: no panic; accepted values are
//! non-negative and print back to a string that parses to the same value;
//! the `FieldData` getter agrees with the parser for strings and copes with
//! any JSON number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use vaultlet::logical::{parse_duration_seconds, FieldData, GoDuration};

fn field(value: Value) -> FieldData {
    let mut map = Map::new();
    map.insert("ttl".into(), value);
    FieldData::new(map)
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let n = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let printed = GoDuration(n).to_string();
        if n >= 0 {
            assert_eq!(parse_duration_seconds(&printed), Ok(n), "{printed}");
        }
        let _ = field(json!(n)).duration("ttl");
        let f = f64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        if let Some(number) = serde_json::Number::from_f64(f) {
            if let Ok(Some(secs)) = field(Value::Number(number)).duration("ttl") {
                assert!(secs >= 0);
            }
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = parse_duration_seconds(text);
    if let Ok(secs) = parsed {
        assert!(secs >= 0, "{text:?} gave {secs}");
        let printed = GoDuration(secs).to_string();
        assert_eq!(parse_duration_seconds(&printed), Ok(secs), "{text:?} → {printed}");
    }
    let via_field = field(Value::String(text.to_string())).duration("ttl");
    match (&parsed, via_field) {
        (Ok(a), Ok(Some(b))) => assert_eq!(*a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("parser {a:?} and getter {b:?} disagree on {text:?}"),
    }
});
