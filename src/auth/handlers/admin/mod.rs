//! Admin endpoints (service role): users, their factors, generated links and invitations.

mod links;
mod listing;
mod user_factors;
mod users;

pub use links::{generate_link, post_invite};
pub use listing::{list_audit, list_users};
pub use user_factors::{delete_factor, list_factors, update_factor};
pub use users::{create_user, delete_user, get_user, update_user};

use uuid::Uuid;

use crate::error::{AppError, AppResult};

fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound {
        code: "validation_failed",
        message: "user_id must be an UUID".into(),
    })
}

fn user_not_found() -> AppError {
    AppError::NotFound {
        code: "user_not_found",
        message: "User not found".into(),
    }
}

fn email_exists() -> AppError {
    AppError::Unprocessable {
        code: "email_exists",
        message: "A user with this email address has already been registered".into(),
    }
}
