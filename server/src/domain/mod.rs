//! What the server does, whichever transport asked: channels, users, messages, threads,
//! notifications, and resources rendered per viewer.

pub mod channels;
pub mod emoji;
pub mod mentions;
pub mod messages;
pub mod notify;
pub mod render;
pub mod text;
pub mod threads;
pub mod users;
