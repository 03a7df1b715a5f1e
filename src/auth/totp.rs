//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step), enrolment URIs and QR codes, and recovery codes.

use std::fmt::Write as _;

use qrcode::{QrCode, render::svg};
use totp_rs::{Algorithm, Builder, Totp};

use super::crypto;

/// Length in bytes of a generated TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_LEN: usize = 20;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

fn totp(secret: &[u8]) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
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
    let secret = totp(secret)?.secret().to_base32();
    let uri = otpauth_uri(&secret, issuer, account);
    let svg = qr_svg(&uri)?;
    Ok((secret, uri, svg))
}

/// The enrolment URI in GoTrue's form, `otpauth://totp/<issuer>:<account>?algorithm=SHA1&digits=6
/// &issuer=<issuer>&period=30&secret=<secret>`, each part percent-encoded (RFC 3986).
///
/// The [Key Uri Format](https://github.com/google/google-authenticator/wiki/Key-Uri-Format)
/// forbids ':' in the label's issuer and account, and reads a ':' or a `%3A` there as the
/// separator, so an issuer with a ':' (the default one of a site URL with a port) or an empty
/// one is left out of the label: the `issuer` parameter names it alone, as the format allows.
fn otpauth_uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    let account = percent_encode(account);
    let issuer = percent_encode(issuer);
    let label = if issuer.is_empty() || issuer.contains("%3A") {
        account
    } else {
        format!("{issuer}:{account}")
    };
    format!(
        "otpauth://totp/{label}?algorithm=SHA1&digits=6&issuer={issuer}&period=30&secret={secret_b32}"
    )
}

/// RFC 3986 percent-encoding of everything but the unreserved characters and '@' (which a path
/// segment and a query may hold as is; GoTrue and the Key Uri Format's examples leave it so).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The QR code of `uri` as SVG markup (what `POST /factors` answers as `qr_code`).
pub fn qr_svg(uri: &str) -> anyhow::Result<String> {
    Ok(QrCode::new(uri.as_bytes())?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The time step `code` is valid for at unix time `now`, within ±1 step.
pub fn check(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret).ok()?.check(code, now)
}

/// The code for unix time `now` (for tests and tools).
pub fn code_at(secret: &[u8], now: u64) -> anyhow::Result<String> {
    Ok(totp(secret)?.generate(now).to_string())
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

    /// `"12345678901234567890"` in base32.
    const RFC_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn the_uri_has_gotrues_parameters_in_gotrues_order() {
        let (secret, uri, svg) =
            enrolment(b"12345678901234567890", "Acme Co", "ann@example.com").unwrap();

        assert_eq!(secret, RFC_SECRET_B32);
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/Acme%20Co:ann@example.com?algorithm=SHA1&digits=6&issuer=Acme%20Co&period=30&secret={RFC_SECRET_B32}"
            )
        );
        assert_eq!(svg, qr_svg(&uri).unwrap());
    }

    #[test]
    fn an_issuer_with_a_colon_is_named_by_the_parameter_only() {
        let uri = otpauth_uri(RFC_SECRET_B32, "127.0.0.1:18402", "ann@example.com");

        assert_eq!(
            uri,
            format!(
                "otpauth://totp/ann@example.com?algorithm=SHA1&digits=6&issuer=127.0.0.1%3A18402&period=30&secret={RFC_SECRET_B32}"
            )
        );
        let parsed = url::Url::parse(&uri).unwrap();
        let issuer = parsed.query_pairs().find(|(k, _)| k == "issuer").unwrap().1;
        assert_eq!(issuer, "127.0.0.1:18402");
    }

    #[test]
    fn the_label_and_the_parameters_are_percent_encoded() {
        let uri = otpauth_uri(RFC_SECRET_B32, "Café & Co/?#=", "a:b+c@example.com");

        let (label, query) = uri
            .strip_prefix("otpauth://totp/")
            .unwrap()
            .split_once('?')
            .unwrap();
        assert_eq!(
            label,
            "Caf%C3%A9%20%26%20Co%2F%3F%23%3D:a%3Ab%2Bc@example.com"
        );
        let parsed = url::Url::parse(&uri).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["algorithm", "digits", "issuer", "period", "secret"]);
        assert_eq!(pairs[2].1, "Café & Co/?#=");
        assert!(
            query.ends_with(&format!("&secret={RFC_SECRET_B32}")),
            "{query}"
        );
    }

    #[test]
    fn an_empty_issuer_leaves_the_label_to_the_account() {
        let uri = otpauth_uri(RFC_SECRET_B32, "", "ann@example.com");

        assert!(
            uri.starts_with("otpauth://totp/ann@example.com?algorithm=SHA1&digits=6&issuer=&"),
            "{uri}"
        );
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
