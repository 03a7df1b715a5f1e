//! The `/rest/v1` routes.

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method},
    middleware,
    response::Response,
    routing::{any, get},
};
use serde_json::Value;

use super::{
    context::{self, Accept, Call, Prefer},
    errors::PgrstError,
    openapi, query, read, rpc,
    write::{self, Write},
};
use crate::{app::AppState, auth::gateway, db::identity::Identity, error::AppResult};

/// The `/rest/v1` router, behind the gateway rules.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/rest/v1/", get(root))
        .route("/rest/v1", get(root))
        .route("/rest/v1/rpc/{function}", any(rpc_route))
        .route("/rest/v1/{table}", any(table_route))
        .layer(middleware::from_fn_with_state(
            state,
            gateway::require_apikey,
        ))
}

/// `GET /rest/v1/`: the OpenAPI description of the schema `Accept-Profile` names, listing what
/// the caller's role may use.
async fn root(
    State(app): State<AppState>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (schema, who) = start(&app, &method, "/", raw.as_deref(), &headers).await?;
    let result = openapi::serve(&app, &who, &schema, &headers).await;
    let negotiated = headers.contains_key("accept-profile");
    finish(result, &Prefer::default(), &schema, negotiated)
}

fn payload(body: &Bytes) -> Result<Option<Value>, PgrstError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        PgrstError::new(400, "PGRST102", "Empty or invalid json").details(e.to_string())
    })
}

fn check_length(app: &AppState, raw: Option<&str>) -> Result<(), PgrstError> {
    let len = raw.map_or(0, str::len);
    if len > app.config.rest.max_query_bytes {
        return Err(PgrstError::new(
            414,
            "PGRST100",
            format!(
                "The query string is {len} bytes; the limit is {}",
                app.config.rest.max_query_bytes
            ),
        ));
    }
    Ok(())
}

/// What every data-API request does first: bound the query string, make sure the schema cache is
/// loaded, pick the schema, and establish the caller's identity.
async fn start(
    app: &AppState,
    method: &Method,
    path: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> AppResult<(String, Identity)> {
    check_length(app, raw)?;
    app.rest
        .ensure_loaded(&app.pool, &app.config.rest.schemas)
        .await?;
    let schema = context::profile(app, method, headers)?;
    let who = context::identity(app, method, path, headers)?;
    Ok((schema, who))
}

async fn table_route(
    State(app): State<AppState>,
    method: Method,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let (schema, who) = start(
        &app,
        &method,
        &format!("/{table}"),
        raw.as_deref(),
        &headers,
    )
    .await?;
    let mut query = query::parse(&context::pairs(raw.as_deref())?, &[])?;
    if matches!(method, Method::GET | Method::HEAD) {
        context::apply_range(&headers, &mut query)?;
    }
    let prefer = Prefer::parse(&headers)?;
    let accept = Accept::parse(&headers)?;
    let call = Call {
        app: &app,
        who: &who,
        schema: &schema,
        name: &table,
        query: &query,
        prefer: &prefer,
        accept,
    };
    let negotiated =
        headers.contains_key("accept-profile") || headers.contains_key("content-profile");
    let result = match method {
        Method::GET => read::get(&call, false).await,
        Method::HEAD => read::get(&call, true).await,
        Method::POST => write::write(&call, Write::Insert, payload(&body)?).await,
        Method::PATCH => write::write(&call, Write::Update, payload(&body)?).await,
        Method::DELETE => write::write(&call, Write::Delete, None).await,
        _ => Err(PgrstError::new(
            405,
            "PGRST117",
            format!("Unsupported HTTP method: {method}"),
        )
        .into()),
    };
    finish(result, &prefer, &schema, negotiated)
}

async fn rpc_route(
    State(app): State<AppState>,
    method: Method,
    Path(function): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let (schema, who) = start(
        &app,
        &method,
        &format!("/rpc/{function}"),
        raw.as_deref(),
        &headers,
    )
    .await?;
    let cache = app.rest.get();
    let arg_names: Vec<String> = cache
        .functions
        .get(&(schema.clone(), function.clone()))
        .map(|fs| {
            fs.iter()
                .flat_map(|f| f.args.iter().map(|a| a.0.clone()))
                .collect()
        })
        .unwrap_or_default();
    drop(cache);
    let query = query::parse(&context::pairs(raw.as_deref())?, &arg_names)?;
    let prefer = Prefer::parse(&headers)?;
    let accept = Accept::parse(&headers)?;
    let call = Call {
        app: &app,
        who: &who,
        schema: &schema,
        name: &function,
        query: &query,
        prefer: &prefer,
        accept,
    };
    let negotiated =
        headers.contains_key("accept-profile") || headers.contains_key("content-profile");
    let result = match method {
        Method::GET | Method::HEAD => rpc::call(&call, None, true, method == Method::HEAD).await,
        Method::POST => rpc::call(&call, payload(&body)?, false, false).await,
        _ => Err(PgrstError::new(
            405,
            "PGRST101",
            "Only GET, HEAD and POST are allowed for RPC",
        )
        .into()),
    };
    finish(result, &prefer, &schema, negotiated)
}

/// Echoes the applied preferences (`Preference-Applied`) and, when the client negotiated a
/// schema, `Content-Profile`.
fn finish(
    result: AppResult<Response>,
    prefer: &Prefer,
    schema: &str,
    negotiated: bool,
) -> AppResult<Response> {
    let mut response = result?;
    if let Some(applied) = prefer.applied()
        && let Ok(v) = HeaderValue::from_str(&applied)
    {
        response.headers_mut().insert("preference-applied", v);
    }
    if negotiated && let Ok(v) = HeaderValue::from_str(schema) {
        response.headers_mut().insert("content-profile", v);
    }
    Ok(response)
}
