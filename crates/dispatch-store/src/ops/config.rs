//! The versioned scoring configuration.

use dispatch_core::{NewScoringConfig, ScoringConfig};

use crate::Store;
use crate::db::{Tx, args, doc, retrying, transaction};
use crate::error::{StoreError, is_unique_violation};
use crate::rows::{self, to_u32};
use crate::sql::{Sql, sql};

/// The highest stored version (0 if there is none).
static CURRENT_VERSION: Sql =
    Sql::new("SELECT COALESCE(MAX(version), 0) AS version FROM scoring_configs");

impl Store {
    /// The current (highest-version) scoring configuration.
    pub async fn current_config(&self) -> Result<ScoringConfig, StoreError> {
        let sql = sql!("SELECT version, body FROM scoring_configs ORDER BY version DESC LIMIT 1");
        match self.db.fetch_optional(sql, &[]).await? {
            Some(row) => rows::config(&row),
            None => Err(StoreError::Corrupt(
                "scoring_configs is empty; version 1 is inserted at startup, so the table was \
                 emptied by hand"
                    .to_owned(),
            )),
        }
    }

    /// A scoring configuration by version, as it was.
    pub async fn config_version(&self, version: u32) -> Result<Option<ScoringConfig>, StoreError> {
        let sql = sql!("SELECT version, body FROM scoring_configs WHERE version = $1");
        let row = self
            .db
            .fetch_optional(sql, args![i64::from(version)])
            .await?;
        row.as_ref().map(rows::config).transpose()
    }

    /// Stores `new` as version `expected + 1` if `expected` is the current version; otherwise
    /// `StaleVersion { current }`. Returns the stored configuration.
    pub async fn replace_config(
        &self,
        expected: u32,
        new: &NewScoringConfig,
    ) -> Result<ScoringConfig, StoreError> {
        retrying!(&self.db, "replace_config", {
            let done = transaction!(&self.db, |tx| {
                let current = current_version(tx).await?;
                if current != expected {
                    return Err(StoreError::StaleVersion { current });
                }
                let next = current.checked_add(1).ok_or_else(|| {
                    StoreError::Conflict(
                        "the scoring configuration version cannot grow further".into(),
                    )
                })?;
                let config = new.into_config(next);
                let body = doc(&config, "scoring configuration")?;
                // Two PostgreSQL writers that both read `expected` both try `expected + 1`: the
                // primary key lets one in; the other waits for it to commit, then fails with
                // 23505 (SQLite's writers take turns).
                let sql = sql!(
                    "INSERT INTO scoring_configs (version, body, created_at) \
                     VALUES ($1, $2, now())"
                );
                tx.execute(sql, args![i64::from(next), &*body]).await?;
                Ok(config)
            });
            match done {
                Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                    let row = self.db.fetch_optional(&CURRENT_VERSION, &[]).await?;
                    Err(StoreError::StaleVersion {
                        current: version_of(row.as_ref())?,
                    })
                }
                other => other,
            }
        })
    }

    /// Inserts `ScoringConfig::default()` as version 1 unless version 1 exists.
    pub(crate) async fn seed_default_config(&self) -> Result<(), StoreError> {
        let config = ScoringConfig::default();
        let body = doc(&config, "default scoring configuration")?;
        let sql = sql!(
            "INSERT INTO scoring_configs (version, body, created_at) VALUES ($1, $2, now()) \
             ON CONFLICT (version) DO NOTHING"
        );
        let args = args![i64::from(config.version), &*body];
        self.db
            .write_one("seed_default_config", sql, args, StoreError::from)
            .await
            .map(|_| ())
    }
}

/// The highest stored version, in `tx`.
async fn current_version(tx: &mut Tx) -> Result<u32, StoreError> {
    let row = tx.fetch_optional(&CURRENT_VERSION, &[]).await?;
    version_of(row.as_ref())
}

/// The version a [`CURRENT_VERSION`] row holds.
fn version_of(row: Option<&crate::db::Row>) -> Result<u32, StoreError> {
    let version = match row {
        Some(row) => row.int("scoring_configs.version")?,
        None => 0,
    };
    to_u32(version, "scoring_configs.version")
}
