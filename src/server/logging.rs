//! The server's log: Vault's `standard` lines or `json` lines shaped as
//! Vault's (hclog's `@level`, `@message`, `@module`, `@timestamp`, then the
//! event's fields as top-level keys). Colour only when stderr is a
//! terminal, as Vault: `kubectl logs`, files and pipes get plain text.

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// `log_format` (`-log-format`, `VAULT_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Standard,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    /// Vault's names, and its refusal of any other.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "standard" => Ok(LogFormat::Standard),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format: {other}")),
        }
    }
}

/// `log_level` (`-log-level`, `VAULT_LOG_LEVEL`): Vault's names with its
/// aliases (`notice`, `warning`, `err`) and its refusal of any other word,
/// or `target=level` directives ([`Targets`]: no span or field filters, so
/// no regex engine in the binary).
pub fn parse_level(text: &str) -> Result<Targets, String> {
    let text = text.trim().to_ascii_lowercase();
    let level = match text.as_str() {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "" | "notice" | "info" => Level::INFO,
        "warn" | "warning" => Level::WARN,
        "err" | "error" => Level::ERROR,
        directives if directives.contains('=') => {
            return directives
                .parse::<Targets>()
                .map_err(|_| format!("unknown log level: {directives}"));
        }
        other => return Err(format!("unknown log level: {other}")),
    };
    Ok(Targets::new().with_default(level))
}

/// Installs the global subscriber: `filter` (from [`parse_level`]) filters,
/// `format` shapes.
pub fn init(filter: Targets, format: LogFormat) {
    // The builder's own filter (INFO by default) lets everything through:
    // `filter` decides.
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Standard => builder.finish().with(filter).init(),
        LogFormat::Json => builder.event_format(JsonLine).finish().with(filter).init(),
    }
}

/// One JSON object per event, as hclog writes them.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", json_line(event, &now_rfc3339_micros()))
    }
}

fn json_line(event: &Event<'_>, timestamp: &str) -> String {
    let meta = event.metadata();
    let mut fields = Fields::default();
    event.record(&mut fields);
    let mut line = Map::new();
    line.insert(
        "@level".into(),
        Value::from(meta.level().as_str().to_ascii_lowercase()),
    );
    line.insert("@message".into(), Value::from(fields.message));
    line.insert("@module".into(), Value::from(module(meta.target())));
    line.insert("@timestamp".into(), Value::from(timestamp));
    for (key, value) in fields.rest {
        line.entry(key).or_insert(value);
    }
    Value::Object(line).to_string()
}

/// `vaultlet::core::pipeline` → `core.pipeline`: hclog's dotted sub-logger
/// names.
fn module(target: &str) -> String {
    let target = target.strip_prefix("vaultlet::").unwrap_or(target);
    target.replace("::", ".")
}

fn now_rfc3339_micros() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(String, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
        } else {
            self.rest.push((field.name().to_string(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_vaults() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("Standard".parse(), Ok(LogFormat::Standard));
        assert_eq!(
            "xml".parse::<LogFormat>(),
            Err("unknown log format: xml".to_string())
        );
    }

    #[test]
    fn levels_are_vaults_with_its_aliases() {
        let level = |text: &str| parse_level(text).map(|t| t.default_level());
        assert_eq!(level("Warning"), Ok(Some(LevelFilter::WARN)));
        assert_eq!(level("err"), Ok(Some(LevelFilter::ERROR)));
        assert_eq!(level("notice"), Ok(Some(LevelFilter::INFO)));
        assert_eq!(level(""), Ok(Some(LevelFilter::INFO)));
        assert_eq!(level("trace"), Ok(Some(LevelFilter::TRACE)));
        assert_eq!(level("loud"), Err("unknown log level: loud".to_string()));
        let directives = parse_level("info,vaultlet::core=debug").expect("directives");
        assert!(directives.would_enable("vaultlet::core::pipeline", &Level::DEBUG));
        assert!(!directives.would_enable("hyper::proto", &Level::DEBUG));
    }

    #[test]
    fn modules_are_dotted_without_the_crate() {
        assert_eq!(module("vaultlet::core::pipeline"), "core.pipeline");
        assert_eq!(module("hyper::proto"), "hyper.proto");
    }
}
