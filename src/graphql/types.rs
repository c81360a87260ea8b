//! GraphQL types that several resources share: [`Application`], the input [`EventFilter`],
//! and the Relay [`PageInfo`] with [`connection`], which assembles a page's edges and paging
//! information the same way for every list.

use async_graphql::{ID, InputObject, SimpleObject};
use sea_orm::DatabaseConnection;

use super::scalars::{DateTime, optional_instant};
use crate::entities::applications;
use crate::error::AppResult;
use crate::query;

/// An application: a trusted client that sends events.
#[derive(SimpleObject, Clone)]
pub struct Application {
    /// Its id.
    pub id: ID,
    /// Its unique name.
    pub name: String,
}

impl Application {
    /// The application with row id `id` and name `name`.
    pub fn new(id: i32, name: impl Into<String>) -> Self {
        Self {
            id: ID(id.to_string()),
            name: name.into(),
        }
    }
}

impl From<applications::Model> for Application {
    fn from(app: applications::Model) -> Self {
        Self::new(app.id, app.name)
    }
}

/// The applications with these ids, read in one query. An id with no row (impossible with the
/// foreign keys in place) maps to an application with an empty name.
pub async fn load_applications(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i32>,
) -> AppResult<impl Fn(i32) -> Application> {
    let names = query::application_names(db, ids).await?;
    Ok(move |id: i32| Application::new(id, names.get(&id).cloned().unwrap_or_default()))
}

/// Where a page is in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page (true when `after` was given).
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// The edges of a page and its [`PageInfo`]: `edge` makes each edge from its node's cursor
/// (`cursor_of`) and the node; `after_given` says whether the page was asked for with a cursor.
pub fn connection<N, E>(
    nodes: Vec<N>,
    has_next_page: bool,
    after_given: bool,
    cursor_of: impl Fn(&N) -> String,
    edge: impl Fn(String, N) -> E,
) -> (Vec<E>, PageInfo) {
    let cursors: Vec<String> = nodes.iter().map(cursor_of).collect();
    let page_info = PageInfo {
        has_next_page,
        has_previous_page: after_given,
        start_cursor: cursors.first().cloned(),
        end_cursor: cursors.last().cloned(),
    };
    let edges = cursors.into_iter().zip(nodes).map(|(c, n)| edge(c, n));
    (edges.collect(), page_info)
}

/// Filters on events, combined with AND. `from` and `to` are inclusive.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only events of this session.
    pub session_id: Option<String>,
    /// Only events of this category.
    pub category: Option<String>,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events with a timestamp at or after this instant.
    pub from: Option<DateTime>,
    /// Only events with a timestamp at or before this instant.
    pub to: Option<DateTime>,
}

impl EventFilter {
    /// The domain filter.
    pub fn parse(&self) -> AppResult<query::EventFilter> {
        Ok(query::EventFilter {
            session_id: self.session_id.clone(),
            category: self.category.clone(),
            name: self.name.clone(),
            from: optional_instant(&self.from, "filter.from")?,
            to: optional_instant(&self.to, "filter.to")?,
        })
    }
}
