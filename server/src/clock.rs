//! Wall-clock time as the protocol writes it: milliseconds since the epoch, and
//! ISO-8601 text (docs/protocol.md §12).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// ISO-8601 time of a millisecond timestamp.
pub fn time_iso(ms: i64) -> String {
    chatkitty_protocol::time::iso8601_millis(ms)
}

/// ISO-8601 time now.
pub fn now_iso() -> String {
    time_iso(now_ms())
}
