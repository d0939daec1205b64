//! Real-time delivery below the domain: who is subscribed to what on this node and the
//! fan-out to them ([`hub`]), presence, participants and typing bookkeeping
//! ([`tracker`]), the bus between nodes ([`bus`]), the live sessions by user
//! ([`live`]), each connection's outbound queue ([`queue`]) and the delivery of
//! webhooks from the outbox ([`webhooks`]). Nothing here knows what a message or a
//! channel is.

pub mod bus;
pub mod hub;
pub mod live;
pub mod queue;
pub mod tracker;
pub mod webhooks;
