//! [`Payload`] for JS values: `JSON.parse` for incoming bodies, `Reflect` to read the
//! few routing fields, so the app receives the very objects the browser parsed.

use js_sys::{Array, Object, Reflect, JSON};
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

impl Payload for Js {
    fn parse(text: &str) -> Option<Self> {
        JSON::parse(text).ok().map(Js)
    }

    fn get(&self, key: &str) -> Option<Self> {
        if !self.0.is_object() && !self.0.is_function() {
            return None;
        }
        present(Reflect::get(&self.0, &JsValue::from_str(key)).ok()?)
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

    fn set_str(&mut self, path: &[&str], value: &str) {
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
