//! Classifying database errors by what the caller can do about them: retry the request
//! (unreachable, timed out, locked) or run the transaction again (a conflict).

use sea_orm::{DbErr, RuntimeErr};

/// Whether `err` means the database could not be reached or could not answer in time, so
/// that the same request may succeed when retried: connection failures and timeouts, a pool
/// that is closed or exhausted, a PostgreSQL server shutting down or cancelling a statement
/// (`57xxx`, `08xxx`) or rolling a transaction back for a conflict (`40xxx`, see
/// [`is_conflict`]), and a SQLite database still locked after the busy timeout.
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let Some(sqlx_err) = sqlx_error(err) else {
        return false;
    };
    match sqlx_err {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db_err) => {
            let code = db_err.code().unwrap_or_default();
            // PostgreSQL: connection exceptions and operator intervention (shutdown, cancel).
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included.
            is_conflict(err)
                || sqlstate_class(&code, "08")
                || sqlstate_class(&code, "57")
                || matches!(code.parse::<i32>(), Ok(c) if c & 0xff == 5 || c & 0xff == 6)
        }
        _ => false,
    }
}

/// Whether PostgreSQL rolled the transaction back to resolve a conflict with a concurrent one
/// (SQLSTATE class `40`: deadlock detected, serialization failure). Running the same
/// transaction again is safe and normally succeeds at once.
pub fn is_conflict(err: &DbErr) -> bool {
    match sqlx_error(err) {
        Some(sea_orm::sqlx::Error::Database(db_err)) => db_err
            .code()
            .is_some_and(|code| sqlstate_class(&code, "40")),
        _ => false,
    }
}

/// The driver's error behind a failed statement, if any.
fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            Some(e.as_ref())
        }
        _ => None,
    }
}

/// Whether `code` is a PostgreSQL SQLSTATE (five characters) of `class`. SQLite's numeric codes
/// are never five characters long.
fn sqlstate_class(code: &str, class: &str) -> bool {
    code.len() == 5 && code.starts_with(class)
}
