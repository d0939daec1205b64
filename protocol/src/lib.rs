//! The ChatKitty wire protocol: STOMP 1.2 over WebSocket, as docs/protocol.md describes it.
//!
//! Shared by the SDK (compiled to wasm) and the server, so the two sides cannot drift.
//! It performs no I/O, owns no clock and starts no tasks: it turns bytes into frames and
//! back, names every header, event and error, and builds and parses every destination.
//!
//! # Layout
//!
//! - [`frame`]: [`Command`], [`Frame`], header escaping, encoding.
//! - [`codec`]: the streaming [`Decoder`] (split and packed frames, heart-beats, limits).
//! - [`header`]: header names.
//! - [`destination`]: the destination scheme (docs/protocol.md §13.1), build and parse.
//! - [`event`]: event type names.
//! - [`error`]: error names and the `{error, message, timestamp}` body.
//! - [`time`]: ISO-8601 timestamps.
//! - [`thread`]: thread ids.
//! - `resource` (feature `resources`): the JSON resources the server renders.
//! - `request` (feature `resources`): the JSON bodies clients send to actions, typed.
#![warn(missing_docs)]

pub mod codec;
pub mod destination;
pub mod error;
pub mod event;
pub mod frame;
pub mod header;
#[cfg(feature = "resources")]
pub mod request;
#[cfg(feature = "resources")]
pub mod resource;
pub mod thread;
pub mod time;

pub use codec::{DecodeError, Decoder, Item, Limits};
pub use frame::{Command, Frame};
