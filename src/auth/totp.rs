//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step), enrolment URIs and QR codes, and recovery codes.

use qrcode::{QrCode, render::svg};
use totp_rs::{Algorithm, Builder, Totp};

use super::crypto;

/// Length in bytes of a generated TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_LEN: usize = 20;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Totp> {
    // ':' separates issuer and account in the otpauth label, so it may not appear in either.
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| anyhow::anyhow!("building TOTP: {e:?}"))
}

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    crypto::random_bytes::<SECRET_LEN>().to_vec()
}

/// What an authenticator app needs: the base32 secret, the `otpauth://` URI and its QR code as SVG.
pub fn enrolment(
    secret: &[u8],
    issuer: &str,
    account: &str,
) -> anyhow::Result<(String, String, String)> {
    let t = totp(secret, issuer, account)?;
    let uri = t
        .to_url()
        .map_err(|e| anyhow::anyhow!("otpauth URI: {e:?}"))?;
    let svg = QrCode::new(uri.as_bytes())?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok((t.secret().to_base32(), uri, svg))
}

/// The time step `code` is valid for at unix time `now`, within ±1 step.
pub fn check(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "bizbase", "user").ok()?.check(code, now)
}

/// The code for unix time `now` (for tests and tools).
pub fn code_at(secret: &[u8], now: u64) -> anyhow::Result<String> {
    Ok(totp(secret, "bizbase", "user")?.generate(now).to_string())
}

/// New recovery codes: `xxxxx-xxxxx` from an unambiguous alphabet (about 50 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = crypto::random_bytes::<10>();
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Whether `code` looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(code: &str) -> bool {
    code.len() == 11 && code.as_bytes()[5] == b'-'
}

/// The stored form of a recovery code (normalized, SHA-256).
pub fn recovery_code_hash(code: &str) -> String {
    crypto::sha256_hex(&code.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_within_one_step_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now).unwrap();

        assert_eq!(check(&secret, &code, now), Some(now / 30));
        assert_eq!(check(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(check(&secret, &code, now - 30), Some(now / 30));
        assert_eq!(check(&secret, &code, now + 90), None);
        assert_eq!(check(&secret, "12345", now), None);
        assert_eq!(check(&secret, "abcdef", now), None);
    }

    #[test]
    fn rfc6238_test_vector() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        assert_eq!(code_at(b"12345678901234567890", 59).unwrap(), "287082");
    }

    #[test]
    fn enrolment_gives_base32_uri_and_svg() {
        let (secret, uri, svg) = enrolment(&new_secret(), "127.0.0.1:8080", "a@b.c").unwrap();
        assert_eq!(secret.len(), 32);
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")));
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_recognizable() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| is_recovery_code(c)));
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        assert!(!is_recovery_code("123456"));
        assert_eq!(
            recovery_code_hash(" ABCDE-fghjk "),
            recovery_code_hash("abcde-fghjk")
        );
    }
}
