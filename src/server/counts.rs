//! Counts for billing and "sync status" pages: per tenant, the active and inactive users and
//! the groups provisioned in the legacy API, and the time of the tenant's last successful change
//! through the gateway (`last_sync`). Served by the admin listener's `/status` and as the
//! `provisioned_users` / `provisioned_groups` gauges.
//!
//! How a count is made — the cheapest honest way the mapping allows, never on a SCIM request's
//! path (a background task every `admin.counts_interval_seconds`, and `/status` when stale):
//! - **users**: when the legacy list leaves out the records marked deleted (no deleted marker,
//!   or `listed: false`), is paged and reports a total, and `active eq true` is pushed down
//!   completely and exactly to the legacy API: two calls with a page of 1 (all users, active
//!   users); inactive = all − active. Otherwise one bounded scan of the list (at most the
//!   mapping's `scan_limit` records, users carrying the deleted marker left out, `active` read
//!   through the mapping; a user without `active` counts as active). More records than
//!   `scan_limit`, list items that lack `active` (`carries:`), or items that lack the deleted
//!   marker's field where deleted records are listed: the count is unknown (`null`, no gauge)
//!   rather than wrong.
//! - **groups**: one call with a page of 1 when the list reports a total, is paged and leaves
//!   out deleted groups; otherwise the same bounded scan. No groups mapped: 0.
//!
//! A failed count keeps the previous one. Counts are stale when older than the interval or
//! than the tenant's last change.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use serde_json::Value;

use crate::mapping::{Pagination, QueryParam, ResourceMapping};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::{ScimError, ScimType};
use crate::server::context::Ctx;
use crate::server::gateway::Gateway;
use crate::server::legacy;
use crate::server::record::RequestRecord;
use crate::server::reload::Live;
use crate::server::status::Counts;
use crate::server::tenant::Tenant;

/// How old counts may be when `counts_interval_seconds` is 0 (no background refresh).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// The longest counts may be kept, from the configuration.
pub fn max_age(gw: &Gateway) -> Duration {
    match gw.config.admin.counts_interval_seconds {
        0 => DEFAULT_MAX_AGE,
        s => Duration::from_secs(s),
    }
}

/// Counts every tenant whose counts are stale (all of them with `force`), one refresh at a
/// time, and publishes them as gauges.
pub async fn refresh(gw: &Gateway, force: bool) {
    let _one = gw.status.refreshing.lock().await;
    let max_age = max_age(gw);
    for tenant in gw.tenants() {
        if !force && !gw.status.is_stale(&tenant.name, max_age) {
            continue;
        }
        let at = Instant::now();
        match count_tenant(gw, &tenant).await {
            Ok(c) => {
                gw.metrics.set_provisioned(
                    &tenant.name,
                    c.users_active,
                    c.users_inactive,
                    c.groups,
                );
                gw.status.store(&tenant.name, Some(c), at);
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, status = e.status, detail = %e.detail, "counting the tenant's users and groups failed; the previous counts are kept");
                gw.status.store(&tenant.name, None, at);
            }
        }
    }
}

/// Counts `tenant`'s users and groups through the mapping.
pub async fn count_tenant(gw: &Gateway, tenant: &Tenant) -> Result<Counts, ScimError> {
    let record = RequestRecord::default();
    let request_id = format!("counts-{}", crate::server::observe::random_id().simple());
    let cx = Ctx {
        gw,
        tenant,
        request_id: &request_id,
        record: &record,
    };
    let users = &gw.mapping.users;
    let (users_active, users_inactive) = match plan(users, true) {
        Plan::Totals { active } => {
            let all = total(&cx, users, &[]).await?;
            let active = total(&cx, users, &active).await?;
            match (all, active) {
                (Some(all), Some(active)) => (Some(active), Some(all.saturating_sub(active))),
                _ => scan_users(&cx, users).await?,
            }
        }
        Plan::Scan => scan_users(&cx, users).await?,
    };
    let groups = match &gw.mapping.groups {
        None => Some(0),
        Some(g) => {
            let r = &g.resource;
            let counted = match plan(r, false) {
                Plan::Totals { .. } => total(&cx, r, &[]).await?,
                Plan::Scan => None,
            };
            match counted {
                Some(n) => Some(n),
                None => scan(&cx, r, |_| ()).await?.map(|kept| kept.len() as u64),
            }
        }
    };
    Ok(Counts {
        users_active,
        users_inactive,
        groups,
    })
}

/// How a resource is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// From the totals of the list endpoint (a page of 1): all records, and (for users) the
    /// records that the `active` parameters select.
    Totals { active: Vec<QueryParam<'static>> },
    /// A bounded scan of the list.
    Scan,
}

/// The cheapest honest way to count `r` (see the module documentation); `users` asks for the
/// active ones too.
fn plan(r: &ResourceMapping, users: bool) -> Plan {
    let list = &r.endpoints.list;
    if r.lists_deleted() || list.total.is_none() || list.pagination == Pagination::None {
        return Plan::Scan;
    }
    if !users {
        return Plan::Totals { active: Vec::new() };
    }
    let active = Filter::Compare {
        path: AttrPath::new("active"),
        op: CompareOp::Eq,
        value: CompValue::Bool(true),
    };
    let pushdown = r.pushdown(&active);
    if pushdown.complete && pushdown.exact && !pushdown.params.is_empty() {
        Plan::Totals {
            active: pushdown.into_owned().params,
        }
    } else {
        Plan::Scan
    }
}

/// The total of the list filtered by `params`, from one page of 1 (`None` when the answer
/// carries no total).
async fn total(
    cx: &Ctx<'_>,
    r: &ResourceMapping,
    params: &[QueryParam<'_>],
) -> Result<Option<u64>, ScimError> {
    let list = &r.endpoints.list;
    let call = legacy::ListCall::of(list, params);
    Ok(legacy::fetch_page::<Value>(cx, r, &call, 0, 1, None)
        .await?
        .total)
}

/// Every record of `r` that is not marked deleted, each reduced by `read` as its legacy page
/// arrives (a count never holds more than one page of records), up to `r`'s `scan_limit`;
/// `None` beyond it, or when a list item cannot tell whether its record was deleted (a count
/// reads no record on its own).
async fn scan<T>(
    cx: &Ctx<'_>,
    r: &ResourceMapping,
    mut read: impl FnMut(&Value) -> T,
) -> Result<Option<Vec<T>>, ScimError> {
    let list = &r.endpoints.list;
    let mut told = true;
    let kept = legacy::fetch_all(cx, r, list, &[], r.scan_limit as u64, |item| {
        told &= !r.deletion_unknown(&item);
        Ok((!r.is_deleted(&item)).then(|| read(&item)))
    });
    match kept.await {
        Ok(_) if !told => Ok(None),
        Ok(kept) => Ok(Some(kept.into_iter().flatten().collect())),
        Err(e) if e.scim_type == Some(ScimType::TooMany) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Active and inactive users from a bounded scan; a user without `active` counts as active.
async fn scan_users(
    cx: &Ctx<'_>,
    users: &ResourceMapping,
) -> Result<(Option<u64>, Option<u64>), ScimError> {
    let is_active = |item: &Value| {
        users
            .to_scim(item)
            .ok()
            .and_then(|u| u.get("active").and_then(Value::as_bool))
            .unwrap_or(true)
    };
    let maps_active = users
        .attribute_paths()
        .iter()
        .any(|p| p.schema.is_none() && p.name.eq_ignore_ascii_case("active"));
    if maps_active && !users.endpoints.list.carries(&AttrPath::new("active")) {
        return Ok((None, None));
    }
    let Some(active) = scan(cx, users, is_active).await? else {
        return Ok((None, None));
    };
    let all = active.len() as u64;
    let active = active.into_iter().filter(|a| *a).count() as u64;
    Ok((Some(active), Some(all - active)))
}

/// The background task that refreshes the counts every `counts_interval_seconds`.
pub struct CountsTask {
    /// The running gateway: each refresh counts with its current generation.
    pub gateway: Live,
}

#[async_trait]
impl BackgroundService for CountsTask {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let every =
            Duration::from_secs(self.gateway.current().config.admin.counts_interval_seconds);
        if every.is_zero() {
            return;
        }
        loop {
            refresh(&self.gateway.current(), false).await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::load_str;
    use crate::server::status::StatusBoard;
    use serde_json::json;

    fn users(extra: &str, total: bool) -> ResourceMapping {
        let total = if total {
            "\n      total: { body: $.meta.total }"
        } else {
            ""
        };
        let yaml = format!(
            r#"
name: t
backend: {{ base_url: "http://127.0.0.1:9" }}
users:
  id: $.id
  endpoints:
    create: {{ method: POST, path: /users }}
    get: {{ method: GET, path: "/users/{{id}}" }}
    update: {{ method: PUT, path: "/users/{{id}}" }}
    list:
      method: GET
      path: /users
      items: $.data{total}
      pagination: {{ style: offset, offset_param: offset, limit_param: limit, max_page_size: 50 }}
  attributes:
    - {{ scim: userName, legacy: $.login }}
    - scim: active
      legacy: $.status
      values:
        - {{ scim: true, legacy: enabled }}
        - {{ scim: false, legacy: disabled }}
  filters:
    - {{ scim: userName, op: eq, param: login }}
{extra}
"#
        );
        load_str("t.yaml", &yaml).unwrap().users
    }

    #[test]
    fn totals_when_the_legacy_api_can_count_active_users() {
        let r = users("    - { scim: active, op: eq, param: status }", true);
        assert_eq!(
            plan(&r, true),
            Plan::Totals {
                active: vec![("status".into(), "enabled".into())]
            }
        );
        assert_eq!(plan(&r, false), Plan::Totals { active: vec![] });
    }

    #[test]
    fn a_scan_when_active_cannot_be_pushed_down() {
        let r = users("", true);
        assert_eq!(plan(&r, true), Plan::Scan);
        assert_eq!(
            plan(&r, false),
            Plan::Totals { active: vec![] },
            "groups need no active"
        );
    }

    #[test]
    fn a_scan_without_a_total() {
        let r = users("    - { scim: active, op: eq, param: status }", false);
        assert_eq!(plan(&r, true), Plan::Scan);
        assert_eq!(plan(&r, false), Plan::Scan);
    }

    #[test]
    fn a_scan_when_deleted_records_stay_in_the_list() {
        let r = users(
            "    - { scim: active, op: eq, param: status }\n  deleted: { legacy: $.status, value: archived }",
            true,
        );
        assert_eq!(
            plan(&r, true),
            Plan::Scan,
            "the total would count deleted users"
        );
    }

    #[test]
    fn totals_when_deleted_records_are_not_listed_and_the_list_pages() {
        let mut r = users(
            "    - { scim: active, op: eq, param: status }\n  deleted: { legacy: $.status, value: archived }",
            true,
        );
        if let Some(m) = r.plan.deleted.as_mut() {
            m.listed = false;
        }
        assert_eq!(
            plan(&r, true),
            Plan::Totals {
                active: vec![("status".into(), "enabled".into())]
            },
            "the list leaves deleted users out"
        );
        r.endpoints.list.pagination = Pagination::None;
        assert_eq!(plan(&r, true), Plan::Scan, "an unpaged list is counted");
    }

    #[test]
    fn a_scan_when_active_is_passed_down_loosely() {
        let mut r = users("    - { scim: active, op: eq, param: status }", true);
        if let Some(rule) = r.plan.filters.iter_mut().find(|f| f.param == "status") {
            rule.exact = false;
        }
        assert_eq!(plan(&r, true), Plan::Scan);
        assert_eq!(plan(&r, false), Plan::Totals { active: vec![] });
    }

    #[test]
    fn the_shipped_mappings_count_by_scan_and_totals() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let acme = crate::mapping::load_file(&root.join("mappings/acme-hr.yaml")).unwrap();
        assert_eq!(plan(&acme.users, true), Plan::Scan);
        assert_eq!(
            plan(&acme.groups.unwrap().resource, false),
            Plan::Totals { active: vec![] }
        );
    }

    #[test]
    fn counts_are_stale_until_counted_and_after_a_change() {
        let b = StatusBoard::default();
        let t = Tenant::default_tenant();
        let t = t.name.as_str();
        let age = Duration::from_secs(60);
        assert!(b.is_stale(t, age));
        let counts = Counts {
            users_active: Some(2),
            users_inactive: Some(1),
            groups: Some(0),
        };
        b.store(t, Some(counts), Instant::now());
        assert!(!b.is_stale(t, age));
        assert!(b.is_stale(t, Duration::ZERO));
        std::thread::sleep(Duration::from_millis(2));
        b.touch(t);
        assert!(b.is_stale(t, age), "a change makes the counts stale");
        b.store(t, None, Instant::now());
        let doc = b.to_json(&[Tenant::default_tenant()]);
        assert_eq!(
            doc["tenants"][t]["users_active"], 2,
            "a failed count keeps the last"
        );
        assert!(doc["tenants"][t]["last_sync"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn an_uncounted_tenant_shows_nulls() {
        let b = StatusBoard::default();
        let doc = b.to_json(&[Tenant::default_tenant()]);
        assert_eq!(
            doc["tenants"]["default"],
            json!({"users_active": null, "users_inactive": null, "groups": null, "last_sync": null})
        );
    }
}
