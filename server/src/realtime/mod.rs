//! Real-time delivery below the domain: who is subscribed to what on this node and the
//! fan-out to them ([`hub`]), presence, participants and typing bookkeeping
//! ([`tracker`]), the bus between nodes ([`bus`]) and the live sessions by user
//! ([`live`]), and the delivery of webhooks from the outbox ([`webhooks`]). Nothing
//! here knows what a message or a channel is.

pub mod bus;
pub mod hub;
pub mod live;
pub mod tracker;
pub mod webhooks;
