//! The migrations of both backends, embedded in the binary so the service needs no files beside
//! it.
//!
//! Built by hand from `include_str!` rather than with `sqlx::migrate!`, which would pull in
//! sqlx's proc-macro crate. The numbering rule is in `migrations/README.md`: every migration has
//! the same number and name in `migrations/sqlite/` and `migrations/postgres/`, so one list names
//! both (a file missing from either tree does not compile). Applied versions are tracked in
//! `_sqlx_migrations`; on PostgreSQL sqlx runs them under a session advisory lock, so nodes
//! starting together against one database migrate it once.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)`, in order.
type List = &'static [(i64, &'static str, &'static str)];

/// Declares each backend's list from one list of `version "description"`: the file of version
/// N is `migrations/<backend>/NNNN_<description>.sql`. Append; never edit a merged entry.
macro_rules! migrations {
    ($($version:literal $file:literal $description:literal),* $(,)?) => {
        /// SQLite's migrations.
        const SQLITE: List = &[
            $(($version, $description, include_str!(concat!("../migrations/sqlite/", $file)))),*
        ];
        /// PostgreSQL's migrations.
        #[cfg(feature = "postgres")]
        const POSTGRES: List = &[
            $(($version, $description, include_str!(concat!("../migrations/postgres/", $file)))),*
        ];
        /// The file names, for the tests.
        #[cfg(test)]
        const FILES: &[&str] = &[$($file),*];
    };
}

migrations! {
    1 "0001_initial.sql" "initial",
    2 "0002_deployment.sql" "deployment",
    3 "0003_plans.sql" "plans",
    4 "0004_region_state.sql" "region_state",
    5 "0005_outbox_shards.sql" "outbox_shards",
    6 "0006_compact_exclusions.sql" "compact_exclusions",
}

/// The migrator for SQLite.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The migrator for PostgreSQL.
#[cfg(feature = "postgres")]
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

fn migrator(list: List) -> Migrator {
    Migrator::with_migrations(
        list.iter()
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

    /// Every file in each tree is registered, under its number and name, and nothing else is.
    #[test]
    fn every_migration_file_is_registered() {
        let registered: Vec<String> = SQLITE
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(registered, FILES);
        assert_eq!(sql_files("sqlite"), registered);
        for (i, (v, _, _)) in SQLITE.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1, "numbers start at 1 with no gaps");
        }
    }

    /// The two trees move in lock step: schema version N means the same on both backends.
    #[test]
    fn both_backends_have_the_same_migrations() {
        assert_eq!(sql_files("postgres"), sql_files("sqlite"));
    }
}
