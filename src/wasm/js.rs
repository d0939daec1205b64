//! [`Payload`] for JS values: `JSON.parse` for incoming bodies, `Reflect` to read the
//! few routing fields, so the app receives the very objects the browser parsed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, JsString, Object, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::Payload;

/// A JS value the core can route on.
#[derive(Clone, Debug)]
pub struct Js(pub JsValue);

fn present(v: JsValue) -> Option<Js> {
    if v.is_undefined() || v.is_null() {
        None
    } else {
        Some(Js(v))
    }
}

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JS string (js-sys's takes a Rust `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_js(text: &JsString) -> Result<JsValue, JsValue>;
}

/// The most property names kept as JS strings (see [`key`]).
const KEYS_KEPT: usize = 64;

thread_local! {
    /// The property names the core reads (`type`, `id`, `_relays`, …: a few dozen
    /// literals of its code, hence `&'static str` in [`Payload`]), as JS strings made
    /// once, by the literal's address. Making one from a Rust `&str` goes through
    /// `TextDecoder`, a tenth of the script time of receiving a message (README
    /// "Benchmarks", `throughput`).
    static KEYS: RefCell<Vec<(usize, JsValue)>> = const { RefCell::new(Vec::new()) };

    /// The text message being decoded, while [`with_text_message`] runs.
    static SOURCE: Cell<Option<Rc<Source>>> = const { Cell::new(None) };
}

/// `name` as a JS string.
fn key(name: &'static str) -> JsValue {
    let at = name.as_ptr() as usize;
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some((_, v)) = keys.iter().find(|(k, _)| *k == at) {
            return v.clone();
        }
        let v = JsValue::from_str(name);
        if keys.len() < KEYS_KEPT {
            keys.push((at, v.clone()));
        }
        v
    })
}

/// A text message as it arrived: the JS string and its UTF-8 copy.
struct Source {
    js: JsString,
    text: String,
}

impl Source {
    /// `body` as a slice of the JS string, when it is the body of the message's last
    /// frame: then `JSON.parse` reads the string the browser made instead of a second
    /// copy decoded from the codec's bytes. The bytes are compared, so any other body is
    /// parsed from its copy. That includes the earlier frames of a message packing
    /// several (docs/protocol.md §2.2): finding each of them in the string (a scan for
    /// its NUL, a comparison, UTF-16 counting) cost more main-thread time than the copy
    /// (bench/README.md, "Packed frames").
    fn body(&self, body: &str) -> Option<JsString> {
        // A frame ends with NUL, then optional EOLs (docs/protocol.md §2.3). No
        // indexing that could panic: a panic's message would link `core::fmt`.
        let mut frame = self.text.as_bytes();
        while let Some((b'\n' | b'\r', rest)) = frame.split_last() {
            frame = rest;
        }
        let (0, frame) = frame.split_last()? else {
            return None;
        };
        let before = frame.strip_suffix(body.as_bytes())?;
        // What follows the body is ASCII (one byte, one UTF-16 unit each), so only the
        // head is counted, not the body.
        let after = (self.text.len() - frame.len()) as u32;
        Some(
            self.js
                .substring(utf16_len(before), self.js.length().saturating_sub(after)),
        )
    }
}

/// The length in UTF-16 code units of UTF-8 text: one per character, two for those
/// above U+FFFF (4-byte sequences).
fn utf16_len(utf8: &[u8]) -> u32 {
    let mut n = 0;
    for &b in utf8 {
        n += u32::from(b & 0xC0 != 0x80) + u32::from(b >= 0xF0);
    }
    n
}

/// Runs `f` on the UTF-8 copy of the text message `js` (not at all if it is not a
/// string), with the message as the source of the bodies parsed meanwhile.
pub(crate) fn with_text_message(js: JsValue, f: impl FnOnce(&[u8])) {
    let Some(text) = js.as_string() else { return };
    let source = Rc::new(Source {
        js: js.unchecked_into(),
        text,
    });
    SOURCE.with(|s| s.set(Some(source.clone())));
    f(source.text.as_bytes());
    SOURCE.with(|s| s.set(None));
}

/// The text message being decoded, if one is.
fn current_source() -> Option<Rc<Source>> {
    SOURCE.with(|s| {
        let source = s.take();
        s.set(source.clone());
        source
    })
}

impl Payload for Js {
    /// `JSON.parse`, of the message's own string where `text` is a slice of it.
    fn parse(text: &str) -> Option<Self> {
        match current_source().and_then(|s| s.body(text)) {
            Some(js) => parse_js(&js),
            None => JSON::parse(text),
        }
        .ok()
        .map(Js)
    }

    fn get(&self, name: &'static str) -> Option<Self> {
        if !self.0.is_object() && !self.0.is_function() {
            return None;
        }
        present(Reflect::get(&self.0, &key(name)).ok()?)
    }

    fn as_string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn as_number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn truthy(&self) -> bool {
        self.0.is_truthy()
    }

    fn to_json(&self) -> Option<String> {
        JSON::stringify(&self.0).ok()?.as_string()
    }

    fn set_str(&mut self, path: &[&'static str], value: &str) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut target = self.clone();
        for key in parents {
            match target.get(key) {
                Some(next) => target = next,
                None => return,
            }
        }
        if target.0.is_object() {
            let _ = Reflect::set(
                &target.0,
                &JsValue::from_str(last),
                &JsValue::from_str(value),
            );
        }
    }

    fn array_len(&self) -> usize {
        self.0.dyn_ref::<Array>().map_or(0, |a| a.length() as usize)
    }

    fn at(&self, index: usize) -> Option<Self> {
        present(self.0.dyn_ref::<Array>()?.get(index as u32))
    }

    fn set_at(&mut self, _index: usize, _value: Self) {
        // Array elements are objects held by reference: they were mutated in place.
    }

    fn empty_array() -> Self {
        Js(Array::new().into())
    }

    fn param_headers(&self) -> Vec<(String, String)> {
        let Some(obj) = self.0.dyn_ref::<Object>() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in Object::entries(obj).iter() {
            let pair: Array = entry.unchecked_into();
            let (key, value) = (pair.get(0), pair.get(1));
            let Some(key) = key.as_string() else { continue };
            if value.is_undefined() || value.is_null() {
                continue;
            }
            out.push((key, js_string(&value)));
        }
        out
    }
}

/// JavaScript's `String(value)` for the values a filter holds.
pub(crate) fn js_string(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    if let Some(b) = value.as_bool() {
        return if b { "true" } else { "false" }.to_owned();
    }
    if value.as_f64().is_some() {
        if let Ok(s) = js_sys::Number::unchecked_from_js_ref(value).to_string_with_radix(10) {
            return String::from(s);
        }
    }
    "[object Object]".to_owned()
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::*;

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// What `Source::body` takes from `message` for `body`, as Rust text.
    fn sliced(message: &str, body: &str) -> Option<String> {
        let source = Source {
            js: JsValue::from_str(message).unchecked_into(),
            text: message.to_owned(),
        };
        source.body(body).map(String::from)
    }

    #[wasm_bindgen_test]
    fn the_body_is_the_slice_of_the_string_after_the_head() {
        let body = r#"{"body":"naïve 日本 😀"}"#;
        let message = format!("MESSAGE\ndestination:/ä/😀\n\n{body}\0");
        assert_eq!(sliced(&message, body).as_deref(), Some(body));
        // EOLs after the NUL (docs/protocol.md §2.3).
        let message = format!("MESSAGE\n\n{body}\0\r\n\n");
        assert_eq!(sliced(&message, body).as_deref(), Some(body));
    }

    #[wasm_bindgen_test]
    fn any_other_body_is_not_taken_from_the_string() {
        // The first of two frames in one message: parsed from its copy.
        let message = "MESSAGE\n\n{\"a\":1}\0MESSAGE\n\n{\"b\":2}\0";
        assert_eq!(sliced(message, "{\"a\":1}"), None);
        assert_eq!(sliced(message, "{\"b\":2}").as_deref(), Some("{\"b\":2}"));
        // No NUL at the end (a frame split across messages), or other bytes.
        assert_eq!(sliced("MESSAGE\n\n{\"a\":1}", "{\"a\":1}"), None);
        assert_eq!(sliced("MESSAGE\n\n{\"a\":2}\0", "{\"a\":1}"), None);
        assert_eq!(sliced("\0", "{}"), None);
    }

    #[wasm_bindgen_test]
    fn parse_reads_the_message_being_decoded_only_while_it_is() {
        let message = JsValue::from_str("MESSAGE\n\n{\"x\":\"é\"}\0");
        let mut inside = None;
        with_text_message(message, |_| {
            inside = Js::parse("{\"x\":\"é\"}").and_then(|v| v.get("x")?.as_string());
        });
        assert_eq!(inside.as_deref(), Some("é"));
        assert!(
            current_source().is_none(),
            "the message is let go of once decoded"
        );
        assert_eq!(
            Js::parse("{\"y\":1}").and_then(|v| v.get("y")?.as_number()),
            Some(1.0)
        );
    }
}
