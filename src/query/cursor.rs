//! Opaque pagination cursors: a timestamp and a tie-breaking row id, base64url-encoded. The
//! encoding is not a promise; clients only pass back what they were given.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult};

/// A position in a list ordered by (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The time of the row at this position.
    pub at: DateTime<Utc>,
    /// Its row id.
    pub id: i64,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.at.timestamp_micros(), self.id))
    }

    /// Parses what [`Cursor::encode`] produced.
    pub fn decode(text: &str) -> AppResult<Self> {
        let bad = || AppError::BadInput("`after` is not a cursor returned by this API".into());
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split(':');
        let (Some("v1"), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        Ok(Self { at, id })
    }
}

/// A position in a list of groups ordered by count (largest first), then key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountCursor {
    /// The count of the group at this position.
    pub count: i64,
    /// Its key.
    pub key: String,
}

impl CountCursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("c1:{}:{}", self.count, self.key))
    }

    /// Parses what [`CountCursor::encode`] produced.
    pub fn decode(text: &str) -> AppResult<Self> {
        let bad = || AppError::BadInput("`after` is not a cursor returned by this API".into());
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(3, ':');
        let (Some("c1"), Some(count), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let count: i64 = count.parse().map_err(|_| bad())?;
        Ok(Self {
            count,
            key: key.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_cursors_round_trip_keys_with_colons() {
        let cursor = CountCursor {
            count: 42,
            key: "a:b:c".into(),
        };
        assert_eq!(CountCursor::decode(&cursor.encode()).unwrap(), cursor);
        let event_cursor = Cursor {
            at: DateTime::from_timestamp_micros(0).unwrap(),
            id: 1,
        };
        for bad in [
            "",
            "!!",
            &event_cursor.encode(),
            &URL_SAFE_NO_PAD.encode("c1:x:k"),
        ] {
            assert_eq!(
                CountCursor::decode(bad).unwrap_err().code(),
                "BAD_USER_INPUT"
            );
        }
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_609_492_527_243_860).unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "!!", "djE6eDox", &URL_SAFE_NO_PAD.encode("v1:1:2:3")] {
            assert_eq!(Cursor::decode(bad).unwrap_err().code(), "BAD_USER_INPUT");
        }
    }
}
