//! The `/status` board: per tenant, the last counts of users and groups and the last successful
//! change through the gateway, and when the gateway started. Held by the `Gateway` (shared by
//! every generation); filled by `counts` and by the operations' successful changes. Not the
//! counting itself (that is `counts`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::server::tenant::Tenant;

/// One tenant's counts; `None` is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub users_active: Option<u64>,
    pub users_inactive: Option<u64>,
    pub groups: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct TenantState {
    counts: Option<Counts>,
    /// When the counts were last attempted.
    counted_at: Option<Instant>,
    /// The last successful change through the gateway.
    last_sync: Option<OffsetDateTime>,
    changed_at: Option<Instant>,
}

/// The counts and last syncs of every tenant, and when the gateway started.
#[derive(Debug)]
pub struct StatusBoard {
    started: OffsetDateTime,
    tenants: Mutex<HashMap<String, TenantState>>,
    /// One refresh at a time.
    pub(crate) refreshing: tokio::sync::Mutex<()>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard {
            started: OffsetDateTime::now_utc(),
            tenants: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }
}

impl StatusBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantState>> {
        self.tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a successful change for `tenant` now (its `last_sync`; its counts are stale).
    pub fn touch(&self, tenant: &str) {
        let mut t = self.lock();
        let state = t.entry(tenant.to_string()).or_default();
        state.last_sync = Some(OffsetDateTime::now_utc());
        state.changed_at = Some(Instant::now());
    }

    /// Whether `tenant`'s counts need a refresh: never counted, older than `max_age`, or older
    /// than its last change.
    pub(crate) fn is_stale(&self, tenant: &str, max_age: Duration) -> bool {
        let t = self.lock();
        let Some(state) = t.get(tenant) else {
            return true;
        };
        match state.counted_at {
            None => true,
            Some(at) => at.elapsed() > max_age || state.changed_at.is_some_and(|c| c > at),
        }
    }

    pub(crate) fn store(&self, tenant: &str, counts: Option<Counts>, at: Instant) {
        let mut t = self.lock();
        let state = t.entry(tenant.to_string()).or_default();
        state.counted_at = Some(at);
        if counts.is_some() {
            state.counts = counts;
        }
    }

    /// The `/status` document for `tenants`.
    pub fn to_json(&self, tenants: &[Tenant]) -> Value {
        let t = self.lock();
        let mut out = Map::new();
        for tenant in tenants {
            let state = t.get(&tenant.name).cloned().unwrap_or_default();
            let counts = state.counts.unwrap_or_default();
            out.insert(
                tenant.name.clone(),
                json!({
                    "users_active": counts.users_active,
                    "users_inactive": counts.users_inactive,
                    "groups": counts.groups,
                    "last_sync": state.last_sync.and_then(|t| t.format(&Rfc3339).ok()),
                }),
            );
        }
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "started": self.started.format(&Rfc3339).unwrap_or_default(),
            "tenants": out,
        })
    }
}
