//! Structured log records: one JSON object per line.
//!
//! Callers add fields one by one; nothing in this crate ever adds a secret, an access token or
//! an `Authorization` header — tokens appear only as [`crate::token::fingerprint`]s.

use serde_json::Value;

/// The `component` field of every record the Action writes.
pub const COMPONENT: &str = "m2m-token-action";

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something degraded but the login goes on as designed.
    Warn,
    /// A failure that needs an operator.
    Error,
}

impl Level {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One log line, built fluently: `LogRecord::info("cache_hit").field("fingerprint", fp)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    level: Level,
    event: &'static str,
    fields: Vec<(&'static str, Value)>,
}

impl LogRecord {
    fn new(level: Level, event: &'static str) -> Self {
        LogRecord {
            level,
            event,
            fields: Vec::new(),
        }
    }

    /// An `info` record named `event`.
    pub fn info(event: &'static str) -> Self {
        Self::new(Level::Info, event)
    }

    /// A `warn` record named `event`.
    pub fn warn(event: &'static str) -> Self {
        Self::new(Level::Warn, event)
    }

    /// An `error` record named `event`.
    pub fn error(event: &'static str) -> Self {
        Self::new(Level::Error, event)
    }

    /// Adds a field.
    pub fn field(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.fields.push((key, value.into()));
        self
    }

    /// Severity.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Event name.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// A field's value, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The record as one line of JSON: `level`, `event`, `component`, then the fields in the
    /// order they were added. Serialised directly (no intermediate map): it runs on every login.
    pub fn to_json_line(&self) -> String {
        use serde::ser::{SerializeMap, Serializer};
        let mut line = Vec::with_capacity(96 + 32 * self.fields.len());
        let mut serializer = serde_json::Serializer::new(&mut line);
        let written = serializer
            .serialize_map(Some(3 + self.fields.len()))
            .and_then(|mut map| {
                map.serialize_entry("level", self.level.as_str())?;
                map.serialize_entry("event", self.event)?;
                map.serialize_entry("component", COMPONENT)?;
                for (key, value) in &self.fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            });
        // Writing `Value`s with string keys to memory cannot fail, and serde_json writes UTF-8.
        debug_assert!(written.is_ok());
        String::from_utf8(line).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_field_order_is_kept() {
        let line = LogRecord::info("x")
            .field("b", "quote \" backslash \\ newline \n nul \u{0} é")
            .field("a", serde_json::json!({"k": [1, null]}))
            .to_json_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["b"], "quote \" backslash \\ newline \n nul \u{0} é");
        assert_eq!(value["a"], serde_json::json!({"k": [1, null]}));
        assert!(line.find("\"b\"").unwrap() < line.find("\"a\"").unwrap());
        assert!(line.starts_with("{\"level\":\"info\",\"event\":\"x\",\"component\":"));
    }

    #[test]
    fn a_record_is_one_line_of_json_with_its_fields() {
        let line = LogRecord::warn("cache_write_failed")
            .field("code", "CacheValueSizeExceeded")
            .field("bytes", 5000)
            .to_json_line();
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "level": "warn",
                "event": "cache_write_failed",
                "component": COMPONENT,
                "code": "CacheValueSizeExceeded",
                "bytes": 5000,
            })
        );
    }
}
