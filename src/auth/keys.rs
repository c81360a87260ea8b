//! API keys: random, high-entropy, shown once, stored only as a SHA-256 hash.
//!
//! A key looks like `eye_` followed by 64 hex digits (256 random bits). Its first 12 characters
//! are stored as a unique prefix: humans tell keys apart by it, and authentication finds the
//! row by it before comparing hashes in constant time (see [`super::caller`]).
//!
//! Rotation issues a second key with the same application and scopes and leaves the old one
//! working until it is revoked, so clients can switch without downtime.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};
use sha2::{Digest, Sha256};

use super::applications::{ensure_application, get as get_application};
use super::scope::Scopes;
use crate::entities::{api_keys, applications};
use crate::error::{AppError, AppResult};

/// The length of the stored, displayable prefix of a key.
pub const PREFIX_CHARS: usize = 12;

/// How often a new key's random prefix may collide with a stored one before giving up (a
/// collision among 32-bit prefixes is rare; three in a row means something else is wrong).
const PREFIX_ATTEMPTS: usize = 3;

/// A newly created key: the only moment its secret exists outside the client.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The secret, to show once.
    pub secret: String,
    /// The stored prefix.
    pub prefix: String,
    /// The key's row id.
    pub key_id: i32,
    /// The owning application.
    pub application_id: i32,
    /// The owning application's name.
    pub application_name: String,
    /// The key's scopes.
    pub scopes: Scopes,
}

/// What may be shown about a stored key: everything but its secret and hash.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Row id.
    pub id: i32,
    /// The first characters of the secret.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was last used, to within about a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The owning application.
    pub application_id: i32,
    /// The owning application's name.
    pub application_name: String,
}

/// The hex SHA-256 of a key, as stored.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("eye_{}", hex::encode(bytes))
}

/// Creates a key with `scopes` for the application `app_name` (created if needed).
pub async fn create_key(
    db: &impl ConnectionTrait,
    app_name: &str,
    scopes: Scopes,
) -> AppResult<NewKey> {
    check_scopes(scopes)?;
    let app = ensure_application(db, app_name).await?;
    issue_key(db, &app, scopes).await
}

/// Creates a key with `scopes` for the existing application `application_id`.
pub async fn create_key_for(
    db: &impl ConnectionTrait,
    application_id: i32,
    scopes: Scopes,
) -> AppResult<NewKey> {
    check_scopes(scopes)?;
    let app = get_application(db, application_id).await?;
    issue_key(db, &app, scopes).await
}

fn check_scopes(scopes: Scopes) -> AppResult<()> {
    if scopes == Scopes::default() {
        return Err(AppError::BadInput("a key needs at least one scope".into()));
    }
    Ok(())
}

async fn issue_key(
    db: &impl ConnectionTrait,
    app: &applications::Model,
    scopes: Scopes,
) -> AppResult<NewKey> {
    for _ in 0..PREFIX_ATTEMPTS {
        let secret = generate_secret();
        let prefix = secret[..PREFIX_CHARS].to_string();
        let key = api_keys::ActiveModel {
            application_id: Set(app.id),
            prefix: Set(prefix.clone()),
            key_hash: Set(hash_key(&secret)),
            scopes: Set(scopes.to_string()),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        let inserted = api_keys::Entity::insert(key).exec_with_returning(db).await;
        match inserted {
            Ok(key) => {
                return Ok(NewKey {
                    secret,
                    prefix,
                    key_id: key.id,
                    application_id: app.id,
                    application_name: app.name.clone(),
                    scopes,
                });
            }
            Err(err)
                if matches!(
                    err.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                tracing::warn!("a new key's prefix collided with a stored one; drawing again");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(AppError::internal(
        "issuing a key",
        anyhow::anyhow!("{PREFIX_ATTEMPTS} prefix collisions in a row"),
    ))
}

/// Keys, newest first, of one application or of all.
pub async fn list_keys(
    db: &impl ConnectionTrait,
    application_id: Option<i32>,
) -> AppResult<Vec<KeyInfo>> {
    let mut query = api_keys::Entity::find()
        .find_also_related(applications::Entity)
        .order_by_desc(api_keys::Column::Id);
    if let Some(id) = application_id {
        query = query.filter(api_keys::Column::ApplicationId.eq(id));
    }
    query.all(db).await?.into_iter().map(key_info).collect()
}

/// The key with row id `id`, or `BAD_USER_INPUT`.
pub async fn get_key(db: &impl ConnectionTrait, id: i32) -> AppResult<KeyInfo> {
    let missing = || format!("no API key has id {id}");
    one_key(db, api_keys::Column::Id.eq(id), missing).await
}

/// The key named by its row id (`12`) or its prefix (`eye_1a2b3c4d`), as the CLI takes it.
pub async fn find_key(db: &impl ConnectionTrait, reference: &str) -> AppResult<KeyInfo> {
    let reference = reference.trim();
    if let Ok(id) = reference.parse::<i32>() {
        return get_key(db, id).await;
    }
    let prefix = reference.get(..PREFIX_CHARS).unwrap_or(reference);
    let missing = || format!("no API key has prefix `{prefix}`");
    one_key(db, api_keys::Column::Prefix.eq(prefix), missing).await
}

/// The one key matching `condition`, with its application, or `BAD_USER_INPUT`.
async fn one_key(
    db: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
    missing: impl FnOnce() -> String,
) -> AppResult<KeyInfo> {
    api_keys::Entity::find()
        .filter(condition)
        .find_also_related(applications::Entity)
        .one(db)
        .await?
        .map(key_info)
        .transpose()?
        .ok_or_else(|| AppError::BadInput(missing()))
}

/// Revokes key `id`: refused from the next request on, on every instance (authentication reads
/// the key's row each time). Revoking a revoked key keeps the first revocation time.
pub async fn revoke_key(db: &impl ConnectionTrait, id: i32) -> AppResult<KeyInfo> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_keys::Column::Id.eq(id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    get_key(db, id).await
}

/// Issues a new key with the same application and scopes as key `id`; the old key keeps
/// working until it is revoked. A revoked key cannot be rotated.
pub async fn rotate_key(db: &impl ConnectionTrait, id: i32) -> AppResult<NewKey> {
    let old = get_key(db, id).await?;
    if old.revoked_at.is_some() {
        return Err(AppError::BadInput(format!(
            "API key {} is revoked; create a new key instead",
            old.prefix
        )));
    }
    let app = get_application(db, old.application_id).await?;
    issue_key(db, &app, old.scopes).await
}

/// Records that key `id` was used at `at`.
pub async fn mark_used(db: &impl ConnectionTrait, id: i32, at: DateTime<Utc>) -> AppResult<()> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedAt, Expr::value(at))
        .filter(api_keys::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

fn key_info((key, app): (api_keys::Model, Option<applications::Model>)) -> AppResult<KeyInfo> {
    let scopes =
        Scopes::parse(&key.scopes).map_err(|e| AppError::internal("reading a key's scopes", e))?;
    let app = app.ok_or_else(|| {
        AppError::internal(
            "reading a key's application",
            anyhow::anyhow!("key {} has no application", key.id),
        )
    })?;
    Ok(KeyInfo {
        id: key.id,
        prefix: key.prefix,
        scopes,
        created_at: key.created_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
        application_id: app.id,
        application_name: app.name,
    })
}

/// How many keys exist, revoked or not.
pub async fn count_keys(db: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(api_keys::Entity::find().count(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a.starts_with("eye_"));
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }
}
