//! Plans of a region's backlog: the request and its result, the running node's heartbeat,
//! cancelling, failing plans whose node died, and claiming an apply so it runs once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_core::{Job, PlanId, RegionId};

use crate::Store;
use crate::db::{Arg, args, doc, write_tx};
use crate::error::StoreError;
use crate::rows::{self, plan_status};
use crate::sql::sql;
use crate::types::{PlanApplication, PlanApplyClaim, PlanProgress, PlanRecord, PlanStatus};

impl Store {
    /// Stores a new plan (normally `running`); a duplicate id is `Conflict`.
    pub async fn create_plan(&self, plan: &PlanRecord) -> Result<(), StoreError> {
        let body = doc(plan, "plan")?;
        let progress = doc(&plan.progress, "plan progress")?;
        let sql = sql!(
            "INSERT INTO plans (id, region_id, status, error, created_at, updated_at, progress, body) \
             VALUES ($1, $2, $3, $4, $5, now(), $6, $7)"
        );
        let args = args![
            plan.plan_id,
            &plan.region,
            plan.status.as_str(),
            plan.error.as_deref(),
            plan.created_at,
            &*progress,
            &*body,
        ];
        self.db
            .write_one("create_plan", sql, args, |e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Conflict(format!("plan {} exists already", plan.plan_id))
                }
                _ => e.into(),
            })
            .await
            .map(|_| ())
    }

    /// A plan by id.
    pub async fn plan(&self, id: PlanId) -> Result<Option<PlanRecord>, StoreError> {
        let sql =
            sql!("SELECT status, error, progress, application, body FROM plans WHERE id = $1");
        let row = self.db.fetch_optional(sql, args![id]).await?;
        row.as_ref().map(rows::plan).transpose()
    }

    /// The running node's heartbeat with the search's progress. `false` when the plan is no
    /// longer running (cancelled, or failed by a sweep): the search should stop.
    pub async fn plan_progress(
        &self,
        id: PlanId,
        progress: &PlanProgress,
    ) -> Result<bool, StoreError> {
        let progress = doc(progress, "plan progress")?;
        let sql = sql!(
            "UPDATE plans SET progress = $1, updated_at = now() \
             WHERE id = $2 AND status = 'running'"
        );
        let changed = self
            .db
            .write_one(
                "plan_progress",
                sql,
                args![&*progress, id],
                StoreError::from,
            )
            .await?;
        Ok(changed == 1)
    }

    /// Stores a plan's end: `plan` whole, with the status it ended in (`ready`, `failed`, or
    /// `cancelled` when its search was stopped). A plan cancelled or failed by someone else
    /// meanwhile keeps that status (its result is stored all the same). Answers the status
    /// the plan has now, `None` when there is no such plan.
    pub async fn finish_plan(&self, plan: &PlanRecord) -> Result<Option<PlanStatus>, StoreError> {
        let body = doc(plan, "plan")?;
        let progress = doc(&plan.progress, "plan progress")?;
        write_tx!(&self.db, "finish_plan", |tx| {
            let sql = sql!(
                "UPDATE plans SET status = $1, error = $2, progress = $3, body = $4, \
                     updated_at = now() WHERE id = $5 AND status = 'running'"
            );
            let args = args![
                plan.status.as_str(),
                plan.error.as_deref(),
                &*progress,
                &*body,
                plan.plan_id,
            ];
            if tx.execute(sql, args).await? == 0 {
                // Ended by someone else: keep their status, store the result.
                let sql = sql!(
                    "UPDATE plans SET progress = $1, body = $2, updated_at = now() WHERE id = $3"
                );
                tx.execute(sql, args![&*progress, &*body, plan.plan_id])
                    .await?;
            }
            let sql = sql!("SELECT status FROM plans WHERE id = $1");
            tx.fetch_optional(sql, args![plan.plan_id])
                .await?
                .map(|row| plan_status(&row.text("plans.status")?))
                .transpose()
        })
    }

    /// Cancels a running plan (its search stops at its next heartbeat) or discards a ready
    /// one. Answers the status the plan has now — `cancelled`, or the status that cannot be
    /// cancelled (`failed`, `applied`) — or `None` when there is no such plan.
    pub async fn cancel_plan(&self, id: PlanId) -> Result<Option<PlanStatus>, StoreError> {
        write_tx!(&self.db, "cancel_plan", |tx| {
            let sql = sql!(
                "UPDATE plans SET status = 'cancelled', updated_at = now() \
                     WHERE id = $1 AND status IN ('running', 'ready') AND apply_claimed_at IS NULL"
            );
            tx.execute(sql, args![id]).await?;
            let sql = sql!("SELECT status FROM plans WHERE id = $1");
            tx.fetch_optional(sql, args![id])
                .await?
                .map(|row| plan_status(&row.text("plans.status")?))
                .transpose()
        })
    }

    /// Fails every running plan whose heartbeat is older than `stale`: its node died (or lost
    /// the database) mid-search. Answers how many.
    pub async fn fail_stale_plans(&self, stale: Duration) -> Result<u64, StoreError> {
        let sql = sql!(
            with_sqlite:
            "UPDATE plans SET status = 'failed', error = $1, updated_at = now() \
             WHERE status = 'running' AND updated_at < now() - make_interval(secs => $2)",
            "UPDATE plans SET status = 'failed', error = $1, updated_at = now() \
             WHERE status = 'running' AND updated_at <= $2"
        );
        let error = "the node planning it stopped before the search ended; plan again";
        self.db
            .write_one(
                "fail_stale_plans",
                sql,
                &[error.into(), Arg::Ago(stale)],
                StoreError::from,
            )
            .await
    }

    /// Begins applying a ready plan, once: see [`PlanApplyClaim`]. A claim older than `stale`
    /// was left by a node that died mid-apply and is taken over.
    pub async fn claim_plan_apply(
        &self,
        id: PlanId,
        stale: Duration,
    ) -> Result<PlanApplyClaim, StoreError> {
        write_tx!(&self.db, "claim_plan_apply", |tx| {
            let sql = sql!(
                with_sqlite:
                "SELECT status, error, progress, application, body, \
                 apply_claimed_at IS NOT NULL \
                 AND apply_claimed_at >= now() - make_interval(secs => $2) AS claimed \
                 FROM plans WHERE id = $1 FOR UPDATE",
                "SELECT status, error, progress, application, body, \
                 apply_claimed_at IS NOT NULL AND apply_claimed_at > $2 AS claimed \
                 FROM plans WHERE id = $1"
            );
            let Some(row) = tx
                .fetch_optional(sql, &[id.into(), Arg::Ago(stale)])
                .await?
            else {
                return Ok(PlanApplyClaim::Missing);
            };
            let plan = rows::plan(&row)?;
            match plan.status {
                PlanStatus::Applied => return Ok(PlanApplyClaim::Applied(Box::new(plan))),
                PlanStatus::Ready => {}
                other => return Ok(PlanApplyClaim::NotReady(other)),
            }
            if row.boolean("plans.claimed")? {
                return Ok(PlanApplyClaim::InProgress);
            }
            let sql = sql!("UPDATE plans SET apply_claimed_at = now() WHERE id = $1");
            tx.execute(sql, args![id]).await?;
            Ok(PlanApplyClaim::Claimed(Box::new(plan)))
        })
    }

    /// Records what applying the plan did and marks it `applied`, ending the claim.
    pub async fn finish_plan_apply(
        &self,
        id: PlanId,
        application: &PlanApplication,
    ) -> Result<(), StoreError> {
        let application = doc(application, "plan application")?;
        let sql = sql!(
            "UPDATE plans SET status = 'applied', application = $1, apply_claimed_at = NULL, \
             updated_at = now() WHERE id = $2"
        );
        self.db
            .write_one(
                "finish_plan_apply",
                sql,
                args![&*application, id],
                StoreError::from,
            )
            .await
            .map(|_| ())
    }

    /// Ends an apply that could not finish (the store failed mid-way), so a retry may claim
    /// the plan again at once; what it booked stays booked, and the retry recognises it.
    pub async fn abandon_plan_apply(&self, id: PlanId) -> Result<(), StoreError> {
        let sql = sql!("UPDATE plans SET apply_claimed_at = NULL WHERE id = $1");
        self.db
            .write_one("abandon_plan_apply", sql, args![id], StoreError::from)
            .await
            .map(|_| ())
    }

    /// The region's open jobs whose window overlaps `[from, to)`, by window start then id; at
    /// most `limit`.
    pub async fn open_jobs_between(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = sql!(
            "SELECT status, body FROM jobs WHERE region_id = $1 AND status = 'open' \
             AND window_end_utc > $2 AND window_start_utc < $3 \
             ORDER BY window_start_utc, id LIMIT $4"
        );
        let found = self
            .db
            .fetch_all(sql, args![region, from, to, i64::from(limit)])
            .await?;
        found.iter().map(rows::job).collect()
    }
}
