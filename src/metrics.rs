//! The gateway's Prometheus metrics: one private registry (every name prefixed
//! `scim_gateway_`), held by the gateway's shared state (`server::gateway`) and rendered in
//! the text format by the admin listener's `/metrics`. Names and labels are those documented in
//! `docs/operator.md` ("Metrics"). Takes plain labels: imports nothing of `server` (the callers
//! derive the labels of a route or a failed legacy call).
//!
//! Labels carry only bounded, non-personal values: tenant names, resource and operation names,
//! HTTP status codes, the mapping's endpoint names, fixed reasons. Never a user name, an email,
//! an id, a token or a path.
//!
//! Not here: where the values come from (the SCIM app, the legacy calls, the counts task each
//! call the recording methods below) and the HTTP side of `/metrics` (`server::admin`).

use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::cache::CacheStats;

/// The prefix of every metric name (`scim_gateway_scim_requests_total`).
pub(crate) const PREFIX: &str = "scim_gateway";

/// Histogram buckets for latencies from 0.5 ms to 10 s, in seconds.
pub(crate) const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The tenant label of a request refused before a tenant was known (authentication failed).
pub(crate) const NO_TENANT: &str = "none";

/// Why a request was refused by authentication: the `reason` label of `auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No credentials, or not `Authorization: Bearer <token>`.
    Missing,
    /// A token or key the gateway does not know (or a revoked key).
    UnknownKey,
    /// A key past its `expires`.
    Expired,
    /// A key without the scope the operation needs.
    Scope,
    /// A key used on another tenant's URL.
    Tenant,
}

impl AuthFailure {
    pub(crate) const ALL: [AuthFailure; 5] = [
        AuthFailure::Missing,
        AuthFailure::UnknownKey,
        AuthFailure::Expired,
        AuthFailure::Scope,
        AuthFailure::Tenant,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::Expired => "expired",
            AuthFailure::Scope => "scope",
            AuthFailure::Tenant => "tenant",
        }
    }
}

/// The `outcome` labels of `backend_token_fetches_total` (the backend's `TokenFetch`).
pub(crate) const TOKEN_FETCH_OUTCOMES: [&str; 3] = ["fetched", "refused", "failed"];

/// The `listener` labels of the connection metrics.
pub(crate) const LISTENERS: [&str; 2] = ["scim", "admin"];

/// The `reason` labels of `connections_refused_total` (the hosting crate's refusals).
pub(crate) const CONNECTION_REFUSALS: [&str; 4] = [
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "max_connections",
];

/// The labels of a request that was never routed (an unknown path or method).
pub(crate) const UNROUTED: (&str, &str) = ("none", "none");

/// Every metric of the gateway, in one registry.
pub struct Metrics {
    registry: Registry,
    scim_requests: IntCounterVec,
    scim_duration: HistogramVec,
    in_flight: IntGauge,
    backend_requests: IntCounterVec,
    backend_duration: HistogramVec,
    cache_hits: IntCounterVec,
    cache_misses: IntCounterVec,
    /// The cache's own counters at the last scrape (they are copied into ours at each one).
    cache_seen: Mutex<CacheStats>,
    auth_failures: IntCounterVec,
    provisioned_users: IntGaugeVec,
    provisioned_groups: IntGaugeVec,
    config_reloads: IntCounterVec,
    backend_circuit_open: IntGaugeVec,
    rate_limited: IntCounterVec,
    backend_retries: IntCounterVec,
    backend_queue_depth: IntGauge,
    token_fetches: IntCounterVec,
    store_operations: IntCounterVec,
    store_duration: HistogramVec,
    connections_refused: IntCounterVec,
    connections_open: IntGaugeVec,
    requests_bounded: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Builds and registers one metric. The definitions are static: a failure is a bug (a name
/// registered twice, a malformed name), caught by this module's tests.
fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("a static metric definition is valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some(PREFIX.into()), None).expect("the prefix is a valid name");
        let r = &registry;
        let latency = |name: &str, help: &str| {
            HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec())
        };
        let m = Metrics {
            scim_requests: register(
                r,
                IntCounterVec::new(
                    Opts::new("scim_requests_total", "SCIM requests answered, by tenant, resource, operation and HTTP status."),
                    &["tenant", "resource", "operation", "status"],
                ),
            ),
            scim_duration: register(
                r,
                HistogramVec::new(
                    latency("scim_request_duration_seconds", "Time to answer a SCIM request, from its head to its response."),
                    &["resource", "operation"],
                ),
            ),
            in_flight: register(
                r,
                IntGauge::new("scim_requests_in_flight", "SCIM requests being answered now."),
            ),
            backend_requests: register(
                r,
                IntCounterVec::new(
                    Opts::new("backend_requests_total", "Calls to the legacy API, by the mapping's endpoint name and HTTP status (or timeout, unreachable, error)."),
                    &["endpoint", "status"],
                ),
            ),
            backend_duration: register(
                r,
                HistogramVec::new(
                    latency("backend_request_duration_seconds", "Time of one call to the legacy API."),
                    &["endpoint"],
                ),
            ),
            cache_hits: register(
                r,
                IntCounterVec::new(
                    Opts::new("cache_hits_total", "Look-ups answered by a cache."),
                    &["cache"],
                ),
            ),
            cache_misses: register(
                r,
                IntCounterVec::new(
                    Opts::new("cache_misses_total", "Look-ups a cache could not answer (loaded from the legacy API)."),
                    &["cache"],
                ),
            ),
            cache_seen: Mutex::new(CacheStats::default()),
            auth_failures: register(
                r,
                IntCounterVec::new(
                    Opts::new("auth_failures_total", "SCIM requests refused by authentication, by reason."),
                    &["reason"],
                ),
            ),
            provisioned_users: register(
                r,
                IntGaugeVec::new(
                    Opts::new("provisioned_users", "Users provisioned in the legacy API, per tenant and state (absent while unknown)."),
                    &["tenant", "state"],
                ),
            ),
            provisioned_groups: register(
                r,
                IntGaugeVec::new(
                    Opts::new("provisioned_groups", "Groups provisioned in the legacy API, per tenant (absent while unknown)."),
                    &["tenant"],
                ),
            ),
            config_reloads: register(
                r,
                IntCounterVec::new(
                    Opts::new("config_reloads_total", "Configuration reloads, by outcome."),
                    &["outcome"],
                ),
            ),
            backend_circuit_open: register(
                r,
                IntGaugeVec::new(
                    Opts::new("backend_circuit_open", "1 while the circuit to the legacy API is open (calls refused with 503, or one trial call under way), 0 while closed; backend: the mapping's name."),
                    &["backend"],
                ),
            ),
            rate_limited: register(
                r,
                IntCounterVec::new(
                    Opts::new("rate_limited_total", "SCIM requests answered 429 by the gateway's per-tenant rate limit."),
                    &["tenant"],
                ),
            ),
            backend_retries: register(
                r,
                IntCounterVec::new(
                    Opts::new("backend_retries_total", "Idempotent calls to the legacy API sent again after a failure, by the mapping's endpoint name."),
                    &["endpoint"],
                ),
            ),
            backend_queue_depth: register(
                r,
                IntGauge::new("backend_queue_depth", "Calls to the legacy API waiting for a free slot (backend.max_concurrency)."),
            ),
            token_fetches: register(
                r,
                IntCounterVec::new(
                    Opts::new("backend_token_fetches_total", "Requests for an OAuth 2.0 access token to the legacy API's token endpoint (backend.auth.oauth2), by outcome: fetched, refused (the client credentials), failed (unreachable, an error status, no token)."),
                    &["outcome"],
                ),
            ),
            store_operations: register(
                r,
                IntCounterVec::new(
                    Opts::new("store_operations_total", "Operations on the group store (src/store), by operation (create, get, list, members, add_members, ...) and outcome: ok, unavailable, conflict, stale, not_found, corrupt."),
                    &["operation", "outcome"],
                ),
            ),
            store_duration: register(
                r,
                HistogramVec::new(
                    latency("store_operation_seconds", "Latency of the group store's operations, by operation, whatever their outcome."),
                    &["operation"],
                ),
            ),
            connections_refused: register(
                r,
                IntCounterVec::new(
                    Opts::new("connections_refused_total", "Connections a listener (scim, admin) closed on its own, by reason: header_timeout, body_timeout (a client too slow to send its request), idle_timeout (a kept-alive connection without a new request), max_connections (answered 503: the listener was full)."),
                    &["listener", "reason"],
                ),
            ),
            connections_open: register(
                r,
                IntGaugeVec::new(
                    Opts::new("connections_open", "Connections open now, per listener (scim, admin)."),
                    &["listener"],
                ),
            ),
            requests_bounded: register(
                r,
                IntCounterVec::new(
                    Opts::new("scim_requests_bounded_total", "SCIM requests ended by a bound of one request, by tenant and bound: member_changes ([scim] max_member_changes, 400 tooMany), legacy_calls ([scim] request_max_legacy_calls, 503), time ([scim] request_timeout_seconds, 503)."),
                    &["tenant", "bound"],
                ),
            ),
            registry,
        };
        let build_info = register(
            &m.registry,
            IntGaugeVec::new(
                Opts::new(
                    "build_info",
                    "Always 1; the version of the running gateway.",
                ),
                &["version"],
            ),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        // Counters that exist from the start, so that a rate over them never misses a series.
        for reason in AuthFailure::ALL {
            m.auth_failures.with_label_values(&[reason.as_str()]);
        }
        for outcome in ["ok", "error"] {
            m.config_reloads.with_label_values(&[outcome]);
        }
        for outcome in TOKEN_FETCH_OUTCOMES {
            m.token_fetches.with_label_values(&[outcome]);
        }
        m.cache_hits.with_label_values(&["membership"]);
        m.cache_misses.with_label_values(&["membership"]);
        for listener in LISTENERS {
            for reason in CONNECTION_REFUSALS {
                m.connections_refused.with_label_values(&[listener, reason]);
            }
            m.connections_open.with_label_values(&[listener]);
        }
        m
    }

    /// Counts a connection the listener `listener` closed on its own for `reason` (one of
    /// [`CONNECTION_REFUSALS`]).
    pub(crate) fn record_connection_refused(&self, listener: &str, reason: &str) {
        self.connections_refused
            .with_label_values(&[listener, reason])
            .inc();
    }

    /// Sets the number of connections open on the listener `listener`.
    pub(crate) fn set_connections_open(&self, listener: &str, open: usize) {
        self.connections_open
            .with_label_values(&[listener])
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Counts a SCIM request of `tenant` ended by one of the bounds of one request (`bound`:
    /// `member_changes`, `legacy_calls`, `time`).
    pub(crate) fn record_request_bounded(&self, tenant: &str, bound: &str) {
        self.requests_bounded
            .with_label_values(&[tenant, bound])
            .inc();
    }

    /// Counts one answered SCIM request and its latency.
    pub(crate) fn record_request(
        &self,
        tenant: &str,
        (resource, operation): (&str, &str),
        status: u16,
        elapsed: Duration,
    ) {
        self.scim_requests
            .with_label_values(&[tenant, resource, operation, status_label(status).as_ref()])
            .inc();
        self.scim_duration
            .with_label_values(&[resource, operation])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts the request as in flight until the returned guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts one call to the legacy API: `status` is its HTTP status, or a reason for a call
    /// that produced no HTTP answer (`timeout`, `unreachable`, `error`).
    pub(crate) fn record_backend(&self, endpoint: &str, status: &str, elapsed: Duration) {
        self.backend_requests
            .with_label_values(&[endpoint, status])
            .inc();
        self.backend_duration
            .with_label_values(&[endpoint])
            .observe(elapsed.as_secs_f64());
    }

    /// Sets whether the circuit to the legacy API of the mapping `backend` is open.
    pub(crate) fn set_circuit_open(&self, backend: &str, open: bool) {
        self.backend_circuit_open
            .with_label_values(&[backend])
            .set(i64::from(open));
    }

    /// Counts a request refused by the tenant's rate limit.
    pub(crate) fn record_rate_limited(&self, tenant: &str) {
        self.rate_limited.with_label_values(&[tenant]).inc();
    }

    /// Counts a call of `endpoint` sent again after a failure.
    pub(crate) fn record_backend_retry(&self, endpoint: &str) {
        self.backend_retries.with_label_values(&[endpoint]).inc();
    }

    /// A legacy call started (`+1`) or stopped (`-1`) waiting for a free slot.
    pub(crate) fn add_backend_queue_depth(&self, delta: i64) {
        self.backend_queue_depth.add(delta);
    }

    /// Counts a request for an access token to the legacy API's token endpoint, by `outcome`
    /// (one of [`TOKEN_FETCH_OUTCOMES`]).
    pub(crate) fn record_token_fetch(&self, outcome: &str) {
        self.token_fetches.with_label_values(&[outcome]).inc();
    }

    /// Counts one operation of the group store (`crate::store`) and its latency; `outcome` is
    /// `ok` or the kind of its error.
    pub(crate) fn record_store(&self, operation: &str, outcome: &str, elapsed: Duration) {
        self.store_operations
            .with_label_values(&[operation, outcome])
            .inc();
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request refused by authentication.
    pub(crate) fn record_auth_failure(&self, reason: AuthFailure) {
        self.auth_failures
            .with_label_values(&[reason.as_str()])
            .inc();
    }

    /// Counts a configuration reload (SIGHUP): `ok` when the new configuration is in use.
    pub(crate) fn record_config_reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.config_reloads.with_label_values(&[outcome]).inc();
    }

    /// Sets a tenant's provisioned users and groups; `None` removes the series (unknown).
    pub(crate) fn set_provisioned(
        &self,
        tenant: &str,
        users_active: Option<u64>,
        users_inactive: Option<u64>,
        groups: Option<u64>,
    ) {
        let set = |g: &IntGaugeVec, labels: &[&str], v: Option<u64>| match v {
            Some(n) => g
                .with_label_values(labels)
                .set(i64::try_from(n).unwrap_or(i64::MAX)),
            None => {
                let _ = g.remove_label_values(labels);
            }
        };
        set(&self.provisioned_users, &[tenant, "active"], users_active);
        set(
            &self.provisioned_users,
            &[tenant, "inactive"],
            users_inactive,
        );
        set(&self.provisioned_groups, &[tenant], groups);
    }

    /// Every metric in the Prometheus text format; `membership` is the membership cache's
    /// counters, read now.
    pub fn render(&self, membership: CacheStats) -> String {
        {
            let mut seen = self
                .cache_seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A cache built anew (a reload) counts from 0 again: all of it is new.
            let new = |now: u64, before: u64| if now >= before { now - before } else { now };
            self.cache_hits
                .with_label_values(&["membership"])
                .inc_by(new(membership.hits, seen.hits));
            self.cache_misses
                .with_label_values(&["membership"])
                .inc_by(new(membership.misses, seen.misses));
            *seen = membership;
        }
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// `200`, `404`… without allocating for the common ones.
fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    const COMMON: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (412, "412"),
        (413, "413"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match COMMON.iter().find(|(s, _)| *s == status) {
        Some((_, label)) => (*label).into(),
        None => status.to_string().into(),
    }
}

/// The `status` label of a legacy answer.
pub(crate) fn backend_status_label(status: u16) -> std::borrow::Cow<'static, str> {
    status_label(status)
}

/// A request counted in `scim_requests_in_flight` until dropped.
pub(crate) struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `name{labels}` in a text exposition.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_contract_metric_is_exported_with_the_prefix() {
        let m = Metrics::new();
        m.record_request("default", ("Users", "get"), 200, Duration::from_millis(3));
        m.record_backend("users.get", "200", Duration::from_millis(2));
        m.set_provisioned("default", Some(3), Some(1), Some(2));
        m.set_circuit_open("acme-hr", false);
        m.record_rate_limited("default");
        m.record_backend_retry("users.get");
        let text = m.render(CacheStats { hits: 0, misses: 0 });
        for name in [
            "scim_gateway_scim_requests_total",
            "scim_gateway_scim_request_duration_seconds",
            "scim_gateway_scim_requests_in_flight",
            "scim_gateway_backend_requests_total",
            "scim_gateway_backend_request_duration_seconds",
            "scim_gateway_cache_hits_total",
            "scim_gateway_cache_misses_total",
            "scim_gateway_auth_failures_total",
            "scim_gateway_provisioned_users",
            "scim_gateway_provisioned_groups",
            "scim_gateway_config_reloads_total",
            "scim_gateway_build_info",
            "scim_gateway_backend_circuit_open",
            "scim_gateway_rate_limited_total",
            "scim_gateway_backend_retries_total",
            "scim_gateway_backend_queue_depth",
            "scim_gateway_backend_token_fetches_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert_eq!(
            sample(
                &text,
                &format!(
                    "scim_gateway_build_info{{version=\"{}\"}}",
                    env!("CARGO_PKG_VERSION")
                )
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_provisioned_users{state=\"inactive\",tenant=\"default\"}"
            ),
            Some(1.0)
        );
    }

    #[test]
    fn requests_are_counted_by_their_labels_and_timed_in_buckets() {
        let m = Metrics::new();
        for _ in 0..2 {
            m.record_request("acme", ("Users", "create"), 201, Duration::from_micros(700));
        }
        m.record_request("none", UNROUTED, 404, Duration::from_millis(1));
        let text = m.render(CacheStats::default());
        assert_eq!(
            sample(
                &text,
                "scim_gateway_scim_requests_total{operation=\"create\",resource=\"Users\",status=\"201\",tenant=\"acme\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_scim_request_duration_seconds_bucket{operation=\"create\",resource=\"Users\",le=\"0.001\"}"
            ),
            Some(2.0),
            "0.7 ms falls in the 1 ms bucket"
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_scim_request_duration_seconds_bucket{operation=\"create\",resource=\"Users\",le=\"0.0005\"}"
            ),
            Some(0.0)
        );
    }

    #[test]
    fn the_in_flight_gauge_follows_the_guards() {
        let m = Metrics::new();
        let a = m.in_flight();
        let b = m.in_flight();
        assert_eq!(m.in_flight.get(), 2);
        drop(a);
        assert_eq!(m.in_flight.get(), 1);
        drop(b);
        assert_eq!(m.in_flight.get(), 0);
    }

    #[test]
    fn cache_counters_follow_the_cache_at_each_scrape() {
        let m = Metrics::new();
        let text = m.render(CacheStats { hits: 5, misses: 2 });
        assert_eq!(
            sample(&text, "scim_gateway_cache_hits_total{cache=\"membership\"}"),
            Some(5.0)
        );
        let text = m.render(CacheStats { hits: 9, misses: 2 });
        assert_eq!(
            sample(&text, "scim_gateway_cache_hits_total{cache=\"membership\"}"),
            Some(9.0)
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_cache_misses_total{cache=\"membership\"}"
            ),
            Some(2.0)
        );
        // A new cache (after a reload) counts from 0 again: the counters keep growing.
        let text = m.render(CacheStats { hits: 1, misses: 1 });
        let hits = "scim_gateway_cache_hits_total{cache=\"membership\"}";
        let misses = "scim_gateway_cache_misses_total{cache=\"membership\"}";
        assert_eq!(sample(&text, hits), Some(10.0));
        assert_eq!(sample(&text, misses), Some(3.0));
    }

    #[test]
    fn token_fetches_start_at_zero_for_every_outcome_and_count_by_outcome() {
        let m = Metrics::new();
        m.record_token_fetch("fetched");
        m.record_token_fetch("fetched");
        m.record_token_fetch("refused");
        let text = m.render(CacheStats::default());
        let at = |outcome: &str| {
            sample(
                &text,
                &format!("scim_gateway_backend_token_fetches_total{{outcome=\"{outcome}\"}}"),
            )
        };
        assert_eq!(at("fetched"), Some(2.0));
        assert_eq!(at("refused"), Some(1.0));
        assert_eq!(at("failed"), Some(0.0));
    }

    #[test]
    fn auth_failures_and_reloads_start_at_zero_for_every_label() {
        let m = Metrics::new();
        m.record_auth_failure(AuthFailure::UnknownKey);
        m.record_config_reload(false);
        let text = m.render(CacheStats::default());
        assert_eq!(
            sample(
                &text,
                "scim_gateway_auth_failures_total{reason=\"missing\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_auth_failures_total{reason=\"unknown_key\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "scim_gateway_auth_failures_total{reason=\"tenant\"}"),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "scim_gateway_config_reloads_total{outcome=\"ok\"}"),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "scim_gateway_config_reloads_total{outcome=\"error\"}"
            ),
            Some(1.0)
        );
    }

    #[test]
    fn an_unknown_count_removes_its_series() {
        let m = Metrics::new();
        m.set_provisioned("default", Some(3), Some(1), Some(2));
        m.set_provisioned("default", None, None, Some(2));
        let text = m.render(CacheStats::default());
        assert!(!text.contains("state=\"active\""), "{text}");
        assert_eq!(
            sample(&text, "scim_gateway_provisioned_groups{tenant=\"default\"}"),
            Some(2.0)
        );
    }

    #[test]
    fn statuses_have_the_contract_labels() {
        assert_eq!(status_label(201), "201");
        assert_eq!(status_label(418), "418");
    }

    #[test]
    fn protection_metrics_follow_the_circuit_the_queue_retries_and_refusals() {
        let m = Metrics::new();
        m.set_circuit_open("acme-hr", true);
        m.add_backend_queue_depth(1);
        m.add_backend_queue_depth(1);
        m.add_backend_queue_depth(-1);
        m.record_backend_retry("users.get");
        m.record_backend_retry("users.get");
        m.record_rate_limited("acme");
        let text = m.render(CacheStats::default());
        let at = |series: &str| sample(&text, series);
        assert_eq!(
            at("scim_gateway_backend_circuit_open{backend=\"acme-hr\"}"),
            Some(1.0)
        );
        assert_eq!(at("scim_gateway_backend_queue_depth"), Some(1.0));
        assert_eq!(
            at("scim_gateway_backend_retries_total{endpoint=\"users.get\"}"),
            Some(2.0)
        );
        assert_eq!(
            at("scim_gateway_rate_limited_total{tenant=\"acme\"}"),
            Some(1.0)
        );
        m.set_circuit_open("acme-hr", false);
        let text = m.render(CacheStats::default());
        assert_eq!(
            sample(
                &text,
                "scim_gateway_backend_circuit_open{backend=\"acme-hr\"}"
            ),
            Some(0.0)
        );
    }
}
