//! Reading a result as one row: a JSON array with one array per row of the result.
//!
//! On SQLite every row of a result crosses from the connection's worker thread to the runtime
//! with a channel send and a wakeup, which costs more than reading the row: a page of a
//! hundred events cost three times the CPU of the same page handed over as one row. The
//! statements that return pages (events, counts, series) therefore aggregate their rows into
//! one JSON value in the database and parse it here. PostgreSQL does the same with `json_agg`,
//! so both backends share the statements and their tests.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::de::DeserializeOwned;

use crate::error::AppResult;

/// `rows` as one row whose one column, `page`, is a JSON array holding, for each row of `rows`
/// (named `r`, joined with `joins`), the JSON array of `columns`, in `order`.
pub fn as_json_page(rows: Statement, columns: &str, joins: &str, order: &str) -> Statement {
    let sql = match rows.db_backend {
        DbBackend::Postgres => format!(
            "SELECT json_agg(json_build_array({columns}) ORDER BY {order})::text AS page \
             FROM ({}) r {joins}",
            rows.sql
        ),
        _ => format!(
            "SELECT json_group_array(json_array({columns}) ORDER BY {order}) AS page \
             FROM ({}) r {joins}",
            rows.sql
        ),
    };
    Statement { sql, ..rows }
}

/// `column`, a JSON column, as a JSON value inside [`as_json_page`]'s `columns` (SQLite stores
/// JSON as text, which `json_array` would otherwise quote as a string).
pub fn json_column(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => column.to_string(),
        _ => format!("json({column})"),
    }
}

/// Runs a statement made by [`as_json_page`] and parses its rows; `what` names them in an error.
pub async fn read_json_page<T: DeserializeOwned>(
    db: &impl ConnectionTrait,
    statement: Statement,
    what: &'static str,
) -> AppResult<Vec<T>> {
    Ok(read_json_rows(db, statement, what).await?)
}

/// [`read_json_page`] for code that works in [`DbErr`]s (the writer's and the job's
/// transactions): rows that do not parse are a [`DbErr::Custom`] naming `what`.
pub async fn read_json_rows<T: DeserializeOwned>(
    db: &impl ConnectionTrait,
    statement: Statement,
    what: &str,
) -> Result<Vec<T>, DbErr> {
    let page: Option<String> = match db.query_one_raw(statement).await? {
        Some(row) => row.try_get("", "page")?,
        None => None,
    };
    match page {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| DbErr::Custom(format!("reading {what}: {e}")))
        }
        // PostgreSQL's `json_agg` of no rows.
        None => Ok(Vec::new()),
    }
}
