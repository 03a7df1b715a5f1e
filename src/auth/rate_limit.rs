//! Per-client-IP rate limits on the endpoints attackers hammer (GoTrue's limiters, §2.12): a token
//! bucket per endpoint and IP that refills `n` requests per five minutes (anonymous sign-ins: per
//! hour), with a burst of `n`. Endpoints that share a configured count still have a bucket each, as
//! in GoTrue: saving a profile does not use up password recovery. Over the limit →
//! 429 `over_request_rate_limit` with `Retry-After`. Every caller has an IP (see `context`).

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock,
};

use crate::{config::auth::RateLimits, error::AppError};

/// The window the configured counts apply to.
const WINDOW: Duration = Duration::from_secs(300);
/// The window of anonymous sign-ins and of the instance's e-mail budget.
const ANONYMOUS_WINDOW: Duration = Duration::from_secs(3600);

/// Which bucket a request counts against (each endpoint its own, keyed by client IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `/signup` (`signup` count).
    Signup,
    /// `/token`, every grant (`token` count).
    Token,
    /// `/verify` (`verify` count).
    Verify,
    /// `/otp` and `/magiclink` (`otp` count, as are the next four).
    Otp,
    /// `/recover`.
    Recover,
    /// `/resend`.
    Resend,
    /// `/reauthenticate`.
    Reauthenticate,
    /// `PUT /user`.
    UserUpdate,
    /// `/factors/{id}/challenge` (`mfa` count).
    MfaChallenge,
    /// `/factors/{id}/verify` (`mfa` count).
    MfaVerify,
    /// Anonymous sign-ins, on top of [`Group::Signup`] (`anonymous` count, per hour).
    Anonymous,
}

type Limiter = DefaultKeyedRateLimiter<(Group, IpAddr)>;

/// The limiters of one process, one per configured count.
#[derive(Debug)]
pub struct Limits {
    signup: Limiter,
    token: Limiter,
    verify: Limiter,
    otp: Limiter,
    mfa: Limiter,
    anonymous: Limiter,
    /// Auth e-mails of the whole instance (not per IP), when limited.
    email: Option<DefaultDirectRateLimiter>,
}

fn limiter(per_window: u32) -> Limiter {
    limiter_over(per_window, WINDOW)
}

fn quota(per_window: u32, window: Duration) -> Quota {
    let n = NonZeroU32::new(per_window).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(window / n.get()).map_or_else(|| Quota::per_second(n), |q| q.allow_burst(n))
}

fn limiter_over(per_window: u32, window: Duration) -> Limiter {
    RateLimiter::keyed(quota(per_window, window))
}

/// The error of an exhausted e-mail budget (GoTrue's).
pub fn email_limit_exceeded(retry_after: u64) -> AppError {
    AppError::RateLimitedWith {
        code: "over_email_send_rate_limit",
        message: "Email rate limit exceeded".into(),
        retry_after,
    }
}

impl Limits {
    /// Limiters with the configured counts.
    pub fn new(c: &RateLimits) -> Self {
        Self {
            signup: limiter(c.signup),
            token: limiter(c.token),
            verify: limiter(c.verify),
            otp: limiter(c.otp),
            mfa: limiter(c.mfa),
            anonymous: limiter_over(c.anonymous, ANONYMOUS_WINDOW),
            email: c
                .email_sent
                .map(|n| RateLimiter::direct(quota(n, ANONYMOUS_WINDOW))),
        }
    }

    /// Forgets the buckets that are full again (clients not seen for a window): without it every
    /// address ever seen keeps its keys.
    pub fn forget_idle(&self) {
        for limiter in [
            &self.signup,
            &self.token,
            &self.verify,
            &self.otp,
            &self.mfa,
            &self.anonymous,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Counts one auth e-mail against the instance's hourly budget, if there is one.
    pub fn check_email(&self) -> Result<(), AppError> {
        let Some(limiter) = &self.email else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            metrics::counter!("auth_email_rate_limited_total").increment(1);
            email_limit_exceeded(wait.as_secs().max(1))
        })
    }

    /// Counts one request of `ip` against `group`.
    pub fn check(&self, group: Group, ip: IpAddr) -> Result<(), AppError> {
        let limiter = match group {
            Group::Signup => &self.signup,
            Group::Token => &self.token,
            Group::Verify => &self.verify,
            Group::Otp
            | Group::Recover
            | Group::Resend
            | Group::Reauthenticate
            | Group::UserUpdate => &self.otp,
            Group::MfaChallenge | Group::MfaVerify => &self.mfa,
            Group::Anonymous => &self.anonymous,
        };
        limiter.check_key(&(group, ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            metrics::counter!("auth_rate_limited_total").increment(1);
            AppError::RateLimited {
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_allowed_then_429_with_retry_after_and_other_ips_are_unaffected() {
        let limits = Limits::new(&RateLimits {
            signup: 3,
            token: 3,
            verify: 3,
            otp: 3,
            mfa: 3,
            anonymous: 3,
            email_sent: None,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();

        for _ in 0..3 {
            limits.check(Group::Token, a).unwrap();
        }
        let Err(AppError::RateLimited { retry_after }) = limits.check(Group::Token, a) else {
            panic!("the fourth request must be limited");
        };
        assert!((1..=100).contains(&retry_after), "{retry_after}");
        limits.check(Group::Token, b).unwrap();
        limits.check(Group::Signup, a).unwrap();
    }

    #[test]
    fn forgetting_idle_buckets_keeps_the_ones_in_use() {
        let limits = Limits::new(&RateLimits {
            signup: 1,
            token: 1,
            verify: 1,
            otp: 1,
            mfa: 1,
            anonymous: 1,
            email_sent: None,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        limits.check(Group::Token, a).unwrap();

        limits.forget_idle();

        assert!(
            limits.check(Group::Token, a).is_err(),
            "a sweep is no way around the limit"
        );
    }

    #[test]
    fn endpoints_sharing_a_count_have_a_bucket_each() {
        let limits = Limits::new(&RateLimits {
            signup: 1,
            token: 1,
            verify: 1,
            otp: 2,
            mfa: 2,
            anonymous: 1,
            email_sent: None,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for group in [Group::UserUpdate, Group::MfaChallenge] {
            limits.check(group, a).unwrap();
            limits.check(group, a).unwrap();
            assert!(limits.check(group, a).is_err(), "{group:?}");
        }
        for group in [
            Group::Otp,
            Group::Recover,
            Group::Resend,
            Group::Reauthenticate,
            Group::MfaVerify,
        ] {
            limits.check(group, a).unwrap();
            limits.check(group, a).unwrap();
            assert!(limits.check(group, a).is_err(), "{group:?}");
        }
    }
}
