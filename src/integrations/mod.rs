//! Integrations with outside services (Mailchimp, Salesforce, Google Analytics, Stripe). Their
//! rows live in `public.integrations` under row-level security; their credentials are encrypted
//! here and kept where the data API cannot reach them (`credentials`).

pub mod credentials;

use axum::{Router, middleware, routing::put};

use crate::{app::AppState, auth::gateway};

/// `/functions/v1/integrations/…`, behind the gateway rules.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/functions/v1/integrations/{id}/credentials",
            put(credentials::put).delete(credentials::delete),
        )
        .layer(middleware::from_fn_with_state(
            state,
            gateway::require_apikey,
        ))
}
