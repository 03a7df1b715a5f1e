//! Small cryptographic building blocks: random tokens, hashes, constant-time comparison, MACs and
//! the AES-256-GCM cipher that keeps TOTP secrets encrypted at rest.

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit},
};
use anyhow::{Context, anyhow};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use hmac::{Hmac, Mac};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha224, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes from the OS generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::rng().random()
}

/// A random URL-safe token carrying `N` bytes of entropy.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A random six-digit one-time code.
pub fn random_otp() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Unpadded base64url SHA-256 (a PKCE S256 challenge).
pub fn sha256_base64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// GoTrue's token hash of an e-mailed code: hex(sha224(email || otp)).
pub fn otp_token_hash(email: &str, otp: &str) -> String {
    let mut h = Sha224::new();
    h.update(email.as_bytes());
    h.update(otp.as_bytes());
    hex(&h.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (either case); `None` when it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// AES-256-GCM with a random nonce stored in front of the ciphertext.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([REDACTED])")
    }
}

const NONCE_LEN: usize = 12;

impl Cipher {
    /// A cipher for a base64-encoded 32-byte key.
    pub fn from_base64(key: &SecretString) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(key.expose_secret().trim()))
            .context("the encryption key is not base64")?;
        if bytes.len() != 32 {
            return Err(anyhow!(
                "the encryption key must be 32 bytes, got {}",
                bytes.len()
            ));
        }
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice())
            .map_err(|_| anyhow!("the encryption key must be 32 bytes"))?;
        Ok(Self(Aes256Gcm::new(&key)))
    }

    /// A fresh random key, base64-encoded.
    pub fn generate_key() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    /// Encrypts `plain`; the output is nonce ‖ ciphertext ‖ tag.
    pub fn encrypt(&self, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = random_bytes::<NONCE_LEN>();
        let mut out = nonce.to_vec();
        out.extend(
            self.0
                .encrypt(
                    &Nonce::try_from(nonce.as_slice()).map_err(|_| anyhow!("nonce"))?,
                    plain,
                )
                .map_err(|_| anyhow!("encryption failed"))?,
        );
        Ok(out)
    }

    /// Decrypts what [`Cipher::encrypt`] produced; fails if it was altered or another key was used.
    pub fn decrypt(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .context("ciphertext too short")?;
        self.0
            .decrypt(&Nonce::try_from(nonce).map_err(|_| anyhow!("nonce"))?, body)
            .map_err(|_| anyhow!("decryption failed (wrong key or altered data)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp_token_hash_matches_gotrue() {
        // hex(sha224("user@example.com" + "123456")), computed independently with coreutils.
        assert_eq!(
            otp_token_hash("user@example.com", "123456"),
            "b507a4ef007e1379d644aa6fe395cf98f1054ac96b63a052dca9a26a"
        );
        assert_ne!(
            otp_token_hash("a@b.c", "123456"),
            otp_token_hash("a@b.c", "123457")
        );
    }

    #[test]
    fn otps_are_six_digits() {
        for _ in 0..100 {
            let otp = random_otp();
            assert_eq!(otp.len(), 6);
            assert!(otp.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn cipher_round_trips_and_detects_tampering() {
        let cipher = Cipher::from_base64(&SecretString::from(Cipher::generate_key())).unwrap();
        let mut sealed = cipher.encrypt(b"JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(cipher.decrypt(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        sealed[15] ^= 1;
        assert!(cipher.decrypt(&sealed).is_err());
        let other = Cipher::from_base64(&SecretString::from(Cipher::generate_key())).unwrap();
        assert!(other.decrypt(&cipher.encrypt(b"x").unwrap()).is_err());
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
