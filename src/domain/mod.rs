//! Domain types that parse. Each is built once at the boundary from untrusted input by a
//! fallible constructor; code past the boundary can rely on what the type promises.

pub mod allowlist;
pub mod event_id;
pub mod fields;
pub mod rejection;
pub mod timestamp;

pub use allowlist::{Allowlist, AllowlistError};
pub use event_id::derive_event_id;
pub use fields::{BoundedText, FieldError};
pub use rejection::{Reason, ReasonCode};
pub use timestamp::{TimestampError, parse_timestamp};
