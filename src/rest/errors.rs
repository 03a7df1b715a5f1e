//! PostgREST's errors: `{code, message, details, hint}` with the PGRST codes and the SQLSTATE →
//! HTTP mapping of `reference/supabase-api.md` §3.8.

use axum::http::StatusCode;

use crate::error::AppError;

/// A PostgREST error body and status.
#[derive(Debug, Clone)]
pub struct PgrstError {
    /// HTTP status.
    pub status: StatusCode,
    /// `PGRSTnnn` or a SQLSTATE.
    pub code: String,
    /// Message.
    pub message: String,
    /// Details, or null.
    pub details: Option<String>,
    /// Hint, or null.
    pub hint: Option<String>,
}

impl PgrstError {
    /// A PGRST error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.to_owned(),
            message: message.into(),
            details: None,
            hint: None,
        }
    }

    /// With details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// With a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<PgrstError> for AppError {
    fn from(e: PgrstError) -> Self {
        AppError::Pgrst(Box::new(e))
    }
}

impl From<super::grammar::ParseError> for PgrstError {
    fn from(e: super::grammar::ParseError) -> Self {
        let code = if e.message.starts_with("Use of aggregate") {
            "PGRST123"
        } else {
            "PGRST100"
        };
        PgrstError::new(400, code, e.message).details(e.details)
    }
}

/// The HTTP status PostgREST gives a SQLSTATE (`anon` decides 401 vs 403 for 42501).
pub fn status_for(sqlstate: &str, anon: bool) -> u16 {
    let class = &sqlstate[..sqlstate.len().min(2)];
    match sqlstate {
        "23503" | "23505" => 409,
        "25006" => 405,
        "42883" | "42P01" => 404,
        "42P17" | "53400" => 500,
        "42501" => {
            if anon {
                401
            } else {
                403
            }
        }
        "P0001" => 400,
        s if s.starts_with("PT") => s[2..].parse().unwrap_or(500),
        _ => match class {
            "08" | "53" => 503,
            "09" | "25" | "2D" | "38" | "39" | "3B" | "40" | "54" | "55" | "57" | "58" | "F0"
            | "HV" | "XX" | "P0" => 500,
            "0L" | "0P" | "28" => 403,
            _ => 400,
        },
    }
}

/// Turns a database error into PostgREST's shape; connection problems stay internal (503/500).
pub fn from_db(e: sqlx::Error, anon: bool) -> AppError {
    let sqlx::Error::Database(db) = &e else {
        return AppError::Database(e);
    };
    let Some(code) = db.code().map(|c| c.into_owned()) else {
        return AppError::Database(e);
    };
    let status = status_for(&code, anon);
    // 5xx are internal faults, told only by the request id — except what clients act on, as
    // PostgREST reports them: a cancelled statement (the role's statement timeout: 57014), a
    // serialization failure to retry (40001), and a status a function raised on purpose (PT5xx).
    if status >= 500 && !matches!(code.as_str(), "57014" | "40001") && !code.starts_with("PT") {
        return AppError::Database(e);
    }
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    AppError::Pgrst(Box::new(PgrstError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        message: db.message().to_owned(),
        details: pg.and_then(|p| p.detail()).map(str::to_owned),
        hint: pg.and_then(|p| p.hint()).map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::status_for;

    #[test]
    fn sqlstates_map_like_postgrest() {
        assert_eq!(status_for("23505", false), 409);
        assert_eq!(status_for("23503", false), 409);
        assert_eq!(status_for("42501", true), 401);
        assert_eq!(status_for("42501", false), 403);
        assert_eq!(status_for("42P01", false), 404);
        assert_eq!(status_for("25006", false), 405);
        assert_eq!(status_for("08006", false), 503);
        assert_eq!(status_for("PT402", false), 402);
        assert_eq!(status_for("P0001", false), 400);
        assert_eq!(status_for("22P02", false), 400);
        assert_eq!(status_for("XX000", false), 500);
    }
}
