//! `GET /admin/users`: pages, totals and links, search and sort, what each listed user carries.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{str_of, user_with_mfa};
use super::create;
use crate::harness::{TestApp, assert_error, json};

#[sqlx::test]
async fn users_are_listed_in_pages_with_a_total_and_links(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for i in 0..5 {
        create(&app, json!({ "email": format!("user{i}@example.com") })).await;
    }

    let first = app
        .admin(Method::GET, "/admin/users?page=1&per_page=2")
        .send()
        .await
        .unwrap();
    let last = app
        .admin(Method::GET, "/admin/users?page=3&per_page=2")
        .send()
        .await
        .unwrap();

    assert_eq!(first.headers()["x-total-count"], "5");
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains(r#"</admin/users?page=2&per_page=2>; rel="next""#),
        "{link}"
    );
    assert!(
        link.contains(r#"</admin/users?page=3&per_page=2>; rel="last""#),
        "{link}"
    );
    let body = json(first).await;
    assert_eq!(body["aud"], "authenticated");
    assert_eq!(body["users"].as_array().unwrap().len(), 2);
    let last_link = last.headers()["link"].to_str().unwrap().to_owned();
    assert!(!last_link.contains("rel=\"next\""), "{last_link}");
    assert_eq!(json(last).await["users"].as_array().unwrap().len(), 1);
}

/// `GET /admin/users?{query}`: the status, `X-Total-Count`, `Link` and the listed addresses.
async fn listed(app: &TestApp, query: &str) -> (u16, String, String, Vec<String>) {
    let page = app.admin_page(&format!("/admin/users?{query}")).await;
    let emails = page.body["users"]
        .as_array()
        .map(|users| {
            users
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (page.status, page.total, page.link, emails)
}

#[sqlx::test]
async fn users_are_found_by_address_or_full_name_and_sorted_by_creation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (email, name) in [
        ("ann@example.com", "Ann Lee"),
        ("bob@example.com", "Robert Smith"),
        ("carol_x@example.com", "Carol"),
        ("dan@example.com", "Dan Smithers"),
    ] {
        let r = create(
            &app,
            json!({ "email": email, "user_metadata": { "full_name": name } }),
        )
        .await;
        assert_eq!(r.status(), 200);
    }

    let by_address = listed(&app, "filter=ANN").await;
    let by_name = listed(&app, "filter=smith&per_page=1").await;
    let literal = listed(&app, "filter=_").await;
    let oldest_first = listed(&app, "sort=created_at%20asc").await;
    let newest_first = listed(&app, "sort=created_at").await;
    let bad_field = listed(&app, "sort=email").await;
    let bad_direction = listed(&app, "sort=created_at%20sideways").await;

    assert_eq!((by_address.0, by_address.1.as_str()), (200, "1"));
    assert_eq!(by_address.3, ["ann@example.com"]);
    assert_eq!(by_name.1, "2", "the total counts the matching users");
    assert_eq!(by_name.3, ["dan@example.com"], "newest first by default");
    assert!(
        by_name
            .2
            .contains(r#"</admin/users?page=2&per_page=1&filter=smith>; rel="next""#),
        "the links keep the filter: {}",
        by_name.2
    );
    assert_eq!(literal.3, ["carol_x@example.com"], "`_` is no wildcard");
    assert_eq!(
        oldest_first.3,
        [
            "ann@example.com",
            "bob@example.com",
            "carol_x@example.com",
            "dan@example.com"
        ]
    );
    assert!(
        oldest_first.2.contains("&sort=created_at+asc>"),
        "{}",
        oldest_first.2
    );
    assert_eq!(
        newest_first.3.first().map(String::as_str),
        Some("dan@example.com")
    );
    assert_eq!((bad_field.0, bad_direction.0), (400, 400));
}

#[sqlx::test]
async fn listed_users_carry_their_identities_and_factors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, factor) = user_with_mfa(&app, "mfa@example.com").await;
    create(&app, json!({ "email": "plain@example.com" })).await;

    let r = app
        .admin(Method::GET, "/admin/users?sort=created_at%20asc")
        .send()
        .await
        .unwrap();

    let body = json(r).await;
    let users = body["users"].as_array().unwrap();
    assert_eq!(users[0]["email"], "mfa@example.com");
    assert_eq!(users[0]["identities"][0]["provider"], "email");
    assert_eq!(users[0]["factors"][0]["id"], factor.id.as_str());
    assert_eq!(users[0]["factors"][0]["status"], "verified");
    assert_eq!(users[1]["email"], "plain@example.com");
    assert!(
        users[1]
            .get("factors")
            .is_none_or(|f| f.as_array().is_some_and(Vec::is_empty))
    );
}

#[sqlx::test]
async fn the_list_defaults_to_fifty_per_page(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "ann@example.com" })).await;

    let r = app.admin(Method::GET, "/admin/users").send().await.unwrap();

    assert_eq!(r.headers()["x-total-count"], "1");
    assert!(
        r.headers()["link"]
            .to_str()
            .unwrap()
            .contains(r#"</admin/users?page=1&per_page=50>; rel="last""#)
    );
    assert_eq!(json(r).await["users"][0]["email"], "ann@example.com");
}

#[sqlx::test]
async fn pages_that_are_not_whole_numbers_are_refused_not_read_as_the_default(pool: PgPool) {
    // As GoTrue ("Bad Pagination Parameters"): a client sending `page=-1` or `per_page=0` learns
    // of its mistake instead of silently getting the first fifty.
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "ann@example.com" })).await;

    for list in ["/admin/users", "/admin/audit"] {
        for query in [
            "page=-1",
            "page=abc",
            "page=1.5",
            "page=+2",
            "per_page=0",
            "per_page=-5",
            "per_page=ten",
        ] {
            let r = app
                .admin(Method::GET, &format!("{list}?{query}"))
                .send()
                .await
                .unwrap();
            let body = assert_error(r, 400, "validation_failed").await;
            let message = str_of(&body, "message");
            assert!(
                message.starts_with("Bad Pagination Parameters: "),
                "{list}?{query}: {body}"
            );
        }
        // Page 0 is the first page, as in GoTrue; a size past 1,000 is served as 1,000.
        let first = app
            .admin_page(&format!("{list}?page=0&per_page=5000"))
            .await;
        assert_eq!(first.status, 200, "{list}: {}", first.body);
        assert!(
            first.link.contains("per_page=1000>"),
            "{list}: {}",
            first.link
        );
    }
    let (status, _, _, emails) = listed(&app, "page=0").await;
    assert_eq!((status, emails), (200, vec!["ann@example.com".to_owned()]));
    let (status, _, _, emails) = listed(&app, "page=99999999999999999999").await;
    assert_eq!((status, emails), (200, vec![]));
}
