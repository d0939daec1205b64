//! Structured requests to every relay and action of a real session (SQLite behind it):
//! a destination chosen by the first byte, the rest as its query string or body. Besides
//! not panicking, each answer stays within the byte budgets: no frame larger than a page
//! budget plus the largest frame a client may send, and a bounded number of frames. The
//! time budget is libFuzzer's `-timeout` (scripts/fuzz.sh).
#![no_main]

use std::sync::Mutex;

use chatkitty_server::fuzzing::Harness;
use libfuzzer_sys::fuzz_target;

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let mut h = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let h = h.get_or_insert_with(Harness::new);
    let answer = h.request(selector, payload);
    let c = h.config();
    let largest_allowed = c.max_page_bytes + c.max_frame_bytes + 64 * 1024;
    assert!(
        answer.largest <= largest_allowed,
        "a {} byte frame answered a {} byte request",
        answer.largest,
        data.len()
    );
    assert!(answer.frames <= 16, "{} frames answered one request", answer.frames);
});
