//! A harness for fuzzing the frame → handler path without a socket: one application,
//! two users, a direct channel with a message, a public channel with a mention, a
//! private channel, and a live session of the first user whose outbound frames are
//! drained (and counted) after each input. Enabled by feature `fuzzing`.

use std::sync::Arc;

use chatkitty_protocol::{Decoder, Item, Limits};
use tokio::sync::watch;

use crate::realtime::hub::Outbound;
use crate::realtime::queue;
use crate::state::AppState;
use crate::stomp::session::Session;
use crate::store::{now_ms, NewMessage};

/// See the module docs.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    state: AppState,
    app_id: i64,
    user: crate::store::UserRow,
    rx: queue::Receiver<Outbound>,
    tx: queue::Sender<Outbound>,
    _stop: watch::Sender<bool>,
    dir: std::path::PathBuf,
}

impl Harness {
    /// A fresh harness on a SQLite file in a new temporary folder.
    pub fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!(
            "chatkitty-fuzz-{}-{}",
            std::process::id(),
            now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config =
            crate::Config::for_tests(dir.join("fuzz.db").to_string_lossy().into_owned(), "fuzz");
        config.max_frame_bytes = 64 * 1024;
        let (stop, stop_rx) = watch::channel(false);
        let (state, app_id, user) = rt.block_on(async {
            let state = crate::build_state(config, stop_rx).await.expect("state");
            let app_id = state.apps["fuzz"];
            let user = state
                .store
                .user_or_create(app_id, "jane", true)
                .await
                .expect("jane");
            let john = state
                .store
                .user_or_create(app_id, "john", true)
                .await
                .expect("john");
            let (channel, _) = state
                .store
                .direct_channel(app_id, user.id, &[john.id])
                .await
                .expect("channel");
            let m = NewMessage::text(channel.id, Some(john.id), "hello");
            state.store.insert_message(&m).await.expect("message");
            for (kind, name) in [
                (chatkitty_protocol::resource::ChannelType::Public, "lobby"),
                (chatkitty_protocol::resource::ChannelType::Private, "vault"),
            ] {
                let c = state
                    .store
                    .create_group_channel(
                        &crate::store::NewGroupChannel {
                            app_id,
                            kind,
                            name,
                            display_name: name,
                            properties: "{}",
                        },
                        john.id,
                        &[john.id],
                    )
                    .await
                    .expect("group channel");
                let m = NewMessage::text(c.id, Some(john.id), "<@jane> <#lobby> <#vault>");
                state.store.insert_message(&m).await.expect("message");
            }
            (state, app_id, user)
        });
        let (tx, rx) = queue::channel(1 << 16);
        Harness {
            rt,
            state,
            app_id,
            user,
            rx,
            tx,
            _stop: stop,
            dir,
        }
    }

    /// Decodes `bytes` as a client's stream and hands every frame to a session;
    /// returns the number of frames handled. Never panics on any input (that is
    /// what the fuzzer checks).
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut session = Session::for_fuzzing(
            Arc::clone(&self.state),
            self.app_id,
            self.user.clone(),
            self.tx.clone(),
        );
        let mut decoder = Decoder::new(Limits {
            max_frame_bytes: 64 * 1024,
            max_headers: 64,
        });
        decoder.push(bytes);
        let mut handled = 0;
        self.rt.block_on(async {
            while let Ok(Some(item)) = decoder.decode() {
                if let Item::Frame(f) = item {
                    handled += 1;
                    if session.handle_for_fuzzing(f).await {
                        break;
                    }
                }
            }
        });
        while self.rx.try_recv().is_some() {}
        handled
    }
}

/// What the session queued in answer to one request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Answer {
    /// Frames queued.
    pub frames: usize,
    /// Their bytes.
    pub bytes: usize,
    /// The largest one.
    pub largest: usize,
}

/// Destinations of the harness's world (ids 1–3 are its channels and messages, the
/// others do not exist): every relay and action kind, for structured inputs.
pub const DESTINATIONS: &[&str] = &[
    "/application/v1/user.relay",
    "/application/v1/user/contacts.relay",
    "/application/v1/user/channels.relay",
    "/application/v1/user/channels/joinable.relay",
    "/application/v1/user/unread_channels.relay",
    "/application/v1/user/block_list_items.relay",
    "/application/v1/channels/1.relay",
    "/application/v1/channels/2/messages.relay",
    "/application/v1/channels/3/messages.relay",
    "/application/v1/channels/2/members.relay",
    "/application/v1/channels/2/threads.relay",
    "/application/v1/messages/2.relay",
    "/application/v1/messages/2/replies.relay",
    "/application/v1/messages/2/reactions.relay",
    "/application/v1/messages/2/read_receipts.relay",
    "/application/v1/threads/main-2.relay",
    "/application/v1/user.create_channel",
    "/application/v1/user.update",
    "/application/v1/channels/1.message",
    "/application/v1/channels/2.join",
    "/application/v1/channels/2.message",
    "/application/v1/channels/2.trigger_event",
    "/application/v1/channels/2.create_thread",
    "/application/v1/channels/2.leave",
    "/application/v1/channels/1.keystrokes",
    "/application/v1/messages/1.reply",
    "/application/v1/messages/1.react",
    "/application/v1/messages/1.edit",
    "/application/v1/messages/1.delete",
    "/topic/v1/channels/2/messages",
    "/topic/v1/channels/3/messages",
];

impl Harness {
    /// One request built from fuzz input: `DESTINATIONS[selector]`, as a relay
    /// SUBSCRIBE whose parameters are `payload` as a query string, or a SEND with
    /// `payload` as its body. Returns what the session queued in answer (the fuzz
    /// target checks it against the byte budgets).
    pub fn request(&mut self, selector: u8, payload: &[u8]) -> Answer {
        use chatkitty_protocol::{Command, Frame};
        let dest = DESTINATIONS[selector as usize % DESTINATIONS.len()];
        let text = String::from_utf8_lossy(payload);
        let frame = if dest.starts_with("/topic/") || dest.ends_with(".relay") {
            let dest = if dest.ends_with(".relay") && !text.is_empty() {
                format!("{dest}?{text}")
            } else {
                dest.to_owned()
            };
            Frame::new(Command::Subscribe)
                .with_header("id", "fuzz")
                .with_header("receipt", "r")
                .with_header("destination", dest)
        } else {
            Frame::new(Command::Send)
                .with_header("destination", dest)
                .with_header("receipt", "r")
                .with_body(payload.to_vec())
        };
        let mut session = Session::for_fuzzing(
            Arc::clone(&self.state),
            self.app_id,
            self.user.clone(),
            self.tx.clone(),
        );
        self.rt.block_on(async {
            session.handle_for_fuzzing(frame).await;
        });
        let mut answer = Answer::default();
        while let Some(out) = self.rx.try_recv() {
            if let Outbound::Frame(f) = out {
                answer.frames += 1;
                answer.bytes += f.len();
                answer.largest = answer.largest.max(f.len());
            }
        }
        answer
    }

    /// The configuration the harness's server runs with.
    pub fn config(&self) -> &crate::Config {
        &self.state.config
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
