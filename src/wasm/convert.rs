//! Every conversion of a core outcome into a JS value, in one place (STYLE.md 4):
//! result objects (docs/api.md §2.1), thrown errors (2.2) and rejections.

use chatkitty_protocol::error::names;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::{Failure, Misuse, Payload};

use super::js::Js;

/// Sets `key` on a plain object.
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `{succeeded: true, failed: false, cancelled: false, [key]: value}`.
pub fn succeeded(key: Option<&str>, value: &JsValue) -> Object {
    let o = flags(true, false);
    if let Some(key) = key {
        set(&o, key, value);
    }
    o
}

/// `{succeeded: false, failed: true, cancelled: false, error}`.
pub fn failed(failure: Failure<Js>) -> Object {
    let o = flags(false, true);
    set(&o, "error", &error_value(failure));
    o
}

fn flags(ok: bool, failed: bool) -> Object {
    let o = Object::new();
    set(&o, "succeeded", &JsValue::from_bool(ok));
    set(&o, "failed", &JsValue::from_bool(failed));
    set(&o, "cancelled", &JsValue::FALSE);
    o
}

/// The `error` of a failed result (or the value of a rejection).
pub fn error_value(failure: Failure<Js>) -> JsValue {
    let (name, message) = match failure {
        Failure::Server(e) => return e.0,
        Failure::Connection => (names::CONNECTION, "Could not connect to ChatKitty"),
        Failure::Timeout => ("ChatKittyTimeoutError", "ChatKitty did not answer in time."),
        Failure::Unknown => (names::UNKNOWN, "An unknown error occurred."),
        Failure::Validation(m) => (names::VALIDATION, m),
        Failure::NotAReply(m) => return not_a_reply(m),
        Failure::Http { status, body } => return http_error(status, body),
        Failure::PageOutOfBounds => {
            return thrown_error(
                "PageOutOfBoundsError",
                "You've requested a page that doesn't exists.",
            )
        }
    };
    let o = Object::new();
    set(&o, "error", &JsValue::from_str(name));
    set(&o, "message", &JsValue::from_str(message));
    // The browser's own ISO-8601 formatter (`iso8601_millis` would link core::fmt).
    set(&o, "timestamp", &js_sys::Date::new_0().to_iso_string());
    o.into()
}

/// A failed upload: the server's `{error, message}` when it sent one, plus `status`
/// and the `response: {status, data}` an HTTP library's error carries (docs/api.md §2.1).
fn http_error(status: u16, body: Option<Js>) -> JsValue {
    let text = |k: &'static str| body.as_ref().and_then(|b| b.get(k)).map(|v| v.0);
    let o = Object::new();
    set(
        &o,
        "error",
        &text("error").unwrap_or_else(|| names::FILE_UPLOAD.into()),
    );
    let message = text("message").unwrap_or_else(|| {
        let mut m = String::from("Upload failed with status ");
        crate::core::text::push_u64(&mut m, status as u64);
        m.into()
    });
    set(&o, "message", &message);
    set(&o, "timestamp", &js_sys::Date::new_0().to_iso_string());
    let status = JsValue::from(status);
    set(&o, "status", &status);
    let response = Object::new();
    set(&response, "status", &status);
    set(&response, "data", &body.map_or(JsValue::UNDEFINED, |b| b.0));
    set(&o, "response", &response);
    o.into()
}

/// What a misused call throws: an `Error` carrying the `error` field of docs/api.md §2.2;
/// `request` supplies the `channel` of the channel errors; a wrong argument of `call`
/// (a JS method name, or "" when the caller is a table row) is a `TypeError` reading
/// `startSession: username must be a string`.
pub fn misuse(m: Misuse, request: &JsValue, call: &str) -> JsValue {
    match m {
        Misuse::Thrown(t) => {
            let (name, before, after) = t.text();
            let channel = Js(request.clone()).get("channel");
            let channel_name = channel
                .as_ref()
                .and_then(|c| c.get("name"))
                .and_then(|n| n.as_string())
                .unwrap_or_else(|| "undefined".into());
            let mut message = String::from(before);
            message.push_str(&channel_name);
            message.push_str(after);
            let e = thrown_error(name, &message);
            set(
                e.unchecked_ref(),
                "channel",
                &channel.map_or(JsValue::UNDEFINED, |c| c.0),
            );
            e
        }
        Misuse::NoActiveSession => {
            thrown_error("NoActiveSessionError", "You're not connected to ChatKitty.")
        }
        Misuse::SessionActive => thrown_error(
            "SessionActiveError",
            "A user session is already active and must be ended before this instance can start a new session.",
        ),
        Misuse::AuthParamsNotLatin1 => js_sys::TypeError::new(
            "authParams must serialise to Latin-1 text (characters U+0000 to U+00FF).",
        )
        .into(),
        Misuse::InvalidArgument(name) => {
            let mut msg = String::from("Invalid or missing argument: ");
            msg.push_str(name);
            js_sys::TypeError::new(&msg).into()
        }
        Misuse::Expected(what) => {
            let mut msg = String::from(call);
            msg.push_str(": ");
            msg.push_str(what);
            js_sys::TypeError::new(&msg).into()
        }
    }
}

/// The rejection of `getMessageParent` for a message that is not a reply.
pub fn not_a_reply(message: Js) -> JsValue {
    let id = message
        .get("id")
        .map_or_else(|| "undefined".into(), |i| super::js::js_string(&i.0));
    let mut text = String::from("Message ");
    text.push_str(&id);
    text.push_str(" is not a reply.");
    let e = thrown_error("MessageNotAReplyError", &text);
    set(e.unchecked_ref(), "messageModel", &message.0);
    e
}

/// An `Error` instance with `name` and `error` set to `name`.
pub fn thrown_error(name: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    set(&e, "error", &JsValue::from_str(name));
    e.into()
}
