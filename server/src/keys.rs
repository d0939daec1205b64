//! Signed, stateless tokens: file access grants (PROTOCOL.md 10.1) and STOMP session
//! ids (PROTOCOL.md 2.4). Both must outlive reconnects and server restarts, so they are
//! HMAC-SHA256 signatures over `scope.app.user.expiry` with a secret kept in the
//! database (or given by the operator), not entries in a table.
//!
//! Tokens use only URL-safe characters because the client appends grants to URLs raw.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Download files (`?grant=`).
    Read,
    /// Upload files (`Grant:` header).
    Write,
    /// Resume a STOMP session (`StompX-Auth-Session-ID`).
    Session,
    /// Call the Platform API (bearer token; `user_id` is 0).
    Platform,
}

impl Scope {
    fn tag(self) -> &'static str {
        match self {
            Scope::Read => "r",
            Scope::Write => "w",
            Scope::Session => "s",
            Scope::Platform => "p",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    /// Application.
    pub app_id: i64,
    /// User.
    pub user_id: i64,
}

/// The signing key.
#[derive(Clone)]
pub struct Keys {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// Grants and session ids last 30 days.
pub const TOKEN_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

impl Keys {
    /// Keys from a secret.
    pub fn new(secret: impl Into<Vec<u8>>) -> Keys {
        Keys {
            secret: secret.into(),
        }
    }

    /// A new random secret, URL-safe Base64 text.
    pub fn generate_secret() -> String {
        let mut bytes = [0u8; 32];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: fall back to time-derived bytes (logged; the operator
            // should pass --secret).
            tracing::warn!("no OS randomness for the signing secret; pass --secret");
            let t = crate::store::now_ms().to_le_bytes();
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = t[i % 8] ^ (i as u8).wrapping_mul(151);
            }
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn sign(&self, payload: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Issues a token of `scope` for `claims`, valid until `now_ms + TOKEN_LIFETIME_MS`.
    pub fn issue(&self, scope: Scope, claims: Claims, now_ms: i64) -> String {
        self.issue_for(scope, claims, now_ms, TOKEN_LIFETIME_MS)
    }

    /// Issues a token valid for `lifetime_ms`.
    pub fn issue_for(&self, scope: Scope, claims: Claims, now_ms: i64, lifetime_ms: i64) -> String {
        let payload = format!(
            "{}.{}.{}.{}",
            scope.tag(),
            claims.app_id,
            claims.user_id,
            now_ms + lifetime_ms
        );
        let sig = self.sign(&payload);
        format!("{payload}.{sig}")
    }

    /// Verifies a token of `scope`; `None` if forged, expired or of another scope.
    pub fn verify(&self, scope: Scope, token: &str, now_ms: i64) -> Option<Claims> {
        let (payload, sig) = token.rsplit_once('.')?;
        let mut parts = payload.split('.');
        let (tag, app, user, exp) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || tag != scope.tag() {
            return None;
        }
        let expected = self.sign(payload);
        // Constant-time comparison of the signatures.
        if expected.len() != sig.len()
            || expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        let exp: i64 = exp.parse().ok()?;
        if exp < now_ms {
            return None;
        }
        Some(Claims {
            app_id: app.parse().ok()?,
            user_id: user.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_for_their_scope_only_and_not_when_tampered_or_expired() {
        let k = Keys::new("secret");
        let c = Claims {
            app_id: 1,
            user_id: 42,
        };
        let t = k.issue(Scope::Read, c, 1000);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{t}"
        );
        assert_eq!(k.verify(Scope::Read, &t, 2000), Some(c));
        assert_eq!(k.verify(Scope::Write, &t, 2000), None);
        assert_eq!(
            k.verify(Scope::Read, &t, 1000 + TOKEN_LIFETIME_MS + 1),
            None
        );
        assert_eq!(
            k.verify(Scope::Read, &t.replace(".42.", ".43."), 2000),
            None
        );
        assert_eq!(Keys::new("other").verify(Scope::Read, &t, 2000), None);
        assert_eq!(k.verify(Scope::Session, "undefined", 2000), None);
    }
}
