//! The command line: help on every subcommand, configuration errors, `keys --json`, `version`.

use std::process::{Command, Output};

fn bizbase(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bizbase"));
    cmd.args(args);
    // A clean configuration environment, whatever the developer has exported.
    for (name, _) in std::env::vars() {
        if name.starts_with("BIZBASE_") || name == "DATABASE_URL" {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_every_subcommand_and_each_has_its_own_help() {
    let top = bizbase(&["--help"], &[]);
    assert!(top.status.success());
    for sub in [
        "serve", "migrate", "keys", "version", "seed", "audit", "gen",
    ] {
        assert!(stdout(&top).contains(sub), "--help does not mention {sub}");
        let help = bizbase(&[sub, "--help"], &[]);
        assert!(help.status.success(), "{sub} --help failed");
        assert!(
            stdout(&help).contains("Usage: bizbase"),
            "{sub} --help: {}",
            stdout(&help)
        );
    }
}

#[test]
fn version_prints_the_package_version() {
    let out = bizbase(&["version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("bizbase {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn invalid_configuration_stops_start_up_naming_the_variable() {
    let out = bizbase(&["serve"], &[("BIZBASE_ADDR", "not-an-address")]);

    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("BIZBASE_ADDR"), "{}", stderr(&out));
}

#[test]
fn invalid_config_file_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bizbase.toml");
    std::fs::write(&file, "log_format = \"yaml\"\n").unwrap();

    let out = bizbase(&["--config", file.to_str().unwrap(), "keys"], &[]);

    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("log_format in"), "{}", stderr(&out));
}

#[test]
fn keys_json_prints_url_and_both_keys_stable_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        ("BIZBASE_DATA_DIR", data.to_str().unwrap()),
        ("BIZBASE_ADDR", "127.0.0.1:9999"),
    ];

    let first = bizbase(&["keys", "--json"], &env);
    let second = bizbase(&["keys", "--json"], &env);

    assert!(first.status.success(), "{}", stderr(&first));
    let a: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(a["url"], "http://127.0.0.1:9999");
    let secret = std::fs::read_to_string(data.join("jwt_secret")).unwrap();
    for keys in [&a, &b] {
        for (field, role) in [("anon_key", "anon"), ("service_role_key", "service_role")] {
            let claims = verify(keys[field].as_str().unwrap(), secret.trim());
            assert_eq!(claims["role"], role);
        }
    }
    assert!(
        !stdout(&first).contains(secret.trim()),
        "the secret itself must never be printed"
    );
}

#[test]
fn keys_use_the_configured_secret_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "configured-secret-configured-secret-42";

    let out = bizbase(
        &["keys", "--json"],
        &[
            ("BIZBASE_DATA_DIR", dir.path().to_str().unwrap()),
            ("BIZBASE_JWT_SECRET", secret),
        ],
    );

    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        verify(keys["anon_key"].as_str().unwrap(), secret)["role"],
        "anon"
    );
    assert!(!dir.path().join("jwt_secret").exists());
}

fn verify(token: &str, secret: &str) -> serde_json::Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims
}
