//! What [`super::Webhooks::wants`] remembers: per key, an answer loaded at most once
//! per time-to-live, however many callers ask at once.
//!
//! - A key never asked before: the first caller loads it, and the callers that come
//!   while it does wait for that one load (`tokio::sync::OnceCell`).
//! - A known answer older than the time-to-live: the first caller to see it loads the
//!   next one; the callers that come meanwhile get the old answer, without waiting.
//! - A load that was given up (its caller's future dropped) or that takes longer than
//!   the time-to-live: the next caller loads again, or waits on the load under way.
//!
//! So every key costs at most one load in flight, and one per time-to-live. Before, every
//! caller that found the answer expired loaded it again: a herd of identical statements
//! at each expiry, one per session starting or message sent in that moment.
//!
//! `moka`'s future cache does this too; this is the few lines of it we need, on tokio's
//! `OnceCell`, without its dependencies.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// One key's answers.
struct Entry {
    /// The newest load: its answer and when it was loaded, once it is done.
    next: Arc<OnceCell<(bool, Instant)>>,
    /// The answer before it, given while `next` loads.
    last: Option<bool>,
    /// When `next` was started.
    started: Instant,
}

/// Answers per key, each loaded at most once per `ttl`.
pub struct Wanted<K> {
    ttl: Duration,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: Eq + Hash> Wanted<K> {
    /// Answers kept for `ttl`.
    pub fn new(ttl: Duration) -> Wanted<K> {
        Wanted {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key`, loaded with `load` when none fresh is known.
    pub async fn get<F: Future<Output = bool>>(&self, key: K, load: impl FnOnce() -> F) -> bool {
        let next = {
            let mut entries = self.entries();
            let e = entries.entry(key).or_insert_with(|| Entry {
                next: Arc::new(OnceCell::new()),
                last: None,
                started: Instant::now(),
            });
            match e.next.get() {
                Some(&(answer, at)) if at.elapsed() < self.ttl => return answer,
                Some(&(answer, _)) => {
                    // Expired: this caller loads the next answer.
                    e.last = Some(answer);
                    e.next = Arc::new(OnceCell::new());
                    e.started = Instant::now();
                }
                None => match e.last {
                    // Another caller is loading it; the last answer will do meanwhile.
                    Some(answer) if e.started.elapsed() < self.ttl => return answer,
                    _ => {}
                },
            }
            e.next.clone()
        };
        next.get_or_init(|| async { (load().await, Instant::now()) })
            .await
            .0
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A load that counts itself, answers `answer` and takes `ms`.
    fn counted<'a>(
        loads: &'a AtomicUsize,
        answer: bool,
        ms: u64,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> + 'a {
        move || {
            Box::pin(async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                answer
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn callers_missing_at_once_share_one_load() {
        let cache = Wanted::new(Duration::from_secs(1));
        let loads = AtomicUsize::new(0);
        let answers = futures_util::future::join_all(
            (0..64).map(|_| cache.get((1, "message.created"), counted(&loads, true, 50))),
        )
        .await;
        assert!(answers.iter().all(|a| *a));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for 64 callers");
        // Fresh: nobody loads again.
        assert!(
            cache
                .get((1, "message.created"), counted(&loads, false, 0))
                .await
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // Another key is its own.
        assert!(
            !cache
                .get((2, "message.created"), counted(&loads, false, 0))
                .await
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn once_expired_one_caller_reloads_and_the_rest_get_the_last_answer() {
        let cache = Wanted::new(Duration::from_secs(1));
        let loads = AtomicUsize::new(0);
        assert!(cache.get(7, counted(&loads, true, 0)).await);
        tokio::time::advance(Duration::from_millis(1500)).await;
        // 64 callers at once after expiry: one load, and nobody waits for it but its
        // own caller (the others answer `true`, the last answer, at once).
        let answers = futures_util::future::join_all(
            (0..64).map(|_| cache.get(7, counted(&loads, false, 50))),
        )
        .await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one reload for 64 callers");
        assert_eq!(answers.iter().filter(|a| !**a).count(), 1, "{answers:?}");
        // The new answer is now the one given.
        assert!(!cache.get(7, counted(&loads, true, 0)).await);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_load_given_up_is_taken_over() {
        let cache = Wanted::new(Duration::from_secs(1));
        let loads = AtomicUsize::new(0);
        assert!(cache.get(7, counted(&loads, true, 0)).await);
        tokio::time::advance(Duration::from_millis(1500)).await;
        // The caller that starts the reload is dropped before it is done.
        let dropped = tokio::time::timeout(
            Duration::from_millis(10),
            cache.get(7, counted(&loads, false, 50)),
        )
        .await;
        assert!(dropped.is_err());
        // Within the time-to-live of that start, the last answer is given.
        assert!(cache.get(7, counted(&loads, false, 0)).await);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        // Past it, the next caller loads.
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(!cache.get(7, counted(&loads, false, 0)).await);
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }
}
