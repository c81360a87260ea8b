//! The id of an event that arrives without one. It is derived from the event's content, so a
//! client that retries an identical event gets `DUPLICATE` instead of a second copy.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A 32-hex-digit id derived from session, type, payload and timestamp. Object keys are hashed
/// in sorted order, so `{"a":1,"b":2}` and `{"b":2,"a":1}` give the same id.
pub fn derive_event_id(
    session_id: &str,
    category: &str,
    name: &str,
    data: &Value,
    timestamp: &DateTime<Utc>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [session_id, category, name] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(timestamp.timestamp_micros().to_le_bytes());
    hash_canonical(&mut hasher, data);
    hex::encode(&hasher.finalize()[..16])
}

fn hash_canonical(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(b) => hasher.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            let text = n.to_string();
            hasher.update(b"#");
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        Value::String(s) => {
            hasher.update(b"s");
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update((items.len() as u64).to_le_bytes());
            items.iter().for_each(|item| hash_canonical(hasher, item));
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            hasher.update((keys.len() as u64).to_le_bytes());
            for key in keys {
                hasher.update((key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                hash_canonical(hasher, &map[key]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_content_same_id_whatever_the_key_order() {
        let at = DateTime::from_timestamp(1_609_492_527, 0).unwrap();
        let a = derive_event_id("s", "c", "n", &json!({"a": 1, "b": [1, {"x": null}]}), &at);
        let b = derive_event_id("s", "c", "n", &json!({"b": [1, {"x": null}], "a": 1}), &at);
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn any_difference_changes_the_id() {
        let at = DateTime::from_timestamp(1_609_492_527, 0).unwrap();
        let later = DateTime::from_timestamp_micros(1_609_492_527_000_001).unwrap();
        let base = derive_event_id("s", "c", "n", &json!({"a": 1}), &at);
        assert_ne!(base, derive_event_id("s2", "c", "n", &json!({"a": 1}), &at));
        assert_ne!(base, derive_event_id("s", "cn", "", &json!({"a": 1}), &at));
        assert_ne!(
            base,
            derive_event_id("s", "c", "n", &json!({"a": "1"}), &at)
        );
        assert_ne!(
            base,
            derive_event_id("s", "c", "n", &json!({"a": 1}), &later)
        );
    }
}
