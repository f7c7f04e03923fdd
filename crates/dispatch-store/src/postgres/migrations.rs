//! The PostgreSQL migrations, embedded in the binary so the service needs no files beside it.
//!
//! Built by hand from `include_str!`, like the SQLite list. The numbering rule is in
//! `migrations/README.md`: every file here has a twin of the same number and name in
//! `migrations/sqlite/` (a test below checks it). sqlx runs them under a session advisory lock,
//! so nodes starting together against one database migrate it once.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)`, in order. Append; never edit a merged entry.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "deployment",
        include_str!("../../migrations/postgres/0002_deployment.sql"),
    ),
];

/// The migrator for [`MIGRATIONS`]; applied versions are tracked in `_sqlx_migrations`.
pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_files(backend: &str) -> Vec<String> {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        files
    }

    /// Every file in migrations/postgres is registered, under its number and name, and nothing
    /// else is.
    #[test]
    fn every_migration_file_is_registered() {
        let registered: Vec<String> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(sql_files("postgres"), registered);
        for (i, (v, _, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1, "numbers start at 1 with no gaps");
        }
    }

    /// The two trees move in lock step: schema version N means the same on both backends.
    #[test]
    fn both_backends_have_the_same_migrations() {
        assert_eq!(sql_files("postgres"), sql_files("sqlite"));
    }
}
