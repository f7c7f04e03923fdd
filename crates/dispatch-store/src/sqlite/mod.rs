//! The SQLite backend: connections, and SQLite's side of [`crate::db::Backend`].
//!
//! # Connections
//!
//! Two pools over one file. The **writer** pool has exactly one connection, and every write
//! runs in a `BEGIN IMMEDIATE` transaction on it: writers are serialized by the pool's queue
//! (no `SQLITE_BUSY` storms between our own writers), and `IMMEDIATE` takes SQLite's write lock
//! up front, so even another process writing the same file cannot interleave between our checks
//! and our inserts. That is why the rules' row locks are dropped from SQLite's SQL and why its
//! transactions are never retried. The **reader** pool has a few connections; in WAL mode
//! readers never block the writer nor each other. `sqlite::memory:` uses one pool of one
//! connection for both, since every connection to an in-memory database would otherwise need
//! the shared cache, whose table locks fail fast instead of waiting.
//!
//! # Several nodes
//!
//! None: SQLite is the embedded single-node store, so every relay lease (`crate::lease`) is
//! granted without asking the database, and `events_after` reads a shard of the outbox by its
//! `(shard, sequence)` index (sequence order is commit order for all shards: one writer).
//!
//! # Values
//!
//! Ids are `TEXT` (lower-case, hyphenated), instants fixed-width RFC 3339 `TEXT`
//! ([`crate::codec::ts`]: comparing the strings compares the instants), documents and lists JSON
//! `TEXT`. `now()` in the rules' SQL is the transaction's start by this process's clock.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments as _, AssertSqlSafe, Sqlite};
use uuid::Uuid;

use crate::codec::{from_json, parse_id, parse_ts, ts};
use crate::db::{
    Arg, AssignmentViolation, Backend, Columns, Retry, Row, Transaction, add_plain, col, finish,
};
use crate::error::StoreError;
use crate::sql::{Batch, Sql};

/// How long a connection waits for SQLite's lock (e.g. held by another process) before
/// `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection; writers queue here.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Reader connections for a file database.
const READERS: u32 = 4;

/// The SQLite backend: a one-connection writer pool and a reader pool (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct SqliteDb {
    read: SqlitePool,
    write: SqlitePool,
    /// The file, for error messages.
    describe: std::sync::Arc<str>,
}

/// A write transaction on the single writer, with the instant `now()` stands for in it.
#[derive(Debug)]
pub(crate) struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
    now: DateTime<Utc>,
}

/// The writer's page cache, in KiB (SQLite's negative `cache_size`): 128 MiB at most.
const WRITER_CACHE_KIB: &str = "-131072";

impl SqliteDb {
    /// Opens the pools and migrates. `url` has already been checked to be `sqlite:`.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{url:?}: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        // An explicit `mode=` (ro, rw) is the caller's choice; otherwise create the file.
        if !query.contains("mode=") {
            options = options.create_if_missing(true);
        }
        // `sqlite::memory:`, `sqlite://:memory:` or `?mode=memory`: sqlx gives each such URL its
        // own shared-cache database, which must then live on a single connection.
        let path = url
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let path = path.strip_prefix("//").unwrap_or(path);
        let path = path.split('?').next().unwrap_or_default();
        let in_memory = path == ":memory:" || query.contains("mode=memory");
        let describe = options.get_filename().display().to_string();
        let unavailable = |e: sqlx::Error| {
            StoreError::Unavailable(format!("cannot open SQLite database {describe:?}: {e}"))
        };

        let (read, write) = if in_memory {
            // One connection, never recycled: the database lives as long as it does.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unavailable)?;
            (pool.clone(), pool)
        } else {
            let options = options.journal_mode(SqliteJournalMode::Wal);
            // The writer first: it creates the file and switches it to WAL before readers open.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // A larger page cache for the one writer: bulk loads insert rows keyed by random
                // ids into large indexes, and the default 2 MB makes that a page miss a row.
                .connect_with(options.clone().pragma("cache_size", WRITER_CACHE_KIB))
                .await
                .map_err(unavailable)?;
            let read = SqlitePoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unavailable)?;
            (read, write)
        };
        let db = Self {
            read,
            write,
            describe: describe.into(),
        };
        crate::migrations::sqlite()
            .run(&db.write)
            .await
            .map_err(|e| match e {
                // A file we may read but not write shows up at the first write: the migrations.
                sqlx::migrate::MigrateError::Execute(inner) if is_read_only(&inner) => {
                    db.read_only(inner)
                }
                other => StoreError::Migration(other),
            })?;
        Ok(db)
    }

    /// A file we may read but not write is `Unavailable`, saying so, when found at startup
    /// (seeding the scoring configuration, after the migrations).
    pub(crate) fn startup_error(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database(inner) if is_read_only(&inner) => self.read_only(inner),
            other => other,
        }
    }

    fn read_only(&self, e: sqlx::Error) -> StoreError {
        StoreError::Unavailable(format!(
            "SQLite database {:?} is read-only: {e}",
            self.describe
        ))
    }
}

/// SQLite's arguments for `sql`: `args` in order, then the transaction's start if the text says
/// `now()`; `None` when SQLite skips the statement.
fn query<'s>(
    sql: &'s Sql,
    args: &[Arg<'_>],
    now: DateTime<Utc>,
) -> Result<Option<sqlx::query::Query<'s, Sqlite, SqliteArguments>>, sqlx::Error> {
    let Some(rendered) = sql.sqlite() else {
        return Ok(None);
    };
    let mut out = SqliteArguments::default();
    add_args(&mut out, args, now, rendered.binds_now)?;
    Ok(Some(sqlx::query_with(
        AssertSqlSafe(rendered.text.as_str()),
        out,
    )))
}

/// Adds `args` (and `now`, when the statement binds it last) to `out`.
fn add_args(
    out: &mut SqliteArguments,
    args: &[Arg<'_>],
    now: DateTime<Utc>,
    binds_now: bool,
) -> Result<(), sqlx::Error> {
    for arg in args {
        let added = match *arg {
            Arg::Plain(v) => add_plain(out, v),
            Arg::Id(v) => out.add(v.to_string()),
            Arg::OptId(v) => out.add(v.map(|v| v.to_string())),
            Arg::Time(v) => out.add(ts(&v)),
            Arg::Json(v) => out.add(v.get()),
            Arg::OptJson(v) => out.add(v.map(RawValue::get)),
            Arg::Texts(v) => out.add(v.json.as_str()),
            Arg::Ago(d) => out.add(ts(&ago(now, d))),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    if binds_now {
        out.add(ts(&now)).map_err(sqlx::Error::Encode)?;
    }
    Ok(())
}

/// Placeholders one multi-row statement may bind (SQLite allows 32,766).
const MAX_VARIABLES: usize = 30_000;
/// Rows one multi-row statement inserts at most.
const MAX_ROWS: usize = 500;

/// An `INSERT … VALUES (…)` statement split into its head (through `VALUES`) and its one row's
/// tuple, so that many rows can go in one statement; `None` for any other shape.
fn multi_row_parts(text: &str) -> Option<(&str, &str)> {
    let at = text.find(" VALUES ")? + " VALUES".len();
    let (head, tuple) = text.split_at(at);
    let trimmed = tuple.trim();
    (head.trim_start().starts_with("INSERT")
        && trimmed.starts_with('(')
        && trimmed.ends_with(')')
        && trimmed[1..]
            .find('(')
            .is_none_or(|open| trimmed[..open + 1].contains(')')))
    .then_some((head, trimmed))
}

/// `tuple` with each `$n` made an anonymous `?`, and the `n`s in order of appearance: binding
/// a named parameter costs a walk over every name (`sqlite3_bind_parameter_name`), so a
/// statement of thousands of `$n`s would bind in quadratic time; anonymous ones bind in order.
fn anonymous(tuple: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(tuple.len());
    let mut order = Vec::new();
    let mut rest = tuple;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) => {
                out.push('?');
                order.push(n);
            }
            Err(_) => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    (out, order)
}

/// `now - d`, or the earliest instant if that is out of range.
fn ago(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Backend for SqliteDb {
    type Tx = SqliteTx;

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn fetch_optional(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        match query(sql, args, Utc::now())? {
            Some(q) => Ok(q.fetch_optional(&self.read).await?.map(Row::Sqlite)),
            None => Ok(None),
        }
    }

    async fn fetch_all(&self, sql: &Sql, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error> {
        match query(sql, args, Utc::now())? {
            Some(q) => Ok(q
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// The single writer connection, holding SQLite's write lock from the first statement.
    async fn begin(&self) -> Result<SqliteTx, sqlx::Error> {
        Ok(SqliteTx {
            tx: self.write.begin_with("BEGIN IMMEDIATE").await?,
            now: Utc::now(),
        })
    }

    fn retry(&self, _operation: &'static str) -> Retry {
        Retry::Never
    }

    async fn write_one(
        &self,
        _operation: &'static str,
        sql: &Sql,
        args: &[Arg<'_>],
        error: impl Fn(sqlx::Error) -> StoreError,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let result = tx.execute(sql, args).await.map_err(error);
        finish(tx, result).await
    }

    async fn write_batch(
        &self,
        _operation: &'static str,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
        error: impl Fn(Option<usize>, sqlx::Error) -> StoreError,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let result = tx
            .execute_batch(batch, rows)
            .await
            .map_err(|(row, e)| error(row, e));
        finish(tx, result).await
    }
}

impl Transaction for SqliteTx {
    async fn execute(&mut self, sql: &Sql, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        match query(sql, args, self.now)? {
            Some(q) => Ok(q.execute(&mut *self.tx).await?.rows_affected()),
            None => Ok(0),
        }
    }

    async fn fetch_optional(
        &mut self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        match query(sql, args, self.now)? {
            Some(q) => Ok(q.fetch_optional(&mut *self.tx).await?.map(Row::Sqlite)),
            None => Ok(None),
        }
    }

    async fn execute_batch(
        &mut self,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), (Option<usize>, sqlx::Error)> {
        let Some(rendered) = batch.each.sqlite() else {
            return Ok(());
        };
        let Some((head, tuple)) = multi_row_parts(&rendered.text) else {
            for (i, row) in rows.iter().enumerate() {
                self.execute(batch.each, row)
                    .await
                    .map_err(|e| (Some(i), e))?;
            }
            return Ok(());
        };
        // Many rows per statement: a statement costs a round trip to sqlx's worker thread.
        let (tuple, order) = anonymous(tuple);
        let width = rows.first().map_or(0, Vec::len);
        let chunk = (MAX_VARIABLES / order.len().max(1)).clamp(1, MAX_ROWS);
        for (c, part) in rows.chunks(chunk).enumerate() {
            let mut text = String::with_capacity(head.len() + part.len() * (tuple.len() + 2));
            text.push_str(head);
            let mut out = SqliteArguments::default();
            for (k, row) in part.iter().enumerate() {
                text.push_str(if k == 0 { " " } else { ", " });
                text.push_str(&tuple);
                // `$n` past the row's arguments is the `now()` the rendering appended.
                let ordered: Vec<Arg<'_>> = order
                    .iter()
                    .map(|&n| match row.get(n.wrapping_sub(1)) {
                        Some(arg) if n <= width => *arg,
                        _ => Arg::Time(self.now),
                    })
                    .collect();
                add_args(&mut out, &ordered, self.now, false)
                    .map_err(|e| (Some(c * chunk + k), e))?;
            }
            let done = sqlx::query_with(AssertSqlSafe(text), out)
                .execute(&mut *self.tx)
                .await;
            if let Err(e) = done {
                // Name the row: a failed statement undoes only itself, so the rows of this
                // chunk can be tried one by one (the whole transaction is rolled back anyway).
                for (k, row) in part.iter().enumerate() {
                    self.execute(batch.each, row)
                        .await
                        .map_err(|e| (Some(c * chunk + k), e))?;
                }
                return Err((None, e));
            }
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// SQLite names the columns of a unique index in its message, not the index, and its
    /// foreign keys cannot fail here: the rules check the rows exist under the write lock.
    fn assignment_violation(e: &sqlx::Error) -> Option<AssignmentViolation> {
        match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Some(if db.message().contains("assignments.job_id") {
                    AssignmentViolation::OneLivePerJob
                } else {
                    AssignmentViolation::DuplicateId
                })
            }
            _ => None,
        }
    }
}

impl Columns for SqliteRow {
    fn uuid(&self, what: &str) -> Result<Uuid, StoreError> {
        parse_id(&col::<_, String>(self, what)?, what)
    }

    fn time(&self, what: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_ts(&col::<_, String>(self, what)?, what)
    }

    fn json(&self, what: &str) -> Result<Box<RawValue>, StoreError> {
        raw_json(col(self, what)?, what)
    }

    fn opt_json(&self, what: &str) -> Result<Option<Box<RawValue>>, StoreError> {
        col::<_, Option<String>>(self, what)?
            .map(|text| raw_json(text, what))
            .transpose()
    }

    fn texts(&self, what: &str) -> Result<Vec<String>, StoreError> {
        from_json(&col::<_, String>(self, what)?, what)
    }

    fn opt_int32(&self, what: &str) -> Result<Option<i32>, StoreError> {
        col::<_, Option<i64>>(self, what)?
            .map(|v| {
                i32::try_from(v)
                    .map_err(|_| StoreError::Corrupt(format!("{what}: {v} is out of range")))
            })
            .transpose()
    }
}

/// Stored JSON text as a document, checked to be JSON.
fn raw_json(text: String, what: &str) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(text)
        .map_err(|e| StoreError::Corrupt(format!("{what}: stored JSON does not decode ({e})")))
}

/// SQLITE_READONLY (8) and its extended codes.
fn is_read_only(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c & 0xff == 8),
        _ => false,
    }
}
