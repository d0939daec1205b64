//! Every conversion of a core outcome into a JS value, in one place (STYLE.md 4):
//! result objects (API.md 2.1), thrown errors (2.2) and rejections.

use chatkitty_protocol::error::names;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use crate::core::{Failure, Misuse};

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
        Failure::Unknown => (names::UNKNOWN, "An unknown error occurred."),
        Failure::Validation(m) => (names::VALIDATION, m),
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

/// What a misused call throws: an `Error` carrying the `error` field of API.md 2.2.
pub fn misuse(m: Misuse) -> JsValue {
    match m {
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
    }
}

/// An `Error` instance with `name` and `error` set to `name`.
pub fn thrown_error(name: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    set(&e, "error", &JsValue::from_str(name));
    e.into()
}
