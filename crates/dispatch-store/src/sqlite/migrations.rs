//! The SQLite migrations, embedded in the binary so the service needs no files beside it.
//!
//! Built by hand from `include_str!` rather than with `sqlx::migrate!`, which would pull in
//! sqlx's proc-macro crate for one list. The numbering rule is in `migrations/README.md`.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)`, in order. Append; never edit a merged entry.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "deployment",
        include_str!("../../migrations/sqlite/0002_deployment.sql"),
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

    /// Every file in migrations/sqlite is registered, under its number and name, and nothing
    /// else is.
    #[test]
    fn every_migration_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations/sqlite exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let registered: Vec<String> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(files, registered);
        for (i, (v, _, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1, "numbers start at 1 with no gaps");
        }
    }
}
