//! Header names used by STOMP 1.2 and by the ChatKitty protocol (docs/protocol.md §2.4, 3).

/// Body length in bytes.
pub const CONTENT_LENGTH: &str = "content-length";
/// Body MIME type.
pub const CONTENT_TYPE: &str = "content-type";
/// Frame destination.
pub const DESTINATION: &str = "destination";
/// Subscription id on SUBSCRIBE/UNSUBSCRIBE/ACK.
pub const ID: &str = "id";
/// Ack mode on SUBSCRIBE; ack id on MESSAGE.
pub const ACK: &str = "ack";
/// Receipt request on any client frame.
pub const RECEIPT: &str = "receipt";
/// RECEIPT frame (and correlated MESSAGE / error) reference to a `receipt`.
pub const RECEIPT_ID: &str = "receipt-id";
/// MESSAGE: the subscription it is delivered on.
pub const SUBSCRIPTION: &str = "subscription";
/// MESSAGE: a unique message id.
pub const MESSAGE_ID: &str = "message-id";
/// Errors queue: the relay SUBSCRIBE id that failed (docs/protocol.md §3.5).
pub const SUBSCRIPTION_ID: &str = "subscription-id";
/// ERROR: a short description.
pub const MESSAGE: &str = "message";
/// CONNECT: versions the client accepts.
pub const ACCEPT_VERSION: &str = "accept-version";
/// CONNECTED: the version chosen.
pub const VERSION: &str = "version";
/// CONNECT/CONNECTED: heart-beat settings `cx,cy`.
pub const HEART_BEAT: &str = "heart-beat";
/// CONNECTED: the session id (sent back as `StompX-Auth-Session-ID`).
pub const SESSION: &str = "session";
/// CONNECTED: server name.
pub const SERVER: &str = "server";
/// CONNECT: the username.
pub const STOMPX_USER: &str = "StompX-User";
/// CONNECT: the client's name/version.
pub const STOMPX_USER_AGENT: &str = "StompX-User-Agent";
/// CONNECT: Base64 (Latin-1) of `JSON.stringify(authParams)`.
pub const STOMPX_AUTH_PARAMS: &str = "StompX-Auth-Params";
/// CONNECT: the previous CONNECTED's `session`, on reconnects.
pub const STOMPX_AUTH_SESSION_ID: &str = "StompX-Auth-Session-ID";
/// SEND: an idempotency key; a retried SEND with the same key is applied once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The JSON content type the server puts on MESSAGE and ERROR frames.
pub const JSON: &str = "application/json";
/// The content type the official client puts on SEND frames.
pub const JSON_UTF8: &str = "application/json;charset=UTF-8";
/// The only STOMP version spoken.
pub const STOMP_VERSION: &str = "1.2";
