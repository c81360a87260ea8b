//! Administration of trusted clients (scope `admin`): applications, their IP allowlists, and
//! API keys — create, list, revoke, rotate. A key's secret appears only in the payload of the
//! mutation that created it.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::context::{require, state};
use super::scalars::DateTime;
use super::types::Application;
use crate::auth::keys::{self, KeyInfo, NewKey};
use crate::auth::{Scope, Scopes, applications};
use crate::domain::Allowlist;
use crate::entities::applications as app_entity;
use crate::error::{AppError, AppResult};

/// An application as its administrators see it.
#[derive(SimpleObject)]
pub struct ManagedApplication {
    /// Its id.
    pub id: ID,
    /// Its unique name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime,
    /// The addresses and CIDR ranges its keys may be used from; null: any address.
    pub allowed_ips: Option<Vec<String>>,
    /// Days its events are kept; null: the server's `--retention-days` (which may be forever).
    pub retention_days: Option<i32>,
}

impl TryFrom<app_entity::Model> for ManagedApplication {
    type Error = AppError;

    fn try_from(app: app_entity::Model) -> AppResult<Self> {
        let allowed_ips = applications::allowlist_of(&app)?.map(|a| a.entries());
        Ok(Self {
            id: ID(app.id.to_string()),
            name: app.name,
            created_at: app.created_at.into(),
            allowed_ips,
            retention_days: app.retention_days,
        })
    }
}

/// An API key, without its secret.
#[derive(SimpleObject)]
pub struct ApiKey {
    /// Its id.
    pub id: ID,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<KeyScope>,
    /// When it was issued.
    pub created_at: DateTime,
    /// When it was last used (updated at most once a minute per instance).
    pub last_used_at: Option<DateTime>,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime>,
    /// The application it belongs to.
    pub application: Application,
}

impl From<KeyInfo> for ApiKey {
    fn from(key: KeyInfo) -> Self {
        Self {
            id: ID(key.id.to_string()),
            prefix: key.prefix,
            scopes: scope_names(key.scopes),
            created_at: key.created_at.into(),
            last_used_at: key.last_used_at.map(Into::into),
            revoked_at: key.revoked_at.map(Into::into),
            application: Application::new(key.application_id, key.application_name),
        }
    }
}

fn scope_names(scopes: Scopes) -> Vec<KeyScope> {
    scopes.iter().map(KeyScope::from).collect()
}

/// What a key may do.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "Scope", remote = "crate::auth::Scope")]
pub enum KeyScope {
    /// May record events.
    Ingest,
    /// May query events, sessions, counts, errors and event types.
    Read,
    /// May do everything, including defining event types, running the job and managing
    /// applications and keys.
    Admin,
}

/// A new key: the only answer that ever contains its secret.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The secret, to send as `Authorization: Bearer <key>`. It is not stored and cannot be
    /// shown again.
    pub key: String,
    /// The key's details.
    pub api_key: ApiKey,
}

/// A new application.
#[derive(InputObject)]
pub struct CreateApplicationInput {
    /// Its unique name (1 to 128 characters).
    pub name: String,
    /// Addresses and CIDR ranges its keys may be used from; null or absent: any address.
    pub allowed_ips: Option<Vec<String>>,
}

/// A new key.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// The application it belongs to.
    pub application_id: ID,
    /// What it may do (at least one).
    pub scopes: Vec<KeyScope>,
}

pub(super) fn parse_id(id: &ID, what: &str) -> AppResult<i32> {
    id.parse::<i32>()
        .map_err(|_| AppError::BadInput(format!("`{}` is not a valid {what} id", id.as_str())))
}

fn parse_allowlist(entries: Option<Vec<String>>) -> AppResult<Option<Allowlist>> {
    entries
        .map(|e| Allowlist::parse(&e).map_err(|e| AppError::BadInput(e.to_string())))
        .transpose()
}

/// The set of `scopes` (an empty set is refused where the key is issued).
fn scope_set(scopes: &[KeyScope]) -> Scopes {
    Scopes::of(scopes.iter().map(|s| Scope::from(*s)))
}

async fn created(ctx: &Context<'_>, key: NewKey) -> AppResult<CreateApiKeyPayload> {
    let info = keys::get_key(&state(ctx).db, key.key_id).await?;
    Ok(CreateApiKeyPayload {
        key: key.secret,
        api_key: info.into(),
    })
}

/// Administration queries.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Every application, by name (scope `admin`).
    async fn applications(&self, ctx: &Context<'_>) -> Result<Vec<ManagedApplication>> {
        require(ctx, Scope::Admin)?;
        let apps = applications::list_applications(&state(ctx).db).await?;
        Ok(apps
            .into_iter()
            .map(ManagedApplication::try_from)
            .collect::<AppResult<_>>()?)
    }

    /// API keys, newest first, of one application or of all (scope `admin`). Never the
    /// secrets.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this application's keys; absent: every key.")]
        application_id: Option<ID>,
    ) -> Result<Vec<ApiKey>> {
        require(ctx, Scope::Admin)?;
        let app = application_id
            .as_ref()
            .map(|id| parse_id(id, "application"))
            .transpose()?;
        let keys = keys::list_keys(&state(ctx).db, app).await?;
        Ok(keys.into_iter().map(ApiKey::from).collect())
    }
}

/// Administration mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an application, optionally with an IP allowlist (scope `admin`).
    async fn create_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new application.")] input: CreateApplicationInput,
    ) -> Result<ManagedApplication> {
        require(ctx, Scope::Admin)?;
        let allowlist = parse_allowlist(input.allowed_ips)?;
        let app = applications::create_application(&state(ctx).db, &input.name, allowlist).await?;
        Ok(ManagedApplication::try_from(app)?)
    }

    /// Replaces an application's IP allowlist; null lets its keys work from any address
    /// (scope `admin`). Applies from the next request on every instance.
    async fn set_application_allowlist(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application.")] application_id: ID,
        #[graphql(desc = "Addresses and CIDR ranges; null: any address.")] allowed_ips: Option<
            Vec<String>,
        >,
    ) -> Result<ManagedApplication> {
        require(ctx, Scope::Admin)?;
        let id = parse_id(&application_id, "application")?;
        let allowlist = parse_allowlist(allowed_ips)?;
        let app = applications::set_allowlist(&state(ctx).db, id, allowlist).await?;
        Ok(ManagedApplication::try_from(app)?)
    }

    /// Issues a key for an application (scope `admin`). The secret is in this answer only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new key's application and scopes.")] input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        require(ctx, Scope::Admin)?;
        let app = parse_id(&input.application_id, "application")?;
        let scopes = scope_set(&input.scopes);
        let key = keys::create_key_for(&state(ctx).db, app, scopes).await?;
        Ok(created(ctx, key).await?)
    }

    /// Revokes a key: refused from the next request on, on every instance (scope `admin`).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's id.")] id: ID,
    ) -> Result<ApiKey> {
        require(ctx, Scope::Admin)?;
        let id = parse_id(&id, "API key")?;
        Ok(keys::revoke_key(&state(ctx).db, id).await?.into())
    }

    /// Issues a new key with the same application and scopes; the old key keeps working until
    /// it is revoked, so clients can switch over without downtime (scope `admin`).
    async fn rotate_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the key to replace.")] id: ID,
    ) -> Result<CreateApiKeyPayload> {
        require(ctx, Scope::Admin)?;
        let id = parse_id(&id, "API key")?;
        let key = keys::rotate_key(&state(ctx).db, id).await?;
        Ok(created(ctx, key).await?)
    }
}
