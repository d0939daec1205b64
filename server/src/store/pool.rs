//! The store's connections.
//!
//! PostgreSQL: sqlx's pool (it reconnects after a network failure). SQLite: a fixed set
//! of connections of our own. sqlx's pool pings every connection it takes back, and on
//! SQLite a ping is one more hand-off to the connection's worker thread and back, as
//! costly as a one-row statement: with the pool, every statement paid for two
//! (`bench/README.md`, "The store's own SQLite connections"). A SQLite connection is a
//! file handle with a thread; it does not break the way a network connection does, so
//! nothing needs testing on the way back, and a statement or transaction abandoned
//! half-way (its future dropped) leaves only commands queued on that connection's worker
//! (the rest of its rows, a `ROLLBACK`), which run before the next user's. Should a
//! worker thread end all the same (a panic in the driver), the statement that finds it
//! gone fails and the connection is opened again for the next one.
//!
//! [`Pool`] is an sqlx [`Executor`], so a query runs on it as on sqlx's pool
//! (`.fetch_all(&self.pool)`), and [`Pool::begin`] gives a [`Tx`] that owns its
//! connection as sqlx's pool transactions do: it goes back as the transaction ends. (A
//! connection kept past its transaction while the same request asks the pool for another
//! deadlocks once every connection is kept that way: the reconnect-storm benchmark's
//! set-up did, with channels created four at a time.)

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::any::{
    AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTransactionManager, AnyTypeInfo,
};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Either, Execute, Executor, SqlStr};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// How long a statement waits for a free connection before it fails (as sqlx's pool's
/// `acquire_timeout`): under a load the database cannot keep up with, requests fail
/// with an error instead of waiting without end.
pub(super) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store's connections: see the module's documentation.
#[derive(Clone)]
pub(crate) enum Pool {
    /// SQLite: our own fixed set.
    Sqlite(Arc<Connections>),
    /// PostgreSQL: sqlx's pool.
    Postgres(AnyPool),
}

/// A fixed set of connections, each lent to one user at a time. Waiters are served in
/// arrival order (the semaphore is fair); a holder of a permit always finds one of the
/// connections unlocked, since there are as many permits as connections.
pub(crate) struct Connections {
    connections: Vec<Arc<Mutex<AnyConnection>>>,
    permits: Arc<Semaphore>,
    /// To open a connection again.
    options: AnyConnectOptions,
}

/// A connection lent by the [`Pool`]; it goes back when dropped.
pub(crate) enum Conn {
    /// One of our SQLite connections. Field order matters: the connection is unlocked
    /// before the permit is returned, so the next permit's holder finds it free.
    Sqlite {
        conn: OwnedMutexGuard<AnyConnection>,
        _permit: OwnedSemaphorePermit,
    },
    /// From sqlx's pool.
    Postgres(PoolConnection<Any>),
}

impl Connections {
    /// Opens `count` connections, each configured as the store's SQLite connections are.
    pub(super) async fn open(
        options: &AnyConnectOptions,
        count: usize,
    ) -> Result<Connections, sqlx::Error> {
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            connections.push(Arc::new(Mutex::new(open(options).await?)));
        }
        Ok(Connections {
            connections,
            permits: Arc::new(Semaphore::new(count)),
            options: options.clone(),
        })
    }

    /// Passes `result` on; when it says the connection's worker thread is gone, puts a
    /// new connection in its place first, so that only this statement fails.
    async fn heal<T>(
        &self,
        conn: &mut Conn,
        result: Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        if let Err(sqlx::Error::WorkerCrashed) = &result {
            match open(&self.options).await {
                Ok(fresh) => {
                    tracing::warn!("a SQLite connection's worker thread ended: opened it again");
                    **conn = fresh;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a SQLite connection could not be opened again")
                }
            }
        }
        result
    }

    async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        // A timer only when the connection has to be waited for.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?,
        };
        // The first free one: under light load that is always the same connection, whose
        // worker thread and statement cache stay warm.
        for connection in &self.connections {
            if let Ok(guard) = connection.clone().try_lock_owned() {
                return Ok(Conn::Sqlite {
                    conn: guard,
                    _permit: permit,
                });
            }
        }
        unreachable!("a permit's holder finds a connection unlocked")
    }
}

/// A SQLite connection, configured (`super::sqlite_pragmas`).
pub(super) async fn open(options: &AnyConnectOptions) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect_with(options).await?;
    super::sqlite_pragmas(&mut conn).await?;
    Ok(conn)
}

/// A transaction on a connection of the [`Pool`], which it owns: committed, rolled back
/// or dropped (rolled back, as sqlx's `Transaction` is), it gives the connection back.
/// Statements run on `&mut *tx`.
pub(crate) struct Tx {
    /// `None` once committed or rolled back.
    conn: Option<Conn>,
}

impl Pool {
    /// A connection for several statements (a transaction, a lock held across them).
    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        match self {
            Pool::Sqlite(connections) => connections.acquire().await,
            Pool::Postgres(pool) => Ok(Conn::Postgres(pool.acquire().await?)),
        }
    }

    /// Begins a transaction (`BEGIN`).
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.begin_with_statement(None).await
    }

    /// Begins a transaction with `statement` (SQLite: `BEGIN IMMEDIATE`).
    pub(crate) async fn begin_with(&self, statement: &'static str) -> Result<Tx, sqlx::Error> {
        self.begin_with_statement(Some(SqlStr::from_static(statement)))
            .await
    }

    async fn begin_with_statement(&self, statement: Option<SqlStr>) -> Result<Tx, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let begun = AnyTransactionManager::begin(&mut conn, statement).await;
        // A transaction's first command is where a dead worker thread shows.
        if let Pool::Sqlite(connections) = self {
            connections.heal(&mut conn, begun).await?;
        } else {
            begun?;
        }
        Ok(Tx { conn: Some(conn) })
    }
}

impl Tx {
    fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a transaction is open until it ends")
    }

    /// Commits, and gives the connection back. On failure the transaction is rolled back.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        AnyTransactionManager::commit(self.conn()).await?;
        self.conn = None;
        Ok(())
    }

    /// Rolls back, and gives the connection back.
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        AnyTransactionManager::rollback(self.conn()).await?;
        self.conn = None;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            // Queued on the connection ahead of its next user's statements.
            AnyTransactionManager::start_rollback(conn);
        }
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn
            .as_ref()
            .expect("a transaction is open until it ends")
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn()
    }
}

impl Deref for Conn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Sqlite { conn, .. } => conn,
            Conn::Postgres(conn) => conn,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Sqlite { conn, .. } => conn,
            Conn::Postgres(conn) => conn,
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pool::Sqlite(c) => write!(f, "Pool::Sqlite({} connections)", c.connections.len()),
            Pool::Postgres(pool) => write!(f, "Pool::Postgres({pool:?})"),
        }
    }
}

impl<'p> Executor<'p> for &'_ Pool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Pool::Postgres(pool) => pool.fetch_many(query),
            Pool::Sqlite(connections) => {
                // The rows are gathered before they are handed on: the stream cannot
                // borrow the connection it owns. Every query of the store reads its rows
                // to the end (fetch_all, fetch_one, execute) and a page is bounded.
                let connections = connections.clone();
                futures_util::stream::once(async move {
                    let mut conn = connections.acquire().await?;
                    let results = conn.fetch_many(query).try_collect::<Vec<_>>().await;
                    let results = connections.heal(&mut conn, results).await?;
                    Ok::<_, sqlx::Error>(futures_util::stream::iter(results.into_iter().map(Ok)))
                })
                .try_flatten()
                .boxed()
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Pool::Postgres(pool) => pool.fetch_optional(query),
            Pool::Sqlite(connections) => {
                let connections = connections.clone();
                Box::pin(async move {
                    let mut conn = connections.acquire().await?;
                    let row = conn.fetch_optional(query).await;
                    connections.heal(&mut conn, row).await
                })
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            conn.prepare_with(sql, parameters).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use futures_util::FutureExt;

    use super::*;

    /// `count` connections to a new SQLite file with a table `t (x)`.
    async fn connections(count: usize) -> (tempfile::TempDir, Arc<Connections>) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let options = AnyConnectOptions::from_str(&url).unwrap();
        let connections = Arc::new(Connections::open(&options, count).await.unwrap());
        sqlx::query("CREATE TABLE t (x BIGINT)")
            .execute(&Pool::Sqlite(connections.clone()))
            .await
            .unwrap();
        (dir, connections)
    }

    async fn count(pool: &Pool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_abandoned_transaction_is_undone_before_its_connection_serves_again() {
        let (_dir, connections) = connections(1).await;
        let pool = Pool::Sqlite(connections);
        {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO t (x) VALUES (1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without a commit, as when a request's future is dropped.
        }
        // The one connection again: outside any transaction, without the insert.
        assert_eq!(count(&pool).await, 0);
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO t (x) VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&pool).await, 1);
    }

    #[tokio::test]
    async fn a_statement_abandoned_half_way_hands_none_of_its_rows_to_the_next() {
        let (_dir, connections) = connections(1).await;
        let pool = Pool::Sqlite(connections);
        sqlx::query(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) \
             INSERT INTO t (x) SELECT x FROM n",
        )
        .execute(&pool)
        .await
        .unwrap();
        for _ in 0..20 {
            // Polled once, then dropped. Each row costs its producer a scan of the
            // table, so the rows cannot all arrive within that one poll. With plain
            // `SELECT x FROM t` they once did, in a full run of the test command on a
            // busy machine: the connection's thread kept ahead of the consumer for
            // all 5,000 rows (not reproduced in 80 runs beside busy loops since).
            let started = sqlx::query_scalar::<_, i64>(
                "SELECT x FROM t WHERE (SELECT COUNT(*) FROM t AS u WHERE u.x <= t.x) > 0",
            )
            .fetch_all(&pool)
            .now_or_never();
            assert!(started.is_none());
            let answer: i64 = sqlx::query_scalar("SELECT 42")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(answer, 42);
        }
        assert_eq!(count(&pool).await, 5000);
    }

    #[tokio::test]
    async fn a_statement_waits_for_a_connection_and_gets_the_first_given_back() {
        let (_dir, connections) = connections(2).await;
        let pool = Pool::Sqlite(connections);
        let first = pool.acquire().await.unwrap();
        let second = pool.acquire().await.unwrap();
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { count(&pool).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "no third connection is lent");
        drop(second);
        assert_eq!(waiting.await.unwrap(), 0);
        drop(first);
    }

    #[tokio::test]
    async fn a_connection_whose_worker_ended_is_opened_again() {
        let (_dir, connections) = connections(1).await;
        let mut conn = connections.acquire().await.unwrap();
        // A temporary table lives and dies with its connection.
        sqlx::query("CREATE TEMP TABLE mark (x BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let kept = connections.heal(&mut conn, Ok(())).await;
        assert!(kept.is_ok());
        sqlx::query("SELECT * FROM temp.mark")
            .execute(&mut *conn)
            .await
            .unwrap();
        // What the driver answers once the worker thread is gone.
        let failed = connections
            .heal(&mut conn, Err::<(), _>(sqlx::Error::WorkerCrashed))
            .await;
        assert!(matches!(failed, Err(sqlx::Error::WorkerCrashed)));
        assert!(sqlx::query("SELECT * FROM temp.mark")
            .execute(&mut *conn)
            .await
            .is_err());
        drop(conn);
        assert_eq!(count(&Pool::Sqlite(connections)).await, 0);
    }
}
