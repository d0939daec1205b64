//! Named limits on what one request may make the server store, do or send, beyond the
//! configurable ones of [`crate::config::Config`] (the README's "Limits" table lists
//! both, with what happens over each). Over a limit a request fails with a clear error
//! in the protocol's shape and nothing is stored.

use chatkitty_protocol::error::names;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Longest URL a client may store (a display picture, an external file).
pub const MAX_URL_CHARS: usize = 2048;
/// Longest file name of an external file.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// Longest content type of an external file.
pub const MAX_CONTENT_TYPE_CHARS: usize = 255;
/// Longest `groupTag` of a message.
pub const MAX_GROUP_TAG_CHARS: usize = 256;
/// Longest thread name.
pub const MAX_THREAD_NAME_CHARS: usize = 100;

/// `properties` as JSON text of at most `max_bytes` bytes (default `{}`; README,
/// "Limits": `--max-properties-bytes`): properties are copied into every resource that
/// carries them, so their size multiplies into every page and event.
pub fn properties(props: Option<&Map<String, Value>>, max_bytes: usize) -> ApiResult<String> {
    let Some(props) = props else {
        return Ok("{}".to_owned());
    };
    let text = serde_json::to_string(props).map_err(|_| ApiError::internal())?;
    if text.len() > max_bytes {
        return Err(too_large(format!(
            "`properties` is at most {max_bytes} bytes of JSON ({} given).",
            text.len()
        )));
    }
    Ok(text)
}

/// [`properties`] of an untyped body's `properties` field (which must be an object).
pub fn properties_in(body: &Value, max_bytes: usize) -> ApiResult<String> {
    match body.get("properties") {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        Some(Value::Object(m)) => properties(Some(m), max_bytes),
        Some(_) => Err(ApiError::validation("`properties` must be an object.")),
    }
}

/// A string field that is at most `max_chars` characters long.
pub fn bounded<'a>(
    field: &str,
    value: Option<&'a str>,
    max_chars: usize,
) -> ApiResult<Option<&'a str>> {
    match value {
        Some(v) if v.chars().count() > max_chars => Err(too_large(format!(
            "`{field}` is at most {max_chars} characters."
        ))),
        other => Ok(other),
    }
}

/// A `PayloadTooLargeError`.
pub fn too_large(message: impl Into<String>) -> ApiError {
    ApiError::new(names::PAYLOAD_TOO_LARGE, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_over_the_limit_are_refused_with_their_size() {
        let body = json!({ "properties": { "a": "x".repeat(100) } });
        let e = properties_in(&body, 50).unwrap_err();
        assert_eq!(e.name, names::PAYLOAD_TOO_LARGE);
        assert!(e.message.contains("at most 50 bytes"), "{}", e.message);
        assert_eq!(properties(None, 2).unwrap(), "{}");
        assert!(properties_in(&body, 200).is_ok());
        assert!(properties_in(&json!({ "properties": [1] }), 200).is_err());
    }

    #[test]
    fn bounded_counts_characters_not_bytes() {
        assert!(bounded("name", Some("ééé"), 3).is_ok());
        assert!(bounded("name", Some("éééé"), 3).is_err());
        assert_eq!(bounded("name", None, 3).unwrap(), None);
    }
}
