//! What a password and a stored hash must be: the strength policy, and the costliest imported hash
//! bizbase will check.

use argon2::{Params, PasswordHash};

use crate::config::auth::Argon2Params;

/// The costliest stored hash bizbase will check: an imported hash's cost is paid by every sign-in
/// attempt on that account (right or wrong password) until its first success re-hashes it, so a
/// hash made to be expensive (bcrypt cost 31, argon2 with gigabytes) would let anyone who knows the
/// address tie up the hashers. The limits admit what other systems ship — Supabase's bcrypt cost 10,
/// Django's argon2 (100 MiB, 2 passes, 8 lanes), argon2-cffi's (64 MiB, 3, 4).
const MAX_BCRYPT_COST: u32 = 14;
const MAX_ARGON2_MEMORY_KIB: u32 = 128 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 10;
const MAX_ARGON2_LANES: u32 = 16;

/// Why `stored` cannot serve as a password hash — not bcrypt or argon2 in PHC form, or costlier to
/// check than the limits above (raised to the configured cost, so bizbase's own hashes always pass)
/// — or `None` when it can.
pub fn unusable(stored: &str, configured: &Argon2Params) -> Option<String> {
    if stored.starts_with("$2") {
        let parts: bcrypt::HashParts = match stored.parse() {
            Ok(parts) => parts,
            Err(e) => return Some(format!("not a bcrypt hash ({e})")),
        };
        return (parts.get_cost() > MAX_BCRYPT_COST).then(|| {
            format!(
                "bcrypt cost {} is above {MAX_BCRYPT_COST}",
                parts.get_cost()
            )
        });
    }
    if !stored.starts_with("$argon2") {
        return Some("use bcrypt or argon2 (PHC string form)".into());
    }
    let parsed = match PasswordHash::new(stored) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("not an argon2 hash ({e})")),
    };
    let params = match Params::try_from(&parsed) {
        Ok(params) => params,
        Err(e) => return Some(format!("argon2 parameters: {e}")),
    };
    if parsed.hash.is_none() {
        return Some("argon2 hash without its output".into());
    }
    let (m, t, p) = (
        MAX_ARGON2_MEMORY_KIB.max(configured.memory_kib),
        MAX_ARGON2_ITERATIONS.max(configured.iterations),
        MAX_ARGON2_LANES.max(configured.parallelism),
    );
    if params.m_cost() > m || params.t_cost() > t || params.p_cost() > p {
        return Some(format!(
            "argon2 cost m={},t={},p={} is above m={m},t={t},p={p}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    None
}

/// Checks a password against the policy; returns GoTrue's `weak_password` reasons.
pub fn weakness(password: &str, min_length: usize, required: &[String]) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if password.chars().count() < min_length {
        reasons.push("length");
    }
    let has = |class: &str| match class {
        "lower" => password.chars().any(char::is_lowercase),
        "upper" => password.chars().any(char::is_uppercase),
        "digit" => password.chars().any(|c| c.is_ascii_digit()),
        "symbol" => password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
        _ => true,
    };
    if required.iter().any(|c| !has(c)) {
        reasons.push("characters");
    }
    reasons
}
