//! The event-type registry: which types (category + name) exist and the JSON Schema each
//! one's `data` must match.
//!
//! Compiled validators are cached in memory and swapped atomically as a whole, so validation
//! never waits on the database. An instance sees its own changes at once and other instances'
//! changes within the refresh interval (`EYE_REGISTRY_REFRESH_MS`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::Value;
use tokio::sync::watch;

use crate::config::MAX_COLUMN_CHARS;
use crate::domain::BoundedText;
use crate::entities::event_types;
use crate::error::{AppError, AppResult};

/// A registered type with its compiled schema.
pub struct RegisteredType {
    /// The stored row.
    pub model: event_types::Model,
    /// The compiled schema; `None` when the type accepts any object.
    pub validator: Option<jsonschema::Validator>,
}

/// Types by `(category, name)`.
pub type TypeMap = HashMap<(String, String), Arc<RegisteredType>>;

/// A new or changed definition of an event type.
#[derive(Debug, Clone)]
pub struct TypeDefinition {
    /// Category, e.g. `page interaction`.
    pub category: String,
    /// Name, e.g. `pageview`.
    pub name: String,
    /// JSON Schema of `data`; `None` accepts any object.
    pub schema: Option<Value>,
    /// What the type means, for people.
    pub description: Option<String>,
}

/// The registry of one instance.
pub struct Registry {
    db: DatabaseConnection,
    types: RwLock<Arc<TypeMap>>,
}

/// Why a JSON Schema was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Neither an object nor a boolean.
    #[error("a JSON Schema must be an object or a boolean")]
    NotASchema,
    /// Not a valid schema, or one referring to documents outside itself.
    #[error("invalid JSON Schema: {0}")]
    Invalid(String),
}

/// Compiles a JSON Schema, refusing anything that is not a valid schema (or that refers to
/// documents outside itself, which the service never fetches).
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, SchemaError> {
    if !matches!(schema, Value::Object(_) | Value::Bool(_)) {
        return Err(SchemaError::NotASchema);
    }
    jsonschema::validator_for(schema).map_err(|e| SchemaError::Invalid(e.to_string()))
}

impl Registry {
    /// Loads every type from the database.
    pub async fn load(db: DatabaseConnection) -> AppResult<Self> {
        let registry = Self {
            db,
            types: RwLock::new(Arc::new(TypeMap::new())),
        };
        registry.refresh().await?;
        Ok(registry)
    }

    /// Reloads the types from the database.
    pub async fn refresh(&self) -> AppResult<()> {
        let rows = event_types::Entity::find()
            .order_by_asc(event_types::Column::Category)
            .order_by_asc(event_types::Column::Name)
            .all(&self.db)
            .await?;
        let mut map = TypeMap::with_capacity(rows.len());
        for model in rows {
            let validator = match &model.schema {
                None | Some(Value::Null) => None,
                Some(schema) => match compile_schema(schema) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        // Stored schemas were checked when defined; a failure here means the
                        // row was edited by hand. Keep serving with the others.
                        tracing::error!(category = %model.category, name = %model.name, error = %e, "stored schema does not compile");
                        continue;
                    }
                },
            };
            let key = (model.category.clone(), model.name.clone());
            map.insert(key, Arc::new(RegisteredType { model, validator }));
        }
        *self.types.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
        Ok(())
    }

    /// The current types; cheap to call for every batch.
    pub fn snapshot(&self) -> Arc<TypeMap> {
        self.types.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every type, ordered by category then name.
    pub fn list(&self) -> Vec<event_types::Model> {
        let mut types: Vec<_> = self.snapshot().values().map(|t| t.model.clone()).collect();
        types.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
        types
    }

    /// Creates or replaces a type. Events already stored are not re-validated.
    pub async fn define(&self, def: TypeDefinition) -> AppResult<event_types::Model> {
        let [category, name] =
            [("category", &def.category), ("name", &def.name)].map(|(field, value)| {
                BoundedText::parse(value, MAX_COLUMN_CHARS).map_err(|_| {
                    AppError::BadInput(format!(
                        "`{field}` must have 1 to {MAX_COLUMN_CHARS} characters"
                    ))
                })
            });
        let (category, name) = (category?, name?);
        let schema = def.schema.filter(|s| !s.is_null());
        if let Some(schema) = &schema {
            compile_schema(schema).map_err(|e| AppError::BadInput(e.to_string()))?;
        }
        let now = Utc::now();
        let row = event_types::ActiveModel {
            category: Set(category.into_inner()),
            name: Set(name.into_inner()),
            schema: Set(schema),
            description: Set(def.description),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let upsert =
            OnConflict::columns([event_types::Column::Category, event_types::Column::Name])
                .update_columns([
                    event_types::Column::Schema,
                    event_types::Column::Description,
                    event_types::Column::UpdatedAt,
                ])
                .to_owned();
        let model = event_types::Entity::insert(row)
            .on_conflict(upsert)
            .exec_with_returning(&self.db)
            .await?;
        self.refresh().await?;
        Ok(model)
    }
}

/// Reloads `registry` every `every` until `stopped`, so that this instance sees the types other
/// instances define. A failed reload is logged and the current types kept.
pub fn spawn_refresh(
    registry: Arc<Registry>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if crate::shutdown::sleep_or_stopped(every, &mut stopped).await {
                break;
            }
            if let Err(err) = registry.refresh().await {
                tracing::warn!(error = ?err, "refreshing the event-type registry failed");
            }
        }
    })
}
