//! Go `flag`-package semantics, as Vault's CLI parses its flags: `-name`,
//! `--name`, `-name=value`, `-name value` (non-boolean flags only); parsing
//! stops at the first positional argument (or after `--`); a lone `-` is a
//! positional argument. Flags may take their default from an environment
//! variable, as Vault's `StringVar{EnvVar: …}` do.

use std::collections::HashMap;

use super::duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Str,
    /// Repeatable, each value trimmed (Vault's `StringSliceVar`).
    Slice,
    /// Repeatable, kept verbatim (e.g. `-options k=v`, `-metadata k=v`).
    Multi,
    Duration,
    Int,
}

#[derive(Clone, Debug)]
struct Def {
    name: &'static str,
    kind: Kind,
    env: Option<&'static str>,
    default: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Bool(bool),
    Str(String),
    List(Vec<String>),
    /// Seconds (Go's `time.Duration`, kept in whole nanoseconds would be
    /// overkill: every Vault duration flag is at least second-granular).
    Duration(i64),
    Int(i64),
}

#[derive(Debug, Default)]
pub struct FlagSet {
    defs: Vec<Def>,
    values: HashMap<&'static str, Val>,
    set: Vec<&'static str>,
    pub args: Vec<String>,
    /// `-format=raw` is accepted (only `vault read`).
    pub allow_raw: bool,
}

/// The HTTP options every client command accepts.
pub const HTTP_FLAGS: &[(&str, Kind, Option<&str>)] = &[
    ("address", Kind::Str, Some("VAULT_ADDR")),
    ("agent-address", Kind::Str, Some("VAULT_AGENT_ADDR")),
    ("ca-cert", Kind::Str, Some("VAULT_CACERT")),
    ("ca-path", Kind::Str, Some("VAULT_CAPATH")),
    ("client-cert", Kind::Str, Some("VAULT_CLIENT_CERT")),
    ("client-key", Kind::Str, Some("VAULT_CLIENT_KEY")),
    ("namespace", Kind::Str, Some("VAULT_NAMESPACE")),
    ("ns", Kind::Str, None),
    ("tls-server-name", Kind::Str, Some("VAULT_TLS_SERVER_NAME")),
    ("tls-skip-verify", Kind::Bool, Some("VAULT_SKIP_VERIFY")),
    (
        "disable-redirects",
        Kind::Bool,
        Some("VAULT_DISABLE_REDIRECTS"),
    ),
    ("policy-override", Kind::Bool, None),
    ("wrap-ttl", Kind::Duration, Some("VAULT_WRAP_TTL")),
    ("mfa", Kind::Slice, Some("VAULT_MFA")),
    ("output-curl-string", Kind::Bool, None),
    ("output-policy", Kind::Bool, None),
    ("unlock-key", Kind::Str, None),
    ("header", Kind::Multi, None),
    ("non-interactive", Kind::Bool, None),
];

impl FlagSet {
    pub fn new() -> FlagSet {
        let mut fs = FlagSet::default();
        for (name, kind, env) in HTTP_FLAGS {
            fs.add(name, *kind, *env, None);
        }
        fs
    }

    /// `-format` (with `VAULT_FORMAT`) and optionally `-field`.
    pub fn with_output(mut self, field: bool) -> FlagSet {
        self.add("format", Kind::Str, Some("VAULT_FORMAT"), Some("table"));
        if field {
            self.add("field", Kind::Str, None, None);
        }
        self
    }

    pub fn allow_raw(mut self) -> FlagSet {
        self.allow_raw = true;
        self
    }

    pub fn flag(mut self, name: &'static str, kind: Kind) -> FlagSet {
        self.add(name, kind, None, None);
        self
    }

    pub fn flag_default(
        mut self,
        name: &'static str,
        kind: Kind,
        default: &'static str,
    ) -> FlagSet {
        self.add(name, kind, None, Some(default));
        self
    }

    fn add(
        &mut self,
        name: &'static str,
        kind: Kind,
        env: Option<&'static str>,
        default: Option<&'static str>,
    ) {
        self.defs.retain(|d| d.name != name);
        self.defs.push(Def {
            name,
            kind,
            env,
            default,
        });
    }

    fn def(&self, name: &str) -> Option<&Def> {
        self.defs.iter().find(|d| d.name == name)
    }

    /// Parses `args`; the positional remainder lands in `self.args`. The
    /// error text is Go's.
    pub fn parse(mut self, args: &[String]) -> Result<FlagSet, String> {
        // Environment defaults first, as Go's flag defaults.
        for def in self.defs.clone() {
            let env_value = def
                .env
                .and_then(|e| std::env::var(e).ok())
                .filter(|v| !v.is_empty());
            let initial = env_value.as_deref().or(def.default);
            if let Some(raw) = initial {
                let val = convert(&def, raw, None)
                    .map_err(|_| format!("invalid value {raw:?} for flag -{}", def.name))?;
                self.values.insert(def.name, val);
            }
        }
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                i += 1;
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                break;
            }
            let body = arg
                .strip_prefix("--")
                .unwrap_or_else(|| &arg[1..])
                .to_string();
            if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
                return Err(format!("bad flag syntax: {arg}"));
            }
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.clone(), None),
            };
            let Some(def) = self.def(&name).cloned() else {
                if name == "h" || name == "help" {
                    return Err("flag: help requested".to_string());
                }
                return Err(format!("flag provided but not defined: -{name}"));
            };
            let value = match (def.kind, inline) {
                (Kind::Bool, None) => "true".to_string(),
                (_, Some(v)) => v,
                (_, None) => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => return Err(format!("flag needs an argument: -{name}")),
                    }
                }
            };
            let previous = if self.set.contains(&def.name) {
                self.values.get(def.name).cloned()
            } else {
                None
            };
            let val = convert(&def, &value, previous).map_err(|e| match def.kind {
                Kind::Bool => format!("invalid boolean value {value:?} for -{name}: {e}"),
                _ => format!("invalid value {value:?} for flag -{name}: {e}"),
            })?;
            self.values.insert(def.name, val);
            if !self.set.contains(&def.name) {
                self.set.push(def.name);
            }
            i += 1;
        }
        self.args = args[i..].to_vec();
        Ok(self)
    }

    /// Overrides a string flag's value (Vault's UI-level `-format`).
    pub fn set_str(&mut self, name: &'static str, value: &str) {
        self.values.insert(name, Val::Str(value.to_string()));
    }

    /// Sets a boolean flag (Vault's UI-level `-detailed`).
    pub fn set_bool(&mut self, name: &'static str) {
        self.values.insert(name, Val::Bool(true));
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.set.contains(&name)
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Val::Bool(true)))
    }

    pub fn str(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Val::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Val::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// Seconds; 0 when unset.
    pub fn duration(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Duration(d)) => *d,
            _ => 0,
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Int(n)) => *n,
            _ => 0,
        }
    }

    /// The output format (`-format`, else `VAULT_FORMAT`, else table),
    /// lower-cased as Vault does.
    pub fn format(&self) -> String {
        let f = self.str("format").to_lowercase();
        if f.is_empty() {
            "table".to_string()
        } else {
            f
        }
    }
}

fn convert(def: &Def, raw: &str, previous: Option<Val>) -> Result<Val, String> {
    Ok(match def.kind {
        Kind::Bool => Val::Bool(parse_go_bool(raw).ok_or_else(|| {
            format!(
                "strconv.ParseBool: parsing {}: invalid syntax",
                super::kv::go_quote(raw)
            )
        })?),
        Kind::Str => Val::Str(raw.to_string()),
        Kind::Slice | Kind::Multi => {
            let mut list = match previous {
                Some(Val::List(l)) => l,
                _ => Vec::new(),
            };
            if def.kind == Kind::Slice {
                list.push(raw.trim().to_string());
            } else {
                list.push(raw.to_string());
            }
            Val::List(list)
        }
        Kind::Duration => Val::Duration(duration::parse_duration_second(raw)?),
        Kind::Int => Val::Int(raw.trim().parse::<i64>().map_err(|e| e.to_string())?),
    })
}

/// `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(fs: FlagSet, args: &[&str]) -> Result<FlagSet, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        fs.parse(&args)
    }

    #[test]
    fn go_flag_forms_and_stop_at_first_positional() {
        let fs = FlagSet::new()
            .flag("force", Kind::Bool)
            .flag("path", Kind::Str)
            .flag("policy", Kind::Slice);
        let fs = parse(
            fs,
            &[
                "-force",
                "--path",
                "x",
                "-policy=a",
                "-policy=b,c",
                "p",
                "-path=y",
            ],
        )
        .unwrap();
        assert!(fs.bool("force"));
        assert_eq!(fs.str("path"), "x");
        assert_eq!(fs.list("policy"), ["a", "b,c"]);
        assert_eq!(fs.args, ["p", "-path=y"]);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_go_errors() {
        let err = parse(FlagSet::new(), &["-nope"]).unwrap_err();
        assert_eq!(err, "flag provided but not defined: -nope");
        let err = parse(FlagSet::new().flag("path", Kind::Str), &["-path"]).unwrap_err();
        assert_eq!(err, "flag needs an argument: -path");
    }

    #[test]
    fn durations_parse_like_parse_duration_second() {
        let fs = parse(FlagSet::new().flag("ttl", Kind::Duration), &["-ttl=87600h"]).unwrap();
        assert_eq!(fs.duration("ttl"), 87600 * 3600);
    }
}
