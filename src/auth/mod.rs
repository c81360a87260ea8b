//! Trusted clients: applications, their API keys, scopes and IP allowlists, who is calling and
//! from where, and how fast each key may go.

pub mod applications;
pub mod bearer;
pub mod caller;
pub mod client_addr;
pub mod keys;
pub mod last_used;
pub mod rate_limit;
pub mod scope;

pub use caller::{Authentication, Caller};
pub use scope::{Scope, Scopes};
