//! Assignments: the double-booking invariants, checked inside the write transaction.

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, Booking, ContractorId, Job, JobId, JobStatus, RegionId,
};
use serde_json::value::RawValue;

use crate::Store;
use crate::codec::{parse_job_status, source_str};
use crate::db::{Arg, AssignmentViolation, Db, Tx, args, doc, retrying, transaction, write_tx};
use crate::error::{AssignmentConflict, StoreError, is_overlap_violation};
use crate::ops::catalog::contractor_region;
use crate::ops::changes::record_change;
use crate::ops::outbox::{EncodedEvent, encode_events, insert_events};
use crate::ops::recommendations::{AuditArgs, insert_audit};
use crate::rows;
use crate::sql::{Batch, Sql, sql};
use crate::types::{AuditRecord, ChangeKind, Decision, NewOutboxEvent};

/// The first live assignment of `a`'s contractor overlapping `a`'s slot: A and B overlap iff
/// A.start < B.end && B.start < A.end, so touching slots do not.
static OVERLAPPING: Sql = Sql::new(
    "SELECT id FROM assignments \
     WHERE contractor_id = $1 AND status = 'live' AND start_utc < $2 AND end_utc > $3 \
     ORDER BY start_utc, id LIMIT 1",
);

/// Audit records of bulk-loaded bookings (a decision each, no recommendation behind them).
static INSERT_LOADED_AUDITS: Batch = Batch {
    each: sql!(
        "INSERT INTO audits (id, region_id, job_id, config_version, created_at, body, decision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ),
    all: "INSERT INTO audits (id, region_id, job_id, config_version, created_at, body, decision) \
          SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::int8[], \
          $5::timestamptz[], $6::jsonb[], $7::jsonb[])",
};

/// Bulk-loaded bookings: live assignments.
static INSERT_LOADED_BOOKINGS: Batch = Batch {
    each: sql!(
        "INSERT INTO assignments \
         (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'live', now())"
    ),
    all: "INSERT INTO assignments \
          (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status) \
          SELECT a, j, c, d, s, e, o, 'live' FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], \
          $4::uuid[], $5::timestamptz[], $6::timestamptz[], $7::text[]) AS t(a, j, c, d, s, e, o)",
};

/// The arguments of [`OVERLAPPING`] for `a`.
fn overlap_args(a: &Assignment) -> [Arg<'static>; 3] {
    [a.contractor_id.into(), a.end_utc.into(), a.start_utc.into()]
}

impl Store {
    /// Inserts the assignment, sets the job to `assigned`, records `decision` on the audit
    /// record `assignment.audit_id`, and appends `events` to the outbox — all in one write
    /// transaction, or nothing.
    ///
    /// The invariants are checked inside that transaction: the job must exist and be open,
    /// with no live assignment (also a unique index), and the contractor must have no live
    /// assignment overlapping `[start, end)` (on PostgreSQL also an exclusion constraint). On
    /// SQLite writers take that transaction one at a time; on PostgreSQL it locks the job and
    /// contractor rows. A refusal is `StoreError::Assignment(..)`; an assignment that does not
    /// end after it starts, or a `decision` that does not name this assignment and contractor,
    /// is `Invalid`.
    pub async fn create_assignment(
        &self,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        check_assignment_input(assignment, decision)?;
        create_assignment(&self.db, None, None, assignment, decision, events).await
    }

    /// [`Store::create_assignment`] for a decision with no recommendation behind it: its audit
    /// record (named by `assignment.audit_id`) is created in the same transaction, so a refused
    /// assignment leaves no audit record behind.
    pub async fn create_assignment_with_audit(
        &self,
        audit: &AuditRecord,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        check_assignment_input(assignment, decision)?;
        check_audit_named(audit, assignment)?;
        create_assignment(&self.db, None, Some(audit), assignment, decision, events).await
    }

    /// Moves a booking: `replaces` (the job's live assignment) ends and `assignment` (the same
    /// job, another slot or contractor) is created with its audit record, decision and events,
    /// in one transaction — so on any refusal the old booking stays exactly as it was, and the
    /// job is never left unassigned. The new booking is checked like any other
    /// ([`Store::create_assignment`]), without the old one in its way; a `replaces` that is no
    /// longer the job's live assignment is `MovedMeanwhile`.
    pub async fn move_assignment(
        &self,
        replaces: AssignmentId,
        audit: &AuditRecord,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        check_assignment_input(assignment, decision)?;
        check_audit_named(audit, assignment)?;
        let replaces = Some(replaces);
        create_assignment(
            &self.db,
            replaces,
            Some(audit),
            assignment,
            decision,
            events,
        )
        .await
    }

    /// A region's live automatic bookings that have not started by `now` and lie within
    /// `[from, to)`: the ones a plan may move. By start, at most `limit`.
    pub async fn movable_assignments(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Assignment>, StoreError> {
        let sql = sql!(
            "SELECT a.id, a.job_id, a.contractor_id, a.audit_id, a.start_utc, a.end_utc, a.source \
             FROM assignments a JOIN jobs j ON j.id = a.job_id \
             WHERE j.region_id = $1 AND a.status = 'live' AND a.source = 'auto' \
             AND a.start_utc > $2 AND a.start_utc >= $3 AND a.end_utc <= $4 \
             ORDER BY a.start_utc, a.id LIMIT $5"
        );
        let found = self
            .db
            .fetch_all(sql, args![region, now, from, to, i64::from(limit)])
            .await?;
        found.iter().map(rows::assignment).collect()
    }

    /// A live assignment by id (an ended one is `None`).
    pub async fn assignment(&self, id: AssignmentId) -> Result<Option<Assignment>, StoreError> {
        let sql = sql!(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE id = $1 AND status = 'live'"
        );
        self.live_assignment(sql, id.into()).await
    }

    /// The live assignment of a job, if it has one.
    pub async fn job_assignment(&self, job: JobId) -> Result<Option<Assignment>, StoreError> {
        let sql = sql!(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE job_id = $1 AND status = 'live'"
        );
        self.live_assignment(sql, job.into()).await
    }

    /// The live assignment `sql` finds by `key`.
    async fn live_assignment(
        &self,
        sql: &Sql,
        key: Arg<'_>,
    ) -> Result<Option<Assignment>, StoreError> {
        let row = self.db.fetch_optional(sql, &[key]).await?;
        row.as_ref().map(rows::assignment).transpose()
    }

    /// Unassigns: the assignment stops being live (kept as history), the job returns to `open`,
    /// and `events` are appended, in one transaction. `None` when there is no such live
    /// assignment (and then no event is appended).
    pub async fn delete_assignment(
        &self,
        id: AssignmentId,
        events: &[NewOutboxEvent],
    ) -> Result<Option<Assignment>, StoreError> {
        let events = encode_events(events)?;
        write_tx!(&self.db, "delete_assignment", |tx| {
            // Which job, without a lock: the job's lock comes first (the lock order).
            let sql = sql!("SELECT job_id FROM assignments WHERE id = $1 AND status = 'live'");
            let Some(row) = tx.fetch_optional(sql, args![id]).await? else {
                return Ok(None);
            };
            let job_id: JobId = row.id("assignments.job_id")?;
            let sql = sql!(postgres_only: "SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE");
            tx.execute(sql, args![job_id]).await?;
            // Still live? (Another transaction may have ended it before we got the lock.)
            let sql = sql!(
                "UPDATE assignments SET status = 'unassigned', ended_at = now() \
                     WHERE id = $1 AND status = 'live' \
                     RETURNING id, job_id, contractor_id, audit_id, start_utc, end_utc, source"
            );
            let Some(row) = tx.fetch_optional(sql, args![id]).await? else {
                return Ok(None);
            };
            let assignment = rows::assignment(&row)?;
            let sql = sql!(
                "UPDATE jobs SET status = 'open', updated_at = now() \
                     WHERE id = $1 AND status = 'assigned'"
            );
            tx.execute(sql, args![job_id]).await?;
            let region = contractor_region(tx, assignment.contractor_id).await?;
            record_change(
                tx,
                &region,
                ChangeKind::AssignmentRemoved,
                Some(assignment.contractor_id),
                Some(job_id),
            )
            .await?;
            insert_events(tx, &events).await?;
            Ok(Some(assignment))
        })
    }

    /// The live booking of a job (its assignment with the job's place), if it has one: what a
    /// node applies for an `AssignmentMade` change record.
    pub async fn job_booking(&self, job: JobId) -> Result<Option<Booking>, StoreError> {
        let sql = sql!(
            "SELECT a.id, a.job_id, a.contractor_id, a.start_utc, a.end_utc, j.lat, j.lon \
             FROM assignments a JOIN jobs j ON j.id = a.job_id \
             WHERE a.job_id = $1 AND a.status = 'live'"
        );
        let row = self.db.fetch_optional(sql, args![job]).await?;
        row.as_ref().map(rows::booking).transpose()
    }

    /// Loads bookings in bulk, in one transaction, all or none: each `(audit, assignment)` is
    /// an audit record carrying its decision and a live assignment naming it, of a job already
    /// stored with status `assigned` (`create_jobs`). For loaders (the demo, imports) of
    /// calendars made elsewhere: the batch is checked for bookings of one contractor that
    /// overlap and jobs booked twice (`Invalid`), but not against bookings already stored
    /// (PostgreSQL's exclusion constraint still refuses an overlap). One `BulkLoaded` change
    /// record per region named.
    pub async fn load_bookings(
        &self,
        bookings: &[(AuditRecord, Assignment)],
    ) -> Result<(), StoreError> {
        if bookings.is_empty() {
            return Ok(());
        }
        check_loaded_bookings(bookings)?;
        let audits = bookings
            .iter()
            .map(|(audit, _)| AuditArgs::encode(audit))
            .collect::<Result<Vec<_>, _>>()?;
        let mut audit_rows = Vec::with_capacity(audits.len());
        for a in &audits {
            let decision = a.decision.as_deref().ok_or_else(|| {
                StoreError::Invalid(format!("loaded audit {} has no decision", a.audit.audit_id))
            })?;
            audit_rows.push(
                args![
                    a.audit.audit_id,
                    &a.audit.region,
                    a.audit.job.id,
                    i64::from(a.audit.config_version),
                    a.audit.created_at,
                    &*a.body,
                    decision,
                ]
                .to_vec(),
            );
        }
        let booking_rows: Vec<Vec<Arg<'_>>> = bookings
            .iter()
            .map(|(_, a)| {
                args![
                    a.id,
                    a.job_id,
                    a.contractor_id,
                    a.audit_id,
                    a.start_utc,
                    a.end_utc,
                    source_str(a.source),
                ]
                .to_vec()
            })
            .collect();
        let regions: std::collections::BTreeSet<&RegionId> =
            bookings.iter().map(|(audit, _)| &audit.region).collect();
        let batch_error = |what: &'static str| {
            move |(row, e): (Option<usize>, sqlx::Error)| match row {
                Some(i) => {
                    StoreError::Conflict(format!("{what} {} could not be stored: {e}", i + 1))
                }
                None => crate::error::batch_insert_error(e, what),
            }
        };
        write_tx!(&self.db, "load_bookings", |tx| {
            tx.execute_batch(&INSERT_LOADED_AUDITS, &audit_rows)
                .await
                .map_err(batch_error("audit record"))?;
            tx.execute_batch(&INSERT_LOADED_BOOKINGS, &booking_rows)
                .await
                .map_err(batch_error("booking"))?;
            for region in &regions {
                record_change(tx, region, ChangeKind::BulkLoaded, None, None).await?;
            }
            Ok(())
        })
    }

    /// A contractor's live assignments overlapping `[from, to)`, ordered by start.
    pub async fn contractor_assignments(
        &self,
        id: ContractorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let sql = sql!(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments \
             WHERE contractor_id = $1 AND status = 'live' AND start_utc < $2 AND end_utc > $3 \
             ORDER BY start_utc, id"
        );
        let found = self.db.fetch_all(sql, args![id, to, from]).await?;
        found.iter().map(rows::assignment).collect()
    }

    /// Live bookings of a region's contractors overlapping `[from, to)`, with each job's
    /// location: the bookings input of `RegionIndex::build`. Ordered by contractor, then start.
    pub async fn region_bookings(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Booking>, StoreError> {
        // By the contractor's region: a booking belongs to the contractor's calendar.
        let sql = sql!(
            "SELECT a.id, a.job_id, a.contractor_id, a.start_utc, a.end_utc, j.lat, j.lon \
             FROM assignments a \
             JOIN contractors c ON c.id = a.contractor_id \
             JOIN jobs j ON j.id = a.job_id \
             WHERE c.region_id = $1 AND a.status = 'live' AND a.start_utc < $2 AND a.end_utc > $3 \
             ORDER BY a.contractor_id, a.start_utc, a.id"
        );
        let found = self.db.fetch_all(sql, args![region, to, from]).await?;
        found.iter().map(rows::booking).collect()
    }

    /// Live bookings of a region's contractors overlapping `[from, to)`, each with its job:
    /// what a schedule board shows. Ordered by contractor, then start.
    pub async fn region_schedule(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Assignment, Job)>, StoreError> {
        let sql = sql!(
            "SELECT a.id, a.job_id, a.contractor_id, a.audit_id, a.start_utc, a.end_utc, a.source, \
             j.status, j.body \
             FROM assignments a \
             JOIN contractors c ON c.id = a.contractor_id \
             JOIN jobs j ON j.id = a.job_id \
             WHERE c.region_id = $1 AND a.status = 'live' AND a.start_utc < $2 AND a.end_utc > $3 \
             ORDER BY a.contractor_id, a.start_utc, a.id"
        );
        let found = self.db.fetch_all(sql, args![region, to, from]).await?;
        found
            .iter()
            .map(|row| Ok((rows::assignment(row)?, rows::job(row)?)))
            .collect()
    }
}

/// A loaded batch books no contractor twice at overlapping times and no job twice, and every
/// booking names its audit record.
fn check_loaded_bookings(bookings: &[(AuditRecord, Assignment)]) -> Result<(), StoreError> {
    let mut slots: Vec<(ContractorId, DateTime<Utc>, DateTime<Utc>)> =
        Vec::with_capacity(bookings.len());
    let mut jobs = std::collections::HashSet::with_capacity(bookings.len());
    for (audit, a) in bookings {
        if a.start_utc >= a.end_utc || audit.audit_id != a.audit_id || audit.job.id != a.job_id {
            return Err(StoreError::Invalid(format!(
                "booking {} must end after it starts and name its own audit record and job",
                a.id
            )));
        }
        // Their audit bodies are stored without exclusions, and the bulk insert has no
        // column for them (a loaded booking is a decision, no recommendation behind it).
        if !audit.excluded.is_empty() {
            return Err(StoreError::Invalid(format!(
                "booking {}'s audit record lists exclusions; a loaded booking's record is of its decision only",
                a.id
            )));
        }
        if !jobs.insert(a.job_id) {
            return Err(StoreError::Invalid(format!(
                "job {} is booked twice",
                a.job_id
            )));
        }
        slots.push((a.contractor_id, a.start_utc, a.end_utc));
    }
    slots.sort_unstable();
    if let Some(w) = slots
        .windows(2)
        .find(|w| w[0].0 == w[1].0 && w[1].1 < w[0].2)
    {
        return Err(StoreError::Invalid(format!(
            "contractor {} is booked twice at {}",
            w[0].0, w[1].1
        )));
    }
    Ok(())
}

/// Input checks of an assignment: they need no database.
fn check_assignment_input(assignment: &Assignment, decision: &Decision) -> Result<(), StoreError> {
    if assignment.start_utc >= assignment.end_utc {
        return Err(StoreError::Invalid(format!(
            "assignment {} ends ({}) before it starts ({})",
            assignment.id, assignment.end_utc, assignment.start_utc
        )));
    }
    if decision.assignment_id != assignment.id || decision.contractor_id != assignment.contractor_id
    {
        return Err(StoreError::Invalid(
            "the decision must name the assignment being created and its contractor".to_owned(),
        ));
    }
    Ok(())
}

/// An assignment made with its own audit record must name that record.
fn check_audit_named(audit: &AuditRecord, assignment: &Assignment) -> Result<(), StoreError> {
    if audit.audit_id != assignment.audit_id {
        return Err(StoreError::Invalid(
            "the audit record must be the one the assignment names".to_owned(),
        ));
    }
    Ok(())
}

/// Both `create_assignment`s and `move_assignment` (which `replaces` a live booking); the
/// input was checked.
async fn create_assignment(
    db: &Db,
    replaces: Option<AssignmentId>,
    new_audit: Option<&AuditRecord>,
    a: &Assignment,
    decision: &Decision,
    events: &[NewOutboxEvent],
) -> Result<(), StoreError> {
    let audit = new_audit.map(AuditArgs::encode).transpose()?;
    let decision = doc(decision, "decision")?;
    let events = encode_events(events)?;
    retrying!(db, "create_assignment", {
        let done = transaction!(db, |tx| {
            let moved_from = match replaces {
                Some(replaces) => Some(end_for_move(tx, replaces, a.job_id).await?),
                None => None,
            };
            if let Some(audit) = &audit {
                insert_audit(tx, audit).await?;
            }
            assign(tx, a, &decision, &events, moved_from).await
        });
        match done {
            // Another writer booked an overlapping slot between our check and our insert (it
            // did not take our locks; only PostgreSQL's exclusion constraint sees it). Name it,
            // in a fresh query now that the transaction is gone. Found nothing? It ended
            // meanwhile: the error goes back to the retry, which runs the whole transaction
            // again.
            Err(StoreError::Database(e)) if is_overlap_violation(&e) => {
                match db.fetch_optional(&OVERLAPPING, &overlap_args(a)).await? {
                    Some(row) => Err(AssignmentConflict::ContractorBusy {
                        conflicting: row.id("assignments.id")?,
                    }
                    .into()),
                    None => Err(StoreError::Database(e)),
                }
            }
            other => other,
        }
    })
}

/// Ends `replaces`, the live assignment of `job` being moved, and reopens the job, in the
/// move's transaction (whose `assign` then books the job again); returns the contractor it was
/// booked to.
async fn end_for_move(
    tx: &mut Tx,
    replaces: AssignmentId,
    job: JobId,
) -> Result<ContractorId, StoreError> {
    // The job's lock first (the lock order).
    let sql = sql!(postgres_only: "SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE");
    tx.execute(sql, args![job]).await?;
    let sql = sql!(
        "UPDATE assignments SET status = 'unassigned', ended_at = now() \
         WHERE id = $1 AND job_id = $2 AND status = 'live' RETURNING contractor_id"
    );
    let Some(row) = tx.fetch_optional(sql, args![replaces, job]).await? else {
        return Err(AssignmentConflict::MovedMeanwhile.into());
    };
    let moved_from: ContractorId = row.id("assignments.contractor_id")?;
    let sql = sql!(
        "UPDATE jobs SET status = 'open', updated_at = now() WHERE id = $1 AND status = 'assigned'"
    );
    tx.execute(sql, args![job]).await?;
    Ok(moved_from)
}

/// The steps of an assignment, in its transaction; `moved_from` is the contractor a moved
/// booking leaves (its change record is written with this one's).
async fn assign(
    tx: &mut Tx,
    a: &Assignment,
    decision: &RawValue,
    events: &[EncodedEvent<'_>],
    moved_from: Option<ContractorId>,
) -> Result<(), StoreError> {
    // 1. The job exists and is open (status `assigned` ⇔ it has a live assignment). On
    //    PostgreSQL its row lock queues concurrent assignments of the job; each reads the
    //    committed status after the previous one is done.
    let sql = sql!("SELECT status FROM jobs WHERE id = $1 FOR NO KEY UPDATE");
    let Some(row) = tx.fetch_optional(sql, args![a.job_id]).await? else {
        return Err(AssignmentConflict::JobNotFound.into());
    };
    match parse_job_status(&row.text("jobs.status")?)? {
        JobStatus::Open => {}
        JobStatus::Assigned => return Err(AssignmentConflict::JobAlreadyAssigned.into()),
        JobStatus::Completed | JobStatus::Cancelled => {
            return Err(AssignmentConflict::JobNotOpen.into());
        }
    }

    // 2. The contractor exists; on PostgreSQL its row lock queues concurrent bookings of the
    //    contractor, so the overlap check below sees every committed booking and none is in
    //    flight (on SQLite the write lock does that).
    let sql = sql!("SELECT region_id FROM contractors WHERE id = $1 FOR NO KEY UPDATE");
    let Some(row) = tx.fetch_optional(sql, args![a.contractor_id]).await? else {
        return Err(AssignmentConflict::ContractorNotFound.into());
    };
    let region = RegionId::new(row.text("contractors.region_id")?);

    // 3. No live assignment of the contractor overlaps [start, end). The friendly check; on
    //    PostgreSQL the exclusion constraint is the guarantee.
    if let Some(row) = tx.fetch_optional(&OVERLAPPING, &overlap_args(a)).await? {
        return Err(AssignmentConflict::ContractorBusy {
            conflicting: row.id("assignments.id")?,
        }
        .into());
    }

    // 4. The audit record the decision goes on exists.
    let sql = sql!("SELECT 1 FROM audits WHERE id = $1");
    if tx.fetch_optional(sql, args![a.audit_id]).await?.is_none() {
        return Err(AssignmentConflict::AuditNotFound.into());
    }

    // 5. Write: the assignment (the partial unique index on live job_id, and on PostgreSQL
    //    the exclusion constraint, are the backstops), the job's status, the decision, the
    //    events.
    let sql = sql!(
        "INSERT INTO assignments \
         (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'live', now())"
    );
    let args = args![
        a.id,
        a.job_id,
        a.contractor_id,
        a.audit_id,
        a.start_utc,
        a.end_utc,
        source_str(a.source),
    ];
    if let Err(e) = tx.execute(sql, args).await {
        return Err(match tx.assignment_violation(&e) {
            Some(AssignmentViolation::OneLivePerJob) => {
                AssignmentConflict::JobAlreadyAssigned.into()
            }
            Some(AssignmentViolation::DuplicateId) => {
                StoreError::Conflict(format!("assignment {} already exists", a.id))
            }
            Some(AssignmentViolation::JobMissing) => AssignmentConflict::JobNotFound.into(),
            Some(AssignmentViolation::ContractorMissing) => {
                AssignmentConflict::ContractorNotFound.into()
            }
            Some(AssignmentViolation::AuditMissing) => AssignmentConflict::AuditNotFound.into(),
            // `assignments_no_overlap` is resolved by the caller after the rollback.
            None => e.into(),
        });
    }
    let sql = sql!(
        "UPDATE jobs SET status = 'assigned', updated_at = now() \
         WHERE id = $1 AND status = 'open'"
    );
    if tx.execute(sql, args![a.job_id]).await? != 1 {
        // Cannot happen under the job's lock (checked in step 1); refuse rather than commit a
        // half-done assignment if it ever does.
        return Err(AssignmentConflict::JobAlreadyAssigned.into());
    }
    let sql = sql!("UPDATE audits SET decision = $1 WHERE id = $2");
    tx.execute(sql, args![decision, a.audit_id]).await?;
    // The change records, in region order (the lock order): the booking a move left, then
    // this one.
    let mut changes = vec![(region, ChangeKind::AssignmentMade, a.contractor_id)];
    if let Some(from) = moved_from {
        let from_region = contractor_region(tx, from).await?;
        changes.insert(0, (from_region, ChangeKind::AssignmentRemoved, from));
    }
    changes.sort_by(|x, y| x.0.cmp(&y.0));
    for (region, kind, contractor) in &changes {
        record_change(tx, region, *kind, Some(*contractor), Some(a.job_id)).await?;
    }
    insert_events(tx, events).await
}
