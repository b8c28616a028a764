//! The application's errors and, in one place, how each becomes a response: an HTML page in
//! the site's layout with the right status, never internals.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};

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
            AppError::Database(e) if is_connection_error(e) => Status::ServiceUnavailable,
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
            AppError::Unavailable => Some(5),
            AppError::Database(e) if is_connection_error(e) => Some(5),
            _ => None,
        }
    }

    pub fn allow(&self) -> Option<String> {
        match self {
            AppError::MethodNotAllowed(allow) => Some(allow.clone()),
            _ => None,
        }
    }

    fn log(&self) {
        match self.status().code {
            500.. => log::error!("request failed: {self}"),
            _ => log::debug!("request refused: {self}"),
        }
    }
}

/// The database is not there, or (SQLite) so busy that a writer waited out `busy_timeout`:
/// either way a 503 to retry, not a 500.
fn is_connection_error(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked")
                || m.contains("database table is locked")
                || m.contains("terminating connection")
                || m.contains("server closed the connection")
        }
        _ => false,
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        self.log();
        if matches!(self, AppError::Unauthorized) {
            return crate::web::errors::to_login(req).respond_to(req);
        }
        crate::web::errors::error_page(
            req,
            self.status(),
            &crate::web::errors::ErrorDetail::of(&self),
        )
    }
}
