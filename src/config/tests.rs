use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Sources {
    let vars = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    match Sources::from_parts(vars, None) {
        Ok(s) => s,
        Err(e) => panic!("sources: {e}"),
    }
}

fn load_err(pairs: &[(&str, &str)]) -> ConfigError {
    match Config::from_sources(&env(pairs)) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_listen_on_loopback_8080_with_embedded_database() {
    let c = Config::from_sources(&env(&[])).unwrap();

    assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.data_dir, std::path::PathBuf::from("./data"));
    assert!(c.database_url.is_none());
    assert!(c.jwt_secret.is_none());
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert_eq!(c.cors_origins, CorsOrigins::Any);
    assert!(c.migrate_on_start);
    assert!(c.sentiment);
}

#[test]
fn invalid_address_names_the_variable() {
    let e = load_err(&[("BIZBASE_ADDR", "localhost:eighty")]);

    assert_eq!(e.origin, "BIZBASE_ADDR");
    assert!(
        e.to_string().starts_with("BIZBASE_ADDR: invalid value"),
        "{e}"
    );
}

#[test]
fn invalid_log_format_and_filter_name_their_variables() {
    assert_eq!(
        load_err(&[("BIZBASE_LOG_FORMAT", "xml")]).origin,
        "BIZBASE_LOG_FORMAT"
    );
    assert_eq!(
        load_err(&[("BIZBASE_LOG", "info,[[[")]).origin,
        "BIZBASE_LOG"
    );
}

#[test]
fn short_jwt_secret_is_refused_without_echoing_it() {
    let e = load_err(&[("BIZBASE_JWT_SECRET", "hunter2")]);

    assert_eq!(e.origin, "BIZBASE_JWT_SECRET");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn database_urls_must_be_postgres_and_are_never_echoed() {
    for key in ["DATABASE_URL", "BIZBASE_API_DATABASE_URL"] {
        let e = load_err(&[(key, "mysql://root:topsecret@db/x")]);

        assert_eq!(e.origin, key);
        assert!(!e.to_string().contains("topsecret"));
    }
}

#[test]
fn debug_output_hides_secrets() {
    let c = Config::from_sources(&env(&[
        (
            "BIZBASE_JWT_SECRET",
            "a-very-long-secret-value-of-at-least-32-chars",
        ),
        ("DATABASE_URL", "postgres://app:dbpassword@db/app"),
        (
            "BIZBASE_API_DATABASE_URL",
            "postgres://authenticator:apipassword@db/app",
        ),
    ]))
    .unwrap();

    let shown = format!("{c:?}");
    assert!(!shown.contains("a-very-long-secret"), "{shown}");
    assert!(!shown.contains("dbpassword"), "{shown}");
    assert!(!shown.contains("apipassword"), "{shown}");
    assert_eq!(
        c.jwt_secret.unwrap().expose_secret(),
        "a-very-long-secret-value-of-at-least-32-chars"
    );
}

#[test]
fn environment_overrides_file_and_file_overrides_defaults() {
    let file = "addr = \"0.0.0.0:9000\"\nlog_format = \"json\"\ncors_origins = [\"https://a.example\", \"https://b.example/\"]\n";
    let vars = vec![("BIZBASE_ADDR".to_owned(), "127.0.0.1:7000".to_owned())];
    let src = Sources::from_parts(vars, Some(("bizbase.toml", file))).unwrap();

    let c = Config::from_sources(&src).unwrap();

    assert_eq!(c.addr.to_string(), "127.0.0.1:7000");
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(
        c.cors_origins,
        CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
    );
}

#[test]
fn file_errors_name_the_file_key() {
    let src = Sources::from_parts(Vec::new(), Some(("bizbase.toml", "db_pool_max = 0\n"))).unwrap();
    let e = Config::from_sources(&src).unwrap_err();
    assert_eq!(e.origin, "db_pool_max in bizbase.toml");

    let unknown =
        Sources::from_parts(Vec::new(), Some(("bizbase.toml", "adr = \"x\"\n"))).unwrap_err();
    assert_eq!(unknown.origin, "adr in bizbase.toml");
    assert_eq!(unknown.message, "unknown setting");
}

#[test]
fn unknown_bizbase_variables_are_reported() {
    let src = env(&[("BIZBASE_ADRESS", "x"), ("HOME", "/root")]);
    assert_eq!(src.unknown_env, vec!["BIZBASE_ADRESS".to_owned()]);
}

#[test]
fn booleans_accept_common_spellings_and_reject_others() {
    let off = Config::from_sources(&env(&[
        ("BIZBASE_MIGRATE", "off"),
        ("BIZBASE_SENTIMENT", "no"),
    ]))
    .unwrap();
    assert!(!off.migrate_on_start);
    assert!(!off.sentiment);
    assert_eq!(
        load_err(&[("BIZBASE_MIGRATE", "maybe")]).origin,
        "BIZBASE_MIGRATE"
    );
}

#[test]
fn public_url_must_be_http_and_loses_its_trailing_slash() {
    let c =
        Config::from_sources(&env(&[("BIZBASE_PUBLIC_URL", "https://api.example.com/")])).unwrap();
    assert_eq!(c.public_url, "https://api.example.com");
    assert_eq!(
        load_err(&[("BIZBASE_PUBLIC_URL", "ftp://x")]).origin,
        "BIZBASE_PUBLIC_URL"
    );
}

#[test]
fn a_hook_name_that_is_no_plain_schema_function_is_refused() {
    let e = load_err(&[(
        "BIZBASE_AUTH_HOOK_CUSTOM_ACCESS_TOKEN",
        "public.hook(); drop table auth.users",
    )]);

    assert!(
        e.to_string()
            .contains("BIZBASE_AUTH_HOOK_CUSTOM_ACCESS_TOKEN"),
        "{e}"
    );
}

#[test]
fn trusted_proxies_need_the_header_they_write_and_must_parse() {
    let alone = load_err(&[("BIZBASE_RATE_LIMIT_TRUSTED_PROXIES", "10.0.0.0/8")]);
    assert_eq!(alone.origin, "BIZBASE_RATE_LIMIT_TRUSTED_PROXIES");
    assert!(
        alone.message.contains("BIZBASE_RATE_LIMIT_IP_HEADER"),
        "{}",
        alone.message
    );

    let header = ("BIZBASE_RATE_LIMIT_IP_HEADER", "X-Forwarded-For");
    let bad = load_err(&[
        header,
        ("BIZBASE_RATE_LIMIT_TRUSTED_PROXIES", "10.0.0.0/8, lb"),
    ]);
    assert_eq!(bad.origin, "BIZBASE_RATE_LIMIT_TRUSTED_PROXIES");
    assert!(bad.message.contains("`lb`"), "{}", bad.message);

    let c = Config::from_sources(&env(&[
        header,
        ("BIZBASE_RATE_LIMIT_TRUSTED_PROXIES", "10.0.0.0/8"),
    ]))
    .unwrap();
    assert_eq!(c.auth.ip_header.as_deref(), Some("x-forwarded-for"));
    assert_eq!(c.auth.trusted_proxies.len(), 1);
}

#[test]
fn the_operations_listener_is_optional_and_needs_a_port_of_its_own() {
    assert_eq!(Config::from_sources(&env(&[])).unwrap().admin_addr, None);
    let c = Config::from_sources(&env(&[
        ("BIZBASE_ADDR", "0.0.0.0:8080"),
        ("BIZBASE_ADMIN_ADDR", "127.0.0.1:9100"),
    ]))
    .unwrap();
    assert_eq!(c.admin_addr, Some(([127, 0, 0, 1], 9100).into()));

    let e = load_err(&[
        ("BIZBASE_ADDR", "0.0.0.0:8080"),
        ("BIZBASE_ADMIN_ADDR", "127.0.0.1:8080"),
    ]);
    assert_eq!(e.origin, "BIZBASE_ADMIN_ADDR");
    assert_eq!(
        load_err(&[("BIZBASE_ADMIN_ADDR", "9100")]).origin,
        "BIZBASE_ADMIN_ADDR"
    );
}
