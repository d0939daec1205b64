//! Arbitrary client bytes through the decoder into a real session's handlers (relays,
//! actions, topics, errors) backed by SQLite: nothing panics, whatever the frames,
//! headers, destinations and bodies.
#![no_main]

use std::sync::Mutex;

use chatkitty_server::fuzzing::Harness;
use libfuzzer_sys::fuzz_target;

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut h = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    h.get_or_insert_with(Harness::new).feed(data);
});
