//! The opaque JSON value the core routes on.
//!
//! Resources must reach the app as the very objects the browser's `JSON.parse` built
//! (ARCHITECTURE.md), so the core never owns a Rust model of them: it is generic over a
//! [`Payload`] and reads only the few routing fields it needs (`type`, `resource`,
//! `_topics`, `_relays`, `_actions`, `file.url`). The wasm bindings implement it for a
//! `JsValue` (`JSON.parse` + `Reflect`); the native tests for `serde_json::Value`.

/// A JSON value owned by the embedder.
///
/// Every accessor treats `undefined` and `null` as absent, so "missing link" and
/// "link set to null" behave the same (docs/protocol.md §12: `_relays.parent` may be either).
pub trait Payload: Clone {
    /// Parses JSON text; `None` if it is not valid JSON.
    fn parse(text: &str) -> Option<Self>;
    /// The member `key` of an object; `None` when absent, `null`, `undefined`, or when
    /// `self` is not an object.
    fn get(&self, key: &'static str) -> Option<Self>;
    /// The value as a string, if it is one.
    fn as_string(&self) -> Option<String>;
    /// The value as a number, if it is one.
    fn as_number(&self) -> Option<f64>;
    /// JavaScript truthiness (`false`, `0`, `""`, `null`, `undefined`, `NaN` are falsy).
    fn truthy(&self) -> bool;
    /// `JSON.stringify` of the value; `None` if it cannot be serialised.
    fn to_json(&self) -> Option<String>;
    /// Sets the string at `path` (e.g. `["file", "url"]`) where every object on the
    /// way exists (no-op otherwise).
    fn set_str(&mut self, path: &[&'static str], value: &str);
    /// The length of an array (0 for anything else).
    fn array_len(&self) -> usize;
    /// The element `index` of an array.
    fn at(&self, index: usize) -> Option<Self>;
    /// Replaces the element `index` of an array (JS arrays hold objects by reference,
    /// so there this only matters for by-value payloads).
    fn set_at(&mut self, index: usize, value: Self);
    /// A new empty array.
    fn empty_array() -> Self;
    /// An object's own entries as request parameter headers: each value converted as
    /// JavaScript's `String(v)` does, `undefined`/`null` entries skipped
    /// (docs/protocol.md §3.1: treat those as absent).
    fn param_headers(&self) -> Vec<(String, String)>;

    /// The string at `path` (e.g. `["_relays", "self"]`), if present and non-empty.
    fn get_str(&self, path: &[&'static str]) -> Option<String> {
        let mut v = self.clone();
        for key in path {
            v = v.get(key)?;
        }
        v.as_string().filter(|s| !s.is_empty())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
impl Payload for serde_json::Value {
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
    fn get(&self, key: &'static str) -> Option<Self> {
        self.as_object()?.get(key).filter(|v| !v.is_null()).cloned()
    }
    fn as_string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }
    fn as_number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn truthy(&self) -> bool {
        use serde_json::Value::*;
        match self {
            Null => false,
            Bool(b) => *b,
            Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
            String(s) => !s.is_empty(),
            Array(_) | Object(_) => true,
        }
    }
    fn to_json(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
    fn set_str(&mut self, path: &[&'static str], value: &str) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut v = self;
        for key in parents {
            match v.get_mut(*key) {
                Some(next) => v = next,
                None => return,
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.insert((*last).to_owned(), value.into());
        }
    }
    fn array_len(&self) -> usize {
        self.as_array().map_or(0, Vec::len)
    }
    fn at(&self, index: usize) -> Option<Self> {
        self.as_array()?.get(index).cloned()
    }
    fn set_at(&mut self, index: usize, value: Self) {
        if let Some(slot) = self.as_array_mut().and_then(|a| a.get_mut(index)) {
            *slot = value;
        }
    }
    fn empty_array() -> Self {
        serde_json::Value::Array(Vec::new())
    }
    fn param_headers(&self) -> Vec<(String, String)> {
        let Some(o) = self.as_object() else {
            return Vec::new();
        };
        o.iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(_) => "[object Object]".to_owned(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }
}
