//! `/storage/v1`: Supabase Storage's API over an object store (`reference/supabase-api.md` §4).
//!
//! Metadata lives in `storage.buckets` and `storage.objects`; every read and write of it runs in
//! the caller's identity transaction, so row-level security on those tables decides who may do
//! what. The bytes live in an [`object_store::ObjectStore`] (a local directory for now) under the
//! object's `version`, a fresh UUID per write: a row points at exactly one immutable blob, an
//! overwrite writes a new blob and swaps the pointer, and a failed write leaves nothing a row
//! points at.

mod access;
mod buckets;
mod download;
mod mime;
mod names;
mod objects;
mod signed;
mod sizes;
pub mod store;
pub mod sweep;
mod upload;

use std::sync::Arc;

use axum::{
    Router,
    extract::Request,
    middleware,
    routing::{any, delete, get, post, put},
};
use object_store::ObjectStore;

use crate::{app::AppState, auth::gateway, error::AppError, http::layers};

/// What the storage handlers share: the application and the object store.
#[derive(Clone, Debug)]
pub struct Storage {
    /// The application state (pool, config, token verifier).
    pub app: AppState,
    /// Where object bytes are kept.
    pub store: Arc<dyn ObjectStore>,
}

/// The `/storage/v1` router, behind the gateway rules. If the object store could not be opened
/// (see `AppState::objects`), every storage route answers 503 and the rest still serves.
pub fn router(state: AppState) -> Router<AppState> {
    let Some(store) = state.objects.clone() else {
        return Router::new().route("/storage/v1/{*rest}", any(unavailable));
    };
    let storage = Storage {
        app: state.clone(),
        store,
    };
    let small_bodies = Router::new()
        .route(
            "/storage/v1/bucket",
            get(buckets::list).post(buckets::create),
        )
        .route(
            "/storage/v1/bucket/{id}",
            get(buckets::get)
                .put(buckets::update)
                .delete(buckets::remove),
        )
        .route("/storage/v1/bucket/{id}/empty", post(buckets::empty))
        .route("/storage/v1/object/list/{bucket}", post(objects::list))
        .route("/storage/v1/object/move", post(objects::move_object))
        .route("/storage/v1/object/copy", post(objects::copy))
        .route("/storage/v1/object/{bucket}", delete(objects::remove_many))
        .route("/storage/v1/object/sign/{bucket}", post(signed::sign_many))
        .route(
            "/storage/v1/object/sign/{bucket}/{*path}",
            post(signed::sign_one),
        )
        .route(
            "/storage/v1/object/upload/sign/{bucket}/{*path}",
            post(signed::sign_upload),
        )
        .route(
            "/storage/v1/object/{bucket}/{*path}",
            get(download::authenticated).delete(objects::remove_one),
        )
        .route(
            "/storage/v1/object/authenticated/{bucket}/{*path}",
            get(download::authenticated),
        )
        .route(
            "/storage/v1/object/info/{bucket}/{*path}",
            get(download::info),
        )
        .route(
            "/storage/v1/object/info/authenticated/{bucket}/{*path}",
            get(download::info),
        );
    // Only uploads take bodies up to the upload limit (the router's, set by `build_app`); the JSON
    // of every other route is held to the API's body limit.
    let max_body = state.config.max_body_bytes;
    layers::limit_body(small_bodies, max_body)
        .route(
            "/storage/v1/object/{bucket}/{*path}",
            post(upload::create).put(upload::update),
        )
        .layer(middleware::from_fn_with_state(
            state,
            gateway::require_apikey,
        ))
        // Public objects are fetched by plain URLs (`<img src>`), without an apikey, as Supabase's
        // gateway lets them through.
        .route(
            "/storage/v1/object/public/{bucket}/{*path}",
            get(download::public),
        )
        .route(
            "/storage/v1/object/info/public/{bucket}/{*path}",
            get(download::public_info),
        )
        // Signed URLs carry their own authorization (a token for one path) and are used as plain
        // URLs too; these methods join the signing routes of the same paths, outside the gateway.
        .route(
            "/storage/v1/object/sign/{bucket}/{*path}",
            get(signed::download),
        )
        .route(
            "/storage/v1/object/upload/sign/{bucket}/{*path}",
            put(signed::upload),
        )
        .with_state(storage)
}

async fn unavailable(_: Request) -> AppError {
    AppError::Unavailable("the object store is unavailable".into())
}
