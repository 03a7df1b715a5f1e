//! Identity: `/auth/v1`, compatible with Supabase Auth (GoTrue), plus bizbase's additions
//! (recovery codes, organizations and roles in the token).

pub mod audit;
pub mod context;
pub mod crypto;
pub mod gateway;
mod handlers;
pub mod hooks;
pub mod jwt;
pub mod keys;
pub mod mail;
pub mod mail_templates;
pub mod password;
pub mod pkce;
pub mod pwned;
pub mod rate_limit;
pub mod session;
pub mod totp;
pub mod user;

use std::path::Path;

use anyhow::Context;
use secrecy::SecretString;

use crate::config::Config;
pub use handlers::router;

/// Key material and helpers of the auth surface, built once at start-up.
#[derive(Debug)]
pub struct AuthState {
    /// Signs and verifies tokens.
    pub signer: jwt::Signer,
    /// Key of the refresh-token MAC (derived from the JWT secret).
    pub refresh_key: [u8; 32],
    /// Encrypts TOTP secrets at rest.
    pub cipher: crypto::Cipher,
    /// Password hashing with the configured cost.
    pub passwords: password::Passwords,
    /// Per-IP rate limits.
    pub limits: rate_limit::Limits,
    /// The auth e-mails' templates.
    pub templates: mail_templates::Templates,
    /// The leaked-password check, when on.
    pub pwned: Option<pwned::Pwned>,
}

impl AuthState {
    /// Loads or derives every key the auth surface needs.
    pub fn new(config: &Config, jwt_secret: &SecretString) -> anyhow::Result<Self> {
        let es256 = match &config.auth.es256_key_file {
            Some(path) => Some(std::fs::read(path).with_context(|| {
                format!("BIZBASE_JWT_ES256_KEY_FILE: cannot read {}", path.display())
            })?),
            None => None,
        };
        let signer = jwt::Signer::new(jwt_secret, es256.as_deref())?;
        let refresh_key = crypto::hmac_sha256(
            secrecy::ExposeSecret::expose_secret(jwt_secret).as_bytes(),
            &[b"bizbase refresh-token key v1"],
        );
        let encryption_key = match &config.auth.encryption_key {
            Some(k) => k.clone(),
            None => load_or_create_key(&config.data_dir.join("encryption_key"))?,
        };
        let cipher =
            crypto::Cipher::from_base64(&encryption_key).context("BIZBASE_ENCRYPTION_KEY")?;
        Ok(Self {
            signer,
            refresh_key,
            cipher,
            passwords: password::Passwords::new(config.auth.argon2)
                .with_max_wait(config.request_timeout),
            limits: rate_limit::Limits::new(&config.auth.rate_limits),
            templates: mail_templates::Templates::load(config.auth.mail_templates_dir.as_deref())?,
            pwned: pwned::Pwned::from_config(&config.auth)?,
        })
    }
}

/// Reads the generated encryption key, creating it (mode 0600) on first use.
fn load_or_create_key(path: &Path) -> anyhow::Result<SecretString> {
    keys::load_or_create_file(path, crypto::Cipher::generate_key, 44)
}
