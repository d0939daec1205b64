//! Who a connecting client is (docs/protocol.md §2.4, §2.5): a session id resumed, an
//! authenticated session verified by the operator's verifier, or a guest; and the
//! session id it gets for its next connection.

use std::net::IpAddr;
use std::time::Instant;

use chatkitty_protocol::error::names;
use serde_json::Value;

use crate::auth::keys::{SessionClaims, TOKEN_LIFETIME_MS};
use crate::auth::logins::Attempt;
use crate::auth::verifier::Refused;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Restriction, UserRow};

/// Longest username (`StompX-User`).
pub const MAX_USERNAME_CHARS: usize = 256;

/// What a client says about itself when it connects.
pub struct Request<'a> {
    /// Its application.
    pub app_id: i64,
    /// The username it connects as.
    pub username: &'a str,
    /// The session id of its previous connection, if any.
    pub session_id: Option<&'a str>,
    /// Its `authParams`, decoded (`None`: none sent; `Some(Err)`: not Base64 JSON).
    pub auth_params: Option<Result<Value, ()>>,
    /// Its address (for the failed-login throttle).
    pub address: Option<IpAddr>,
}

/// A client signed in.
pub struct SignedIn {
    /// The user.
    pub user: UserRow,
    /// Its session id for the next connection.
    pub session_id: String,
    /// When the credential it signed in with expires (authenticated sessions): the
    /// connection ends then, and the client must sign in again.
    pub credential_expires_ms: Option<i64>,
    /// This sign-in created the user.
    pub created: bool,
}

/// Decides who the client is, in this order: a valid session id of the same user
/// resumes; `authParams` are verified; else a guest session, when guest sessions are
/// on. A refusal is an error in the protocol's shape (`AccessDeniedError`, or
/// `RateLimitExceededError` for throttled logins, which clients retry).
pub async fn sign_in(state: &AppState, req: Request<'_>) -> ApiResult<SignedIn> {
    if req.username.trim().is_empty() || req.username.chars().count() > MAX_USERNAME_CHARS {
        return Err(denied(
            "A username (StompX-User, 1 to 256 characters) is required.",
        ));
    }
    let now = now_ms();
    // Banned from the application (docs/protocol.md §22): AccessDeniedError, so clients
    // stop retrying. A resumed session reads the ban with the user; a user this sign-in
    // created has no ban (a ban names an existing user, and users are never deleted):
    // not looked up.
    let (user, guest, expires_ms, created, ban) = match resume(state, &req, now).await? {
        Some(r) => (r.user, r.guest, r.expires_ms, false, r.ban),
        None => {
            let (user, guest, expires, created) = match &req.auth_params {
                Some(params) => authenticated(state, &req, params.as_ref().ok(), now).await?,
                None => guest(state, &req, now).await?,
            };
            let ban = if created {
                None
            } else {
                state.store.app_ban(req.app_id, user.id).await?
            };
            (user, guest, expires, created, ban)
        }
    };
    if let Some(ban) = ban {
        let until = ban
            .expires_ms
            .map(|e| format!(" until {}", crate::clock::time_iso(e)))
            .unwrap_or_default();
        let why = if ban.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", ban.reason)
        };
        return Err(denied(&format!(
            "You are banned from this application{until}{why}."
        )));
    }
    let session_id = state.keys.issue_session(&SessionClaims {
        app_id: req.app_id,
        user_id: user.id,
        expires_ms,
        generation: user.session_generation,
        guest,
    });
    Ok(SignedIn {
        user,
        session_id,
        credential_expires_ms: (!guest).then_some(expires_ms),
        created,
    })
}

fn denied(message: &str) -> ApiError {
    ApiError::new(names::ACCESS_DENIED, message)
}

/// A session resumed by its id.
struct Resumed {
    user: UserRow,
    /// The id was a guest's.
    guest: bool,
    /// Until when the new id resumes.
    expires_ms: i64,
    /// The user's ban from the application, if in force (read with the user).
    ban: Option<Restriction>,
}

/// A session id that still resumes: signed, not expired, same application, the user
/// it names still named so, their sessions not revoked since, and (for a guest's id)
/// guest sessions still on.
async fn resume(state: &AppState, req: &Request<'_>, now: i64) -> ApiResult<Option<Resumed>> {
    let guests = state.config.guests_on();
    let Some(claims) = req
        .session_id
        .and_then(|t| state.keys.verify_session(t, now))
        .filter(|c| c.app_id == req.app_id && (!c.guest || guests))
    else {
        return Ok(None);
    };
    let Some((user, ban)) = state
        .store
        .user_and_app_ban(req.app_id, claims.user_id)
        .await?
    else {
        return Ok(None);
    };
    if user.name != req.username {
        return Ok(None);
    }
    let verifier = state.config.verifier_configured();
    if user.session_generation != claims.generation || (claims.guest && verifier && !user.is_guest)
    {
        return Ok(None);
    }
    // A guest's id slides 30 days from now (as ever); an authenticated one never
    // outlives the credential it came from.
    let expires = if claims.guest {
        now + TOKEN_LIFETIME_MS
    } else {
        claims.expires_ms
    };
    Ok(Some(Resumed {
        user,
        guest: claims.guest,
        expires_ms: expires,
        ban,
    }))
}

/// An authenticated session: the throttle first, then the operator's verifier, then
/// the user (created, or made non-guest, with the verifier's display name). The
/// session id resumes until the credential's expiry, at most `--auth-session-max-secs`.
async fn authenticated(
    state: &AppState,
    req: &Request<'_>,
    params: Option<&Value>,
    now: i64,
) -> ApiResult<(UserRow, bool, i64, bool)> {
    let params = params.ok_or_else(|| denied("StompX-Auth-Params is not Base64 JSON."))?;
    let attempt = Attempt {
        user: Some((req.app_id, req.username)),
        address: req.address,
    };
    if let Err(wait) = state.logins.check(attempt, Instant::now()) {
        // Not AccessDeniedError: the official client would stop reconnecting for good
        // (docs/protocol.md §2.6).
        return Err(ApiError::new(
            names::RATE_LIMITED,
            format!(
                "Too many failed sign-ins; try again in {} s.",
                wait.as_secs().max(1)
            ),
        ));
    }
    let verified = match state
        .verifier
        .verify(req.username, params, req.app_id, now / 1000)
        .await
    {
        Ok(v) => {
            state.logins.succeeded(attempt);
            v
        }
        Err(refused) => {
            if let Refused::Denied(_) = refused {
                state.logins.failed(attempt, Instant::now());
            }
            return Err(denied(refused.message()));
        }
    };
    let store = &state.store;
    let (user, created) = store
        .user_or_create_new(req.app_id, req.username, false)
        .await?;
    if user.is_guest {
        store.mark_authenticated(user.id).await?;
    }
    let display = verified
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if display.is_some_and(|d| d != user.display_name) {
        store
            .update_user(user.id, display, None, None, None)
            .await?;
    }
    let user = store
        .user(req.app_id, user.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let longest =
        now.saturating_add((state.config.auth_session_max_secs as i64).saturating_mul(1000));
    let expires = verified.expires_ms.map_or(longest, |e| e.min(longest));
    Ok((user, false, expires, created))
}

/// A guest session, when guest sessions are on; never as a user who has authenticated
/// while a verifier is configured.
async fn guest(
    state: &AppState,
    req: &Request<'_>,
    now: i64,
) -> ApiResult<(UserRow, bool, i64, bool)> {
    if !state.config.guests_on() {
        return Err(denied(
            "Guest sessions are disabled on this server; authenticate with authParams.",
        ));
    }
    let (user, created) = state
        .store
        .user_or_create_new(req.app_id, req.username, true)
        .await?;
    if state.config.verifier_configured() && !user.is_guest {
        return Err(denied(
            "This username signs in with authParams, not as a guest.",
        ));
    }
    Ok((user, true, now + TOKEN_LIFETIME_MS, created))
}
