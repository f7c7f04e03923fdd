//! The seam between the store's rules and the backends: what a backend must provide, and the
//! one place that dispatches to the backend a [`crate::Store`] was opened on.
//!
//! The rules (`crate::ops`) are written once, against [`Db`], [`Tx`] and [`Row`]: run this
//! statement with these arguments, in this transaction, and read these columns. They pass
//! values as [`Arg`]s, which each backend encodes its own way (an id is `TEXT` on SQLite and
//! `uuid` on PostgreSQL, an instant fixed-width text or `timestamptz`, a document JSON text or
//! `jsonb`, a list JSON text or an array), and read columns through [`Columns`], which decodes
//! them back. What else differs is behind [`Backend`] and [`Transaction`]: how a write
//! transaction begins (SQLite's `BEGIN IMMEDIATE` on the single writer; PostgreSQL's
//! `READ COMMITTED` and bounded retries), how a statement over many rows runs, and how a
//! violated constraint is named in an error. SQL text is in [`crate::sql`].

use chrono::{DateTime, Utc};
use dispatch_core::{AssignmentId, AuditId, ContractorId, JobId, PlanId, RegionId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::codec::from_json;
use crate::error::StoreError;
#[cfg(feature = "postgres")]
use crate::postgres::{PgDb, PgTx};
use crate::sql::{Batch, Sql};
use crate::sqlite::{SqliteDb, SqliteTx};
use crate::types::RequestId;

/// A value to bind to a placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// Encoded the same way by every backend.
    Plain(Plain<'a>),
    /// A UUID: `TEXT` (lower-case, hyphenated) on SQLite, `uuid` on PostgreSQL.
    Id(Uuid),
    /// An optional UUID.
    OptId(Option<Uuid>),
    /// An instant: fixed-width RFC 3339 `TEXT` on SQLite, `timestamptz` on PostgreSQL.
    Time(DateTime<Utc>),
    /// A JSON document: `TEXT` on SQLite, `jsonb` on PostgreSQL, its text bound as is.
    Json(&'a RawValue),
    /// An optional JSON document.
    OptJson(Option<&'a RawValue>),
    /// A list of strings: a JSON array on SQLite, `text[]` on PostgreSQL.
    Texts(&'a TextList),
    /// The instant this long before the transaction's start: SQLite binds that instant (its
    /// SQL compares with it); PostgreSQL binds the seconds, which its SQL subtracts from
    /// `now()`, so the server's clock decides.
    Ago(std::time::Duration),
}

/// A value every backend encodes alike.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plain<'a> {
    /// Text.
    Text(&'a str),
    /// Optional text.
    OptText(Option<&'a str>),
    /// A 64-bit integer.
    Int(i64),
    /// A 32-bit integer.
    Int32(i32),
    /// A float.
    Real(f64),
    /// A boolean.
    Bool(bool),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// Builds a slice of [`Arg`]s from anything that converts into one.
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        &[$($crate::db::Arg::from($arg)),*]
    };
}
pub(crate) use args;

macro_rules! plain_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl<'a> From<$t> for Arg<'a> {
            fn from(v: $t) -> Self {
                Arg::Plain(Plain::$variant(v))
            }
        })*
    };
}
plain_from!(
    &'a str => Text,
    Option<&'a str> => OptText,
    i64 => Int,
    i32 => Int32,
    f64 => Real,
    bool => Bool,
    &'a [u8] => Bytes,
);

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Plain(Plain::Text(v))
    }
}

impl<'a> From<&'a RegionId> for Arg<'a> {
    fn from(v: &'a RegionId) -> Self {
        Arg::Plain(Plain::Text(v.as_str()))
    }
}

macro_rules! id_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Arg<'_> {
            fn from(v: $t) -> Self {
                Arg::Id(v.as_uuid())
            }
        })*
    };
}
id_from!(
    AssignmentId,
    AuditId,
    ContractorId,
    JobId,
    PlanId,
    RequestId
);

impl From<Uuid> for Arg<'_> {
    fn from(v: Uuid) -> Self {
        Arg::Id(v)
    }
}

impl From<Option<RequestId>> for Arg<'_> {
    fn from(v: Option<RequestId>) -> Self {
        Arg::OptId(v.map(|r| r.as_uuid()))
    }
}

impl From<Option<AuditId>> for Arg<'_> {
    fn from(v: Option<AuditId>) -> Self {
        Arg::OptId(v.map(|a| a.as_uuid()))
    }
}

impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(v)
    }
}

impl<'a> From<&'a RawValue> for Arg<'a> {
    fn from(v: &'a RawValue) -> Self {
        Arg::Json(v)
    }
}

impl<'a> From<Option<&'a RawValue>> for Arg<'a> {
    fn from(v: Option<&'a RawValue>) -> Self {
        Arg::OptJson(v)
    }
}

impl<'a> From<&'a TextList> for Arg<'a> {
    fn from(v: &'a TextList) -> Self {
        Arg::Texts(v)
    }
}

/// A list of strings in both stored forms, made before the transaction starts so that an
/// encoding error never happens half-way through one.
// Without the `postgres` feature nothing reads `items`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct TextList {
    /// The strings (PostgreSQL's `text[]`).
    pub(crate) items: Vec<String>,
    /// The same as a JSON array (SQLite).
    pub(crate) json: String,
}

impl TextList {
    /// Both forms of `items`; `what` names the list for the error.
    pub(crate) fn new(items: &[String], what: &str) -> Result<Self, StoreError> {
        Ok(Self {
            items: items.to_vec(),
            json: crate::codec::to_json(items, what)?,
        })
    }
}

/// Encodes a document before the transaction starts, so an encoding error is `Invalid` and
/// never half-way through one.
pub(crate) fn doc<T: Serialize + ?Sized>(
    value: &T,
    what: &str,
) -> Result<Box<RawValue>, StoreError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| StoreError::Invalid(format!("{what} could not be encoded as JSON: {e}")))
}

/// Adds a [`Plain`] value to any backend's arguments: these encode the same everywhere.
pub(crate) fn add_plain<A>(args: &mut A, value: Plain<'_>) -> Result<(), sqlx::error::BoxDynError>
where
    A: sqlx::Arguments,
    for<'t> &'t str: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> Option<&'t str>: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> &'t [u8]: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> i64: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> i32: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> f64: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
    for<'t> bool: sqlx::Encode<'t, A::Database> + sqlx::Type<A::Database>,
{
    match value {
        Plain::Text(v) => args.add(v),
        Plain::OptText(v) => args.add(v),
        Plain::Int(v) => args.add(v),
        Plain::Int32(v) => args.add(v),
        Plain::Real(v) => args.add(v),
        Plain::Bool(v) => args.add(v),
        Plain::Bytes(v) => args.add(v),
    }
}

/// Reads a column of any backend's row, turning a type mismatch or a missing column into
/// `Corrupt`. `what` is `table.column`; the part after the last dot is the column's name in the
/// result.
pub(crate) fn col<'r, R, T>(row: &'r R, what: &str) -> Result<T, StoreError>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    row.try_get(column_name(what))
        .map_err(|e| StoreError::Corrupt(format!("column {what}: {e}")))
}

/// The column's name in a result, from `table.column`.
pub(crate) fn column_name(what: &str) -> &str {
    what.rsplit('.').next().unwrap_or(what)
}

/// How a backend decodes the columns whose stored form is its own (see [`Arg`]); `what` is
/// `table.column` as in [`col`].
pub(crate) trait Columns {
    /// A UUID.
    fn uuid(&self, what: &str) -> Result<Uuid, StoreError>;
    /// An instant.
    fn time(&self, what: &str) -> Result<DateTime<Utc>, StoreError>;
    /// A JSON document, as its stored text.
    fn json(&self, what: &str) -> Result<Box<RawValue>, StoreError>;
    /// An optional JSON document.
    fn opt_json(&self, what: &str) -> Result<Option<Box<RawValue>>, StoreError>;
    /// A list of strings.
    fn texts(&self, what: &str) -> Result<Vec<String>, StoreError>;
    /// An optional 32-bit integer (PostgreSQL `integer`; SQLite stores every integer in 64 bits).
    fn opt_int32(&self, what: &str) -> Result<Option<i32>, StoreError>;
}

/// What a backend provides to the rules: reads, transactions, and the few writes whose shape
/// differs. Every method's errors are the database's own; the rules map them.
pub(crate) trait Backend {
    /// A write transaction.
    type Tx: Transaction;

    /// Closes the connection pools.
    async fn close(&self);
    /// Runs a read; `None` when there is no row.
    async fn fetch_optional(&self, sql: &Sql, args: &[Arg<'_>])
    -> Result<Option<Row>, sqlx::Error>;
    /// Runs a read.
    async fn fetch_all(&self, sql: &Sql, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error>;
    /// Begins a write transaction.
    async fn begin(&self) -> Result<Self::Tx, sqlx::Error>;
    /// When to run a failed transaction again (see [`Retry`]).
    fn retry(&self, operation: &'static str) -> Retry;
    /// A write of one statement: a transaction of its own on SQLite's writer, a statement on its
    /// own on PostgreSQL (one round trip), retried like a transaction. Returns the rows affected.
    async fn write_one(
        &self,
        operation: &'static str,
        sql: &Sql,
        args: &[Arg<'_>],
        error: impl Fn(sqlx::Error) -> StoreError,
    ) -> Result<u64, StoreError>;
    /// A [`Batch`] over `rows`, all or nothing. A failure is `error(Some(the row's index), _)`
    /// where rows run one by one (SQLite), `error(None, _)` where they run as one statement
    /// (PostgreSQL).
    async fn write_batch(
        &self,
        operation: &'static str,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
        error: impl Fn(Option<usize>, sqlx::Error) -> StoreError,
    ) -> Result<(), StoreError>;
}

/// What a backend's write transaction provides.
pub(crate) trait Transaction: Sized {
    /// Runs a statement; returns the rows affected (0 for a statement this backend skips).
    async fn execute(&mut self, sql: &Sql, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    /// Runs a statement that returns at most one row.
    async fn fetch_optional(
        &mut self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error>;
    /// A [`Batch`] over `rows` inside this transaction: one statement per row (SQLite; a
    /// failure names the row's index) or one over column arrays (PostgreSQL; `None`).
    async fn execute_batch(
        &mut self,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), (Option<usize>, sqlx::Error)>;
    /// Commits.
    async fn commit(self) -> Result<(), sqlx::Error>;
    /// Rolls back.
    async fn rollback(self) -> Result<(), sqlx::Error>;
    /// Which rule of the `assignments` table an insert broke, if the error says so.
    fn assignment_violation(e: &sqlx::Error) -> Option<AssignmentViolation>;
}

/// The rules of the `assignments` table an insert can break.
// Without the `postgres` feature, only SQLite's kinds are made.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssignmentViolation {
    /// The job has a live assignment (the partial unique index).
    OneLivePerJob,
    /// An assignment with this id exists.
    DuplicateId,
    /// The job does not exist.
    JobMissing,
    /// The contractor does not exist.
    ContractorMissing,
    /// The audit record does not exist.
    AuditMissing,
}

/// When a backend runs a failed transaction again: SQLite never (its writers take turns),
/// PostgreSQL after a serialization failure or a deadlock, a bounded number of times.
#[derive(Debug)]
pub(crate) enum Retry {
    /// Every result is final.
    Never,
    /// PostgreSQL's policy.
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Retry),
}

/// What to do after an attempt.
// Without the `postgres` feature nothing is retried.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// This is the result.
    Done(Result<T, StoreError>),
    /// Run the attempt again (the pause has been taken).
    Again,
}

impl Retry {
    /// Decides after an attempt that ended with `result`.
    pub(crate) async fn after<T>(&mut self, result: Result<T, StoreError>) -> Attempt<T> {
        match self {
            Retry::Never => Attempt::Done(result),
            #[cfg(feature = "postgres")]
            Retry::Postgres(retry) => retry.after(result).await,
        }
    }
}

/// `retrying!(db, "operation", { attempt })`: runs the block (an attempt at a whole write, its
/// `?` and `return` ending the attempt) again as the backend's [`Retry`] says, and evaluates to
/// the last attempt's result.
///
/// A macro rather than a function taking an async closure: the futures of async closures
/// called through a generic bound are not known to be `Send` (rustc cannot prove it for every
/// lifetime), and the store's futures must be, to be spawned.
macro_rules! retrying {
    ($db:expr, $operation:expr, $attempt:block) => {{
        let mut retry = $crate::db::Db::retry($db, $operation);
        loop {
            let result: Result<_, $crate::error::StoreError> = async { $attempt }.await;
            match retry.after(result).await {
                $crate::db::Attempt::Done(result) => break result,
                $crate::db::Attempt::Again => {}
            }
        }
    }};
}
pub(crate) use retrying;

/// `transaction!(db, |tx| { steps })`: one attempt at a write transaction. The block runs with
/// `tx: &mut Tx` (its `?` and `return` end the steps); the transaction commits if they
/// succeed and rolls back if not. Evaluates to the steps' result.
macro_rules! transaction {
    ($db:expr, |$tx:ident| $steps:block) => {{
        let db: &$crate::db::Db = $db;
        match db.begin().await {
            Ok(mut tx) => {
                let result: Result<_, $crate::error::StoreError> = async {
                    let $tx = &mut tx;
                    $steps
                }
                .await;
                db.finish(tx, result).await
            }
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use transaction;

/// `write_tx!(db, "operation", |tx| { steps })`: a [`transaction!`], [`retrying!`].
macro_rules! write_tx {
    ($db:expr, $operation:expr, |$tx:ident| $steps:block) => {
        $crate::db::retrying!($db, $operation, {
            $crate::db::transaction!($db, |$tx| $steps)
        })
    };
}
pub(crate) use write_tx;

/// Ends a transaction: commits if its steps succeeded, rolls back if not.
pub(crate) async fn finish<X: Transaction, T>(
    tx: X,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            // The original error is the one worth reporting. If the rollback fails too, the
            // connection is not reused in a transaction: sqlx rolls back (SQLite) or closes it
            // (PostgreSQL) when it goes back to the pool.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Runs `$body` with `$b` bound to whichever backend's value is inside `$value`.
macro_rules! on_backend {
    ($value:expr, $enum:ident, $b:ident => $body:expr) => {
        match $value {
            $enum::Sqlite($b) => $body,
            #[cfg(feature = "postgres")]
            $enum::Postgres($b) => $body,
        }
    };
}

/// The backend a store was opened on.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// SQLite.
    Sqlite(SqliteDb),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgDb),
}

/// A write transaction of either backend.
#[derive(Debug)]
pub(crate) enum Tx {
    /// SQLite's.
    Sqlite(SqliteTx),
    /// PostgreSQL's.
    #[cfg(feature = "postgres")]
    Postgres(PgTx),
}

/// A result row of either backend.
#[derive(Debug)]
pub(crate) enum Row {
    /// SQLite's.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// PostgreSQL's.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgRow),
}

impl Db {
    /// The backend's name, as [`crate::Store::backend_name`] says it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.fetch_optional(crate::sql::sql!("SELECT 1"), &[])
            .await
            .map(|_| ())
    }

    /// See [`Backend::close`].
    pub(crate) async fn close(&self) {
        on_backend!(self, Db, b => b.close().await)
    }

    /// See [`Backend::fetch_optional`].
    pub(crate) async fn fetch_optional(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, StoreError> {
        Ok(on_backend!(self, Db, b => b.fetch_optional(sql, args).await)?)
    }

    /// See [`Backend::fetch_all`].
    pub(crate) async fn fetch_all(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Vec<Row>, StoreError> {
        Ok(on_backend!(self, Db, b => b.fetch_all(sql, args).await)?)
    }

    /// Begins a write transaction (see [`transaction!`]).
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(b) => Tx::Sqlite(b.begin().await?),
            #[cfg(feature = "postgres")]
            Db::Postgres(b) => Tx::Postgres(b.begin().await?),
        })
    }

    /// See [`finish`].
    pub(crate) async fn finish<T>(
        &self,
        tx: Tx,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        on_backend!(tx, Tx, t => finish(t, result).await)
    }

    /// See [`Backend::retry`].
    pub(crate) fn retry(&self, operation: &'static str) -> Retry {
        on_backend!(self, Db, b => b.retry(operation))
    }

    /// See [`Backend::write_one`].
    pub(crate) async fn write_one(
        &self,
        operation: &'static str,
        sql: &Sql,
        args: &[Arg<'_>],
        error: impl Fn(sqlx::Error) -> StoreError,
    ) -> Result<u64, StoreError> {
        on_backend!(self, Db, b => b.write_one(operation, sql, args, error).await)
    }

    /// See [`Backend::write_batch`].
    pub(crate) async fn write_batch(
        &self,
        operation: &'static str,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
        error: impl Fn(Option<usize>, sqlx::Error) -> StoreError,
    ) -> Result<(), StoreError> {
        on_backend!(self, Db, b => b.write_batch(operation, batch, rows, error).await)
    }
}

impl Tx {
    /// See [`Transaction::execute`].
    pub(crate) async fn execute(
        &mut self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<u64, sqlx::Error> {
        on_backend!(self, Tx, t => t.execute(sql, args).await)
    }

    /// See [`Transaction::fetch_optional`].
    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        on_backend!(self, Tx, t => t.fetch_optional(sql, args).await)
    }

    /// See [`Transaction::execute_batch`].
    pub(crate) async fn execute_batch(
        &mut self,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), (Option<usize>, sqlx::Error)> {
        if rows.is_empty() {
            return Ok(());
        }
        on_backend!(self, Tx, t => t.execute_batch(batch, rows).await)
    }

    /// See [`Transaction::assignment_violation`].
    pub(crate) fn assignment_violation(&self, e: &sqlx::Error) -> Option<AssignmentViolation> {
        match self {
            Tx::Sqlite(_) => SqliteTx::assignment_violation(e),
            #[cfg(feature = "postgres")]
            Tx::Postgres(_) => PgTx::assignment_violation(e),
        }
    }
}

impl Row {
    /// A text column.
    pub(crate) fn text(&self, what: &str) -> Result<String, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// An optional text column.
    pub(crate) fn opt_text(&self, what: &str) -> Result<Option<String>, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// A 64-bit integer column (SQLite `INTEGER`, PostgreSQL `bigint`).
    pub(crate) fn int(&self, what: &str) -> Result<i64, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// A float column.
    pub(crate) fn real(&self, what: &str) -> Result<f64, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// A boolean column (or expression).
    pub(crate) fn boolean(&self, what: &str) -> Result<bool, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// An optional bytes column.
    pub(crate) fn opt_bytes(&self, what: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_backend!(self, Row, r => col(r, what))
    }

    /// An id column, as the id type.
    pub(crate) fn id<T: From<Uuid>>(&self, what: &str) -> Result<T, StoreError> {
        on_backend!(self, Row, r => r.uuid(what)).map(T::from)
    }

    /// See [`Columns::time`].
    pub(crate) fn time(&self, what: &str) -> Result<DateTime<Utc>, StoreError> {
        on_backend!(self, Row, r => r.time(what))
    }

    /// See [`Columns::json`].
    pub(crate) fn json(&self, what: &str) -> Result<Box<RawValue>, StoreError> {
        on_backend!(self, Row, r => r.json(what))
    }

    /// See [`Columns::texts`].
    pub(crate) fn texts(&self, what: &str) -> Result<Vec<String>, StoreError> {
        on_backend!(self, Row, r => r.texts(what))
    }

    /// See [`Columns::opt_int32`].
    pub(crate) fn opt_int32(&self, what: &str) -> Result<Option<i32>, StoreError> {
        on_backend!(self, Row, r => r.opt_int32(what))
    }

    /// A JSON document column, decoded.
    pub(crate) fn doc<T: DeserializeOwned>(&self, what: &str) -> Result<T, StoreError> {
        from_json(self.json(what)?.get(), what)
    }

    /// An optional JSON document column, decoded.
    pub(crate) fn opt_doc<T: DeserializeOwned>(&self, what: &str) -> Result<Option<T>, StoreError> {
        on_backend!(self, Row, r => r.opt_json(what))?
            .map(|raw| from_json(raw.get(), what))
            .transpose()
    }
}
