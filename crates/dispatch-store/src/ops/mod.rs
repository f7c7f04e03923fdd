//! The store's operations, each written once for both backends: the `impl Store` blocks behind
//! the public API, grouped by what they store. Each transaction's steps are plain code over
//! [`crate::db::Tx`]; what differs between SQLite and PostgreSQL is in the SQL text
//! ([`crate::sql`]) and behind [`crate::db::Backend`].

pub(crate) mod assignments;
pub(crate) mod catalog;
pub(crate) mod changes;
pub(crate) mod config;
pub(crate) mod idempotency;
pub(crate) mod outbox;
pub(crate) mod plans;
pub(crate) mod recommendations;
