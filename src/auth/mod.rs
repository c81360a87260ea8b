//! Trusted clients: applications, their API keys and scopes, and who is calling.

pub mod caller;
pub mod keys;
pub mod scope;

pub use caller::{Authentication, Caller};
pub use scope::{Scope, Scopes};
