//! The gateway's shared state (configuration, compiled mapping, backend client, accepted
//! tokens) and how it is built at start-up. Everything that can be wrong with the set-up is
//! found here, before a listener opens.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::backend::{BackendClient, ClientOptions};
use crate::cache::records::RecordCache;
use crate::cache::MembershipCache;
use crate::config::Config;
use crate::mapping::{BackendAuth, Mapping};
use crate::metrics::Metrics;
use crate::server::auth::TokenSet;
use crate::server::context::Tenant;
use crate::server::counts::StatusBoard;
use crate::server::rate_limit::TenantRateLimits;

/// Shared, read-only state of a running gateway.
pub struct Gateway {
    pub config: Config,
    pub mapping: Mapping,
    pub backend: BackendClient,
    pub tokens: TokenSet,
    /// user id → the user's groups (filled and invalidated by `groups`).
    pub membership: MembershipCache,
    /// (tenant, user id) → the legacy user record just read or written (see `cache::records`).
    pub records: RecordCache,
    /// Serialises the gateway's membership writes to one legacy user (membership held on the
    /// user is a read-modify-write of that user): a user id hashes to one of these locks.
    pub user_locks: Vec<tokio::sync::Mutex<()>>,
    /// The Prometheus metrics (served by the admin listener). Shared: a gateway rebuilt on a
    /// configuration reload takes over the previous one's (see [`Gateway::carry_over`]).
    pub metrics: Arc<Metrics>,
    /// Per-tenant counts and last syncs (`/status`); shared like `metrics`.
    pub status: Arc<StatusBoard>,
    /// The per-tenant rate limit toward the identity providers (`[limits]`).
    pub rate_limits: TenantRateLimits,
}

/// How many locks serialise membership writes to legacy users.
const USER_LOCKS: usize = 64;

impl Gateway {
    /// Every tenant this gateway serves: the counts of `/status` and the `provisioned_*`
    /// gauges are made for each.
    pub fn tenants(&self) -> Vec<Tenant> {
        vec![Tenant::default_tenant()]
    }

    /// The lock that serialises membership writes to the legacy user `user_id`.
    pub fn user_lock(&self, user_id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        user_id.hash(&mut h);
        &self.user_locks[(h.finish() as usize) % self.user_locks.len()]
    }
}

/// Why the gateway could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Mapping(String),
    #[error("backend: {0}")]
    Backend(String),
}

impl Gateway {
    /// Builds the gateway from a loaded configuration and mapping: resolves the backend
    /// credentials and address once.
    pub fn new(config: Config, mut mapping: Mapping) -> Result<Gateway, StartupError> {
        if let Some(url) = &config.mapping.backend_url {
            mapping.backend.base_url = url.clone();
        }
        let mut default_headers = Vec::new();
        if let Some(auth) = &mapping.backend.auth {
            let (name, value) = match auth {
                BackendAuth::Header { name, secret } => {
                    let v = secret
                        .resolve()
                        .map_err(|e| StartupError::Mapping(e.to_string()))?;
                    (name.clone(), v)
                }
                BackendAuth::Bearer(secret) => {
                    let v = secret
                        .resolve()
                        .map_err(|e| StartupError::Mapping(e.to_string()))?;
                    ("authorization".to_string(), format!("Bearer {v}"))
                }
            };
            let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                StartupError::Mapping(format!("backend.auth: {name:?} is not a valid header name"))
            })?;
            let mut value = HeaderValue::try_from(value).map_err(|_| {
                StartupError::Mapping("backend.auth: the secret contains characters not allowed in a header (a trailing newline in the file?)".into())
            })?;
            value.set_sensitive(true);
            default_headers.push((name, value));
        }
        let options = ClientOptions {
            connect_timeout: mapping.backend.connect_timeout,
            request_timeout: mapping.backend.timeout,
            read_timeout: mapping.backend.read_timeout,
            protection: mapping.backend.protection.clone(),
            default_headers,
            ca_file: mapping.backend.tls.ca_file.clone(),
            insecure_skip_verify: mapping.backend.tls.insecure_skip_verify,
            ..ClientOptions::default()
        };
        let backend = BackendClient::new(&mapping.backend.base_url, options)
            .map_err(|e| StartupError::Backend(e.to_string()))?;
        let tokens = TokenSet::from_hex_digests(&config.auth.token_sha256);
        let rate_limits = TenantRateLimits::new(&config.limits);
        let membership = MembershipCache::new(
            Duration::from_secs(config.cache.ttl_seconds),
            config.cache.max_entries,
        );
        let records = RecordCache::new(
            Duration::from_secs(config.cache.record_ttl_seconds),
            config.cache.max_entries,
        );
        Ok(Gateway {
            config,
            mapping,
            backend,
            tokens,
            membership,
            records,
            user_locks: (0..USER_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            metrics: Arc::new(Metrics::new()),
            status: Arc::new(StatusBoard::default()),
            rate_limits,
        })
    }

    /// This gateway (just built from a reloaded configuration) with the metrics, counts and
    /// last syncs of `previous`, so that counters do not restart at a reload.
    pub fn carry_over(mut self, previous: &Gateway) -> Gateway {
        self.metrics = previous.metrics.clone();
        self.status = previous.status.clone();
        self
    }
}

/// Sets `meta.location` of a resource from its `id` and `meta.resourceType`.
pub fn set_location(resource: &mut Value, base_url: &str) {
    let Some(id) = resource
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let collection = match resource
        .pointer("/meta/resourceType")
        .and_then(Value::as_str)
    {
        Some("Group") => "Groups",
        _ => "Users",
    };
    let encoded =
        percent_encoding::utf8_percent_encode(&id, crate::server::app::SEGMENT).to_string();
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(
            "location".into(),
            Value::String(format!("{base_url}/{collection}/{encoded}")),
        );
    }
}
