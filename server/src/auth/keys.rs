//! Signed, stateless tokens: file access grants (docs/protocol.md §10.1) and STOMP session
//! ids (docs/protocol.md §2.4). Both must outlive reconnects and server restarts, so they are
//! HMAC-SHA256 signatures over `scope.app.user.expiry` with a secret kept in the
//! database (or given by the operator), not entries in a table.
//!
//! A session id also carries the user's session generation and whether it came from a
//! guest session: its expiry is the credential's (a JWT's `exp`), and revoking a
//! user's sessions moves the generation on, so every earlier id stops resuming.
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
    /// Resume a STOMP session (`StompX-Auth-Session-ID`); see
    /// [`Keys::issue_session`], which these tokens are issued with.
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
            let t = crate::clock::now_ms().to_le_bytes();
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

    /// The payload of a token whose signature is right.
    fn open<'a>(&self, token: &'a str) -> Option<&'a str> {
        let (payload, sig) = token.rsplit_once('.')?;
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
        Some(payload)
    }

    /// Verifies a token of `scope`; `None` if forged, expired or of another scope.
    pub fn verify(&self, scope: Scope, token: &str, now_ms: i64) -> Option<Claims> {
        let payload = self.open(token)?;
        let mut parts = payload.split('.');
        let (tag, app, user, exp) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || tag != scope.tag() {
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

    /// Issues a file grant (read or write) of `claims` for the user's session
    /// `generation`: revoking the user's sessions also ends their grants.
    pub fn issue_grant(
        &self,
        scope: Scope,
        claims: Claims,
        generation: i64,
        now_ms: i64,
    ) -> String {
        let payload = format!(
            "{}.{}.{}.{}.{generation}",
            scope.tag(),
            claims.app_id,
            claims.user_id,
            now_ms + TOKEN_LIFETIME_MS
        );
        let sig = self.sign(&payload);
        format!("{payload}.{sig}")
    }

    /// Verifies a file grant of `scope`: its claims and the session generation it was
    /// issued for (0 for grants issued before grants carried one).
    pub fn verify_grant(&self, scope: Scope, token: &str, now_ms: i64) -> Option<(Claims, i64)> {
        let payload = self.open(token)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let (tag, app, user, exp, generation) = match parts[..] {
            [tag, app, user, exp] => (tag, app, user, exp, "0"),
            [tag, app, user, exp, generation] => (tag, app, user, exp, generation),
            _ => return None,
        };
        if tag != scope.tag() || exp.parse::<i64>().ok()? < now_ms {
            return None;
        }
        let claims = Claims {
            app_id: app.parse().ok()?,
            user_id: user.parse().ok()?,
        };
        Some((claims, generation.parse().ok()?))
    }

    /// Issues a session id (`CONNECTED`'s `session` header).
    pub fn issue_session(&self, c: &SessionClaims) -> String {
        let payload = format!(
            "{}.{}.{}.{}.{}.{}",
            Scope::Session.tag(),
            c.app_id,
            c.user_id,
            c.expires_ms,
            c.generation,
            if c.guest { "g" } else { "a" }
        );
        let sig = self.sign(&payload);
        format!("{payload}.{sig}")
    }

    /// Verifies a session id; `None` if forged, expired or not a session id. The
    /// generation is checked by the caller against the user's current one.
    pub fn verify_session(&self, token: &str, now_ms: i64) -> Option<SessionClaims> {
        let payload = self.open(token)?;
        let mut parts = payload.split('.');
        let (tag, app, user, exp, generation, kind) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if parts.next().is_some() || tag != Scope::Session.tag() {
            return None;
        }
        let expires_ms: i64 = exp.parse().ok()?;
        if expires_ms < now_ms {
            return None;
        }
        Some(SessionClaims {
            app_id: app.parse().ok()?,
            user_id: user.parse().ok()?,
            expires_ms,
            generation: generation.parse().ok()?,
            guest: match kind {
                "g" => true,
                "a" => false,
                _ => return None,
            },
        })
    }

    /// The unguessable part of a user's generated-avatar URL: without it the avatar of
    /// an id is not served, so no one can enumerate users (or applications) by id.
    pub fn avatar_tag(&self, app_id: i64, user_id: i64) -> String {
        let mut tag = self.sign(&format!("avatar.{app_id}.{user_id}"));
        tag.truncate(22);
        tag
    }
}

/// What a valid session id says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionClaims {
    /// Application.
    pub app_id: i64,
    /// User.
    pub user_id: i64,
    /// When it stops resuming: the credential's expiry (a JWT's `exp`), at most
    /// `--auth-session-max-secs` away; for guests, [`TOKEN_LIFETIME_MS`].
    pub expires_ms: i64,
    /// The user's session generation when it was issued (see `Store::session_generation`).
    pub generation: i64,
    /// Issued to a guest session.
    pub guest: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_carry_the_session_generation_and_older_grants_read_as_generation_zero() {
        let k = Keys::new("secret");
        let c = Claims {
            app_id: 1,
            user_id: 42,
        };
        let g = k.issue_grant(Scope::Read, c, 3, 1000);
        assert_eq!(k.verify_grant(Scope::Read, &g, 2000), Some((c, 3)));
        assert_eq!(k.verify_grant(Scope::Write, &g, 2000), None);
        let old = k.issue(Scope::Read, c, 1000);
        assert_eq!(k.verify_grant(Scope::Read, &old, 2000), Some((c, 0)));
        let forged = g.replacen(".3.", ".4.", 1);
        assert_eq!(k.verify_grant(Scope::Read, &forged, 2000), None);
    }

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

    #[test]
    fn session_ids_carry_their_expiry_generation_and_kind() {
        let k = Keys::new("secret");
        let c = SessionClaims {
            app_id: 1,
            user_id: 42,
            expires_ms: 5000,
            generation: 3,
            guest: false,
        };
        let t = k.issue_session(&c);
        assert_eq!(k.verify_session(&t, 5000), Some(c));
        assert_eq!(k.verify_session(&t, 5001), None, "expired");
        assert_eq!(k.verify_session(&t.replace(".3.a.", ".4.a."), 0), None);
        assert_eq!(k.verify_session(&t.replace(".3.a.", ".3.g."), 0), None);
        assert_eq!(k.verify(Scope::Session, &t, 0), None, "not a grant");
        let old_form = k.issue(
            Scope::Session,
            Claims {
                app_id: 1,
                user_id: 42,
            },
            0,
        );
        assert_eq!(
            k.verify_session(&old_form, 0),
            None,
            "old ids re-authenticate"
        );
        assert_eq!(k.verify_session("undefined", 0), None);
        let tag = k.avatar_tag(1, 42);
        assert_eq!(tag.len(), 22);
        assert_ne!(tag, k.avatar_tag(2, 42));
        assert_ne!(tag, Keys::new("other").avatar_tag(1, 42));
    }
}
