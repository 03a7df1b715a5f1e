//! `bizbase gen types typescript`: the `Database` type of the exposed schemas as
//! `supabase gen types typescript` prints it — rows, inserts (columns the database fills are
//! optional), updates (all optional), views, relationships, functions and enums.

use std::process::Command;

use sqlx::PgPool;

use super::fixture;

const EXTRA: &str = r#"
create type public.mood as enum ('happy', 'sad');
create table public.moods (
    id int primary key,
    mood public.mood not null default 'happy',
    note varchar(20),
    tags text[] not null,
    detail jsonb,
    "weird name" numeric not null,
    author_id int not null references public.authors (id)
);
create view public.author_names as select id, name from public.authors;
create function public.mood_of(day int, fallback public.mood default 'sad') returns public.mood
    language sql stable as $$ select coalesce((select mood from public.moods where id = day), fallback) $$;
create function public.all_moods() returns setof public.moods language sql stable as $$ select * from public.moods $$;
"#;

async fn generated(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bizbase"))
        .args(["gen", "types", "typescript"])
        .env("DATABASE_URL", format!("{server}/{db}"))
        .env("BIZBASE_DATA_DIR", dir.path())
        .env("BIZBASE_LOG", "warn")
        .env_remove("BIZBASE_REST_SCHEMAS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of `name`'s entry under `section` ("Tables"/"Views"), up to its closing brace.
fn entry<'a>(ts: &'a str, section: &str, name: &str) -> &'a str {
    let from = ts.find(&format!("    {section}: {{")).unwrap();
    let start = from + ts[from..].find(&format!("\n      {name}: {{\n")).unwrap();
    let end = start + ts[start..].find("\n      }").unwrap();
    &ts[start..end]
}

#[sqlx::test]
async fn the_database_type_describes_tables_views_relationships_functions_and_enums(pool: PgPool) {
    fixture(&pool).await;
    sqlx::raw_sql(EXTRA).execute(&pool).await.unwrap();
    let ts = generated(&pool).await;

    assert!(ts.starts_with("export type Json =\n"), "{ts}");
    assert!(ts.contains("export type Database = {\n  public: {\n"));
    let moods = entry(&ts, "Tables", "moods");
    let (row, rest) = moods.split_once("Insert: {").unwrap();
    let (insert, rest) = rest.split_once("Update: {").unwrap();
    let (update, relationships) = rest.split_once("Relationships: [").unwrap();
    for line in [
        "id: number",
        "mood: Database[\"public\"][\"Enums\"][\"mood\"]",
        "note: string | null",
        "tags: string[]",
        "detail: Json | null",
        "\"weird name\": number",
        "author_id: number",
    ] {
        assert!(
            row.contains(&format!("\n          {line}\n")),
            "Row lacks {line}: {row}"
        );
    }
    // On insert, what the database can fill (a default, or null) may be left out.
    for line in [
        "id: number",
        "mood?: Database[\"public\"][\"Enums\"][\"mood\"]",
        "note?: string | null",
        "tags: string[]",
        "\"weird name\": number",
    ] {
        assert!(
            insert.contains(&format!("\n          {line}\n")),
            "Insert lacks {line}: {insert}"
        );
    }
    assert!(
        update.contains("\n          id?: number\n")
            && update.contains("\n          tags?: string[]\n")
    );
    assert!(relationships.contains("foreignKeyName: \"moods_author_id_fkey\""));
    assert!(relationships.contains("columns: [\"author_id\"]"));
    assert!(relationships.contains("isOneToOne: false"));
    // A unique foreign key is one-to-one.
    assert!(entry(&ts, "Tables", "author_bios").contains("isOneToOne: true"));
    assert!(relationships.contains("referencedRelation: \"authors\""));

    let view = entry(&ts, "Views", "author_names");
    assert!(
        view.contains("Row: {") && !view.contains("Insert: {"),
        "{view}"
    );
    assert!(!ts[..ts.find("    Views: {").unwrap()].contains("\n      author_names: {"));

    assert!(ts.contains(
        "      mood_of: { Args: { day: number; fallback?: Database[\"public\"][\"Enums\"][\"mood\"] }; \
         Returns: Database[\"public\"][\"Enums\"][\"mood\"] }\n"
    ), "{ts}");
    assert!(ts.contains(
        "      all_moods: { Args: Record<PropertyKey, never>; Returns: Database[\"public\"][\"Tables\"][\"moods\"][\"Row\"][] }\n"
    ));
    assert!(ts.contains(
        "      pairs: { Args: Record<PropertyKey, never>; Returns: { n: number; word: string }[] }\n"
    ), "{ts}");
    assert!(ts.contains(
        "      bounds: { Args: Record<PropertyKey, never>; Returns: { lo: number; hi: number } }\n"
    ), "{ts}");
    assert!(ts.contains("      mood: \"happy\" | \"sad\"\n"));
}

#[sqlx::test]
async fn numbers_the_database_assigns_are_optional_on_insert(pool: PgPool) {
    // Tickets and invoices are numbered by triggers: typed clients may leave the number out.
    let ts = generated(&pool).await;
    for table in ["tickets", "invoices"] {
        let insert = entry(&ts, "Tables", table)
            .split_once("Insert: {")
            .unwrap()
            .1
            .split_once("Update: {")
            .unwrap()
            .0;
        assert!(
            insert.contains("\n          number?: "),
            "{table}: {insert}"
        );
    }
}
