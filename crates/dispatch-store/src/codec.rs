//! How values become columns and back, shared by every backend: timestamps, ids, enum names,
//! JSON documents and page cursors. Every decode failure is a [`StoreError::Corrupt`] naming what
//! failed, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use dispatch_core::{AssignmentSource, JobStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// A timestamp as stored: RFC 3339, UTC, exactly nine fractional digits, `Z`.
///
/// Fixed width is what makes `start_utc < ?` in SQL compare instants: two strings of this form
/// order the same way as the instants they name (for years 0000–9999).
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses a stored timestamp; `what` names the column for the error.
pub(crate) fn parse_ts(s: &str, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            StoreError::Corrupt(format!("{what}: {s:?} is not an RFC 3339 timestamp ({e})"))
        })
}

/// Parses a stored id of any `FromStr` type; `what` names the column.
pub(crate) fn parse_id<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what}: {s:?} is not a valid id ({e})")))
}

/// Encodes a document as JSON text.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String, StoreError> {
    // Serializing our own types only fails on a non-string map key, which they do not have;
    // still, it is an error, not a panic.
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("{what} could not be encoded as JSON: {e}")))
}

/// Decodes a stored JSON document.
pub(crate) fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Corrupt(format!("{what}: stored JSON does not decode ({e})")))
}

/// `open`, `assigned`, … as stored in `jobs.status`.
pub(crate) fn job_status_str(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Open => "open",
        JobStatus::Assigned => "assigned",
        JobStatus::Completed => "completed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// The inverse of [`job_status_str`].
pub(crate) fn parse_job_status(s: &str) -> Result<JobStatus, StoreError> {
    Ok(match s {
        "open" => JobStatus::Open,
        "assigned" => JobStatus::Assigned,
        "completed" => JobStatus::Completed,
        "cancelled" => JobStatus::Cancelled,
        other => {
            return Err(StoreError::Corrupt(format!(
                "jobs.status: unknown status {other:?}"
            )));
        }
    })
}

/// `auto` or `manual` as stored in `assignments.source`.
pub(crate) fn source_str(s: AssignmentSource) -> &'static str {
    match s {
        AssignmentSource::Auto => "auto",
        AssignmentSource::Manual => "manual",
    }
}

/// The inverse of [`source_str`].
pub(crate) fn parse_source(s: &str) -> Result<AssignmentSource, StoreError> {
    match s {
        "auto" => Ok(AssignmentSource::Auto),
        "manual" => Ok(AssignmentSource::Manual),
        other => Err(StoreError::Corrupt(format!(
            "assignments.source: unknown source {other:?}"
        ))),
    }
}

/// Which list a cursor belongs to; a cursor of one list is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    /// Jobs, keyed by (window start, id).
    Jobs,
    /// Contractors, keyed by (name, id).
    Contractors,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            CursorKind::Jobs => "jobs",
            CursorKind::Contractors => "contractors",
        }
    }
}

/// A keyset position: the sort key and id of the last item of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The sort column's stored value (e.g. the window start as stored).
    pub key: String,
    /// The id of the last item (the tie-break).
    pub id: String,
}

impl Cursor {
    /// The opaque, URL-safe form: base64url of `["<kind>","<key>","<id>"]`.
    pub(crate) fn encode(&self, kind: CursorKind) -> String {
        // A tuple of strings always serializes; fall back to an empty array never happens.
        let json = serde_json::to_vec(&(kind.tag(), &self.key, &self.id)).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor this store issued for `kind`; anything else is `InvalidCursor`.
    pub(crate) fn decode(s: &str, kind: CursorKind) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(|_| StoreError::InvalidCursor)?;
        let (tag, key, id): (String, String, String) =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if tag != kind.tag() || uuid::Uuid::parse_str(&id).is_err() {
            return Err(StoreError::InvalidCursor);
        }
        if kind == CursorKind::Jobs && DateTime::parse_from_rfc3339(&key).is_err() {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Self { key, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_fixed_width_and_round_trip() {
        let a = Utc
            .with_ymd_and_hms(2026, 12, 1, 16, 0, 0)
            .single()
            .expect("valid");
        let b = a + chrono::Duration::nanoseconds(1);
        assert_eq!(ts(&a), "2026-12-01T16:00:00.000000000Z");
        assert!(ts(&a) < ts(&b));
        assert_eq!(parse_ts(&ts(&b), "t").expect("parses"), b);
        assert!(matches!(
            parse_ts("yesterday", "t"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let c = Cursor {
            key: "2026-12-01T16:00:00.000000000Z".into(),
            id: "00000000-0000-0000-0000-000000000001".into(),
        };
        let s = c.encode(CursorKind::Jobs);
        assert!(
            s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        );
        assert_eq!(Cursor::decode(&s, CursorKind::Jobs).expect("decodes"), c);
        assert!(matches!(
            Cursor::decode(&s, CursorKind::Contractors),
            Err(StoreError::InvalidCursor)
        ));
        for bad in ["", "!!!", "bm90IGpzb24", "WyJqb2JzIiwiYSIsImIiXQ"] {
            assert!(
                matches!(
                    Cursor::decode(bad, CursorKind::Jobs),
                    Err(StoreError::InvalidCursor)
                ),
                "{bad}"
            );
        }
    }
}
