//! Leaked-password protection (GoTrue's `PASSWORD_HIBP_ENABLED`): a new password found in the
//! Have I Been Pwned corpus is a `weak_password` with the reason `pwned`. The check uses the
//! k-anonymity range API — only the first five hex digits of the password's SHA-1 leave bizbase,
//! with padded answers — at `BIZBASE_AUTH_PASSWORD_HIBP_URL`. When the service cannot be reached
//! the password is accepted (and a warning logged) unless `BIZBASE_AUTH_PASSWORD_HIBP_FAIL_CLOSED`
//! is set, which refuses it with a 503 instead.

use std::time::Duration;

use anyhow::Context;
use sha1::{Digest, Sha1};

use crate::{
    config::auth::AuthConfig,
    error::{AppError, AppResult},
};

/// The range-API client.
#[derive(Debug, Clone)]
pub struct Pwned {
    client: reqwest::Client,
    base: String,
    fail_closed: bool,
}

impl Pwned {
    /// The checker, when the configuration turns it on.
    pub fn from_config(auth: &AuthConfig) -> anyhow::Result<Option<Self>> {
        if !auth.password_hibp {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent("bizbase")
            .build()
            .context("building the HIBP client")?;
        Ok(Some(Self {
            client,
            base: auth.password_hibp_url.trim_end_matches('/').to_owned(),
            fail_closed: auth.password_hibp_fail_closed,
        }))
    }

    /// Whether `password` is in the corpus; an unreachable service counts as "no" unless the
    /// check fails closed.
    pub async fn is_pwned(&self, password: &str) -> AppResult<bool> {
        let digest: String = Sha1::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let (prefix, suffix) = digest.split_at(5);
        match self.range(prefix).await {
            Ok(body) => Ok(body.lines().any(|line| {
                line.trim()
                    .split_once(':')
                    .is_some_and(|(s, count)| s.eq_ignore_ascii_case(suffix) && count.trim() != "0")
            })),
            Err(e) if self.fail_closed => {
                tracing::warn!(error = %format!("{e:#}"), "leaked-password check failed closed: HIBP unreachable");
                Err(AppError::Unavailable(
                    "the leaked-password check is unavailable".into(),
                ))
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "leaked-password check skipped: HIBP unreachable");
                Ok(false)
            }
        }
    }

    async fn range(&self, prefix: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .get(format!("{}/range/{prefix}", self.base))
            .header("Add-Padding", "true")
            .send()
            .await?
            .error_for_status()?;
        Ok(response.text().await?)
    }
}
