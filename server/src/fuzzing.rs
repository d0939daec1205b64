//! A harness for fuzzing the frame → handler path without a socket: one application,
//! two users, a direct channel with a message, and a live session of the first user
//! whose outbound frames are drained after each input. Enabled by feature `fuzzing`.

use std::sync::Arc;

use chatkitty_protocol::{Decoder, Item, Limits};
use tokio::sync::{mpsc, watch};

use crate::hub::Outbound;
use crate::session::Session;
use crate::state::AppState;
use crate::store::{now_ms, NewMessage};

/// See the module docs.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    state: AppState,
    app_id: i64,
    user: crate::store::UserRow,
    rx: mpsc::Receiver<Outbound>,
    tx: mpsc::Sender<Outbound>,
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
            (state, app_id, user)
        });
        let (tx, rx) = mpsc::channel(1 << 16);
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
        while self.rx.try_recv().is_ok() {}
        handled
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
