//! The store the ignored store benchmarks (`page_reads_cost`, `gap_page_cost`) read: a
//! SQLite file with 100 users, all members of one channel of 10,000 messages sent in
//! turn by each.

// Each benchmark reads the fields it needs.
#![allow(dead_code)]

use chatkitty_protocol::resource::ChannelType;
use chatkitty_server::store::{NewGroupChannel, NewMessage, Store};

/// A store of one channel of 10,000 messages (see the module).
pub struct BenchStore {
    /// Where its file lives (removed when dropped).
    pub _dir: tempfile::TempDir,
    /// The store.
    pub store: Store,
    /// Its application.
    pub app: i64,
    /// The users' ids; the first created the channel.
    pub users: Vec<i64>,
    /// The channel's id.
    pub channel: i64,
    /// The messages' ids, oldest first.
    pub ids: Vec<i64>,
}

/// Opens a new store and fills it.
pub async fn channel_of_10k_messages() -> BenchStore {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let app = store.ensure_application("bench").await.unwrap();
    let mut users = Vec::new();
    for i in 0..100 {
        let name = format!("user{i}");
        users.push(store.user_or_create(app, &name, false).await.unwrap().id);
    }
    let channel = NewGroupChannel {
        app_id: app,
        kind: ChannelType::Public,
        name: "bench",
        display_name: "bench",
        properties: "{}",
    };
    let ch = store
        .create_group_channel(&channel, users[0], &users[1..])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for k in 0..200 {
        let batch: Vec<NewMessage> = (0..50)
            .map(|_| NewMessage::text(ch.id, Some(users[k % 100]), "hello"))
            .collect();
        for (m, _) in store.insert_messages(&batch).await.unwrap() {
            ids.push(m.id);
        }
    }
    BenchStore {
        _dir: dir,
        store,
        app,
        users,
        channel: ch.id,
        ids,
    }
}
