//! One error type for resolvers, mapped once to a GraphQL error with a stable `extensions.code`.
//!
//! Client mistakes carry their own message; internal failures (database, I/O) are logged with the
//! detail and reach the client only as `INTERNAL_SERVER_ERROR`, so no SQL or path ever leaks.

use async_graphql::ErrorExtensions;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// An argument the caller sent is out of bounds or malformed.
    #[error("{0}")]
    BadInput(String),
    /// The operation needs a signed-in caller.
    #[error("you must be signed in to do this")]
    Unauthenticated,
    /// The caller is known but lacks the right.
    #[error("{0}")]
    Forbidden(String),
    /// A write conflicts with existing data (e.g. a taken username).
    #[error("{0}")]
    Conflict(String),
    /// Detail already logged where it happened.
    #[error("internal server error")]
    Internal,
}

impl AppError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadInput(message.into())
    }

    /// The `extensions.code` clients match on; names follow what other GraphQL servers use.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Conflict(_) => "CONFLICT",
            Self::Internal => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        tracing::error!(error = %err, "database error");
        Self::Internal
    }
}

/// Resolvers return `AppResult` from the service layer and call `.extend()` (async-graphql's
/// `ResultExt`) to become a GraphQL error carrying `extensions.code`.
impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| ext.set("code", code))
    }
}

/// Maps a unique-constraint violation to `CONFLICT` with `message`; other failures stay internal.
pub fn conflict_on_unique(err: sea_orm::DbErr, message: impl FnOnce() -> String) -> AppError {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(message()),
        _ => err.into(),
    }
}

/// Checks a string argument's length in characters, naming the argument in the error.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(AppError::bad_input(format!(
            "`{field}` must be {min} to {max} characters long"
        )));
    }
    Ok(())
}

/// Checks an integer argument's range, naming the argument in the error.
pub fn check_range(field: &str, value: i32, min: i32, max: i32) -> AppResult<()> {
    if value < min || value > max {
        return Err(AppError::bad_input(format!(
            "`{field}` must be between {min} and {max}"
        )));
    }
    Ok(())
}
