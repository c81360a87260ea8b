//! The monitoring view of rejected events: newest first, filterable by time of receipt,
//! reason code, application and event type.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::cursor::Cursor;
use super::{Page, check_range, fetch_page};
use crate::domain::{Reason, ReasonCode};
use crate::entities::event_error_codes;
use crate::entities::event_errors::{self, Column};
use crate::error::{AppError, AppResult};

/// Filters on rejected events, combined with AND; `from` and `to` (time of receipt) inclusive.
#[derive(Debug, Clone, Default)]
pub struct ErrorFilter {
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received at or before.
    pub to: Option<DateTime<Utc>>,
    /// Having a reason with this code.
    pub code: Option<ReasonCode>,
    /// Sent by this application.
    pub application_id: Option<i32>,
    /// With this category, as sent.
    pub category: Option<String>,
    /// With this name, as sent.
    pub name: Option<String>,
    /// With this session id, as sent.
    pub session_id: Option<String>,
}

/// A page of rejected events matching `filter`, after `after`.
pub async fn list_errors(
    db: &DatabaseConnection,
    filter: &ErrorFilter,
    first: u64,
    after: Option<Cursor>,
) -> AppResult<Page<event_errors::Model>> {
    check_range(filter.from, filter.to)?;
    let mut cond = Condition::all();
    if let Some(from) = filter.from {
        cond = cond.add(Column::ReceivedAt.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(Column::ReceivedAt.lte(to));
    }
    if let Some(app) = filter.application_id {
        cond = cond.add(Column::ApplicationId.eq(app));
    }
    for (column, value) in [
        (Column::Category, &filter.category),
        (Column::Name, &filter.name),
        (Column::SessionId, &filter.session_id),
    ] {
        if let Some(value) = value {
            cond = cond.add(column.eq(value.as_str()));
        }
    }
    if let Some(code) = &filter.code {
        let with_code = Query::select()
            .column(event_error_codes::Column::ErrorId)
            .from(event_error_codes::Entity)
            .and_where(event_error_codes::Column::Code.eq(code.as_str()))
            .to_owned();
        cond = cond.add(Column::Id.in_subquery(with_code));
    }
    if let Some(after) = after {
        cond = cond.add(
            Condition::any().add(Column::ReceivedAt.lt(after.at)).add(
                Condition::all()
                    .add(Column::ReceivedAt.eq(after.at))
                    .add(Column::Id.lt(after.id)),
            ),
        );
    }
    let select = event_errors::Entity::find()
        .filter(cond)
        .order_by_desc(Column::ReceivedAt)
        .order_by_desc(Column::Id);
    fetch_page(db, select, first).await
}

/// The cursor pointing at `error`.
pub fn cursor_of(error: &event_errors::Model) -> Cursor {
    Cursor {
        at: error.received_at,
        id: error.id,
    }
}

/// The reasons `error` was rejected, decoded from the JSON they are stored as.
pub fn reasons_of(error: &event_errors::Model) -> AppResult<Vec<Reason>> {
    serde_json::from_value(error.reasons.clone())
        .map_err(|e| AppError::internal("reading stored rejection reasons", e))
}
