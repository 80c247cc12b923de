//! Limits on the complexity of a JSON request body, checked by a scan that
//! builds nothing before the body is parsed into a `Value`: a small body
//! can otherwise expand into a huge tree (26 MiB of `"a",` is 7 million
//! strings, over half a gigabyte once parsed), and Vault checks these limits
//! before it authenticates the request.
//!
//! Two families of listener options, each with its server's documented
//! default; a body must stay within all of them:
//! - OpenBao's `max_request_json_memory` (an estimate of the parsed size,
//!   with OpenBao's cost per token) and `max_request_json_strings` (keys and
//!   values): <https://openbao.org/docs/configuration/listener/tcp/>;
//! - Vault's `max_json_depth`, `max_json_string_value_length`,
//!   `max_json_object_entry_count`, `max_json_array_element_count` and
//!   `max_json_token`:
//!   <https://developer.hashicorp.com/vault/docs/configuration/listener/tcp>.
//!
//! The scan is serde_json's own tokenizer driven by a visitor that only
//! counts, so a body it passes is valid JSON within the limits, and a body
//! it refuses for its syntax gets serde_json's message as before. Whatever
//! `max_json_depth` says, serde_json itself refuses to nest deeper than 127
//! levels (its guard for the stack).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The limits of one listener; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// `max_request_json_memory`: estimated bytes once parsed.
    pub max_memory: Option<u64>,
    /// `max_request_json_strings`: strings, object keys included.
    pub max_strings: Option<u64>,
    /// `max_json_depth`: nested objects and arrays.
    pub max_depth: Option<u64>,
    /// `max_json_string_value_length`: bytes of one string or key.
    pub max_string_length: Option<u64>,
    /// `max_json_object_entry_count`: entries of one object.
    pub max_object_entries: Option<u64>,
    /// `max_json_array_element_count`: elements of one array.
    pub max_array_elements: Option<u64>,
    /// `max_json_token`: tokens of the whole body (values, keys,
    /// brackets, commas and colons).
    pub max_tokens: Option<u64>,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_memory: Some(32 * 1024 * 1024 + 512 * 1024),
            max_strings: Some(1000),
            max_depth: Some(500),
            max_string_length: Some(1024 * 1024),
            max_object_entries: Some(10_000),
            max_array_elements: Some(10_000),
            max_tokens: Some(500_000),
        }
    }
}

/// The limit a body went over; its text is the one the reference server
/// answers (OpenBao's for its options, Vault's for Vault's), always as a
/// 400: it is the client's input that is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Memory,
    Strings,
    Depth,
    StringLength,
    ObjectEntries,
    ArrayElements,
    Tokens,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exceeded::Memory => {
                "refused JSON input due to high complexity: exceeded maximum estimated memory limits"
            }
            Exceeded::Strings => {
                "refused JSON input due to high complexity: exceeded maximum number of strings"
            }
            Exceeded::Depth => "JSON input exceeds allowed nesting depth",
            Exceeded::StringLength => "JSON string value exceeds allowed length",
            Exceeded::ObjectEntries => "JSON object exceeds allowed entry count",
            Exceeded::ArrayElements => "JSON array exceeds allowed element count",
            Exceeded::Tokens => "JSON payload exceeds allowed token count",
        })
    }
}

/// What the scan found wrong, if anything.
#[derive(Debug)]
pub enum Refusal {
    Exceeded(Exceeded),
    /// Not JSON: serde_json's own error.
    Syntax(serde_json::Error),
}

/// OpenBao's estimate of what each token costs once parsed: a pointer and
/// a type word for every value, plus the value's own size.
mod cost {
    pub const BASE: u64 = 16;
    pub const NULL: u64 = BASE + 1;
    pub const BOOL: u64 = BASE + 1;
    pub const NUMBER: u64 = BASE + 8;
    pub const STRING: u64 = BASE + 16;
    pub const ARRAY: u64 = BASE + 24;
    pub const OBJECT: u64 = BASE + 72;
}

impl JsonLimits {
    /// Scans `body` without building it; `Ok` means it parses within the
    /// limits.
    pub fn check(&self, body: &[u8]) -> Result<(), Refusal> {
        let mut tally = Tally {
            limits: self,
            memory: 0,
            strings: 0,
            tokens: 0,
            depth: 0,
            exceeded: None,
        };
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let scanned = Node(&mut tally)
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end());
        match (scanned, tally.exceeded) {
            (_, Some(exceeded)) => Err(Refusal::Exceeded(exceeded)),
            (Err(err), None) => Err(Refusal::Syntax(err)),
            (Ok(()), None) => Ok(()),
        }
    }
}

/// Running totals of one scan.
struct Tally<'l> {
    limits: &'l JsonLimits,
    memory: u64,
    strings: u64,
    tokens: u64,
    depth: u64,
    /// Set when a limit trips; the scan then unwinds with a placeholder
    /// error that this replaces.
    exceeded: Option<Exceeded>,
}

fn over(count: u64, limit: Option<u64>) -> bool {
    limit.is_some_and(|limit| count > limit)
}

impl Tally<'_> {
    fn trip<E: de::Error>(&mut self, exceeded: Exceeded) -> Result<(), E> {
        self.exceeded = Some(exceeded);
        Err(E::custom(exceeded))
    }

    /// One token (`tokens` of them) costing `memory`.
    fn token<E: de::Error>(&mut self, memory: u64, tokens: u64) -> Result<(), E> {
        self.tokens += tokens;
        if over(self.tokens, self.limits.max_tokens) {
            return self.trip(Exceeded::Tokens);
        }
        self.memory += memory;
        if over(self.memory, self.limits.max_memory) {
            return self.trip(Exceeded::Memory);
        }
        Ok(())
    }

    fn string<E: de::Error>(&mut self, len: usize) -> Result<(), E> {
        let len = len as u64;
        if over(len, self.limits.max_string_length) {
            return self.trip(Exceeded::StringLength);
        }
        self.strings += 1;
        if over(self.strings, self.limits.max_strings) {
            return self.trip(Exceeded::Strings);
        }
        self.token(cost::STRING + len, 1)
    }

    /// An opening bracket; its closing one is counted by [`Tally::close`].
    fn open<E: de::Error>(&mut self, memory: u64) -> Result<(), E> {
        self.depth += 1;
        if over(self.depth, self.limits.max_depth) {
            return self.trip(Exceeded::Depth);
        }
        self.token(memory, 1)
    }

    fn close<E: de::Error>(&mut self) -> Result<(), E> {
        self.depth -= 1;
        self.token(0, 1)
    }

    /// The `n`th entry of a container (from 1): a comma before all but the
    /// first.
    fn entry<E: de::Error>(
        &mut self,
        n: u64,
        limit: Option<u64>,
        too_many: Exceeded,
    ) -> Result<(), E> {
        if over(n, limit) {
            return self.trip(too_many);
        }
        if n > 1 {
            self.token(0, 1)?;
        }
        Ok(())
    }
}

/// Scans one value.
struct Node<'t, 'l>(&'t mut Tally<'l>);

/// Scans one object key (a string, and the colon after it).
struct Key<'t, 'l>(&'t mut Tally<'l>);

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        self.0.string(key.len())?;
        self.0.token(0, 1)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.token(cost::NULL, 1)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.token(cost::BOOL, 1)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.token(cost::NUMBER, 1)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.0.token(cost::NUMBER, 1)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.token(cost::NUMBER, 1)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.0.string(value.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tally = self.0;
        tally.open(cost::ARRAY)?;
        let limit = tally.limits.max_array_elements;
        let mut n = 0;
        while seq.next_element_seed(Node(tally))?.is_some() {
            n += 1;
            tally.entry(n, limit, Exceeded::ArrayElements)?;
        }
        tally.close()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let tally = self.0;
        tally.open(cost::OBJECT)?;
        let limit = tally.limits.max_object_entries;
        let mut n = 0;
        while map.next_key_seed(Key(tally))?.is_some() {
            n += 1;
            tally.entry(n, limit, Exceeded::ObjectEntries)?;
            map.next_value_seed(Node(tally))?;
        }
        tally.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited() -> JsonLimits {
        JsonLimits {
            max_memory: None,
            max_strings: None,
            max_depth: None,
            max_string_length: None,
            max_object_entries: None,
            max_array_elements: None,
            max_tokens: None,
        }
    }

    fn verdict(limits: JsonLimits, body: &str) -> Option<Exceeded> {
        match limits.check(body.as_bytes()) {
            Ok(()) => None,
            Err(Refusal::Exceeded(exceeded)) => Some(exceeded),
            Err(Refusal::Syntax(err)) => panic!("{body}: {err}"),
        }
    }

    fn array_of(item: &str, n: usize) -> String {
        format!("{{\"a\":[{}]}}", vec![item; n].join(","))
    }

    #[test]
    fn strings_count_keys_and_values() {
        let limits = JsonLimits {
            max_strings: Some(1000),
            ..unlimited()
        };
        // One key and 999 values: 1000 strings.
        assert_eq!(verdict(limits, &array_of("\"a\"", 999)), None);
        assert_eq!(
            verdict(limits, &array_of("\"a\"", 1000)),
            Some(Exceeded::Strings)
        );
    }

    #[test]
    fn memory_is_estimated_with_openbaos_costs() {
        // `{"a":[{},…]}`: 88 for the outer object, 33 for the key, 40 for
        // the array and 88 per empty object; OpenBao 2.7.2 takes 387256
        // objects under the default limit and refuses 387257.
        let limits = JsonLimits {
            max_memory: JsonLimits::default().max_memory,
            ..unlimited()
        };
        assert_eq!(verdict(limits, &array_of("{}", 387_256)), None);
        assert_eq!(
            verdict(limits, &array_of("{}", 387_257)),
            Some(Exceeded::Memory)
        );
        // Strings cost their decoded length.
        let small = JsonLimits {
            max_memory: Some(88 + 33 + 32 + 1),
            ..unlimited()
        };
        assert_eq!(verdict(small, r#"{"a":"\u00e9"}"#), Some(Exceeded::Memory));
        assert_eq!(verdict(small, r#"{"a":"\n"}"#), None);
    }

    #[test]
    fn vaults_limits() {
        let limits = JsonLimits {
            max_depth: Some(3),
            max_string_length: Some(4),
            max_object_entries: Some(2),
            max_array_elements: Some(2),
            max_tokens: Some(13),
            ..unlimited()
        };
        assert_eq!(verdict(limits, r#"{"a":[[]]}"#), None);
        assert_eq!(verdict(limits, r#"{"a":[[[]]]}"#), Some(Exceeded::Depth));
        assert_eq!(verdict(limits, r#"{"a":"abcd"}"#), None);
        assert_eq!(
            verdict(limits, r#"{"a":"abcde"}"#),
            Some(Exceeded::StringLength)
        );
        assert_eq!(
            verdict(limits, r#"{"abcde":1}"#),
            Some(Exceeded::StringLength)
        );
        assert_eq!(
            verdict(limits, r#"{"a":1,"b":2,"c":3}"#),
            Some(Exceeded::ObjectEntries)
        );
        assert_eq!(
            verdict(limits, r#"{"a":[1,2,3]}"#),
            Some(Exceeded::ArrayElements)
        );
        // { "a" : [ 1 , 2 ] , "b" : 3 } is 13 tokens, as Vault counts them.
        assert_eq!(verdict(limits, r#"{"a":[1,2],"b":3}"#), None);
        assert_eq!(
            verdict(limits, r#"{"a":[1,2],"b":[]}"#),
            Some(Exceeded::Tokens)
        );
    }

    #[test]
    fn the_first_limit_reached_is_the_one_reported() {
        // 7 million strings trip the string count long before the array's
        // element count, as on OpenBao.
        let body = array_of("\"a\"", 20_000);
        assert_eq!(
            verdict(JsonLimits::default(), &body),
            Some(Exceeded::Strings)
        );
    }

    #[test]
    fn syntax_errors_are_serde_jsons() {
        for body in ["{\"a\":", "{\"a\":1}x", "{a:1}", ""] {
            assert!(
                matches!(
                    JsonLimits::default().check(body.as_bytes()),
                    Err(Refusal::Syntax(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn unlimited_limits_accept_any_valid_json() {
        assert_eq!(verdict(unlimited(), &array_of("\"a\"", 50_000)), None);
    }
}
