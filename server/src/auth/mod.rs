//! Who a connection or a backend is: signed tokens (session ids, file grants, Platform
//! API bearer tokens: [`keys`]), the operator's verifier of `authParams` ([`verifier`],
//! with an identity provider's keys in [`jwks`] and its HTTP client in [`client`]) and
//! the throttle on failed logins ([`logins`]).

pub mod client;
pub mod jwks;
pub mod keys;
pub mod logins;
pub mod verifier;
