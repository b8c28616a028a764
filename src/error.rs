//! The application's errors, and what each means for a client: its status, what a page may
//! say about it, when to retry. How it becomes a page is `web::errors`, in one place.

use rocket::http::Status;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("not signed in")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed (allowed: {0})")]
    MethodNotAllowed(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("request body not received in time")]
    RequestTimeout,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("throttled")]
    TooManyRequests { retry_after: u64 },
    #[error("password hashing queue full")]
    Busy { retry_after: u64 },
    #[error("database unavailable")]
    Unavailable,
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("internal error")]
    Internal,
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::Unauthorized => Status::Unauthorized,
            AppError::Forbidden(_) => Status::Forbidden,
            AppError::NotFound => Status::NotFound,
            AppError::MethodNotAllowed(_) => Status::MethodNotAllowed,
            AppError::PayloadTooLarge => Status::PayloadTooLarge,
            AppError::RequestTimeout => Status::RequestTimeout,
            AppError::UnsupportedMediaType => Status::UnsupportedMediaType,
            AppError::TooManyRequests { .. } => Status::TooManyRequests,
            AppError::Busy { .. } | AppError::Unavailable => Status::ServiceUnavailable,
            AppError::Database(e) if outage(e).is_some() => Status::ServiceUnavailable,
            AppError::Database(_) | AppError::Internal => Status::InternalServerError,
        }
    }

    /// The message key of what the page may say beyond the status' own text. Never internals.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            AppError::Forbidden(key) => Some(key),
            AppError::UnsupportedMediaType => Some("error-form-type"),
            AppError::Busy { .. } => Some("error-busy"),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests { retry_after } | AppError::Busy { retry_after } => {
                Some(*retry_after)
            }
            AppError::Unavailable => Some(Outage::Connection.retry_after()),
            AppError::Database(e) => outage(e).map(Outage::retry_after),
            _ => None,
        }
    }

    pub fn allow(&self) -> Option<String> {
        match self {
            AppError::MethodNotAllowed(allow) => Some(allow.clone()),
            _ => None,
        }
    }

    pub fn log(&self) {
        match self.status().code {
            500.. => log::error!("request failed: {self}"),
            _ => log::debug!("request refused: {self}"),
        }
    }
}

/// Why the database cannot serve a request right now. Either is a 503 with `Retry-After` (a
/// load balancer sends the user to another instance, or the user retries), never a 500: the
/// request was fine, and nothing was half-written (write transactions roll back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The database is not there, or (SQLite) so busy that a writer waited out
    /// `busy_timeout`.
    Connection,
    /// It answers but takes no writes: the disk is full, or the database (or its file
    /// system) is read-only. This lasts until an operator acts, so clients wait longer.
    Storage,
}

impl Outage {
    pub fn retry_after(self) -> u64 {
        match self {
            Outage::Connection => 5,
            Outage::Storage => 30,
        }
    }
}

/// The one place that decides which database errors are outages. SQLite reports a full disk
/// as SQLITE_FULL ("database or disk is full"), a read-only file as SQLITE_READONLY ("attempt
/// to write a readonly database") and a file system gone read-only under it as SQLITE_IOERR
/// ("disk I/O error"). PostgreSQL's read-only transactions (SQLSTATE 25006) arrive as
/// `ReadOnlyTransaction`; Diesel does not expose other SQLSTATEs, so disk_full (53100) is
/// recognised by its message ("could not extend file ...: No space left on device"), which is
/// English unless the server's `lc_messages` says otherwise.
pub fn outage(e: &diesel::result::Error) -> Option<Outage> {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => Some(Outage::Connection),
        Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => Some(Outage::Storage),
        Error::DatabaseError(_, info) => {
            let m = info.message();
            let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
            if any(&[
                "database is locked",
                "database table is locked",
                "terminating connection",
                "server closed the connection",
            ]) {
                Some(Outage::Connection)
            } else if any(&[
                "database or disk is full",
                "attempt to write a readonly database",
                "disk I/O error",
                "unable to open database file",
                "No space left on device",
                "could not extend file",
                "read-only transaction",
            ]) {
                Some(Outage::Storage)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db_error(kind: DatabaseErrorKind, message: &str) -> AppError {
        AppError::Database(Error::DatabaseError(kind, Box::new(message.to_string())))
    }

    #[test]
    fn full_and_read_only_databases_are_503_with_retry_after() {
        for (kind, message) in [
            (DatabaseErrorKind::Unknown, "database or disk is full"),
            (
                DatabaseErrorKind::Unknown,
                "attempt to write a readonly database",
            ),
            (DatabaseErrorKind::Unknown, "disk I/O error"),
            (
                DatabaseErrorKind::Unknown,
                "could not extend file \"base/16384/16385\": No space left on device",
            ),
            (
                DatabaseErrorKind::Unknown,
                "could not write to file \"pg_wal/xlogtemp.123\": No space left on device",
            ),
            (
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
        ] {
            let e = db_error(kind, message);
            assert_eq!(e.status(), Status::ServiceUnavailable, "{message}");
            assert_eq!(e.retry_after(), Some(30), "{message}");
        }
        let locked = db_error(DatabaseErrorKind::Unknown, "database is locked");
        assert_eq!(locked.status(), Status::ServiceUnavailable);
        assert_eq!(locked.retry_after(), Some(5));
    }

    #[test]
    fn other_database_errors_stay_500() {
        let e = db_error(DatabaseErrorKind::Unknown, "no such table: users");
        assert_eq!(e.status(), Status::InternalServerError);
        assert_eq!(e.retry_after(), None);
        let e = db_error(
            DatabaseErrorKind::UniqueViolation,
            "UNIQUE constraint failed",
        );
        assert_eq!(e.status(), Status::InternalServerError);
    }
}
