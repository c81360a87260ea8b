//! Per-event validation: turns one event as sent into either a [`ValidEvent`] ready to store,
//! or a [`RejectedEvent`] listing every reason it was refused (not only the first), with the
//! event kept exactly as sent.

use std::io;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::registry::TypeMap;
use crate::config::{IngestSettings, Limits, UnknownEventTypes};
use crate::domain::timestamp::format_timestamp;
use crate::domain::{BoundedText, Reason, ReasonCode, derive_event_id, parse_timestamp};

/// One event as the client sent it. `timestamp` stays raw JSON so a malformed one rejects only
/// its event, not the whole request.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The client's idempotency key, if any.
    pub id: Option<String>,
    /// The session the event belongs to.
    pub session_id: String,
    /// The event's category.
    pub category: String,
    /// The event's name.
    pub name: String,
    /// The payload.
    pub data: Value,
    /// The time the event happened, unparsed.
    pub timestamp: Value,
}

/// An event that passed validation. Only [`Validator::validate`] makes one, so its fields keep
/// what was checked: text within its limits and free of NUL, `data` a JSON object within the
/// size and depth limits (and its type's schema), a timestamp in UTC not later than allowed.
#[derive(Debug, Clone)]
pub struct ValidEvent {
    /// The client's id (a checked [`BoundedText`]) or one derived from the content.
    event_id: String,
    session_id: BoundedText,
    category: BoundedText,
    name: BoundedText,
    data: Value,
    timestamp: DateTime<Utc>,
}

impl ValidEvent {
    /// The client's id, or one derived from the content.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }
    /// Session id.
    pub fn session_id(&self) -> &BoundedText {
        &self.session_id
    }
    /// Category.
    pub fn category(&self) -> &BoundedText {
        &self.category
    }
    /// Name.
    pub fn name(&self) -> &BoundedText {
        &self.name
    }
    /// Payload, a JSON object.
    pub fn data(&self) -> &Value {
        &self.data
    }
    /// When it happened, UTC, microseconds.
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.timestamp
    }
}

/// An event that did not pass, with everything needed to store it as an error.
#[derive(Debug, Clone)]
pub struct RejectedEvent {
    /// Position in the batch.
    pub index: usize,
    /// The client's id, as sent.
    pub event_id: Option<String>,
    /// Session id, as sent.
    pub session_id: String,
    /// Category, as sent.
    pub category: String,
    /// Name, as sent.
    pub name: String,
    /// The whole event as sent.
    pub payload: Value,
    /// Every reason.
    pub reasons: Vec<Reason>,
}

/// What validation needs to know, fixed for one batch.
pub struct Validator<'a> {
    /// Limits on fields and payloads.
    pub limits: &'a Limits,
    /// Unknown-type policy and timestamp skew.
    pub settings: &'a IngestSettings,
    /// Registered types.
    pub types: &'a TypeMap,
    /// When the batch arrived.
    pub received_at: DateTime<Utc>,
}

impl Validator<'_> {
    /// Validates the event at `index` of its batch.
    pub fn validate(&self, index: usize, raw: RawEvent) -> Result<ValidEvent, Box<RejectedEvent>> {
        let mut reasons = Vec::new();
        let limits = self.limits;
        let mut field = |name: &str, value: &str, max: usize| {
            BoundedText::parse(value, max)
                .map_err(|e| reasons.push(e.reason(name)))
                .ok()
        };
        let client_id = raw
            .id
            .as_deref()
            .map(|id| field("id", id, limits.max_event_id_chars));
        let session = field("sessionId", &raw.session_id, limits.max_session_id_chars);
        let category = field("category", &raw.category, limits.max_category_chars);
        let name = field("name", &raw.name, limits.max_name_chars);
        let timestamp = self.check_timestamp(index, &raw.timestamp, &mut reasons);
        let data_ok = self.check_data(&raw.data, &mut reasons);
        if data_ok && let (Some(category), Some(name)) = (&category, &name) {
            self.check_schema(category.as_str(), name.as_str(), &raw.data, &mut reasons);
        }
        match (reasons.is_empty(), session, category, name, timestamp) {
            (true, Some(session), Some(category), Some(name), Some(timestamp)) => {
                let event_id = match client_id.flatten() {
                    Some(id) => id.into_inner(),
                    None => derive_event_id(
                        session.as_str(),
                        category.as_str(),
                        name.as_str(),
                        &raw.data,
                        &timestamp,
                    ),
                };
                Ok(ValidEvent {
                    event_id,
                    session_id: session,
                    category,
                    name,
                    data: raw.data,
                    timestamp,
                })
            }
            _ => Err(Box::new(reject(index, raw, reasons))),
        }
    }

    fn check_timestamp(
        &self,
        index: usize,
        raw: &Value,
        reasons: &mut Vec<Reason>,
    ) -> Option<DateTime<Utc>> {
        let Value::String(text) = raw else {
            reasons.push(Reason::new(
                ReasonCode::InvalidTimestamp,
                format!(
                    "events[{index}].timestamp must be a string such as 2021-01-01T09:15:27.243860Z"
                ),
                "/timestamp",
            ));
            return None;
        };
        let at = match parse_timestamp(text) {
            Ok(at) => at,
            Err(e) => {
                let message = format!("events[{index}].timestamp {text:?} is not valid: {}", e.0);
                reasons.push(Reason::new(
                    ReasonCode::InvalidTimestamp,
                    message,
                    "/timestamp",
                ));
                return None;
            }
        };
        let skew = Duration::milliseconds(self.settings.max_future_skew_ms as i64);
        if at > self.received_at + skew {
            let message = format!(
                "`timestamp` {} is later than the time of receipt {} (allowed skew {} ms)",
                format_timestamp(&at),
                format_timestamp(&self.received_at),
                self.settings.max_future_skew_ms
            );
            reasons.push(Reason::new(
                ReasonCode::TimestampInFuture,
                message,
                "/timestamp",
            ));
            return None;
        }
        Some(at)
    }

    /// Checks shape, size, depth and characters; `false` when the schema need not be checked.
    fn check_data(&self, data: &Value, reasons: &mut Vec<Reason>) -> bool {
        let before = reasons.len();
        if !data.is_object() {
            reasons.push(Reason::new(
                ReasonCode::DataNotObject,
                format!("`data` must be a JSON object, not {}", json_kind(data)),
                "/data",
            ));
            return false;
        }
        let size = json_size(data);
        if size > self.limits.max_data_bytes {
            reasons.push(Reason::new(
                ReasonCode::DataTooLarge,
                format!(
                    "`data` is {size} bytes as JSON; the limit is {}",
                    self.limits.max_data_bytes
                ),
                "/data",
            ));
            return false;
        }
        let (depth, has_nul) = scan(data);
        if depth > self.limits.max_data_depth {
            reasons.push(Reason::new(
                ReasonCode::DataTooDeep,
                format!(
                    "`data` is nested {depth} levels deep; the limit is {}",
                    self.limits.max_data_depth
                ),
                "/data",
            ));
        }
        if has_nul {
            reasons.push(Reason::new(
                ReasonCode::InvalidCharacter,
                "`data` contains a NUL character, which cannot be stored",
                find_nul(data, "/data").unwrap_or_else(|| "/data".into()),
            ));
        }
        reasons.len() == before
    }

    fn check_schema(&self, category: &str, name: &str, data: &Value, reasons: &mut Vec<Reason>) {
        let key = (category.to_string(), name.to_string());
        let Some(registered) = self.types.get(&key) else {
            if self.settings.unknown_event_types == UnknownEventTypes::Reject {
                reasons.push(Reason::new(
                    ReasonCode::UnknownEventType,
                    format!("no event type `{category}` / `{name}` is registered"),
                    "/name",
                ));
            }
            return;
        };
        let Some(validator) = &registered.validator else {
            return;
        };
        if validator.is_valid(data) {
            return;
        }
        for error in validator.iter_errors(data) {
            reasons.extend(schema_reasons(&error));
        }
    }
}

/// One reason per violation; `required` and `additionalProperties` point at the property
/// concerned rather than at the object that holds it.
fn schema_reasons(error: &jsonschema::ValidationError<'_>) -> Vec<Reason> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let base = format!("/data{}", error.instance_path().as_str());
    let message = error.to_string();
    let paths: Vec<String> = match error.kind() {
        Kind::Required { property } => vec![format!(
            "{base}/{}",
            escape_pointer(property.as_str().unwrap_or_default())
        )],
        Kind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|p| format!("{base}/{}", escape_pointer(p)))
            .collect(),
        _ => vec![base],
    };
    paths
        .into_iter()
        .map(|path| Reason::new(ReasonCode::SchemaViolation, message.clone(), path))
        .collect()
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn reject(index: usize, raw: RawEvent, reasons: Vec<Reason>) -> RejectedEvent {
    let mut payload = json!({
        "sessionId": raw.session_id,
        "category": raw.category,
        "name": raw.name,
        "data": raw.data,
        "timestamp": raw.timestamp,
    });
    if let Some(id) = &raw.id {
        payload["id"] = Value::String(id.clone());
    }
    RejectedEvent {
        index,
        event_id: raw.id,
        session_id: raw.session_id,
        category: raw.category,
        name: raw.name,
        payload,
        reasons,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The size of `value` as compact JSON, without building the text.
pub fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// The nesting depth of `value` (a scalar is 0, `{}` is 1) and whether any key or string in it
/// holds a NUL character. Allocates nothing: this runs for every event.
fn scan(value: &Value) -> (usize, bool) {
    match value {
        Value::Object(map) => map.iter().fold((1, false), |(depth, nul), (key, item)| {
            let (d, n) = scan(item);
            (depth.max(d + 1), nul || n || key.contains('\0'))
        }),
        Value::Array(items) => items.iter().fold((1, false), |(depth, nul), item| {
            let (d, n) = scan(item);
            (depth.max(d + 1), nul || n)
        }),
        Value::String(s) => (0, s.contains('\0')),
        _ => (0, false),
    }
}

/// The JSON Pointer (under `path`) of the first key or string holding a NUL character.
fn find_nul(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let item_path = format!("{path}/{}", escape_pointer(key));
            if key.contains('\0') {
                return Some(item_path);
            }
            find_nul(item, &item_path)
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, &format!("{path}/{i}"))),
        Value::String(s) if s.contains('\0') => Some(path.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_measures_depth_and_finds_nul() {
        assert_eq!(scan(&json!({})), (1, false));
        assert_eq!(scan(&json!({"a": {"b": [1]}})), (3, false));
        assert_eq!(scan(&json!({"a": ["x\0"]})), (2, true));
        assert_eq!(
            find_nul(&json!({"a": ["x", "y\0"]}), "/data").as_deref(),
            Some("/data/a/1")
        );
        assert_eq!(
            find_nul(&json!({"k/\0": 1}), "/data").as_deref(),
            Some("/data/k~1\0")
        );
    }

    #[test]
    fn json_size_is_the_compact_length() {
        let value = json!({"host": "a", "n": [1, 2]});
        assert_eq!(json_size(&value), serde_json::to_vec(&value).unwrap().len());
    }
}

/// Property tests (fuzzing with proptest): validation never panics, whatever it is given, and
/// every rejection says why and where. `PROPTEST_CASES` sets the number of cases.
#[cfg(test)]
mod properties {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::entities::event_types;
    use crate::ingest::registry::{RegisteredType, compile_schema};

    /// Small limits, so that generated values reach every branch.
    fn limits() -> Limits {
        Limits {
            max_data_bytes: 300,
            max_data_depth: 4,
            max_session_id_chars: 8,
            max_category_chars: 8,
            max_name_chars: 8,
            max_event_id_chars: 8,
            ..Limits::default()
        }
    }

    fn types() -> TypeMap {
        let schema = json!({
            "type": "object",
            "properties": { "host": { "type": "string", "minLength": 1 }, "a/b~c": { "type": "integer" } },
            "required": ["host"],
            "additionalProperties": false
        });
        let model = event_types::Model {
            id: 1,
            category: "c".into(),
            name: "n".into(),
            schema: Some(schema.clone()),
            description: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let registered = RegisteredType {
            model,
            validator: Some(compile_schema(&schema).unwrap()),
        };
        [(("c".to_string(), "n".to_string()), Arc::new(registered))]
            .into_iter()
            .collect()
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("c".to_string()),
            Just("n".to_string()),
            Just(String::new()),
            "[a-z\\x00 ~/é]{0,12}",
            any::<String>(),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(8, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn timestamp() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("2021-01-01T00:00:00Z")),
            Just(json!("2999-01-01T00:00:00Z")),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,10})?"
                .prop_map(Value::String),
            json_value(),
        ]
    }

    fn raw_event() -> impl Strategy<Value = RawEvent> {
        (
            proptest::option::of(text()),
            text(),
            text(),
            text(),
            json_value(),
            timestamp(),
        )
            .prop_map(
                |(id, session_id, category, name, data, timestamp)| RawEvent {
                    id,
                    session_id,
                    category,
                    name,
                    data,
                    timestamp,
                },
            )
    }

    /// A JSON Pointer: empty, or `/`-separated segments in which `~` only starts `~0` or `~1`.
    fn is_json_pointer(path: &str) -> bool {
        path.is_empty()
            || path.starts_with('/')
                && path[1..].split('/').all(|segment| {
                    let mut chars = segment.chars();
                    while let Some(c) = chars.next() {
                        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                            return false;
                        }
                    }
                    true
                })
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_every_rejection_says_where(raw in raw_event()) {
            let limits = limits();
            let settings = IngestSettings::default();
            let types = types();
            let received_at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let validator = Validator { limits: &limits, settings: &settings, types: &types, received_at };
            match validator.validate(3, raw.clone()) {
                Ok(event) => {
                    prop_assert!(event.data.is_object());
                    prop_assert!(event.timestamp <= received_at + Duration::minutes(5));
                    prop_assert!(event.session_id.as_str().chars().count() <= 8);
                    prop_assert!(event.event_id.chars().count() <= 64);
                    prop_assert!(!event.session_id.as_str().contains('\0'));
                }
                Err(rejected) => {
                    prop_assert_eq!(rejected.index, 3);
                    prop_assert!(!rejected.reasons.is_empty());
                    for reason in &rejected.reasons {
                        let path = reason.path.as_deref().unwrap_or("<none>");
                        prop_assert!(is_json_pointer(path) && !path.is_empty(), "{:?}", reason);
                        prop_assert!(!reason.message.is_empty());
                    }
                    prop_assert_eq!(&rejected.payload["data"], &raw.data);
                }
            }
        }
    }
}
