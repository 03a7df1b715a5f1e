//! Who is calling: the client's address and agent, the verified bearer token, and the signed-in
//! user with their session.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts},
};
use ipnet::IpNet;
use serde_json::Value;
use uuid::Uuid;

use super::{
    session::{self, SessionRow},
    user::{self, UserRow},
};
use crate::{
    app::AppState,
    db::identity::{DbRole, Identity},
    error::AppError,
    http::RequestId,
};

/// Where a request came from, for sessions, rate limits and the audit log.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client IP: from the configured header when set and readable, else the socket peer.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl ClientInfo {
    /// The key of the caller's rate-limit buckets: their IPv4 address, or their IPv6 /64 (one
    /// subscriber's network: whoever has one has all its 2^64 addresses), or — where none is known
    /// (a server reached through a Unix socket) — one address all such callers share, so that they
    /// are limited together rather than not at all.
    pub fn rate_key(&self) -> IpAddr {
        match self.ip {
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
            },
            Some(v4) => v4,
            None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// The client address the proxies in front wrote into `value` (the configured header: its last
/// line, or all its lines joined — see [`client_ip`]): an `X-Forwarded-For`-style list, read from
/// the right. Each proxy appends the address it saw — some with its port (`1.2.3.4:5678`,
/// `[2001:db8::1]:5678`) — and entries further left came from whoever connected to it, which can
/// write anything there. So the client is the right-most entry that is not one of the `trusted`
/// proxies (with none configured, the right-most entry); an unreadable entry ends the walk at the
/// last address read.
fn forwarded_ip(value: &str, trusted: &[IpNet]) -> Option<IpAddr> {
    let mut last = None;
    for entry in value.rsplit(',').map(str::trim) {
        let Some(ip) = entry
            .parse()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        else {
            break;
        };
        last = Some(ip);
        if !is_trusted(trusted, ip) {
            break;
        }
    }
    last
}

/// Whether `ip` is one of the `trusted` proxies (an IPv4 address seen as IPv6 counts as IPv4).
fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client's address: the socket peer, or — with an IP header configured, when the peer is a
/// trusted proxy (any peer, with none listed) — what the proxies wrote into the header: its last
/// line, since a proxy may add a line of its own rather than append to the client's; with trusted
/// proxies listed, every line (theirs are skipped, the client's own come first).
fn client_ip(parts: &Parts, app: &AppState) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let auth = &app.config.auth;
    let Some(name) = auth.ip_header.as_deref() else {
        return peer;
    };
    if !auth.trusted_proxies.is_empty()
        && !peer.is_some_and(|p| is_trusted(&auth.trusted_proxies, p))
    {
        return peer;
    }
    let lines = parts.headers.get_all(name);
    let ip = if auth.trusted_proxies.is_empty() {
        lines
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| forwarded_ip(v, &[]))
    } else {
        // Each proxy of a chain may add its own line: read them all, the last one first (an
        // unreadable line ends the walk like an unreadable entry).
        let all: Vec<&str> = lines.iter().map(|v| v.to_str().unwrap_or("?")).collect();
        forwarded_ip(&all.join(","), &auth.trusted_proxies)
    };
    if ip.is_none() {
        // Without it the caller shares the proxy's own address (and its buckets).
        tracing::debug!(header = name, "no client address in the configured header");
    }
    ip.or(peer)
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        Ok(Self {
            ip: client_ip(parts, app),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|r| r.as_str().to_owned()),
        })
    }
}

/// The bearer token of the request, verified (Authorization falls back to the apikey).
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The verified claims.
    pub claims: Value,
}

impl Bearer {
    /// The caller's database identity, refusing the anon key: 401 `no_authorization`
    /// ("Sign in to `action`").
    pub fn signed_in(self, action: &str) -> Result<Identity, AppError> {
        let role = self
            .claims
            .get("role")
            .and_then(Value::as_str)
            .and_then(DbRole::from_claim)
            .filter(|r| *r != DbRole::Anon)
            .ok_or_else(|| AppError::Unauthorized {
                code: "no_authorization",
                message: format!("Sign in to {action}").into(),
            })?;
        Ok(Identity::new(role, self.claims))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts).ok_or(AppError::Unauthorized {
            code: "no_authorization",
            message: "This endpoint requires a Bearer token".into(),
        })?;
        let claims = app
            .auth
            .signer
            .verify(token)
            .map_err(|e| AppError::Forbidden {
                code: "bad_jwt",
                message: format!("invalid JWT: unable to parse or verify signature, {e}").into(),
            })?;
        Ok(Self { claims })
    }
}

/// A caller holding the service role (admin endpoints).
#[derive(Debug, Clone)]
pub struct ServiceRole;

impl FromRequestParts<AppState> for ServiceRole {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let bearer = Bearer::from_request_parts(parts, app).await?;
        match bearer.claims.get("role").and_then(Value::as_str) {
            Some("service_role" | "supabase_admin") => Ok(Self),
            _ => Err(AppError::Forbidden {
                code: "not_admin",
                message: "User not allowed".into(),
            }),
        }
    }
}

/// A signed-in user with a live session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user.
    pub user: UserRow,
    /// The session the token belongs to.
    pub session: SessionRow,
    /// The token's claims.
    pub claims: Value,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let me = SigningOut::from_request_parts(parts, app).await?.0;
        if me.user.is_banned() {
            return Err(AppError::Forbidden {
                code: "user_banned",
                message: "User is banned".into(),
            });
        }
        Ok(me)
    }
}

/// A signed-in user with a live session, who may be banned: what `/logout` needs (as in GoTrue,
/// a banned user may still end their sessions — those of whoever took the account over among
/// them — before the ban is lifted).
#[derive(Debug, Clone)]
pub struct SigningOut(pub AuthUser);

impl FromRequestParts<AppState> for SigningOut {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let Bearer { claims } = Bearer::from_request_parts(parts, app).await?;
        let not_found = || AppError::Forbidden {
            code: "user_not_found",
            message: "User from sub claim in JWT does not exist".into(),
        };
        // GoTrue's answers, which apps match on: a key (anon, service role) has no `sub`.
        let user_id = match claims.get("sub").and_then(Value::as_str) {
            None | Some("") => {
                return Err(AppError::Forbidden {
                    code: "bad_jwt",
                    message: "invalid claim: missing sub claim".into(),
                });
            }
            Some(sub) => Uuid::parse_str(sub).map_err(|_| {
                AppError::bad_request("bad_jwt", "invalid claim: sub claim must be a UUID")
            })?,
        };
        let session_id = match claims.get("session_id").and_then(Value::as_str) {
            None | Some("") => None,
            Some(id) => Some(Uuid::parse_str(id).map_err(|_| AppError::Forbidden {
                code: "bad_jwt",
                message: "invalid claim: session_id claim must be a UUID".into(),
            })?),
        }
        .ok_or(AppError::Forbidden {
            code: "session_not_found",
            message: "Session from session_id claim in JWT does not exist".into(),
        })?;
        let mut conn = app.pool.acquire().await?;
        let user = user::find(&mut conn, user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or_else(not_found)?;
        let session = session::find(&mut conn, session_id)
            .await?
            .filter(|s| s.user_id == user.id)
            .ok_or(AppError::Forbidden {
                code: "session_not_found",
                message: "Session from session_id claim in JWT does not exist".into(),
            })?;
        Ok(Self(AuthUser {
            user,
            session,
            claims,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientInfo, forwarded_ip};

    fn client(header: &str, trusted: &[&str]) -> Option<String> {
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
        forwarded_ip(header, &trusted).map(|ip| ip.to_string())
    }

    #[test]
    fn the_proxy_written_right_most_entry_is_the_client() {
        assert_eq!(client("1.2.3.4, 9.9.9.9", &[]), Some("9.9.9.9".into()));
        assert_eq!(client(" 2001:db8::1 ", &[]), Some("2001:db8::1".into()));
        for (with_port, ip) in [
            ("1.2.3.4, 5.6.7.8:5678", "5.6.7.8"),
            ("[2001:db8::1]:5678", "2001:db8::1"),
        ] {
            assert_eq!(client(with_port, &[]), Some(ip.into()));
        }
        for junk in ["", "x", "9.9.9.9, unknown", "9.9.9.9,"] {
            assert_eq!(client(junk, &[]), None, "{junk:?}");
        }
    }

    #[test]
    fn trusted_proxies_in_the_chain_are_skipped_from_the_right() {
        let proxies = ["10.0.0.0/8", "2001:db8:ffff::/48"];
        // Client, then two of our proxies: the client is the first untrusted entry.
        assert_eq!(
            client("6.6.6.6, 1.2.3.4, 10.0.0.2, 10.1.1.1", &proxies),
            Some("1.2.3.4".into())
        );
        assert_eq!(
            client("1.2.3.4, [2001:db8:ffff::9]:443", &proxies),
            Some("1.2.3.4".into())
        );
        // Only proxies: the left-most of them; garbage left of a proxy: that proxy.
        assert_eq!(
            client("10.0.0.3, 10.0.0.2", &proxies),
            Some("10.0.0.3".into())
        );
        assert_eq!(client("junk, 10.0.0.2", &proxies), Some("10.0.0.2".into()));
    }

    #[test]
    fn an_ipv6_network_is_one_key_and_mapped_ipv4_is_ipv4() {
        let key = |ip: &str| {
            ClientInfo {
                ip: ip.parse().ok(),
                user_agent: None,
                request_id: None,
            }
            .rate_key()
            .to_string()
        };
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:ffff::9"), key("2001:db8:1:2::7"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:9.9.9.9"), "9.9.9.9");
        assert_eq!(key("9.9.9.9"), "9.9.9.9");
    }
}
