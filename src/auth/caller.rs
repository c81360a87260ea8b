//! The authenticated caller of a request, resolved once from its `Authorization` header.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::keys::hash_key;
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
    Invalid,
    Unavailable(String),
}

impl Authentication {
    /// Authenticates the value of an `Authorization` header (if any).
    pub async fn from_header(db: &DatabaseConnection, header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self(Err(AuthFailure::Missing));
        };
        let Some(key) = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
        else {
            return Self(Err(AuthFailure::Invalid));
        };
        match lookup(db, key.trim()).await {
            Ok(Some(caller)) => Self(Ok(caller)),
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
            Err(AuthFailure::Missing) => Err(AppError::Unauthenticated(
                "send an API key as `Authorization: Bearer <key>`".into(),
            )),
            Err(AuthFailure::Invalid) => Err(AppError::Unauthenticated(
                "the API key is not valid or has been revoked".into(),
            )),
            Err(AuthFailure::Unavailable(m)) => Err(AppError::Unavailable(m.clone())),
        }
    }
}

async fn lookup(db: &DatabaseConnection, key: &str) -> AppResult<Option<Caller>> {
    // Keys are 256-bit random values, so a hash lookup is safe: knowing a hash prefix tells an
    // attacker nothing usable, and no secret is ever compared byte by byte.
    let found = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(hash_key(key)))
        .filter(api_keys::Column::RevokedAt.is_null())
        .find_also_related(applications::Entity)
        .one(db)
        .await?;
    let Some((key, Some(app))) = found else {
        return Ok(None);
    };
    let scopes = Scopes::parse(&key.scopes)
        .map_err(|e| AppError::internal("reading a key's scopes", anyhow::anyhow!(e)))?;
    Ok(Some(Caller {
        key_id: key.id,
        application_id: app.id,
        application_name: app.name,
        scopes,
    }))
}
