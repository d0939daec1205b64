//! The STOMP transport (docs/protocol.md §2–4): one WebSocket connection's reader and
//! writer ([`connection`]) over WebSocket messages ([`websocket`]), CONNECT
//! ([`connect`]), the session's subscriptions, limits and dispatch ([`session`]), relays
//! ([`relays`]) and actions ([`actions`]) turned into domain calls, and the frames the
//! server answers with ([`frames`]); [`dispatch`] routes each frame. Nothing here
//! decides what a request does: that is `crate::domain`.

pub mod actions;
pub mod connect;
pub mod connection;
pub mod dispatch;
pub mod frames;
pub mod relays;
pub mod session;
pub mod websocket;
