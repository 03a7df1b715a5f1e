//! The JWT secret and the long-lived API keys (`anon`, `service_role`) signed with it.
//!
//! When `BIZBASE_JWT_SECRET` is not set, a strong secret is generated once and kept in
//! `<data dir>/jwt_secret` (mode 0600), so `serve` and `keys` agree across restarts.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::config::Config;

/// File name of the generated secret inside the data dir.
const SECRET_FILE: &str = "jwt_secret";
/// API keys are valid for ten years, as Supabase's are.
const API_KEY_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

/// The configured secret, or the one kept in the data dir (generated on first use).
pub fn jwt_secret(config: &Config) -> anyhow::Result<SecretString> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    load_or_create_secret(&config.data_dir.join(SECRET_FILE))
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<SecretString> {
    load_or_create_file(
        path,
        || {
            let bytes: [u8; 48] = rand::rng().random();
            URL_SAFE_NO_PAD.encode(bytes)
        },
        32,
    )
}

/// Reads a secret kept in a file, or creates the file (mode 0600) with `generate()` first.
/// When two processes start at once, exactly one writes and both read its value.
pub fn load_or_create_file(
    path: &Path,
    generate: impl FnOnce() -> String,
    min_len: usize,
) -> anyhow::Result<SecretString> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let fresh = generate();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(fresh.as_bytes())
                .and_then(|()| file.sync_all())
                .context("writing a generated secret")?;
            tracing::info!(path = %path.display(), "generated a new secret");
            return Ok(SecretString::from(fresh));
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let secret = text.trim();
    if secret.len() < min_len {
        anyhow::bail!(
            "{} holds a secret shorter than {min_len} characters; delete it to generate a new one",
            path.display()
        );
    }
    Ok(SecretString::from(secret.to_owned()))
}

/// Where the generated secret lives for a data dir.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SECRET_FILE)
}

#[derive(Serialize)]
struct ApiKeyClaims<'a> {
    iss: &'a str,
    role: &'a str,
    iat: i64,
    exp: i64,
}

/// Signs a long-lived API key for `role` (`anon` or `service_role`).
pub fn api_key(secret: &SecretString, role: &str) -> anyhow::Result<String> {
    let iat = chrono::Utc::now().timestamp();
    let claims = ApiKeyClaims {
        iss: "bizbase",
        role,
        iat,
        exp: iat + API_KEY_LIFETIME_SECS,
    };
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .context("signing an API key")
}

/// What `bizbase keys --json` prints.
#[derive(Debug, Serialize)]
pub struct ApiKeys {
    /// Base URL to give `createClient`.
    pub url: String,
    /// Key for browsers and anonymous callers.
    pub anon_key: String,
    /// Key for trusted servers; bypasses row-level security. Keep it secret.
    pub service_role_key: String,
}

impl ApiKeys {
    /// Mints both keys for the configured (or generated) secret.
    pub fn for_config(config: &Config) -> anyhow::Result<Self> {
        let secret = jwt_secret(config)?;
        Ok(Self {
            url: config.public_url.clone(),
            anon_key: api_key(&secret, "anon")?,
            service_role_key: api_key(&secret, "service_role")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn the_secret_is_generated_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_path(dir.path());

        let first = load_or_create_secret(&path).unwrap();
        let second = load_or_create_secret(&path).unwrap();

        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 64);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn api_keys_are_hs256_with_the_role_and_a_long_lifetime() {
        let secret = SecretString::from("0123456789abcdef0123456789abcdef".to_owned());

        let key = api_key(&secret, "service_role").unwrap();

        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &key,
            &DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["role"], "service_role");
        assert!(
            data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap()
                > 9 * 365 * 86400
        );
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &key,
                &DecodingKey::from_secret(b"wrong-secret-wrong-secret-wrong!!"),
                &validation
            )
            .is_err()
        );
    }
}
