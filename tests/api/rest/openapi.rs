//! `GET /rest/v1/`: the OpenAPI 2.0 document PostgREST serves at its root — paths for tables and
//! functions, definitions with types, keys and enums, the shared parameters, the schema chosen by
//! `Accept-Profile`, and only what the caller's role may use.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{Reply, Rest, USER_1, fixture, send};

/// An enum, comments, an auto-updatable and a read-only view, a table only the service role may
/// read, and a function only signed-in users may execute.
const EXTRA: &str = r#"
create type public.mood as enum ('happy', 'sad');
create table public.moods (
    id int primary key,
    mood public.mood not null default 'happy',
    note varchar(20),
    score int default 42
);
comment on table public.moods is 'Moods of the day

One row per day.';
comment on column public.moods.mood is 'How it felt';
create view public.author_names as select id, name from public.authors;
create view public.author_count as select count(*) as n from public.authors;
grant select, insert, update, delete on public.moods, public.author_names to anon, authenticated;
grant select on public.author_count to anon, authenticated;

create table public.staff_notes (id int primary key, body text);
grant select on public.staff_notes to service_role;

create function public.members_only() returns int language sql stable as $$ select 1 $$;
comment on function public.members_only() is 'For members';
revoke execute on function public.members_only() from public, anon;
grant execute on function public.members_only() to authenticated;
"#;

async fn start(pool: PgPool) -> Rest {
    fixture(&pool).await;
    sqlx::raw_sql(EXTRA).execute(&pool).await.unwrap();
    Rest::serve(pool, &[]).await
}

/// The document, which must be served with its media type.
fn document(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/openapi+json; charset=utf-8")
    );
    r.json()
}

fn refs(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({ "$ref": format!("#/parameters/{n}") }))
        .collect()
}

#[sqlx::test]
async fn the_root_serves_a_swagger_document_of_the_exposed_schema(pool: PgPool) {
    let app = start(pool).await;

    let doc = document(&app.get("/", &[]).await);
    let no_slash = send(
        app.client
            .get(format!("http://{}/rest/v1", app.addr))
            .header("apikey", &app.anon_key),
    )
    .await;

    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["title"], "standard public schema");
    assert_eq!(doc["basePath"], "/rest/v1");
    assert_eq!(doc["host"], app.addr.to_string());
    assert_eq!(doc["schemes"], json!(["http"]));
    assert_eq!(doc["consumes"], json!(["application/json"]));
    assert!(
        doc["produces"]
            .as_array()
            .unwrap()
            .contains(&json!("text/csv"))
    );
    assert_eq!(
        doc["paths"]["/"]["get"]["produces"],
        json!(["application/openapi+json", "application/json"])
    );
    for path in [
        "/authors",
        "/books",
        "/book_tags",
        "/messages",
        "/notes",
        "/rpc/add",
        "/rpc/books_by",
    ] {
        assert!(doc["paths"].get(path).is_some(), "no {path}");
    }
    assert!(doc["definitions"].get("books").is_some());
    assert_eq!(document(&no_slash)["swagger"], "2.0");
}

#[sqlx::test]
async fn table_paths_reference_row_filters_and_the_shared_parameters(pool: PgPool) {
    let app = start(pool).await;

    let doc = document(&app.get("/", &[]).await);

    let authors = &doc["paths"]["/authors"];
    let filters = [
        "rowFilter.authors.id",
        "rowFilter.authors.name",
        "rowFilter.authors.country",
    ];
    let mut get = filters.to_vec();
    get.extend([
        "select",
        "order",
        "range",
        "rangeUnit",
        "offset",
        "limit",
        "preferCount",
    ]);
    assert_eq!(authors["get"]["parameters"], refs(&get));
    assert_eq!(authors["get"]["tags"], json!(["authors"]));
    assert_eq!(
        authors["get"]["responses"]["200"]["schema"],
        json!({"items": {"$ref": "#/definitions/authors"}, "type": "array"})
    );
    assert_eq!(
        authors["get"]["responses"]["206"]["description"],
        "Partial Content"
    );
    assert_eq!(
        authors["post"]["parameters"],
        refs(&["body.authors", "select", "preferPost"])
    );
    assert_eq!(
        authors["post"]["responses"]["201"]["description"],
        "Created"
    );
    let mut patch = filters.to_vec();
    patch.extend(["body.authors", "preferReturn"]);
    assert_eq!(authors["patch"]["parameters"], refs(&patch));
    let mut delete = filters.to_vec();
    delete.push("preferReturn");
    assert_eq!(authors["delete"]["parameters"], refs(&delete));
    assert_eq!(
        authors["delete"]["responses"]["204"]["description"],
        "No Content"
    );
    let params = &doc["parameters"];
    assert_eq!(
        params["rowFilter.books.price"],
        json!({"name": "price", "required": false, "format": "numeric", "in": "query", "type": "string"})
    );
    assert_eq!(
        params["body.books"],
        json!({"name": "books", "description": "books", "required": false, "in": "body",
               "schema": {"$ref": "#/definitions/books"}})
    );
    assert_eq!(params["rangeUnit"]["default"], "items");
    assert_eq!(params["range"]["in"], "header");
    for shared in [
        "select",
        "order",
        "offset",
        "limit",
        "on_conflict",
        "columns",
        "preferParams",
    ] {
        assert!(params.get(shared).is_some(), "no {shared}");
    }
    assert!(
        params["preferPost"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("resolution=merge-duplicates"))
    );
    assert!(
        params["preferReturn"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("return=representation"))
    );
    assert!(
        params["preferCount"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("count=exact"))
    );
}

#[sqlx::test]
async fn definitions_carry_formats_types_defaults_keys_and_required_columns(pool: PgPool) {
    let app = start(pool).await;

    let doc = document(&app.get("/", &[]).await);

    let books = &doc["definitions"]["books"];
    let p = &books["properties"];
    assert_eq!(books["type"], "object");
    assert_eq!(books["required"], json!(["title"]));
    assert_eq!(
        p["id"],
        json!({"format": "integer", "type": "integer", "description": "Note:\nThis is a Primary Key.<pk/>"})
    );
    assert_eq!(
        p["author_id"]["description"],
        "Note:\nThis is a Foreign Key to `authors.id`.<fk table='authors' column='id'/>"
    );
    assert_eq!(p["price"], json!({"format": "numeric", "type": "number"}));
    assert_eq!(p["available"]["type"], "boolean");
    assert_eq!(p["data"], json!({"format": "jsonb"}));
    assert_eq!(
        p["tags"],
        json!({"format": "text[]", "type": "array", "items": {"type": "string"}})
    );
    assert_eq!(
        p["status"],
        json!({"format": "text", "type": "string", "default": "draft"})
    );
    assert_eq!(p["published_at"]["format"], "timestamp with time zone");
    assert_eq!(
        p["pub_range"],
        json!({"format": "int4range", "type": "string"})
    );
    assert_eq!(
        doc["definitions"]["book_tags"]["properties"]["book_id"]["description"],
        "Note:\nThis is a Primary Key.<pk/>\nThis is a Foreign Key to `books.id`.<fk table='books' column='id'/>"
    );
    assert_eq!(
        doc["definitions"]["messages"]["properties"]["recipient_id"]["description"],
        "Note:\nThis is a Foreign Key to `authors.id`.<fk table='authors' column='id'/>"
    );
    assert_eq!(
        doc["definitions"]["messages"]["required"],
        json!(["id", "sender_id", "recipient_id", "body"])
    );
}

#[sqlx::test]
async fn enums_comments_and_views_are_described(pool: PgPool) {
    let app = start(pool).await;

    let doc = document(&app.get("/", &[]).await);

    let moods = &doc["definitions"]["moods"];
    assert_eq!(moods["description"], "Moods of the day\n\nOne row per day.");
    assert_eq!(moods["required"], json!(["id"]));
    assert_eq!(
        moods["properties"]["mood"],
        json!({"format": "mood", "type": "string", "description": "How it felt",
               "default": "happy", "enum": ["happy", "sad"]})
    );
    assert_eq!(
        moods["properties"]["note"],
        json!({"format": "character varying", "type": "string", "maxLength": 20})
    );
    assert_eq!(moods["properties"]["score"]["default"], 42);
    let get = &doc["paths"]["/moods"]["get"];
    assert_eq!(get["summary"], "Moods of the day");
    assert_eq!(get["description"], "One row per day.");
    assert_eq!(
        doc["parameters"]["rowFilter.moods.mood"]["description"],
        "How it felt"
    );
    let updatable = doc["paths"]["/author_names"].as_object().unwrap();
    assert_eq!(
        updatable.keys().collect::<Vec<_>>(),
        ["get", "post", "patch", "delete"]
    );
    let read_only = doc["paths"]["/author_count"].as_object().unwrap();
    assert_eq!(read_only.keys().collect::<Vec<_>>(), ["get"]);
    assert!(doc["definitions"]["author_names"].get("required").is_none());
}

#[sqlx::test]
async fn rpc_paths_describe_the_arguments(pool: PgPool) {
    let app = start(pool).await;

    let doc = document(&app.get("/", &[]).await);

    let add = &doc["paths"]["/rpc/add"];
    assert_eq!(add["post"]["tags"], json!(["(rpc) add"]));
    assert_eq!(
        add["post"]["parameters"],
        json!([
            {"in": "body", "name": "args", "required": true, "schema": {
                "properties": {
                    "a": {"format": "integer", "type": "integer"},
                    "b": {"format": "integer", "type": "integer"},
                },
                "required": ["a", "b"],
                "type": "object",
            }},
            {"$ref": "#/parameters/preferParams"},
        ])
    );
    assert_eq!(
        add["get"]["parameters"],
        json!([
            {"format": "integer", "in": "query", "name": "a", "required": true, "type": "integer"},
            {"format": "integer", "in": "query", "name": "b", "required": true, "type": "integer"},
        ])
    );
    let volatile = doc["paths"]["/rpc/new_author"].as_object().unwrap();
    assert_eq!(volatile.keys().collect::<Vec<_>>(), ["post"]);
    let greet = &doc["paths"]["/rpc/greet"]["post"]["parameters"][0]["schema"];
    assert!(greet.get("required").is_none(), "{greet}");
    assert_eq!(greet["properties"]["name"]["format"], "text");
    let sum = &doc["paths"]["/rpc/sum_all"];
    assert_eq!(sum["get"]["parameters"][0]["type"], "string");
    assert_eq!(
        sum["post"]["parameters"][0]["schema"]["properties"]["nums"],
        json!({"format": "integer[]", "type": "array", "items": {"type": "integer"}})
    );
}

#[sqlx::test]
async fn only_what_the_role_may_use_is_listed(pool: PgPool) {
    let app = start(pool).await;

    let anon = document(&app.get("/", &[]).await);
    let user = document(&send(app.user(USER_1, Method::GET, "/", &[])).await);
    let service = document(&app.sget("/", &[]).await);

    for hidden in ["/staff_notes", "/rpc/members_only", "/orgs"] {
        assert!(anon["paths"].get(hidden).is_none(), "anon sees {hidden}");
    }
    assert!(anon["definitions"].get("staff_notes").is_none());
    assert!(anon["parameters"].get("body.staff_notes").is_none());
    assert!(anon["parameters"].get("rowFilter.staff_notes.id").is_none());
    assert!(anon["paths"].get("/notes").is_some());
    assert_eq!(
        user["paths"]["/rpc/members_only"]["get"]["summary"],
        "For members"
    );
    assert!(user["paths"].get("/orgs").is_some());
    assert!(user["paths"].get("/staff_notes").is_none());
    assert!(service["paths"].get("/staff_notes").is_some());
    assert!(service["definitions"].get("staff_notes").is_some());
}

#[sqlx::test]
async fn accept_profile_chooses_the_schema_described(pool: PgPool) {
    sqlx::raw_sql(
        "create schema extra; grant usage on schema extra to anon, authenticated, service_role; \
         comment on schema extra is 'Extra API\nThings and more'; \
         create table extra.things (id int primary key, name text); \
         grant select on extra.things to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start_with(pool, &[("REST_SCHEMAS", "public,extra")]).await;

    let r = send(
        app.anon(Method::GET, "/", &[])
            .header("accept-profile", "extra"),
    )
    .await;
    let unknown = send(
        app.anon(Method::GET, "/", &[])
            .header("accept-profile", "nope"),
    )
    .await;
    let default = document(&app.get("/", &[]).await);

    let extra = document(&r);
    assert_eq!(r.header("content-profile"), Some("extra"));
    assert_eq!(extra["info"]["title"], "Extra API");
    assert_eq!(extra["info"]["description"], "Things and more");
    assert!(extra["paths"].get("/things").is_some());
    assert!(extra["paths"].get("/authors").is_none());
    assert!(extra["paths"].get("/rpc/add").is_none());
    assert_eq!(
        extra["paths"]["/things"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["get", "post", "patch", "delete"]
    );
    unknown.error(406, "PGRST106");
    assert!(default["paths"].get("/things").is_none());
    assert!(default["paths"].get("/authors").is_some());
}

#[sqlx::test]
async fn forwarded_headers_name_the_host_and_scheme(pool: PgPool) {
    let app = start(pool).await;

    let r = send(
        app.anon(Method::GET, "/", &[])
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "api.example.com"),
    )
    .await;

    let doc = document(&r);
    assert_eq!(doc["host"], "api.example.com");
    assert_eq!(doc["schemes"], json!(["https"]));
}

#[sqlx::test]
async fn head_answers_without_a_body_and_other_media_types_are_refused(pool: PgPool) {
    let app = start(pool).await;

    let head = send(app.anon(Method::HEAD, "/", &[])).await;
    let openapi = send(
        app.anon(Method::GET, "/", &[])
            .header("accept", "application/openapi+json"),
    )
    .await;
    let csv = send(app.anon(Method::GET, "/", &[]).header("accept", "text/csv")).await;

    assert_eq!(head.status, 200);
    assert_eq!(head.text, "");
    assert_eq!(
        head.header("content-type"),
        Some("application/openapi+json; charset=utf-8")
    );
    assert_eq!(document(&openapi)["swagger"], "2.0");
    csv.error(406, "PGRST107");
}
