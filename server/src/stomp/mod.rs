//! The STOMP transport (docs/protocol.md §2–4): one WebSocket connection's session,
//! the relay and action handlers that turn frames into domain calls and outcomes into
//! frames.

pub mod actions;
pub mod relays;
pub mod session;
