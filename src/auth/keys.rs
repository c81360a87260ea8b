//! API keys: random, high-entropy, shown once, stored only as a SHA-256 hash.
//!
//! A key looks like `eye_` followed by 64 hex digits (256 random bits). Its first 12 characters
//! are kept as a prefix so humans can tell keys apart without the secret.

use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

use super::scope::Scopes;
use crate::entities::{api_keys, applications};
use crate::error::{AppError, AppResult};

/// The length of the stored, displayable prefix of a key.
pub const PREFIX_CHARS: usize = 12;

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

/// The hex SHA-256 of a key, as stored.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("eye_{}", hex::encode(bytes))
}

/// Validates an application name: 1 to 128 characters, no control characters.
pub fn parse_app_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(AppError::BadInput(
            "an application name has 1 to 128 characters and no control characters".into(),
        ));
    }
    Ok(name.to_string())
}

/// Finds the application called `name`, creating it if it does not exist.
pub async fn ensure_application(
    db: &impl ConnectionTrait,
    name: &str,
) -> AppResult<applications::Model> {
    let name = parse_app_name(name)?;
    let existing = applications::Entity::find()
        .filter(applications::Column::Name.eq(&name))
        .one(db)
        .await?;
    if let Some(app) = existing {
        return Ok(app);
    }
    let app = applications::ActiveModel {
        name: Set(name),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    Ok(applications::Entity::insert(app)
        .exec_with_returning(db)
        .await?)
}

/// Creates a key with `scopes` for the application `app_name` (created if needed).
pub async fn create_key(
    db: &impl ConnectionTrait,
    app_name: &str,
    scopes: Scopes,
) -> AppResult<NewKey> {
    if scopes == Scopes::default() {
        return Err(AppError::BadInput("a key needs at least one scope".into()));
    }
    let app = ensure_application(db, app_name).await?;
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
    let key = api_keys::Entity::insert(key)
        .exec_with_returning(db)
        .await?;
    Ok(NewKey {
        secret,
        prefix,
        key_id: key.id,
        application_id: app.id,
        application_name: app.name,
        scopes,
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
