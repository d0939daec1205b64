//! `chatkitty-wasm`: a ChatKitty-compatible chat SDK for the web, in Rust compiled to
//! WebAssembly, used from JavaScript exactly like `chatkitty@1.58.2` (docs/api.md).
//!
//! It speaks STOMP 1.2 over a WebSocket (docs/protocol.md) through the shared
//! `chatkitty-protocol` crate. It does not upload files yet, and it never parses JSON
//! into Rust models: resources reach the app as the objects `JSON.parse` built.
//!
//! # Layout
//!
//! - [`core`]: the sans-IO client state machine — every protocol decision, no I/O, no
//!   clock, no JS; unit-tested natively with `cargo test`.
//! - `wasm` (wasm32 only): the thin driver — the `ChatKitty` class, the WebSocket,
//!   the timer, Promises, callbacks, and the conversion of results and errors to JS.
#![warn(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;

/// A free-list allocator of ~1 KB instead of std's dlmalloc (~7 KB of wasm): the
/// package has a size budget (scripts/build-pkg.sh prints it). Wasm here has one
/// thread, which is what `AssumeSingleThreaded` requires.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
#[allow(unsafe_code)]
// SAFETY: wasm32-unknown-unknown without the atomics feature runs a single thread, so
// the allocator is never used concurrently.
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(target_arch = "wasm32")]
pub use wasm::ChatKitty;
