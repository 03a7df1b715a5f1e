//! Settings of `/auth/v1`: sign-up policy, tokens, passwords, mail and rate limits.

use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, Sources};

/// Argon2id cost parameters (OWASP's recommendation by default: 19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// Requests allowed per client IP in five minutes, per endpoint group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `/signup`.
    pub signup: u32,
    /// `/token` (all grants).
    pub token: u32,
    /// `/verify`.
    pub verify: u32,
    /// `/otp`, `/recover`, `/resend`, `/magiclink`.
    pub otp: u32,
    /// MFA challenge and verify.
    pub mfa: u32,
    /// Anonymous sign-ins, per **hour** (`BIZBASE_RATE_LIMIT_ANONYMOUS`, default 30).
    pub anonymous: u32,
    /// Auth e-mails of the whole instance, per **hour** (`BIZBASE_RATE_LIMIT_EMAIL_SENT`); unset: no limit.
    pub email_sent: Option<u32>,
}

/// The auth settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where links in e-mails send users by default (`BIZBASE_SITE_URL`).
    pub site_url: String,
    /// Extra allowed `redirect_to` targets (`BIZBASE_AUTH_REDIRECT_ALLOW_LIST`, comma-separated prefixes).
    pub redirect_allow_list: Vec<String>,
    /// Confirm e-mail addresses without sending a link (`BIZBASE_AUTH_AUTOCONFIRM`).
    pub autoconfirm: bool,
    /// Refuse new sign-ups (`BIZBASE_AUTH_DISABLE_SIGNUP`).
    pub disable_signup: bool,
    /// Allow `signInAnonymously()` (`BIZBASE_AUTH_ANONYMOUS_USERS`; GoTrue's `EXTERNAL_ANONYMOUS_USERS_ENABLED`).
    pub anonymous_users: bool,
    /// An e-mail change is confirmed from both the current and the new address
    /// (`BIZBASE_AUTH_SECURE_EMAIL_CHANGE`, on by default as GoTrue's
    /// `MAILER_SECURE_EMAIL_CHANGE_ENABLED`).
    pub secure_email_change: bool,
    /// Password changes in sessions older than 24 hours need the nonce of `/reauthenticate`
    /// (`BIZBASE_AUTH_SECURE_PASSWORD_CHANGE`; GoTrue's `UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`).
    pub secure_password_change: bool,
    /// Access-token lifetime (`BIZBASE_JWT_EXP_SECS`).
    pub jwt_exp: Duration,
    /// An ES256 private key (PEM file) to sign access tokens with instead of HS256 (`BIZBASE_JWT_ES256_KEY_FILE`).
    pub es256_key_file: Option<std::path::PathBuf>,
    /// The custom access-token hook (`BIZBASE_AUTH_HOOK_CUSTOM_ACCESS_TOKEN`: `schema.function`).
    pub custom_access_token_hook: Option<crate::auth::hooks::HookFunction>,
    /// Limits on how long sessions last (`BIZBASE_AUTH_SESSIONS_*`).
    pub sessions: SessionLimits,
    /// How long a rotated refresh token may still be used (concurrent tabs) (`BIZBASE_AUTH_REFRESH_REUSE_INTERVAL_SECS`).
    pub refresh_reuse_interval: Duration,
    /// Minimum password length (`BIZBASE_AUTH_PASSWORD_MIN_LENGTH`).
    pub password_min_length: usize,
    /// Character classes a password must contain: `lower`, `upper`, `digit`, `symbol`
    /// (`BIZBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS`, comma-separated).
    pub password_required_characters: Vec<String>,
    /// Refuse passwords found in Have I Been Pwned (`BIZBASE_AUTH_PASSWORD_HIBP`).
    pub password_hibp: bool,
    /// The HIBP range API (`BIZBASE_AUTH_PASSWORD_HIBP_URL`).
    pub password_hibp_url: String,
    /// Refuse passwords while HIBP is unreachable (`BIZBASE_AUTH_PASSWORD_HIBP_FAIL_CLOSED`).
    pub password_hibp_fail_closed: bool,
    /// Password hashing cost (`BIZBASE_ARGON2_MEMORY_KIB`, `_ITERATIONS`, `_PARALLELISM`).
    pub argon2: Argon2Params,
    /// Per-user minimum time between two mails of one kind (`BIZBASE_AUTH_MAIL_FREQUENCY_SECS`).
    pub mail_frequency: Duration,
    /// Lifetime of e-mailed tokens and codes (`BIZBASE_AUTH_OTP_EXP_SECS`).
    pub otp_exp: Duration,
    /// How long a PKCE auth code can be exchanged after its link was followed
    /// (`BIZBASE_AUTH_FLOW_STATE_EXP_SECS`).
    pub flow_state_exp: Duration,
    /// SMTP server (`BIZBASE_SMTP_URL`, e.g. `smtp://user:pass@host:587` or `smtps://…`); unset: outbox only.
    pub smtp_url: Option<SecretString>,
    /// Sender address (`BIZBASE_SMTP_FROM`).
    pub smtp_from: String,
    /// Directory of mail templates (`BIZBASE_MAIL_TEMPLATES_DIR`; see `auth::mail_templates`).
    pub mail_templates_dir: Option<std::path::PathBuf>,
    /// Header carrying the client IP (`BIZBASE_RATE_LIMIT_IP_HEADER`); unset: the socket peer.
    pub ip_header: Option<String>,
    /// The proxies whose `ip_header` counts (`BIZBASE_RATE_LIMIT_TRUSTED_PROXIES`, addresses and
    /// networks separated by commas); empty: whoever connects.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Rate limits (`BIZBASE_RATE_LIMIT_SIGNUP`, `_TOKEN`, `_VERIFY`, `_OTP`, `_MFA`).
    pub rate_limits: RateLimits,
    /// Issuer shown in authenticator apps (`BIZBASE_MFA_ISSUER`); defaults to the site URL's host.
    pub mfa_issuer: String,
    /// Key (base64 of 32 bytes) that encrypts TOTP secrets (`BIZBASE_ENCRYPTION_KEY`); generated in the data dir when unset.
    pub encryption_key: Option<SecretString>,
}

/// How long a session may be refreshed (GoTrue's `SESSIONS_*`); `None`/`false`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session ends this long after sign-in (`BIZBASE_AUTH_SESSIONS_TIMEBOX_SECS`); access
    /// tokens never outlive it.
    pub timebox: Option<Duration>,
    /// A session not refreshed for this long ends (`BIZBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT_SECS`).
    pub inactivity_timeout: Option<Duration>,
    /// A sign-in ends the user's older sessions (`BIZBASE_AUTH_SESSIONS_SINGLE_PER_USER`).
    pub single_per_user: bool,
    /// An `aal1` session of a user with a verified factor can be refreshed only this long after
    /// sign-in, and its access tokens expire by then (`BIZBASE_AUTH_SESSIONS_ALLOW_LOW_AAL_SECS`).
    pub allow_low_aal: Option<Duration>,
}

/// The auth keys this module reads (for [`super::source::KEYS`]).
pub const KEYS: &[&str] = &[
    "SITE_URL",
    "AUTH_REDIRECT_ALLOW_LIST",
    "AUTH_AUTOCONFIRM",
    "AUTH_DISABLE_SIGNUP",
    "AUTH_SECURE_PASSWORD_CHANGE",
    "AUTH_SECURE_EMAIL_CHANGE",
    "AUTH_ANONYMOUS_USERS",
    "JWT_EXP_SECS",
    "JWT_ES256_KEY_FILE",
    "AUTH_REFRESH_REUSE_INTERVAL_SECS",
    "AUTH_HOOK_CUSTOM_ACCESS_TOKEN",
    "AUTH_SESSIONS_TIMEBOX_SECS",
    "AUTH_SESSIONS_INACTIVITY_TIMEOUT_SECS",
    "AUTH_SESSIONS_SINGLE_PER_USER",
    "AUTH_SESSIONS_ALLOW_LOW_AAL_SECS",
    "AUTH_PASSWORD_MIN_LENGTH",
    "AUTH_PASSWORD_REQUIRED_CHARACTERS",
    "AUTH_PASSWORD_HIBP",
    "AUTH_PASSWORD_HIBP_URL",
    "AUTH_PASSWORD_HIBP_FAIL_CLOSED",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "AUTH_MAIL_FREQUENCY_SECS",
    "AUTH_OTP_EXP_SECS",
    "AUTH_FLOW_STATE_EXP_SECS",
    "SMTP_URL",
    "SMTP_FROM",
    "MAIL_TEMPLATES_DIR",
    "RATE_LIMIT_IP_HEADER",
    "RATE_LIMIT_TRUSTED_PROXIES",
    "RATE_LIMIT_SIGNUP",
    "RATE_LIMIT_TOKEN",
    "RATE_LIMIT_VERIFY",
    "RATE_LIMIT_OTP",
    "RATE_LIMIT_MFA",
    "RATE_LIMIT_ANONYMOUS",
    "RATE_LIMIT_EMAIL_SENT",
    "MFA_ISSUER",
    "ENCRYPTION_KEY",
];

fn list(src: &Sources, key: &str) -> Vec<String> {
    src.get(key)
        .map(|v| {
            v.value
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Addresses and networks separated by commas (`10.0.0.0/8, 192.0.2.7, 2001:db8::/32`); an
/// address alone is a network of one.
fn parse_networks(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.parse::<ipnet::IpNet>()
                .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| format!("`{e}` is not an IP address or network (e.g. 10.0.0.0/8)"))
        })
        .collect()
}

fn at_least<T: PartialOrd + std::fmt::Display + Copy>(
    src: &Sources,
    key: &str,
    value: T,
    min: T,
) -> Result<T, ConfigError> {
    if value < min {
        return Err(src.error_for(key, &format!("must be at least {min}")));
    }
    Ok(value)
}

impl AuthConfig {
    /// Reads the auth settings; `public_url` is the default site URL.
    pub fn from_sources(src: &Sources, public_url: &str) -> Result<Self, ConfigError> {
        let site_url = match src.get("SITE_URL") {
            Some(v) => super::parse_public_url(&v.value).map_err(|m| v.error(m))?,
            None => public_url.to_owned(),
        };
        let required = list(src, "AUTH_PASSWORD_REQUIRED_CHARACTERS");
        if let Some(bad) = required
            .iter()
            .find(|c| !["lower", "upper", "digit", "symbol"].contains(&c.as_str()))
        {
            return Err(src.error_for(
                "AUTH_PASSWORD_REQUIRED_CHARACTERS",
                &format!("unknown class {bad:?}: use lower, upper, digit, symbol"),
            ));
        }
        let argon2 = Argon2Params {
            memory_kib: at_least(
                src,
                "ARGON2_MEMORY_KIB",
                src.parsed("ARGON2_MEMORY_KIB")?.unwrap_or(19_456),
                8,
            )?,
            iterations: at_least(
                src,
                "ARGON2_ITERATIONS",
                src.parsed("ARGON2_ITERATIONS")?.unwrap_or(2),
                1,
            )?,
            parallelism: at_least(
                src,
                "ARGON2_PARALLELISM",
                src.parsed("ARGON2_PARALLELISM")?.unwrap_or(1),
                1,
            )?,
        };
        let limit = |key: &str| -> Result<u32, ConfigError> {
            at_least(src, key, src.parsed(key)?.unwrap_or(30), 1)
        };
        let secs = |key: &str, default: u64| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(src.parsed(key)?.unwrap_or(default)))
        };
        let mfa_issuer = match src.get("MFA_ISSUER") {
            Some(v) => v.value.clone(),
            None => host_of(&site_url),
        };
        Ok(Self {
            redirect_allow_list: list(src, "AUTH_REDIRECT_ALLOW_LIST"),
            autoconfirm: src.parsed_bool("AUTH_AUTOCONFIRM")?.unwrap_or(false),
            disable_signup: src.parsed_bool("AUTH_DISABLE_SIGNUP")?.unwrap_or(false),
            anonymous_users: src.parsed_bool("AUTH_ANONYMOUS_USERS")?.unwrap_or(false),
            secure_email_change: src.parsed_bool("AUTH_SECURE_EMAIL_CHANGE")?.unwrap_or(true),
            secure_password_change: src
                .parsed_bool("AUTH_SECURE_PASSWORD_CHANGE")?
                .unwrap_or(false),
            jwt_exp: Duration::from_secs(at_least(
                src,
                "JWT_EXP_SECS",
                src.parsed("JWT_EXP_SECS")?.unwrap_or(3600),
                30,
            )?),
            es256_key_file: src
                .get("JWT_ES256_KEY_FILE")
                .map(|v| v.value.clone().into()),
            mail_templates_dir: src
                .get("MAIL_TEMPLATES_DIR")
                .map(|v| v.value.clone().into()),
            refresh_reuse_interval: secs("AUTH_REFRESH_REUSE_INTERVAL_SECS", 10)?,
            custom_access_token_hook: match src.get("AUTH_HOOK_CUSTOM_ACCESS_TOKEN") {
                Some(v) => Some(
                    crate::auth::hooks::HookFunction::parse(&v.value).ok_or_else(|| {
                        src.error_for(
                            "AUTH_HOOK_CUSTOM_ACCESS_TOKEN",
                            "must be schema.function or pg-functions://<database>/schema/function",
                        )
                    })?,
                ),
                None => None,
            },
            sessions: {
                let limit = |key: &str| -> Result<Option<Duration>, ConfigError> {
                    Ok(src
                        .parsed::<u64>(key)?
                        .filter(|s| *s > 0)
                        .map(Duration::from_secs))
                };
                SessionLimits {
                    timebox: limit("AUTH_SESSIONS_TIMEBOX_SECS")?,
                    inactivity_timeout: limit("AUTH_SESSIONS_INACTIVITY_TIMEOUT_SECS")?,
                    single_per_user: src
                        .parsed_bool("AUTH_SESSIONS_SINGLE_PER_USER")?
                        .unwrap_or(false),
                    allow_low_aal: limit("AUTH_SESSIONS_ALLOW_LOW_AAL_SECS")?,
                }
            },
            password_min_length: at_least(
                src,
                "AUTH_PASSWORD_MIN_LENGTH",
                src.parsed("AUTH_PASSWORD_MIN_LENGTH")?.unwrap_or(8),
                6,
            )?,
            password_required_characters: required,
            password_hibp: src.parsed_bool("AUTH_PASSWORD_HIBP")?.unwrap_or(false),
            password_hibp_url: src.get("AUTH_PASSWORD_HIBP_URL").map_or_else(
                || "https://api.pwnedpasswords.com".to_owned(),
                |v| v.value.clone(),
            ),
            password_hibp_fail_closed: src
                .parsed_bool("AUTH_PASSWORD_HIBP_FAIL_CLOSED")?
                .unwrap_or(false),
            argon2,
            mail_frequency: secs("AUTH_MAIL_FREQUENCY_SECS", 60)?,
            otp_exp: Duration::from_secs(at_least(
                src,
                "AUTH_OTP_EXP_SECS",
                src.parsed("AUTH_OTP_EXP_SECS")?.unwrap_or(3600),
                60,
            )?),
            flow_state_exp: Duration::from_secs(at_least(
                src,
                "AUTH_FLOW_STATE_EXP_SECS",
                src.parsed("AUTH_FLOW_STATE_EXP_SECS")?.unwrap_or(300),
                10,
            )?),
            smtp_url: src
                .get("SMTP_URL")
                .map(|v| SecretString::from(v.value.clone())),
            smtp_from: src.get("SMTP_FROM").map_or_else(
                || "bizbase <noreply@localhost>".to_owned(),
                |v| v.value.clone(),
            ),
            ip_header: src
                .get("RATE_LIMIT_IP_HEADER")
                .map(|v| v.value.trim().to_ascii_lowercase()),
            trusted_proxies: match src.get("RATE_LIMIT_TRUSTED_PROXIES") {
                Some(_) if src.get("RATE_LIMIT_IP_HEADER").is_none() => {
                    return Err(src.error_for(
                        "RATE_LIMIT_TRUSTED_PROXIES",
                        "has no effect without BIZBASE_RATE_LIMIT_IP_HEADER (the header they write)",
                    ));
                }
                Some(v) => parse_networks(&v.value).map_err(|m| v.error(m))?,
                None => Vec::new(),
            },
            rate_limits: RateLimits {
                signup: limit("RATE_LIMIT_SIGNUP")?,
                token: at_least(
                    src,
                    "RATE_LIMIT_TOKEN",
                    src.parsed("RATE_LIMIT_TOKEN")?.unwrap_or(150),
                    1,
                )?,
                verify: limit("RATE_LIMIT_VERIFY")?,
                otp: limit("RATE_LIMIT_OTP")?,
                mfa: at_least(
                    src,
                    "RATE_LIMIT_MFA",
                    src.parsed("RATE_LIMIT_MFA")?.unwrap_or(75),
                    1,
                )?,
                anonymous: at_least(
                    src,
                    "RATE_LIMIT_ANONYMOUS",
                    src.parsed("RATE_LIMIT_ANONYMOUS")?.unwrap_or(30),
                    1,
                )?,
                email_sent: match src.parsed::<u32>("RATE_LIMIT_EMAIL_SENT")? {
                    Some(n) => Some(at_least(src, "RATE_LIMIT_EMAIL_SENT", n, 1)?),
                    None => None,
                },
            },
            mfa_issuer,
            encryption_key: src
                .get("ENCRYPTION_KEY")
                .map(|v| SecretString::from(v.value.clone())),
            site_url,
        })
    }
}

/// `https://app.example.com:8443/x` → `app.example.com:8443`.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_networks;

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let nets = parse_networks(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,, 10.1.2.3/16").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "10.1.0.0/16"]
        );
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1-10.0.0.9"] {
            let message = parse_networks(bad).unwrap_err();
            assert!(message.contains(bad), "{message}");
        }
    }
}
