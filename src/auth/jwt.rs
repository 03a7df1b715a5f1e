//! Access tokens: HS256 with the JWT secret by default, or ES256 with a configured key (published
//! with its `kid` at `/.well-known/jwks.json`). Verification accepts HS256 (API keys are always
//! HS256) and, when configured, ES256.

use anyhow::Context;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One authentication method of a session, as the `amr` claim lists them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Amr {
    /// `password`, `otp`, `totp`, `recovery`, `magiclink`, …
    pub method: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// The claims of a user access token (`reference/supabase-api.md` §2.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: `<public url>/auth/v1`.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Audience, serialized as a string.
    pub aud: String,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// E-mail, `""` when none.
    pub email: String,
    /// Phone, `""` when none.
    pub phone: String,
    /// `provider`, `providers`, and `orgs` (`{org_id: role}`).
    pub app_metadata: Value,
    /// The user's own metadata.
    pub user_metadata: Value,
    /// Database role, normally `authenticated`.
    pub role: String,
    /// `aal1` or `aal2`.
    pub aal: String,
    /// Authentication methods, newest first.
    pub amr: Vec<Amr>,
    /// The session this token belongs to.
    pub session_id: String,
    /// Whether the user signed in anonymously.
    pub is_anonymous: bool,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Expired.
    #[error("token has invalid claims: token is expired")]
    Expired,
    /// Malformed, wrong signature or algorithm.
    #[error("signature is invalid")]
    Invalid,
}

struct Es256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwk: Jwk,
}

/// Signs and verifies tokens.
pub struct Signer {
    hs_encoding: EncodingKey,
    hs_decoding: DecodingKey,
    es256: Option<Es256>,
    /// Tokens whose signature was verified, with their claims and expiry (see [`Self::verify`]).
    verified: std::sync::Mutex<Verified>,
}

/// Verified tokens remembered, and the length of their text in all.
#[derive(Default)]
struct Verified {
    tokens: std::collections::HashMap<String, (Value, i64)>,
    text: usize,
}

/// Verified tokens remembered at most (the cache is emptied when it is full).
const VERIFIED_CACHE: usize = 4096;

/// Text of remembered tokens at most, in bytes: metadata makes tokens as large as a user likes, so
/// the count alone does not bound the memory (the cache is emptied when this is reached too).
const VERIFIED_TEXT: usize = 8 << 20;

/// A longer token is verified every time rather than remembered: tokens are about 1 KiB, and one
/// carrying hundreds of kilobytes of metadata would fill the cache with a few requests.
const REMEMBERED_TOKEN_MAX: usize = 16 << 10;

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("es256", &self.es256.as_ref().map(|k| &k.kid))
            .finish_non_exhaustive()
    }
}

/// Leeway for clock skew when checking `exp`/`nbf`, as PostgREST allows.
const LEEWAY_SECS: u64 = 30;

impl Signer {
    /// A signer for the HS256 secret and an optional ES256 private key (PEM, PKCS#8).
    pub fn new(secret: &SecretString, es256_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        let es256 = match es256_pem {
            None => None,
            Some(pem) => {
                let encoding = EncodingKey::from_ec_pem(pem)
                    .context("BIZBASE_JWT_ES256_KEY_FILE: not an EC private key in PEM")?;
                let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
                    .context("deriving the public JWK")?;
                let decoding =
                    DecodingKey::from_jwk(&jwk).context("building the ES256 verification key")?;
                let kid = crate::auth::crypto::sha256_hex(&serde_json::to_string(&jwk.algorithm)?)
                    [..16]
                    .to_owned();
                jwk.common.key_id = Some(kid.clone());
                jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
                Some(Es256 {
                    encoding,
                    decoding,
                    kid,
                    jwk,
                })
            }
        };
        Ok(Self {
            hs_encoding: EncodingKey::from_secret(bytes),
            hs_decoding: DecodingKey::from_secret(bytes),
            es256,
            verified: std::sync::Mutex::default(),
        })
    }

    /// Signs claims with ES256 when configured, HS256 otherwise.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let token = match &self.es256 {
            Some(es) => {
                let mut header = Header::new(Algorithm::ES256);
                header.kid = Some(es.kid.clone());
                jsonwebtoken::encode(&header, claims, &es.encoding)
            }
            None => jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.hs_encoding),
        };
        token.context("signing a token")
    }

    /// Verifies a token's signature and expiry and returns its claims. A client sends the same
    /// token with every request (and the apikey with it), so a token whose signature checked out
    /// is remembered with its claims until it expires: the next requests skip the decoding and
    /// the MAC (as PostgREST's JWT cache does). Only the exact token string hits; expiry is
    /// checked on every use.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
        if let Ok(cache) = self.verified.lock()
            && let Some((claims, exp)) = cache.tokens.get(token)
        {
            return if now <= exp.saturating_add(leeway) {
                Ok(claims.clone())
            } else {
                Err(JwtError::Expired)
            };
        }
        let claims = self.verify_uncached(token)?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
            && token.len() <= REMEMBERED_TOKEN_MAX
            && let Ok(mut cache) = self.verified.lock()
        {
            if cache.tokens.len() >= VERIFIED_CACHE || cache.text + token.len() > VERIFIED_TEXT {
                *cache = Verified::default();
            }
            cache.text += token.len();
            cache.tokens.insert(token.to_owned(), (claims.clone(), exp));
        }
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<Value, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        let (key, alg) = match (header.alg, &self.es256) {
            (Algorithm::HS256, _) => (&self.hs_decoding, Algorithm::HS256),
            (Algorithm::ES256, Some(es)) if header.kid.as_deref().is_none_or(|k| k == es.kid) => {
                (&es.decoding, Algorithm::ES256)
            }
            _ => return Err(JwtError::Invalid),
        };
        let mut validation = Validation::new(alg);
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECS;
        validation.required_spec_claims.clear();
        validation.required_spec_claims.insert("exp".into());
        jsonwebtoken::decode::<Value>(token, key, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }

    /// The public keys for `/.well-known/jwks.json` (HS keys are never listed).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.es256.iter().map(|es| es.jwk.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("an-hs256-secret-of-sufficient-length!!".to_owned())
    }

    /// A signer and a token of it for subject `u`, valid for another minute.
    fn signed() -> (Signer, String) {
        let signer = Signer::new(&secret(), None).unwrap();
        let exp = chrono::Utc::now().timestamp() + 60;
        let token = signer
            .sign(&serde_json::json!({"sub": "u", "exp": exp}))
            .unwrap();
        (signer, token)
    }

    #[test]
    fn hs256_round_trip_and_tamper_detection() {
        let (signer, token) = signed();

        assert_eq!(signer.verify(&token).unwrap()["sub"], "u");
        let mut forged = token.clone();
        forged.push('x');
        assert!(matches!(signer.verify(&forged), Err(JwtError::Invalid)));
        let other = Signer::new(
            &SecretString::from("another-secret-another-secret-another".to_owned()),
            None,
        )
        .unwrap();
        assert!(other.verify(&token).is_err());
        assert!(signer.jwks().keys.is_empty(), "HS keys are never published");
    }

    #[test]
    fn expired_tokens_are_refused_after_the_leeway() {
        let signer = Signer::new(&secret(), None).unwrap();
        let token = signer
            .sign(&serde_json::json!({"exp": chrono::Utc::now().timestamp() - 120}))
            .unwrap();
        assert!(matches!(signer.verify(&token), Err(JwtError::Expired)));
    }

    #[test]
    fn a_remembered_token_still_expires_and_only_the_same_string_hits() {
        let (signer, token) = signed();
        assert_eq!(signer.verify(&token).unwrap()["sub"], "u");
        assert_eq!(
            signer.verified.lock().unwrap().tokens.len(),
            1,
            "remembered"
        );
        assert_eq!(signer.verify(&token).unwrap()["sub"], "u", "from the cache");
        let mut forged = token.clone();
        forged.insert(token.len() - 2, 'A');
        assert!(matches!(signer.verify(&forged), Err(JwtError::Invalid)));

        // Time passes beyond its expiry and the leeway while it is remembered.
        signer
            .verified
            .lock()
            .unwrap()
            .tokens
            .get_mut(&token)
            .unwrap()
            .1 -= 120;
        assert!(matches!(signer.verify(&token), Err(JwtError::Expired)));
    }

    #[test]
    fn large_tokens_are_not_remembered_and_the_text_remembered_is_bounded() {
        let signer = Signer::new(&secret(), None).unwrap();
        let exp = chrono::Utc::now().timestamp() + 3600;
        let token_of = |size: usize, n: usize| {
            let filler = "a".repeat(size);
            signer
                .sign(&serde_json::json!({ "sub": n.to_string(), "exp": exp, "x": filler }))
                .unwrap()
        };

        let large = token_of(REMEMBERED_TOKEN_MAX, 0);
        assert_eq!(signer.verify(&large).unwrap()["sub"], "0");
        assert!(
            signer.verified.lock().unwrap().tokens.is_empty(),
            "not kept"
        );

        for n in 0..VERIFIED_TEXT / (REMEMBERED_TOKEN_MAX / 2) + 8 {
            let token = token_of(REMEMBERED_TOKEN_MAX / 2, n);
            assert_eq!(signer.verify(&token).unwrap()["sub"], n.to_string());
            let cache = signer.verified.lock().unwrap();
            assert!(cache.text <= VERIFIED_TEXT, "{} bytes kept", cache.text);
            assert_eq!(
                cache.text,
                cache.tokens.keys().map(String::len).sum::<usize>()
            );
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let signer = Signer::new(&secret(), None).unwrap();
        // {"alg":"none","typ":"JWT"}.{"sub":"x","exp":9999999999}.
        let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(signer.verify(token).is_err());
    }
}
