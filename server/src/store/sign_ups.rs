//! New users signing in at the same moment are created in one statement and one
//! commit (docs/protocol.md §2.4: a sign-in with a new name creates the user).
//!
//! One `INSERT` per new name was one commit each: on SQLite, its WAL frames, its file
//! locks and a hand-over to the connection's thread and back, a quarter of the server's
//! time per new session in the start-up benchmark (bench/README.md, "New users created
//! together"). Now the first sign-in to come starts a drainer; the sign-ins that arrive
//! while its statement runs wait in a queue, and the next statement creates all of them
//! (at most [`USERS_PER_INSERT`]). A sign-in alone is created at once, as before: no
//! statement waits for others to come.
//!
//! The queue holds one entry per sign-in under way on this node, so it is bounded as
//! connections are (`--max-connections-per-address`, the file-descriptor limit).
//!
//! Each caller learns whether its own name was created, and as which row: a name that
//! exists already, or that came twice in one batch, is created for nobody but the
//! first, and the others read it by name as before. Should the batch's statement fail,
//! each name is created again on its own, so that one bad row fails only its sign-in.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::any::AnyRow;
use tokio::sync::oneshot;

use super::pool::Pool;
use super::{now_ms, safe, user_row, Backend, StoreError, StoreResult, UserRow};

/// New users created by one statement, at most: a batch's JSON stays under 100 KB
/// (a name is at most 256 characters, each at most 6 bytes once escaped), and no
/// sign-in waits behind more.
pub const USERS_PER_INSERT: usize = 64;

/// The columns a created user is read back with ([`user_row`]).
const RETURNING: &str = "RETURNING id, app_id, name, display_name, display_picture_url, \
     is_guest, properties, presence_status, created_ms, session_generation";

/// One sign-in waiting for its name to be created.
struct Waiting {
    app_id: i64,
    name: String,
    guest: bool,
    /// The created row, or `None` when the name was not created for this sign-in.
    answer: oneshot::Sender<StoreResult<Option<UserRow>>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// A drainer is running (and will take what is waiting).
    draining: bool,
}

/// The queue of names to create, and what creates them.
pub(super) struct SignUps {
    pool: Pool,
    backend: Backend,
    queue: Mutex<Queue>,
    /// Statements run, for the tests.
    #[cfg(test)]
    statements: std::sync::atomic::AtomicUsize,
}

impl SignUps {
    pub(super) fn new(pool: Pool, backend: Backend) -> Arc<SignUps> {
        Arc::new(SignUps {
            pool,
            backend,
            queue: Mutex::default(),
            #[cfg(test)]
            statements: Default::default(),
        })
    }

    /// Creates user `name` of `app_id` unless the name is taken: the new row, or `None`.
    pub(super) async fn create(
        self: &Arc<Self>,
        app_id: i64,
        name: &str,
        guest: bool,
    ) -> StoreResult<Option<UserRow>> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut q = self.queue();
            q.waiting.push(Waiting {
                app_id,
                name: name.to_owned(),
                guest,
                answer,
            });
            !std::mem::replace(&mut q.draining, true)
        };
        if start {
            // Its own task: a sign-in given up (its connection gone) must not leave
            // the others' names uncreated.
            tokio::spawn(Drainer(self.clone()).run());
        }
        answered
            .await
            .unwrap_or(Err(StoreError::Db(sqlx::Error::WorkerCrashed)))
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the names of `batch` in one statement and answers each sign-in.
    async fn create_batch(&self, batch: Vec<Waiting>) {
        // The first sign-in of each name is the one it may be created for.
        let mut seen = HashSet::new();
        let (first, again): (Vec<Waiting>, Vec<Waiting>) = batch
            .into_iter()
            .partition(|w| seen.insert((w.app_id, w.name.clone())));
        match self.insert(&first).await {
            Ok(rows) => {
                let mut created: HashMap<(i64, String), UserRow> = HashMap::new();
                for r in &rows {
                    match user_row(r) {
                        Ok(u) => {
                            created.insert((u.app_id, u.name.clone()), u);
                        }
                        Err(e) => tracing::error!(error = %e, "reading a created user"),
                    }
                }
                for w in first {
                    let row = created.remove(&(w.app_id, w.name));
                    let _ = w.answer.send(Ok(row));
                }
            }
            Err(e) if first.len() > 1 => {
                tracing::warn!(error = %e, names = first.len(), "creating users together; one by one");
                for w in first {
                    let one = self
                        .insert(std::slice::from_ref(&w))
                        .await
                        .and_then(|rows| rows.first().map(user_row).transpose());
                    let _ = w.answer.send(one);
                }
            }
            Err(e) => {
                if let Some(w) = first.into_iter().next() {
                    let _ = w.answer.send(Err(e));
                }
            }
        }
        // Only now, so that they read the row by name once it is there.
        for w in again {
            let _ = w.answer.send(Ok(None));
        }
    }

    /// One `INSERT … ON CONFLICT DO NOTHING` of every name of `batch`, their rows read
    /// from a JSON array bound at `$1` (one statement text whatever the batch's size,
    /// so it is parsed and planned once per connection).
    async fn insert(&self, batch: &[Waiting]) -> StoreResult<Vec<AnyRow>> {
        #[cfg(test)]
        self.statements
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let rows: Vec<serde_json::Value> = batch
            .iter()
            .map(|w| serde_json::json!([w.app_id, w.name, i64::from(w.guest)]))
            .collect();
        let source = match self.backend {
            // SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.
            Backend::Sqlite => {
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                 json_extract(value, '$[1]'), json_extract(value, '$[2]'), $2 \
                 FROM json_each($1) WHERE true ORDER BY key"
            }
            Backend::Postgres => {
                "SELECT (e ->> 0)::bigint, e ->> 1, e ->> 1, (e ->> 2)::bigint, $2::bigint \
                 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, i) ORDER BY i"
            }
        };
        let sql = format!(
            "INSERT INTO users (app_id, name, display_name, is_guest, created_ms) {source} \
             ON CONFLICT (app_id, name) DO NOTHING {RETURNING}"
        );
        Ok(sqlx::query(safe(&sql))
            .bind(serde_json::Value::Array(rows).to_string())
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?)
    }
}

/// Creates what waits until nothing does. Should it end any other way (a panic), its
/// drop hands the queue to a new drainer, so no sign-in is left waiting.
struct Drainer(Arc<SignUps>);

impl Drainer {
    async fn run(self) {
        loop {
            let batch: Vec<Waiting> = {
                let mut q = self.0.queue();
                let n = q.waiting.len().min(USERS_PER_INSERT);
                q.waiting.drain(..n).collect()
            };
            if batch.is_empty() {
                return;
            }
            self.0.create_batch(batch).await;
        }
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        let mut q = self.0.queue();
        q.draining = !q.waiting.is_empty();
        if q.draining {
            // Came while this one was ending (or this one panicked). Outside a
            // runtime (it is shutting down) nobody is left to wait.
            drop(q);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(Drainer(self.0.clone()).run());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::Store;
    use super::*;

    /// On SQLite, or on PostgreSQL under `scripts/with-postgres.sh`.
    async fn store() -> (tempfile::TempDir, Store, i64) {
        super::super::tests::store_on_either().await
    }

    /// `n` sign-ins at once, of the names `name(i)`: (name, user id, created).
    async fn sign_in_together(
        store: &Store,
        app: i64,
        names: &[String],
    ) -> Vec<(String, i64, bool)> {
        let all = futures_util::future::join_all(names.iter().map(|n| async move {
            let (u, created) = store.user_or_create_new(app, n, true).await.unwrap();
            assert_eq!(u.name, *n);
            assert_eq!(u.display_name, *n);
            assert_eq!(u.app_id, app);
            assert!(u.is_guest);
            (n.clone(), u.id, created)
        }));
        all.await
    }

    #[tokio::test]
    async fn new_users_signing_in_at_once_are_created_by_few_statements() {
        let (_dir, store, app) = store().await;
        let names: Vec<String> = (0..200).map(|i| format!("new-{i}")).collect();
        let got = sign_in_together(&store, app, &names).await;
        assert!(got.iter().all(|(_, _, created)| *created));
        let ids: HashSet<i64> = got.iter().map(|(_, id, _)| *id).collect();
        assert_eq!(ids.len(), 200, "one user per name");
        let statements = store.sign_ups.statements.load(Ordering::SeqCst);
        // Batches of at most 64 (200 came before the first ran: 4).
        assert!(
            (200_usize.div_ceil(USERS_PER_INSERT)..=10).contains(&statements),
            "{statements} statements for 200 new users"
        );
        // Read back as created.
        for (name, id, _) in &got {
            let u = store.user_by_name(app, name).await.unwrap().unwrap();
            assert_eq!(u.id, *id);
        }
        // A sign-in alone still gets its user at once.
        let (u, created) = store.user_or_create_new(app, "alone", false).await.unwrap();
        assert!(created && !u.is_guest);
    }

    #[tokio::test]
    async fn a_name_taken_or_twice_in_a_batch_is_created_once() {
        let (_dir, store, app) = store().await;
        let (old, _) = store.user_or_create_new(app, "old", true).await.unwrap();
        let mut names: Vec<String> = Vec::new();
        for i in 0..40 {
            names.push(format!("dup-{}", i % 10));
            names.push("old".into());
        }
        let got = sign_in_together(&store, app, &names).await;
        for (name, id, created) in &got {
            if name == "old" {
                assert!(!created);
                assert_eq!(*id, old.id);
            }
        }
        for i in 0..10 {
            let name = format!("dup-{i}");
            let same: Vec<_> = got.iter().filter(|(n, _, _)| *n == name).collect();
            assert_eq!(same.len(), 4);
            assert_eq!(same.iter().filter(|(_, _, c)| *c).count(), 1, "{name}");
            assert!(same.iter().all(|(_, id, _)| *id == same[0].1));
        }
    }

    #[tokio::test]
    async fn a_row_that_fails_fails_only_its_own_sign_in() {
        let (_dir, store, app) = store().await;
        // Eleven sign-ins at once, one batch: one of an application that does not
        // exist (its foreign key fails the batch's statement) among good names.
        let first = store.user_or_create_new(app, "first", true);
        let rest = futures_util::future::join_all((0..10).map(|i| {
            let store = &store;
            async move {
                let app = if i == 5 { app + 1000 } else { app };
                store.user_or_create_new(app, &format!("u-{i}"), true).await
            }
        }));
        let (first, rest) = tokio::join!(first, rest);
        assert!(first.unwrap().1);
        for (i, r) in rest.into_iter().enumerate() {
            match r {
                Ok((u, created)) => {
                    assert_ne!(i, 5, "a user of an application that does not exist");
                    assert!(created);
                    assert_eq!(u.name, format!("u-{i}"));
                }
                Err(_) => assert_eq!(i, 5),
            }
        }
        // The batch, then each of its names on its own.
        assert_eq!(store.sign_ups.statements.load(Ordering::SeqCst), 1 + 11);
    }
}
