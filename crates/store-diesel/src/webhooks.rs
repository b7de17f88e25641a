//! [`WebhookStore`]: endpoints, their subscriptions, and the delivery queue with leases.
//!
//! Deliveries of audit events are queued by the `audit_log_queue_webhooks` trigger (see the
//! migration), inside whatever transaction appends the entry; the code here writes endpoints,
//! claims due deliveries and records tries.

use std::collections::HashMap;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{
    AuditEntry, DeliveryId, DeliveryLease, DeliveryStatus, DueDelivery, NewAuditEntry, Page, SealedSecret, TEST_EVENT,
    Timestamp, WebhookDelivery, WebhookEndpoint, WebhookId,
};
use portcullis_domain::ports::{DeliveryBacklog, EndpointChanges, StoreError, TryOutcome, WebhookStore};

use crate::DieselStore;
use crate::detached::{read_tx, with_conn, write_tx};
use crate::error::DbError;
use crate::rows::{AuditRow, DeliveryRow, EndpointRow, NewAuditRow, SubscriptionRow, status_to_db};
use crate::schema::{
    audit_log, webhook_deliveries as deliveries, webhook_endpoints as endpoints, webhook_subscriptions,
};
use crate::sql_types::{DbTime, DbUuid};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";

/// The endpoints of `rows` with their subscriptions, read on `c`.
macro_rules! with_patterns {
    ($c:expr, $rows:expr) => {
        async {
            let rows: Vec<EndpointRow> = $rows;
            let ids: Vec<DbUuid> = rows.iter().map(|r| r.id).collect();
            let subs: Vec<SubscriptionRow> = webhook_subscriptions::table
                .filter(webhook_subscriptions::webhook_id.eq_any(ids))
                .select(SubscriptionRow::as_select())
                .load($c)
                .await?;
            let mut by_endpoint: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
            for s in subs {
                by_endpoint.entry(s.webhook_id.0).or_default().push(s.pattern);
            }
            rows.into_iter()
                .map(|r| {
                    let patterns = by_endpoint.remove(&r.id.0).unwrap_or_default();
                    r.into_endpoint(patterns)
                })
                .collect::<Result<Vec<WebhookEndpoint>, DbError>>()
        }
    };
}

/// The leases in force at `now`, counted by endpoint, read on `c`.
macro_rules! leases_by_endpoint {
    ($c:expr, $now:expr) => {{
        let leased: Vec<(DbUuid, i64)> = deliveries::table
            .filter(deliveries::status.eq(PENDING))
            .filter(deliveries::locked_until.gt($now))
            .group_by(deliveries::webhook_id)
            .select((deliveries::webhook_id, diesel::dsl::count_star()))
            .load($c)
            .await?;
        leased.into_iter().map(|(id, n)| (id.0, u32::try_from(n).unwrap_or(u32::MAX))).collect::<HashMap<_, _>>()
    }};
}

/// The endpoints of `leased` holding `per_endpoint` leases or more.
fn saturated(leased: &HashMap<uuid::Uuid, u32>, per_endpoint: u32) -> Vec<DbUuid> {
    leased.iter().filter(|(_, n)| **n >= per_endpoint).map(|(id, _)| DbUuid(*id)).collect()
}

/// Pending deliveries due at `now` and not leased, of enabled endpoints (test events: of
/// any endpoint that still exists), leaving out the `saturated` endpoints.
macro_rules! due_deliveries {
    ($now:expr, $saturated:expr) => {
        deliveries::table
            .filter(deliveries::status.eq(PENDING))
            .filter(deliveries::next_attempt_at.le($now))
            .filter(deliveries::locked_until.is_null().or(deliveries::locked_until.le($now)))
            .filter(
                deliveries::webhook_id
                    .eq_any(endpoints::table.filter(endpoints::enabled.eq(true)).select(endpoints::id))
                    .or(deliveries::audit_id
                        .is_null()
                        .and(deliveries::webhook_id.eq_any(endpoints::table.select(endpoints::id)))),
            )
            .filter(deliveries::webhook_id.ne_all($saturated))
    };
}

impl WebhookStore for DieselStore {
    async fn insert_endpoint(&self, endpoint: WebhookEndpoint, audit: NewAuditEntry) -> Result<(), StoreError> {
        let row = EndpointRow::from(&endpoint);
        let subs: Vec<SubscriptionRow> =
            endpoint.events.iter().map(|p| SubscriptionRow::new(DbUuid::from(endpoint.id), p)).collect();
        let audit = NewAuditRow::try_from(&audit)?;
        write_tx!(self, |c| {
            diesel::insert_into(endpoints::table).values(&row).execute(c).await?;
            for sub in &subs {
                diesel::insert_into(webhook_subscriptions::table).values(sub).execute(c).await?;
            }
            diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            Ok(())
        })?;
        Ok(())
    }

    async fn endpoint(&self, id: WebhookId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let id = DbUuid::from(id);
        let found = read_tx!(self, |c| {
            let rows: Vec<EndpointRow> = endpoints::table.find(id).select(EndpointRow::as_select()).load(c).await?;
            with_patterns!(c, rows).await
        })?;
        Ok(found.into_iter().next())
    }

    async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        Ok(read_tx!(self, |c| {
            let rows: Vec<EndpointRow> = endpoints::table
                .order((endpoints::created_at.asc(), endpoints::id.asc()))
                .select(EndpointRow::as_select())
                .load(c)
                .await?;
            with_patterns!(c, rows).await
        })?)
    }

    async fn update_endpoint(
        &self,
        id: WebhookId,
        changes: EndpointChanges,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let id = DbUuid::from(id);
        let audit = NewAuditRow::try_from(&audit)?;
        let subs: Option<Vec<SubscriptionRow>> =
            changes.events.as_ref().map(|events| events.iter().map(|p| SubscriptionRow::new(id, p)).collect());
        let found = write_tx!(self, |c| {
            // Locks the row: two changes of one endpoint apply one after the other.
            let touched =
                diesel::update(endpoints::table.find(id)).set(endpoints::updated_at.eq(DbTime(at))).execute(c).await?;
            if touched == 0 {
                return Ok(Vec::new());
            }
            if let Some(url) = &changes.url {
                diesel::update(endpoints::table.find(id)).set(endpoints::url.eq(url.as_str())).execute(c).await?;
            }
            if let Some(description) = &changes.description {
                diesel::update(endpoints::table.find(id))
                    .set(endpoints::description.eq(description))
                    .execute(c)
                    .await?;
            }
            if let Some(enabled) = changes.enabled {
                diesel::update(endpoints::table.find(id)).set(endpoints::enabled.eq(enabled)).execute(c).await?;
                // `disabled_reason` says why the service turned it off: turning it on clears it.
                if enabled {
                    diesel::update(endpoints::table.find(id))
                        .set(endpoints::disabled_reason.eq(None::<String>))
                        .execute(c)
                        .await?;
                }
            }
            if let Some(subs) = &subs {
                diesel::delete(webhook_subscriptions::table.filter(webhook_subscriptions::webhook_id.eq(id)))
                    .execute(c)
                    .await?;
                for sub in subs {
                    diesel::insert_into(webhook_subscriptions::table).values(sub).execute(c).await?;
                }
            }
            diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            let rows: Vec<EndpointRow> = endpoints::table.find(id).select(EndpointRow::as_select()).load(c).await?;
            with_patterns!(c, rows).await
        })?;
        Ok(found.into_iter().next())
    }

    async fn rotate_secret(
        &self,
        id: WebhookId,
        secret: SealedSecret,
        previous_until: Timestamp,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let id = DbUuid::from(id);
        let audit = NewAuditRow::try_from(&audit)?;
        Ok(write_tx!(self, |c| {
            // The current secret becomes the previous one in the same statement, so of two
            // rotations racing, the second keeps the first one's secret as previous.
            let rotated = diesel::update(endpoints::table.find(id))
                .set((
                    endpoints::previous_secret.eq(endpoints::secret.nullable()),
                    endpoints::secret.eq(&secret.0),
                    endpoints::previous_secret_until.eq(Some(DbTime(previous_until))),
                    endpoints::updated_at.eq(DbTime(at)),
                ))
                .execute(c)
                .await?;
            if rotated == 0 {
                return Ok(false);
            }
            diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            Ok(true)
        })?)
    }

    async fn delete_endpoint(&self, id: WebhookId, audit: NewAuditEntry) -> Result<bool, StoreError> {
        let id = DbUuid::from(id);
        let audit = NewAuditRow::try_from(&audit)?;
        Ok(write_tx!(self, |c| {
            diesel::delete(deliveries::table.filter(deliveries::webhook_id.eq(id))).execute(c).await?;
            let deleted = diesel::delete(endpoints::table.find(id)).execute(c).await?;
            if deleted == 0 {
                return Ok(false);
            }
            diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            Ok(true)
        })?)
    }

    async fn enqueue_test(
        &self,
        id: WebhookId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let id = DbUuid::from(id);
        let audit = NewAuditRow::try_from(&audit)?;
        let row: Option<DeliveryRow> = write_tx!(self, |c| {
            let exists: i64 = endpoints::table.find(id).count().get_result(c).await?;
            if exists == 0 {
                return Ok(None);
            }
            let row: DeliveryRow = diesel::insert_into(deliveries::table)
                .values((
                    deliveries::webhook_id.eq(id),
                    deliveries::audit_id.eq(None::<i64>),
                    deliveries::event_type.eq(TEST_EVENT),
                    deliveries::status.eq(PENDING),
                    deliveries::attempts.eq(0),
                    deliveries::next_attempt_at.eq(Some(DbTime(at))),
                    deliveries::created_at.eq(DbTime(at)),
                ))
                .returning(DeliveryRow::as_returning())
                .get_result(c)
                .await?;
            diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            Ok(Some(row))
        })?;
        Ok(row.map(WebhookDelivery::try_from).transpose()?)
    }

    async fn deliveries(
        &self,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        let id = DbUuid::from(id);
        let status = status.map(DeliveryStatus::as_str);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (rows, total) = read_tx!(self, |c| {
            let filtered = || {
                let mut q = deliveries::table.filter(deliveries::webhook_id.eq(id)).into_boxed();
                if let Some(status) = status {
                    q = q.filter(deliveries::status.eq(status));
                }
                q
            };
            let rows: Vec<DeliveryRow> = filtered()
                .order(deliveries::id.desc())
                .limit(i64::from(limit))
                .offset(offset)
                .select(DeliveryRow::as_select())
                .load(c)
                .await?;
            let total: i64 = filtered().count().get_result(c).await?;
            Ok((rows, total))
        })?;
        let items = rows.into_iter().map(WebhookDelivery::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total_count: u64::try_from(total).unwrap_or(0) })
    }

    async fn retry_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        at: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let id = DbUuid::from(id);
        let audit = NewAuditRow::try_from(&audit)?;
        let rows: Vec<DeliveryRow> = write_tx!(self, |c| {
            // The lease stays: a try in flight is not doubled; the delivery is due again
            // once that try has been recorded.
            let rows: Vec<DeliveryRow> =
                diesel::update(deliveries::table.find(delivery.0).filter(deliveries::webhook_id.eq(id)))
                    .set((deliveries::status.eq(PENDING), deliveries::next_attempt_at.eq(Some(DbTime(at)))))
                    .returning(DeliveryRow::as_returning())
                    .get_results(c)
                    .await?;
            if !rows.is_empty() {
                diesel::insert_into(audit_log::table).values(&audit).execute(c).await?;
            }
            Ok(rows)
        })?;
        Ok(rows.into_iter().next().map(WebhookDelivery::try_from).transpose()?)
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
        per_endpoint: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        if limit == 0 || per_endpoint == 0 {
            return Ok(Vec::new());
        }
        let until_time = now.plus(lease);
        let until = DbTime(now.plus(lease));
        let now = DbTime(now);
        // First, without a lock: is anything claimable at all? On SQLite the claim below
        // takes the database's one write lock, and with a hung receiver's backlog of
        // thousands of pending rows to skip, taking it every poll only to find nothing
        // would stall every login's commit behind it (measured: p99 three times higher).
        let claimable = with_conn!(self, |c| {
            let leased = leases_by_endpoint!(c, now);
            let first: Option<i64> = due_deliveries!(now, saturated(&leased, per_endpoint))
                .select(deliveries::id)
                .first(c)
                .await
                .optional()?;
            Ok(first.is_some())
        })?;
        if !claimable {
            return Ok(Vec::new());
        }
        // Select and lease in one write transaction, as the mail outbox does: SQLite admits
        // one claimer at a time; PostgreSQL instances skip rows another one holds locked.
        let (rows, endpoint_list, entries) = write_tx!(self, |c, db| {
            // Endpoints already holding `per_endpoint` leases (on any instance) get no more.
            let leased = leases_by_endpoint!(c, now);
            let candidates: Vec<DeliveryRow> = db::skip_locked!(
                due_deliveries!(now, saturated(&leased, per_endpoint))
                    .order((deliveries::next_attempt_at.asc(), deliveries::id.asc()))
                    .limit(i64::from(limit))
                    .select(DeliveryRow::as_select())
            )
            .load(c)
            .await?;
            // At most `per_endpoint` leases of one endpoint, counting those in force; the rows
            // left out are only locked until this transaction ends.
            let mut taken = leased;
            let due: Vec<DeliveryRow> = candidates
                .into_iter()
                .filter(|d| {
                    let n = taken.entry(d.webhook_id.0).or_default();
                    *n += 1;
                    *n <= per_endpoint
                })
                .collect();
            if due.is_empty() {
                return Ok((due, Vec::new(), Vec::new()));
            }
            let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
            diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)))
                .set(deliveries::locked_until.eq(Some(until)))
                .execute(c)
                .await?;
            let webhook_ids: Vec<DbUuid> = due.iter().map(|d| d.webhook_id).collect();
            let endpoint_rows: Vec<EndpointRow> = endpoints::table
                .filter(endpoints::id.eq_any(webhook_ids))
                .select(EndpointRow::as_select())
                .load(c)
                .await?;
            let endpoint_list = with_patterns!(c, endpoint_rows).await?;
            let audit_ids: Vec<i64> = due.iter().filter_map(|d| d.audit_id).collect();
            let entries: Vec<AuditRow> =
                audit_log::table.filter(audit_log::id.eq_any(audit_ids)).select(AuditRow::as_select()).load(c).await?;
            Ok((due, endpoint_list, entries))
        })?;
        let entries: HashMap<i64, AuditEntry> =
            entries.into_iter().map(|r| AuditEntry::try_from(r).map(|e| (e.id, e))).collect::<Result<_, DbError>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let delivery = WebhookDelivery::try_from(row)?;
            let Some(endpoint) = endpoint_list.iter().find(|e| e.id == delivery.webhook_id).cloned() else { continue };
            let entry = delivery.audit_id.and_then(|a| entries.get(&a).cloned());
            let lease = DeliveryLease { id: delivery.id, until: until_time };
            out.push(DueDelivery { lease, delivery, endpoint, entry });
        }
        Ok(out)
    }

    async fn record_try(&self, lease: &DeliveryLease, outcome: TryOutcome, at: Timestamp) -> Result<bool, StoreError> {
        let at = DbTime(at);
        let (id, until) = (lease.id.0, DbTime(lease.until));
        Ok(write_tx!(self, |c| {
            // Only while the lease is this claim's: a try that outlived it changes nothing.
            let row = deliveries::table.find(id).filter(deliveries::locked_until.eq(Some(until)));
            let attempts = deliveries::attempts.eq(deliveries::attempts + 1);
            let unlocked = deliveries::locked_until.eq(None::<DbTime>);
            // A try without an answer (a timeout) keeps the last answered try's code; set
            // first, while the lease still identifies the row.
            let status = match &outcome {
                TryOutcome::Delivered { status } => Some(*status),
                TryOutcome::Retry { status, .. } | TryOutcome::GiveUp { status, .. } => *status,
            };
            if let Some(status) = status {
                diesel::update(row).set(deliveries::last_status_code.eq(status_to_db(Some(status)))).execute(c).await?;
            }
            let recorded = match &outcome {
                TryOutcome::Delivered { .. } => {
                    diesel::update(row)
                        .set((
                            attempts,
                            unlocked,
                            deliveries::status.eq(DELIVERED),
                            deliveries::last_error.eq(None::<String>),
                            deliveries::next_attempt_at.eq(None::<DbTime>),
                            deliveries::delivered_at.eq(Some(at)),
                        ))
                        .execute(c)
                        .await?
                }
                TryOutcome::Retry { error, next_attempt_at, .. } => {
                    diesel::update(row)
                        .set((
                            attempts,
                            unlocked,
                            deliveries::last_error.eq(Some(error)),
                            deliveries::next_attempt_at.eq(Some(DbTime(*next_attempt_at))),
                        ))
                        .execute(c)
                        .await?
                }
                TryOutcome::GiveUp { error, disable_endpoint, .. } => {
                    let webhook: Vec<DbUuid> = diesel::update(row)
                        .set((
                            attempts,
                            unlocked,
                            deliveries::status.eq(FAILED),
                            deliveries::last_error.eq(Some(error)),
                            deliveries::next_attempt_at.eq(None::<DbTime>),
                        ))
                        .returning(deliveries::webhook_id)
                        .get_results(c)
                        .await?;
                    if *disable_endpoint && let Some(webhook) = webhook.as_slice().first().copied() {
                        diesel::update(endpoints::table.find(webhook))
                            .set((
                                endpoints::enabled.eq(false),
                                endpoints::disabled_reason.eq(Some("gone")),
                                endpoints::updated_at.eq(at),
                            ))
                            .execute(c)
                            .await?;
                    }
                    webhook.len()
                }
            };
            Ok(recorded > 0)
        })?)
    }

    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = DbTime(before);
        let n = with_conn!(self, |c| {
            let old = diesel::delete(
                deliveries::table.filter(deliveries::status.eq(DELIVERED)).filter(deliveries::delivered_at.lt(before)),
            )
            .execute(c)
            .await?;
            // A delivery queued by a commit that raced the removal of its endpoint.
            let orphans = diesel::delete(
                deliveries::table.filter(deliveries::webhook_id.ne_all(endpoints::table.select(endpoints::id))),
            )
            .execute(c)
            .await?;
            Ok(old + orphans)
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        let (pending, oldest, failed) = read_tx!(self, |c| {
            let enabled = endpoints::table.filter(endpoints::enabled.eq(true)).select(endpoints::id);
            let pending_rows =
                deliveries::table.filter(deliveries::status.eq(PENDING)).filter(deliveries::webhook_id.eq_any(enabled));
            let pending: i64 = pending_rows.count().get_result(c).await?;
            let oldest: Option<DbTime> = pending_rows
                .order(deliveries::created_at.asc())
                .select(deliveries::created_at)
                .first(c)
                .await
                .optional()?;
            let failed: i64 = deliveries::table.filter(deliveries::status.eq(FAILED)).count().get_result(c).await?;
            Ok((pending, oldest, failed))
        })?;
        Ok(DeliveryBacklog {
            pending: u64::try_from(pending).unwrap_or(0),
            oldest_pending_since: oldest.map(Into::into),
            failed: u64::try_from(failed).unwrap_or(0),
        })
    }
}
