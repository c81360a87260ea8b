//! Applications: the trusted clients that own API keys, and their optional IP allowlists.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::domain::Allowlist;
use crate::entities::applications;
use crate::error::{AppError, AppResult, OnConstraint};

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

/// The allowlist stored for `app`, if it has one.
pub fn allowlist_of(app: &applications::Model) -> AppResult<Option<Allowlist>> {
    app.allowed_ips
        .as_deref()
        .map(Allowlist::from_stored)
        .transpose()
        .map_err(|e| AppError::internal("reading an application's allowlist", e))
}

/// Finds the application called `name`, creating it (without an allowlist) if it does not
/// exist.
pub async fn ensure_application(
    db: &impl ConnectionTrait,
    name: &str,
) -> AppResult<applications::Model> {
    let name = parse_app_name(name)?;
    if let Some(app) = find_by_name(db, &name).await? {
        return Ok(app);
    }
    insert(db, name, None).await
}

/// Creates an application; `BAD_USER_INPUT` if the name is taken.
pub async fn create_application(
    db: &impl ConnectionTrait,
    name: &str,
    allowlist: Option<Allowlist>,
) -> AppResult<applications::Model> {
    insert(db, parse_app_name(name)?, allowlist).await
}

async fn insert(
    db: &impl ConnectionTrait,
    name: String,
    allowlist: Option<Allowlist>,
) -> AppResult<applications::Model> {
    let app = applications::ActiveModel {
        name: Set(name.clone()),
        created_at: Set(Utc::now()),
        allowed_ips: Set(allowlist.map(|a| a.to_string())),
        ..Default::default()
    };
    applications::Entity::insert(app)
        .exec_with_returning(db)
        .await
        .on_unique_violation(|| {
            AppError::BadInput(format!("an application called `{name}` already exists"))
        })
}

/// Every application, by name.
pub async fn list_applications(db: &impl ConnectionTrait) -> AppResult<Vec<applications::Model>> {
    Ok(applications::Entity::find()
        .order_by_asc(applications::Column::Name)
        .all(db)
        .await?)
}

/// The application called `name`, if any.
pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> AppResult<Option<applications::Model>> {
    Ok(applications::Entity::find()
        .filter(applications::Column::Name.eq(name.trim()))
        .one(db)
        .await?)
}

/// The application with row id `id`, or `BAD_USER_INPUT`.
pub async fn get(db: &impl ConnectionTrait, id: i32) -> AppResult<applications::Model> {
    applications::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::BadInput(format!("no application has id {id}")))
}

/// Replaces the allowlist of application `id`; `None` lets its keys work from anywhere.
/// Applies to the next request on every instance (it is read with the key).
pub async fn set_allowlist(
    db: &impl ConnectionTrait,
    id: i32,
    allowlist: Option<Allowlist>,
) -> AppResult<applications::Model> {
    let app = get(db, id).await?;
    let mut active: applications::ActiveModel = app.into();
    active.allowed_ips = Set(allowlist.map(|a| a.to_string()));
    Ok(active.update(db).await?)
}
