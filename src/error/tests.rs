use axum::body::to_bytes;
use serde_json::Value;

use super::*;

async fn body(r: Response) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (parts, b) = r.into_parts();
    let bytes = to_bytes(b, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap(),
    )
}

#[test]
fn every_variant_has_a_snake_case_code_and_matching_status_class() {
    let errors = [
        AppError::validation("x"),
        AppError::BadJson("x".into()),
        AppError::Unauthorized {
            code: "no_authorization",
            message: "x".into(),
        },
        AppError::Forbidden {
            code: "not_admin",
            message: "x".into(),
        },
        AppError::not_found("x"),
        AppError::MethodNotAllowed,
        AppError::Conflict {
            code: "conflict",
            message: "x".into(),
        },
        AppError::Unprocessable {
            code: "weak_password",
            message: "x".into(),
        },
        AppError::PayloadTooLarge,
        AppError::RateLimited { retry_after: 3 },
        AppError::Timeout,
        AppError::Unavailable("db".into()),
        AppError::Database(sqlx::Error::RowNotFound),
        AppError::Internal(anyhow::anyhow!("boom")),
    ];
    for e in errors {
        let code = e.code();
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
        assert!(
            e.status().is_client_error() || e.status().is_server_error(),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn internal_errors_reveal_only_a_generic_message_and_the_request_id() {
    let e = AppError::Internal(anyhow::anyhow!("password=swordfish in connection string"));

    for surface in [
        Surface::Native,
        Surface::PostgRest,
        Surface::Storage,
        Surface::GoTrue { versioned: true },
    ] {
        let (status, _, json) = body(render(&e, surface, "req-123")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = json.to_string();
        assert!(!text.contains("swordfish"), "{surface:?}: {text}");
        assert_eq!(json["error_id"], "req-123", "{surface:?}");
    }
}

#[tokio::test]
async fn gotrue_versioned_shape_has_code_and_message_and_echoes_the_version() {
    let e = AppError::Unprocessable {
        code: "weak_password",
        message: "Password is too weak".into(),
    };

    let (status, headers, json) = body(render(&e, Surface::GoTrue { versioned: true }, "r")).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json,
        serde_json::json!({"code": "weak_password", "message": "Password is too weak"})
    );
    assert_eq!(headers["x-supabase-api-version"], "2024-01-01");
}

#[tokio::test]
async fn gotrue_legacy_shape_has_numeric_code_error_code_and_msg() {
    let e = AppError::Validation("bad scope".into());

    let (_, headers, json) = body(render(&e, Surface::GoTrue { versioned: false }, "r")).await;

    assert_eq!(
        json,
        serde_json::json!({"code": 400, "error_code": "validation_failed", "msg": "bad scope"})
    );
    assert_eq!(headers["x-sb-error-code"], "validation_failed");
    assert!(headers.get("x-supabase-api-version").is_none());
}

#[tokio::test]
async fn postgrest_shape_always_has_four_keys() {
    let (status, headers, json) =
        body(render(&AppError::not_found("x"), Surface::PostgRest, "r")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["code"], "PGRST125");
    assert!(json.get("details").is_some() && json.get("hint").is_some());
    assert_eq!(headers["proxy-status"], "PostgREST; error=PGRST125");
}

#[tokio::test]
async fn storage_answers_client_errors_with_400_and_the_real_status_in_the_body() {
    let e = AppError::NotFound {
        code: "object_not_found",
        message: "Object not found".into(),
    };

    let (status, _, json) = body(render(&e, Surface::Storage, "r")).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["statusCode"], "404");
    assert_eq!(json["code"], "NoSuchKey");
}

#[tokio::test]
async fn rate_limited_carries_retry_after() {
    let (status, headers, _) = body(render(
        &AppError::RateLimited { retry_after: 7 },
        Surface::Native,
        "r",
    ))
    .await;

    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
}

#[test]
fn surface_is_chosen_by_path_prefix() {
    assert_eq!(
        Surface::for_path("/auth/v1/token", Some("2024-01-01")),
        Surface::GoTrue { versioned: true }
    );
    assert_eq!(
        Surface::for_path("/auth/v1", None),
        Surface::GoTrue { versioned: false }
    );
    assert_eq!(
        Surface::for_path("/rest/v1/leads", None),
        Surface::PostgRest
    );
    assert_eq!(
        Surface::for_path("/storage/v1/object/x", None),
        Surface::Storage
    );
    assert_eq!(Surface::for_path("/auth/v10", None), Surface::Native);
    assert_eq!(Surface::for_path("/health", None), Surface::Native);
}
