//! Who a connection or a backend is: signed tokens (session ids, file grants, Platform
//! API bearer tokens: [`keys`]), the operator's verifier of `authParams` ([`verifier`])
//! and the throttle on failed logins ([`logins`]).

pub mod keys;
pub mod logins;
pub mod verifier;
