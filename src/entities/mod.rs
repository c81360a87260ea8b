//! sea-orm entities, one file per table. The tables themselves (types, constraints, indexes)
//! are defined by the `migration` crate; these structs only describe rows to Rust.

pub mod api_keys;
pub mod applications;
pub mod erasures;
pub mod event_error_codes;
pub mod event_errors;
pub mod event_types;
pub mod events;
pub mod session_applications;
pub mod session_type_counts;
pub mod sessions;
pub mod type_counts_hourly;
