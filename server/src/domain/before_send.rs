//! The before-send hook (`--before-send-url`, docs/protocol.md §15.2): the app's backend
//! is asked about every new message before it is stored, whichever way it came (a
//! STOMP send, each one of a batch, an upload, a Platform API system message: see
//! [`super::post`]).
//!
//! The server POSTs `{applicationId, message, sender, channel}` (signed like a webhook
//! when `--before-send-secret` is set) and the answer decides:
//!
//! - `{"action": "allow"}` (or an empty 2xx answer): stored as sent;
//! - `{"action": "reject", "reason": "…"}`: not stored; the sender gets
//!   `MessageRejectedError` with the reason (at most [`MAX_REASON_CHARS`]);
//! - `{"action": "replace", "body": "…", "properties": {…}}`: stored with that body
//!   and/or those properties instead (mentions and links found again in the new body);
//!   a replacement that breaks the message limits is refused with
//!   `MessageRejectedError`, never stored as sent.
//!
//! No answer within `--before-send-timeout-ms`, a non-2xx status, an answer over
//! `--before-send-max-bytes` or not one of the above is a failure: the message is
//! refused with `MessageRejectedError` unless `--before-send-fail-open`, when it is
//! stored as sent. Each call's time is in `/metrics` (`chatkitty_before_send_seconds`),
//! each outcome counted (`chatkitty_before_send_total`).

use std::time::Instant;

use chatkitty_protocol::error::names;
use hyper::body::Bytes;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::realtime::webhooks::{client::Target, sign};
use crate::state::AppState;

/// Longest rejection reason passed on to the sender.
pub const MAX_REASON_CHARS: usize = 500;

/// What the hook said.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Allow,
    Reject(String),
    Replace {
        body: Option<String>,
        properties: Option<Map<String, Value>>,
    },
}

/// What to store, when the hook lets the message through.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The message as sent.
    Keep,
    /// The message with this body and/or these properties instead.
    Replace {
        /// New body (text messages).
        body: Option<String>,
        /// New properties.
        properties: Option<Map<String, Value>>,
    },
}

/// Asks the hook about a message (`request`: `{applicationId, message, sender,
/// channel}`, built by `super::post`): what to store, or the sender's error. Without
/// `--before-send-url`, [`Decision::Keep`].
pub async fn ask(state: &AppState, request: Value) -> ApiResult<Decision> {
    let Some(url) = &state.config.before_send_url else {
        return Ok(Decision::Keep);
    };
    let metrics = &state.webhooks.metrics;
    let started = Instant::now();
    let asked = post_to(state, url, request).await;
    metrics.before_send.observe(started.elapsed().as_secs_f64());
    let outcome = |o: &str| metrics.before_send_outcomes.with_label_values(&[o]).inc();
    match asked {
        Ok(Verdict::Allow) => {
            outcome("allowed");
            Ok(Decision::Keep)
        }
        Ok(Verdict::Reject(reason)) => {
            outcome("rejected");
            Err(ApiError::new(names::MESSAGE_REJECTED, reason))
        }
        Ok(Verdict::Replace { body, properties }) => {
            outcome("replaced");
            Ok(Decision::Replace { body, properties })
        }
        Err(e) if state.config.before_send_fail_open => {
            outcome("failed_open");
            tracing::warn!(error = %e, "before-send hook failed; the message is stored (--before-send-fail-open)");
            Ok(Decision::Keep)
        }
        Err(e) => {
            outcome("failed_closed");
            tracing::warn!(error = %e, "before-send hook failed; the message is refused");
            Err(ApiError::new(
                names::MESSAGE_REJECTED,
                "The message could not be checked; try again later.",
            ))
        }
    }
}

/// The sender's error for a replacement that breaks the message limits.
pub fn invalid_replacement(e: ApiError) -> ApiError {
    ApiError::new(
        names::MESSAGE_REJECTED,
        format!(
            "The message as the before-send hook replaced it is invalid: {}",
            e.message
        ),
    )
}

/// POSTs to the hook within the timeout and reads its verdict.
async fn post_to(state: &AppState, url: &str, body: Value) -> Result<Verdict, String> {
    let target = Target::parse(url)?;
    let body = Bytes::from(body.to_string());
    let mut headers = Vec::new();
    if let Some(secret) = &state.config.before_send_secret {
        let id = format!("bs_{:x}", crate::clock::now_ms());
        let ts = crate::clock::now_ms() / 1000;
        headers.push((
            "webhook-signature",
            sign::signature_header(&[secret], &id, ts, &body),
        ));
        headers.push(("webhook-id", id));
        headers.push(("webhook-timestamp", ts.to_string()));
    }
    let timeout = std::time::Duration::from_millis(state.config.before_send_timeout_ms);
    let post = state.webhooks.operator_client().post(
        &target,
        &headers,
        body,
        state.config.before_send_max_bytes,
    );
    let answer = tokio::time::timeout(timeout, post)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))??;
    if !(200..300).contains(&answer.status) {
        return Err(format!("answered {}", answer.status));
    }
    if answer.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Verdict::Allow);
    }
    let v: Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("answer is not JSON: {e}"))?;
    verdict(&v)
}

fn verdict(v: &Value) -> Result<Verdict, String> {
    match v.get("action").and_then(Value::as_str) {
        Some("allow") => Ok(Verdict::Allow),
        Some("reject") => {
            let reason = v
                .get("reason")
                .and_then(Value::as_str)
                .filter(|r| !r.trim().is_empty())
                .unwrap_or("The message was rejected.");
            Ok(Verdict::Reject(
                reason.chars().take(MAX_REASON_CHARS).collect(),
            ))
        }
        Some("replace") => {
            let body = match v.get("body") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err("replace: `body` is not a string".into()),
            };
            let properties = match v.get("properties") {
                None | Some(Value::Null) => None,
                Some(Value::Object(m)) => Some(m.clone()),
                Some(_) => return Err("replace: `properties` is not an object".into()),
            };
            if body.is_none() && properties.is_none() {
                return Err("replace: neither `body` nor `properties`".into());
            }
            Ok(Verdict::Replace { body, properties })
        }
        _ => Err("answer has no `action` of allow, reject or replace".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_allow_reject_or_replace_and_anything_else_fails() {
        assert_eq!(verdict(&json!({"action": "allow"})), Ok(Verdict::Allow));
        assert_eq!(
            verdict(&json!({"action": "reject", "reason": "no swearing"})),
            Ok(Verdict::Reject("no swearing".into()))
        );
        assert_eq!(
            verdict(&json!({"action": "reject"})),
            Ok(Verdict::Reject("The message was rejected.".into()))
        );
        let long = "x".repeat(MAX_REASON_CHARS + 10);
        match verdict(&json!({"action": "reject", "reason": long})) {
            Ok(Verdict::Reject(r)) => assert_eq!(r.chars().count(), MAX_REASON_CHARS),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(&json!({"action": "replace", "body": "***"})),
            Ok(Verdict::Replace {
                body: Some(_),
                properties: None
            })
        ));
        for bad in [
            json!({}),
            json!({"action": "maybe"}),
            json!({"action": "replace"}),
            json!({"action": "replace", "body": 3}),
            json!({"action": "replace", "properties": []}),
            json!({"allow": true}),
        ] {
            assert!(verdict(&bad).is_err(), "{bad}");
        }
    }
}
