//! A connection's outbound queue: bounded by a number of items, many senders, one
//! receiver, and no memory for items while none wait.
//!
//! It takes the place of `tokio::sync::mpsc` for connections (ARCHITECTURE.md, "The
//! server"): a tokio channel allocates its first block of 32 slots with the
//! channel and keeps it for its whole life, 1.5 KB of every idle connection's ~12.6 KB
//! of heap (bench/README.md, "Idle memory"). Here the items sit in a `VecDeque` that is
//! let go of whenever the receiver finds it empty, so an idle connection holds only the
//! counters; a busy one allocates once per batch its writer takes.
//!
//! The semantics are the ones the connection code relied on: [`Receiver::recv`] ends
//! (`None`) once every [`Sender`] is gone and the queue is drained, or after
//! [`Receiver::close`]; a [`WeakSender`] does not keep it open.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Why [`Sender::try_send`] gave the item back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue holds its limit of items.
    Full(T),
    /// The receiver is gone or closed.
    Closed(T),
}

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    closed: bool,
    /// A sender waits for room: the receiver wakes it after taking an item.
    room_wanted: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    cap: usize,
    /// Wakes the receiver (an item was queued, or the last sender left). `notify_one`
    /// keeps a permit when the receiver is not waiting, so no wake-up is lost.
    ready: Notify,
    /// Wakes senders waiting for room, and those waiting for the receiver to close.
    room: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding the lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue of at most `cap` items (at least one).
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            closed: false,
            room_wanted: false,
        }),
        cap: cap.max(1),
        ready: Notify::new(),
        room: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// Queues items; the queue stays open while one exists.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut st = self.shared.lock();
            st.senders -= 1;
            st.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> Sender<T> {
    /// Queues `item` if there is room.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        {
            let mut st = self.shared.lock();
            if st.closed {
                return Err(TrySendError::Closed(item));
            }
            if st.items.len() >= self.shared.cap {
                return Err(TrySendError::Full(item));
            }
            st.items.push_back(item);
        }
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Queues `item`, waiting for room; gives it back if the receiver is gone.
    pub async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(back)) => return Err(back),
                Err(TrySendError::Full(back)) => item = back,
            }
            if self.want_room(1) {
                room.await;
            }
        }
    }

    /// Waits until `n` more items fit (at most the whole queue), or the receiver is gone.
    pub async fn room_for(&self, n: usize) {
        let n = n.min(self.shared.cap);
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if !self.want_room(n) {
                return;
            }
            room.await;
        }
    }

    /// Whether fewer than `n` items fit now (then the receiver is asked to wake the
    /// waiting sender).
    fn want_room(&self, n: usize) -> bool {
        let mut st = self.shared.lock();
        if st.closed || self.shared.cap - st.items.len() >= n {
            return false;
        }
        st.room_wanted = true;
        true
    }

    /// Resolves once the receiver is closed or gone.
    pub async fn closed(&self) {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.shared.lock().closed {
                return;
            }
            room.await;
        }
    }

    /// The queue, without keeping it open.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

/// Knows a queue without keeping it open.
pub struct WeakSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> WeakSender<T> {
    /// A sender, if one still exists.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let mut st = self.shared.lock();
        if st.senders == 0 {
            return None;
        }
        st.senders += 1;
        Some(Sender {
            shared: self.shared.clone(),
        })
    }

    /// How many senders exist.
    pub fn strong_count(&self) -> usize {
        self.shared.lock().senders
    }
}

/// Takes items in the order they were queued.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once the queue is drained and every
    /// sender is gone, or it was closed. The queue's buffer is let go of before waiting.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let ready = self.shared.ready.notified();
            {
                let mut st = self.shared.lock();
                if let Some(item) = self.take(&mut st) {
                    return Some(item);
                }
                if st.senders == 0 || st.closed {
                    return None;
                }
                st.items = VecDeque::new();
            }
            ready.await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<T> {
        let mut st = self.shared.lock();
        self.take(&mut st)
    }

    fn take(&self, st: &mut MutexGuard<'_, State<T>>) -> Option<T> {
        let item = st.items.pop_front()?;
        if st.room_wanted {
            st.room_wanted = false;
            self.shared.room.notify_waiters();
        }
        Some(item)
    }

    /// Refuses every item from now on; what is queued can still be taken.
    pub fn close(&mut self) {
        self.shared.lock().closed = true;
        self.shared.room.notify_waiters();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = {
            let mut st = self.shared.lock();
            st.closed = true;
            std::mem::take(&mut st.items)
        };
        self.shared.room.notify_waiters();
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn items_arrive_in_order_and_recv_ends_with_the_last_sender() {
        let (tx, mut rx) = channel(4);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        tx2.try_send(2).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), None);
        let weak = tx.downgrade();
        drop(tx);
        assert_eq!(weak.strong_count(), 1);
        tx2.try_send(3).unwrap();
        drop(tx2);
        assert_eq!(weak.strong_count(), 0);
        assert!(weak.upgrade().is_none());
        // Queued before the last sender left: still delivered, then the end.
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_an_item_and_for_the_end() {
        let (tx, mut rx) = channel::<u32>(4);
        let waiting = tokio::spawn(async move { (rx.recv().await, rx.recv().await) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.try_send(7).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(tx);
        let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(got.unwrap().unwrap(), (Some(7), None));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_then_send_waits_for_room() {
        let (tx, mut rx) = channel(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        let tx2 = tx.clone();
        let sending = tokio::spawn(async move { tx2.send(3).await });
        let room = tokio::spawn({
            let tx = tx.clone();
            async move { tx.room_for(2).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sending.is_finished());
        assert!(!room.is_finished());
        assert_eq!(rx.recv().await, Some(1));
        let sent = tokio::time::timeout(Duration::from_secs(5), sending).await;
        assert_eq!(sent.unwrap().unwrap(), Ok(()));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        tokio::time::timeout(Duration::from_secs(5), room)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn closing_refuses_senders_and_wakes_the_waiting_ones() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let sending = tokio::spawn(async move { tx2.send(2).await });
        let tx3 = tx.clone();
        let closed = tokio::spawn(async move { tx3.closed().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        rx.close();
        let sent = tokio::time::timeout(Duration::from_secs(5), sending).await;
        assert_eq!(sent.unwrap().unwrap(), Err(2));
        tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
        // What was queued before the close is still there.
        assert_eq!(rx.try_recv(), Some(1));
        assert_eq!(rx.recv().await, None);
        drop(rx);
        assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
    }

    #[tokio::test]
    async fn an_idle_queue_holds_no_buffer() {
        let (tx, mut rx) = channel(64);
        for i in 0..40 {
            tx.try_send(i).unwrap();
        }
        assert!(rx.shared.lock().items.capacity() >= 40);
        for i in 0..40 {
            assert_eq!(rx.recv().await, Some(i));
        }
        // Found empty: the buffer is let go of before the receiver waits.
        assert!(tokio::time::timeout(Duration::from_millis(20), rx.recv())
            .await
            .is_err());
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }
}
