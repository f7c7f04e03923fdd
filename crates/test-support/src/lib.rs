//! Shared helpers for Dispatch's **tests and benches only**: a dev-dependency, never a
//! dependency of a crate that ships.
//!
//! Tests that need a real server (PostgreSQL, Redis) find it in an environment variable
//! (`DISPATCH_TEST_POSTGRES_URL`, `DISPATCH_TEST_REDIS_URL`, …), with one rule everywhere:
//!
//! * variable not set: the test prints a loud `SKIPPED: {var} not set …` banner to stderr (past
//!   the harness's output capture) and passes;
//! * set, server unreachable: with `CI=true` the test **fails**; otherwise it prints a loud
//!   `SKIPPED` banner with the reason and passes.
//!
//! [`service_url`] applies that rule to any server; [`TestDatabase::create`] applies it to
//! PostgreSQL and gives the test a fresh database of its own, dropped (`WITH (FORCE)`) when the
//! test ends, even by a panic.

use std::io::Write as _;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// How long a server named by a variable may take to accept a TCP connection.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long PostgreSQL may take to accept a connection (authentication included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes `message` to stderr between two rules, past the test harness's output capture, so
/// that a skip is seen even when the tests pass.
pub fn shout(message: &str) {
    let line = "=".repeat(100);
    let _ = writeln!(std::io::stderr(), "\n{line}\n{message}\n{line}");
}

/// Whether this is CI (`CI=true`), where a server named but unreachable is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// The URL in `var` when its server accepts a TCP connection within a few seconds; `None`
/// (after a loud `SKIPPED` banner naming `purpose`, e.g. "multi-node test") when the variable is
/// not set, or when the server is unreachable outside CI. Panics when the server is unreachable
/// and `CI=true`.
pub async fn service_url(var: &str, purpose: &str) -> Option<String> {
    let url = named(var, purpose)?;
    let host_port = host_port(&url);
    match tokio::time::timeout(REACH_TIMEOUT, tokio::net::TcpStream::connect(&host_port)).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => {
            unreachable(var, purpose, &format!("{host_port}: {error}"));
            None
        }
        Err(_) => {
            unreachable(
                var,
                purpose,
                &format!("{host_port}: no answer within {REACH_TIMEOUT:?}"),
            );
            None
        }
    }
}

/// The `host:port` a server URL names (credentials, path and query dropped), with the scheme's
/// default port when it names none (PostgreSQL 5432, Redis 6379).
pub fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let has_port = match host_port.rsplit_once(']') {
        // `[::1]:5432`: a port only after the bracket.
        Some((_, after)) => after.starts_with(':'),
        None => host_port.contains(':'),
    };
    if has_port {
        return host_port.to_owned();
    }
    let port = match scheme {
        "redis" | "rediss" => 6379,
        _ => 5432,
    };
    format!("{host_port}:{port}")
}

/// The URL with its path (the database name) replaced by `/{name}`; query kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A PostgreSQL database created for one test (or bench) and dropped (`WITH (FORCE)`) when this
/// value is dropped, even by a panic.
pub struct TestDatabase {
    /// The URL the database was created from, used again to drop it.
    admin_url: String,
    /// The new database's name: `{prefix}_{pid}_{random}`.
    name: String,
    /// The URL of the new database.
    url: String,
}

impl TestDatabase {
    /// A fresh, empty database next to the one named by `var`, named `{prefix}_{pid}_{random}`;
    /// `None` (after a loud `SKIPPED` banner naming `purpose`) when the variable is not set, or
    /// when the server is unreachable outside CI. Panics when the server is unreachable and
    /// `CI=true`, or when the database cannot be created (the user needs `CREATEDB`).
    pub async fn create(var: &str, prefix: &str, purpose: &str) -> Option<TestDatabase> {
        let admin_url = named(var, purpose)?;
        match connect(&admin_url).await {
            Ok(admin) => Some(TestDatabase::create_with(admin, admin_url, prefix).await),
            Err(why) => {
                unreachable(var, purpose, &why);
                None
            }
        }
    }

    /// A fresh, empty database next to the one `admin_url` names, for a caller that chose the
    /// server itself (a bench); `Err` says why the server is unreachable. Panics when the
    /// database cannot be created.
    pub async fn create_at(admin_url: &str, prefix: &str) -> Result<TestDatabase, String> {
        let admin = connect(admin_url).await?;
        Ok(TestDatabase::create_with(admin, admin_url.to_owned(), prefix).await)
    }

    async fn create_with(mut admin: PgConnection, admin_url: String, prefix: &str) -> TestDatabase {
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} (the user needs CREATEDB): {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The new database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one statement on the new database, behind the service's back (a test simulating a
    /// change the service never saw); returns the rows affected.
    pub async fn execute(&self, statement: &str) -> Result<u64, String> {
        let mut connection = connect(&self.url).await?;
        let done = sqlx::query(AssertSqlSafe(statement.to_owned()))
            .execute(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
        let _ = connection.close().await;
        Ok(done.rows_affected())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside the test's runtime: a thread and a runtime of
        // its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                // FORCE: a panicking test leaves its pool's connections open, and a node killed
                // by a test may still have sessions being torn down.
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(error)) | Err(error) = dropped.map_err(|_| "panicked".to_owned()) {
            shout(&format!(
                "could not drop test database {}: {error}",
                self.name
            ));
        }
    }
}

/// The value of `var`; `None` after a loud `SKIPPED` banner when it is not set.
fn named(var: &str, purpose: &str) -> Option<String> {
    let value = std::env::var(var).ok();
    if value.is_none() {
        shout(&format!(
            "SKIPPED: {var} not set; this {purpose} did not run. To run it: export {var}={}",
            example(var)
        ));
    }
    value
}

/// An example value of `var`, for the skip banner (the servers CI runs).
fn example(var: &str) -> &'static str {
    if var.contains("REDIS") {
        "redis://127.0.0.1:6379"
    } else if var.contains("POSTGRES") {
        "postgres://postgres@127.0.0.1:5432/test"
    } else {
        "<url>"
    }
}

/// The server named by `var` cannot be reached: panics in CI, otherwise skips loudly.
fn unreachable(var: &str, purpose: &str, why: &str) {
    let message = format!("the server named by {var} is unreachable: {why}");
    assert!(!in_ci(), "{message} (CI=true: this {purpose} must run)");
    shout(&format!("SKIPPED: {message}; this {purpose} did not run"));
}

/// A connection to the PostgreSQL server `url` names; `Err` says why there is none.
async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{host_port, with_database};

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn host_port_drops_credentials_and_path_and_defaults_the_port() {
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(host_port("redis://:secret@cache/2"), "cache:6379");
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
            "127.0.0.1:5432"
        );
        assert_eq!(host_port("postgres://u:p@db/test"), "db:5432");
        assert_eq!(host_port("postgres://[::1]/test"), "[::1]:5432");
        assert_eq!(host_port("postgres://[::1]:6000/test"), "[::1]:6000");
    }
}
