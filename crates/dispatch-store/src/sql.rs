//! SQL text, written once for both backends.
//!
//! Every statement is written in PostgreSQL's dialect, with `$1`, `$2`, … placeholders (which
//! sqlx also binds by number on SQLite). SQLite's text is derived from it the first time it is
//! needed, by two rewrites, because those are the only places where the two dialects differ
//! for the store's statements:
//!
//! * `now()` becomes one more bound parameter: the transaction's start, by the writer's clock,
//!   as the fixed-width text timestamps are stored in. On PostgreSQL `now()` is the transaction's
//!   start too, by the server's clock, so both backends write one instant per transaction.
//! * Row-lock clauses (`FOR UPDATE`, `FOR NO KEY UPDATE`) are dropped: SQLite's single writer
//!   holds the whole database from the transaction's first statement, so there is nothing to
//!   lock row by row.
//!
//! A statement PostgreSQL has and SQLite does not need at all (an advisory lock, a lock-only
//! `SELECT`) is [`Sql::postgres_only`]; one that SQLite cannot derive (it uses PostgreSQL
//! functions or arrays) brings its own SQLite text ([`Sql::with_sqlite`]), or, for bulk
//! statements, runs row by row on SQLite ([`Batch`]).

use std::borrow::Cow;
use std::sync::OnceLock;

/// One statement: its PostgreSQL text and, derived once, its SQLite text.
#[derive(Debug)]
pub(crate) struct Sql {
    postgres: Cow<'static, str>,
    sqlite: Source,
    rendered: OnceLock<Option<Rendered>>,
}

/// Where a statement's SQLite text comes from.
#[derive(Debug)]
enum Source {
    /// The PostgreSQL text, rewritten (module docs).
    Derived,
    /// A text of its own (still rewritten, so it may say `now()`).
    Own(&'static str),
    /// None: SQLite skips the statement.
    Skip,
}

/// A statement's SQLite text.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The text to run.
    pub(crate) text: String,
    /// Whether the transaction's start must be bound after the statement's own arguments (the
    /// text said `now()`).
    pub(crate) binds_now: bool,
}

impl Sql {
    /// A statement both backends run, written in PostgreSQL's dialect.
    pub(crate) const fn new(postgres: &'static str) -> Self {
        Self::build(Cow::Borrowed(postgres), Source::Derived)
    }

    /// A statement whose SQLite text cannot be derived from the PostgreSQL one.
    pub(crate) const fn with_sqlite(postgres: &'static str, sqlite: &'static str) -> Self {
        Self::build(Cow::Borrowed(postgres), Source::Own(sqlite))
    }

    /// A statement only PostgreSQL runs: a lock that SQLite's single writer makes unnecessary.
    pub(crate) const fn postgres_only(postgres: &'static str) -> Self {
        Self::build(Cow::Borrowed(postgres), Source::Skip)
    }

    /// A statement assembled at run time (a page query with optional filters).
    pub(crate) fn owned(postgres: String) -> Self {
        Self::build(Cow::Owned(postgres), Source::Derived)
    }

    const fn build(postgres: Cow<'static, str>, sqlite: Source) -> Self {
        Self {
            postgres,
            sqlite,
            rendered: OnceLock::new(),
        }
    }

    /// The PostgreSQL text.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn postgres(&self) -> &str {
        &self.postgres
    }

    /// The SQLite text; `None` when SQLite skips the statement.
    pub(crate) fn sqlite(&self) -> Option<&Rendered> {
        self.rendered
            .get_or_init(|| match self.sqlite {
                Source::Derived => Some(render_sqlite(&self.postgres)),
                Source::Own(text) => Some(render_sqlite(text)),
                Source::Skip => None,
            })
            .as_ref()
    }
}

/// Declares a statement in place, as a `&'static Sql`: `sql!("SELECT …")`, or with a
/// constructor of [`Sql`] other than `new`: `sql!(postgres_only: "SELECT …")`.
macro_rules! sql {
    ($text:literal) => {{
        static SQL: $crate::sql::Sql = $crate::sql::Sql::new($text);
        &SQL
    }};
    ($kind:ident: $($text:literal),+ $(,)?) => {{
        static SQL: $crate::sql::Sql = $crate::sql::Sql::$kind($($text),+);
        &SQL
    }};
}
pub(crate) use sql;

/// A statement over many rows: one statement per row on SQLite (in one transaction; a statement
/// costs no round trip in-process), one statement over column arrays on PostgreSQL (`UNNEST`,
/// `= ANY`), which takes the rows' arguments column by column, in the same order.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The statement for one row.
    pub(crate) each: &'static Sql,
    /// PostgreSQL's statement for all rows: `$n` is the array of every row's `n`th argument.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) all: &'static str,
}

/// The row-lock clauses SQLite does without.
const ROW_LOCKS: [&str; 2] = [" FOR NO KEY UPDATE", " FOR UPDATE"];

/// SQLite's text for a PostgreSQL statement (see the module docs).
fn render_sqlite(postgres: &str) -> Rendered {
    let mut text = postgres.to_owned();
    for lock in ROW_LOCKS {
        text = text.replace(lock, "");
    }
    let binds_now = text.contains("now()");
    if binds_now {
        let now = format!("${}", highest_placeholder(&text) + 1);
        text = text.replace("now()", &now);
    }
    Rendered { text, binds_now }
}

/// The highest `$n` in `text` (0 when there is none).
fn highest_placeholder(text: &str) -> usize {
    text.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            rest[..digits].parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Builds a statement whose filters are known only at run time, numbering its placeholders.
#[derive(Debug)]
pub(crate) struct Builder<'a> {
    text: String,
    args: Vec<crate::db::Arg<'a>>,
}

impl<'a> Builder<'a> {
    /// Starts with `text` (PostgreSQL dialect, no placeholders yet).
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `text`.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn bind(&mut self, arg: impl Into<crate::db::Arg<'a>>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// The statement and its arguments.
    pub(crate) fn finish(self) -> (Sql, Vec<crate::db::Arg<'a>>) {
        (Sql::owned(self.text), self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_binds_now_and_drops_row_locks() {
        let sql =
            Sql::new("UPDATE jobs SET status = $1, updated_at = now() WHERE id = $2 AND x = now()");
        let r = sql.sqlite().expect("derived");
        assert_eq!(
            r.text,
            "UPDATE jobs SET status = $1, updated_at = $3 WHERE id = $2 AND x = $3"
        );
        assert!(r.binds_now);
        assert_eq!(sql.postgres().matches("now()").count(), 2);

        let sql = Sql::new("SELECT body FROM contractors WHERE id = $1 FOR NO KEY UPDATE");
        let r = sql.sqlite().expect("derived");
        assert_eq!(r.text, "SELECT body FROM contractors WHERE id = $1");
        assert!(!r.binds_now);
        let sql = Sql::new("SELECT 1 FROM t WHERE a = $1 AND b = $12 FOR UPDATE");
        assert_eq!(
            sql.sqlite().map(|r| r.text.as_str()),
            Some("SELECT 1 FROM t WHERE a = $1 AND b = $12")
        );

        assert!(
            Sql::postgres_only("SELECT pg_advisory_xact_lock($1)")
                .sqlite()
                .is_none()
        );
        let own = Sql::with_sqlite("SELECT make_interval(secs => $1)", "SELECT $1, now()");
        assert_eq!(own.sqlite().map(|r| r.text.as_str()), Some("SELECT $1, $2"));
    }

    #[test]
    fn builder_numbers_placeholders() {
        let mut b = Builder::new("SELECT id FROM jobs WHERE region_id = ");
        b.bind("west").push(" AND status = ").bind("open");
        let (sql, args) = b.finish();
        assert_eq!(
            sql.postgres(),
            "SELECT id FROM jobs WHERE region_id = $1 AND status = $2"
        );
        assert_eq!(args.len(), 2);
    }
}
