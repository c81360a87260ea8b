//! The authenticated caller of a request, resolved once from its `Authorization` header and
//! the client's address.
//!
//! The key's row is found by its stored prefix, then the SHA-256 of the presented key is
//! compared with the stored hash in constant time. An unknown prefix is compared against a
//! dummy hash, so an unknown key, a wrong secret and a revoked key take the same path and get
//! the same `UNAUTHENTICATED` answer; only a header that cannot hold a key at all is told what is
//! wrong with its form ([`super::bearer`]). The row is read on every request, so a revocation or an
//! allowlist change applies at once on every instance.

use std::net::IpAddr;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use subtle::ConstantTimeEq;

use super::applications::allowlist_of;
use super::bearer::{EXPECTED_FORM, MalformedHeader, bearer_key};
use super::keys::{PREFIX_CHARS, hash_key};
use super::scope::{Scope, Scopes};
use crate::entities::{api_keys, applications};
use crate::error::{AppError, AppResult};

/// A request made with a valid, unrevoked key.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's row id.
    pub key_id: i32,
    /// The application the key belongs to.
    pub application_id: i32,
    /// That application's name.
    pub application_name: String,
    /// What the key may do.
    pub scopes: Scopes,
}

/// The outcome of authenticating a request; resolvers ask it for a scope.
#[derive(Debug, Clone)]
pub struct Authentication(Result<Caller, AuthFailure>);

#[derive(Debug, Clone)]
enum AuthFailure {
    Missing,
    Malformed(MalformedHeader),
    Invalid,
    AddressNotAllowed,
    Unavailable(String),
}

impl Authentication {
    /// Authenticates the value of an `Authorization` header (if any) sent from `client`.
    pub async fn from_header(
        db: &DatabaseConnection,
        header: Option<&str>,
        client: IpAddr,
    ) -> Self {
        let Some(header) = header else {
            return Self(Err(AuthFailure::Missing));
        };
        let key = match bearer_key(header) {
            Ok(key) => key,
            Err(malformed) => return Self(Err(AuthFailure::Malformed(malformed))),
        };
        match lookup(db, key).await {
            Ok(Some((caller, allowlist))) => match allowlist {
                Some(list) if !list.allows(client) => {
                    tracing::info!(key_id = caller.key_id, %client, "key used from outside its allowlist");
                    Self(Err(AuthFailure::AddressNotAllowed))
                }
                _ => Self(Ok(caller)),
            },
            Ok(None) => Self(Err(AuthFailure::Invalid)),
            Err(err) => {
                let message = match err {
                    AppError::Unavailable(m) => m,
                    other => {
                        tracing::error!(error = ?other, "authenticating a request failed");
                        "authentication is unavailable; retry later".into()
                    }
                };
                Self(Err(AuthFailure::Unavailable(message)))
            }
        }
    }

    /// The caller, if authentication succeeded (whatever its scopes).
    pub fn caller(&self) -> Option<&Caller> {
        self.0.as_ref().ok()
    }

    /// An authentication that succeeded for `caller` (for tests and internal calls).
    pub fn of(caller: Caller) -> Self {
        Self(Ok(caller))
    }

    /// The caller, if it holds `scope`.
    pub fn require(&self, scope: Scope) -> AppResult<&Caller> {
        match &self.0 {
            Ok(caller) if caller.scopes.allows(scope) => Ok(caller),
            Ok(_) => Err(AppError::Forbidden(format!(
                "this API key lacks the `{}` scope",
                scope.as_str()
            ))),
            Err(AuthFailure::Missing) => Err(AppError::Unauthenticated(format!(
                "send an API key as {EXPECTED_FORM}"
            ))),
            Err(AuthFailure::Malformed(malformed)) => {
                Err(AppError::Unauthenticated(malformed.message()))
            }
            Err(AuthFailure::Invalid) => Err(AppError::Unauthenticated(
                "the API key is not valid or has been revoked".into(),
            )),
            Err(AuthFailure::AddressNotAllowed) => Err(AppError::Forbidden(
                "this API key may not be used from this address".into(),
            )),
            Err(AuthFailure::Unavailable(m)) => Err(AppError::Unavailable(m.clone())),
        }
    }
}

/// Stands in for the stored hash when no key has the presented prefix, so that path compares
/// too.
const DUMMY_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

async fn lookup(
    db: &DatabaseConnection,
    key: &str,
) -> AppResult<Option<(Caller, Option<crate::domain::Allowlist>)>> {
    let presented = hash_key(key);
    let Some(prefix) = key.get(..PREFIX_CHARS) else {
        return Ok(None);
    };
    // The prefix is unique, so at most one row comes back; `all` rather than `one` because
    // `one` adds a bound `LIMIT ?`, which makes SQLite compile the statement again on every
    // execution (it plans with the bound value), and this statement runs on every request.
    let found = api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .find_also_related(applications::Entity)
        .all(db)
        .await?
        .into_iter()
        .next();
    let stored = found
        .as_ref()
        .map_or(DUMMY_HASH, |(k, _)| k.key_hash.as_str());
    let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
    let Some((key, Some(app))) = found.filter(|_| matches) else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    let scopes =
        Scopes::parse(&key.scopes).map_err(|e| AppError::internal("reading a key's scopes", e))?;
    let allowlist = allowlist_of(&app)?;
    let caller = Caller {
        key_id: key.id,
        application_id: app.id,
        application_name: app.name,
        scopes,
    };
    Ok(Some((caller, allowlist)))
}
