//! The gateway's shared state (configuration, compiled mapping, backend client, accepted keys
//! and their tenants) and how it is built: at start-up, and again on each reload
//! (`server::reload`), where a new generation shares the membership cache and the per-user
//! locks of the previous one. Everything that can be wrong with the set-up is found here, before
//! a listener opens or a new generation replaces the running one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::{BackendClient, ClientOptions};
use crate::cache::records::RecordCache;
use crate::cache::MembershipCache;
use crate::config::Config;
use crate::keys::{self, KeysError};
use crate::mapping::Mapping;
use crate::metrics::Metrics;
use crate::server::auth::KeyRing;
use crate::server::rate_limit::TenantRateLimits;
use crate::server::roles::RoleLookupStatus;
use crate::server::status::StatusBoard;
use crate::server::tenant::Tenant;
use crate::server::wire::SEGMENT;
use crate::store::GroupStore;

/// Shared, read-only state of a running gateway: one generation. A reload builds the next one;
/// requests in flight finish on the generation they started with. A clone shares all of it.
#[derive(Clone)]
pub struct Gateway {
    pub config: Config,
    pub mapping: Arc<Mapping>,
    pub backend: Arc<BackendClient>,
    /// The accepted secrets (keys file and static tokens) and the known tenants.
    pub keys: KeyRing,
    /// (tenant, user id) → the user's groups (filled and invalidated by `groups`). Shared by
    /// every generation.
    pub membership: Arc<MembershipCache>,
    /// (tenant, user id) → the legacy user record just read or written (see `cache::records`).
    /// Shared by every generation.
    pub records: Arc<RecordCache>,
    /// Serialises the gateway's membership writes to one legacy user (membership held on the
    /// user is a read-modify-write of that user), keyed by (tenant, user id). Shared by every
    /// generation, so a request on the old one and a request on the new one still exclude each
    /// other; so are the other lock sets.
    pub user_locks: Arc<LockSet>,
    /// Serialises the creates of one userName or group displayName (keyed by (tenant, the
    /// collection and the lower-cased name)): a POST the IdP sends again while the first is
    /// still running waits for it, then finds what it created. Users take the lock of their
    /// userName alone ([`LockSet::lock`]), groups one of the hashed set ([`LockSet::of`]).
    pub create_locks: Arc<LockSet>,
    /// The Prometheus metrics (served by the admin listener). Shared: a gateway rebuilt on a
    /// configuration reload takes over the previous one's (see [`Gateway::carry_over`]).
    pub metrics: Arc<Metrics>,
    /// Per-tenant counts and last syncs (`/status`); shared like `metrics`.
    pub status: Arc<StatusBoard>,
    /// The per-tenant rate limit toward the identity providers (`[limits]`); shared by the
    /// generations while `[limits]` stays the same.
    pub rate_limits: Arc<TenantRateLimits>,
    /// Why the legacy roles named by name are not resolved yet (`server::roles`), and the
    /// wake-up of the task that looks them up again; shared by every generation.
    pub(crate) role_lookup: Arc<RoleLookupStatus>,
    /// The group store, open when the mapping holds its groups in the gateway
    /// (`groups: held_by: gateway`); shared by the generations while `[store]` stays the same.
    pub(crate) store: Option<GroupStore>,
}

/// How many locks a [`LockSet`] has.
const LOCKS: usize = 64;

/// A fixed set of async locks, one picked by hashing a key: serialises the work on one key
/// inside the gateway without a lock per key (two keys may share a lock, which only makes one
/// wait for the other).
///
/// [`LockSet::lock`] takes a lock of that very key instead: two keys never wait for each other.
/// The creates of users use it, because they hold it across legacy calls.
pub struct LockSet {
    stripes: Box<[tokio::sync::Mutex<()>]>,
    /// The locks of single keys in use: an entry's lock lives as long as a guard holds it, and
    /// entries whose lock is gone are swept out when the map has doubled since the last sweep.
    keys: std::sync::Mutex<KeyLocks>,
}

/// The per-key locks of a [`LockSet`].
#[derive(Default)]
struct KeyLocks {
    locks: std::collections::HashMap<(String, String), std::sync::Weak<tokio::sync::Mutex<()>>>,
    /// The map's size after the last sweep.
    live: usize,
}

impl LockSet {
    fn new() -> LockSet {
        LockSet {
            stripes: (0..LOCKS).map(|_| tokio::sync::Mutex::new(())).collect(),
            keys: std::sync::Mutex::new(KeyLocks::default()),
        }
    }

    /// Waits for, and takes, the lock of `key` of `tenant` alone: held until the guard is
    /// dropped; another key is never kept waiting by it.
    pub async fn lock(&self, tenant: &str, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            // A poisoned map only means a panic elsewhere while it was held: its entries are
            // still sound (weak references).
            let mut keys = self
                .keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = (tenant.to_string(), key.to_string());
            match keys.locks.get(&entry).and_then(std::sync::Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    if keys.locks.len() >= (2 * keys.live).max(LOCKS) {
                        keys.locks.retain(|_, lock| lock.strong_count() > 0);
                        keys.live = keys.locks.len();
                    }
                    let lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
                    keys.locks.insert(entry, std::sync::Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// The lock of `key` of `tenant`.
    pub fn of(&self, tenant: &str, key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (tenant, key).hash(&mut h);
        &self.stripes[(h.finish() as usize) % self.stripes.len()]
    }
}

impl Gateway {
    /// Every tenant this gateway serves (the `[tenants.*]` tables, the keys' tenants, and
    /// "default" when static tokens are configured): the counts of `/status` and the
    /// `provisioned_*` gauges are made for each.
    pub fn tenants(&self) -> Vec<Tenant> {
        self.keys
            .tenants()
            .values()
            .map(|t| Tenant::clone(t))
            .collect()
    }
}

/// Why the gateway (or a new generation of it) could not be built. Each message says what to
/// fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Mapping(String),
    #[error("backend: {0}")]
    Backend(String),
    #[error("{0}")]
    Keys(#[from] KeysError),
    #[error("{0}")]
    Store(String),
}

impl StartupError {
    /// The file the problem is in: the keys file for a key problem, else the mapping file.
    pub fn file(&self, config: &Config) -> PathBuf {
        match self {
            StartupError::Keys(_) => config.auth.keys_file.clone(),
            _ => config.mapping.file.clone(),
        }
    }
}

/// The keys of the keys file named by `config` (none when it names none).
fn read_keys(config: &Config) -> Result<Vec<keys::Key>, KeysError> {
    if config.auth.keys_file.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    Ok(keys::read_file(&config.auth.keys_file)?.1)
}

fn key_ring(config: &Config) -> Result<KeyRing, KeysError> {
    Ok(KeyRing::new(
        &config.auth.token_sha256,
        &read_keys(config)?,
        &config.tenants,
    ))
}

/// The backend client of `mapping`: resolves the credentials and the address once.
pub(crate) fn backend_client(mapping: &Mapping) -> Result<BackendClient, StartupError> {
    let credential = match &mapping.backend.auth {
        Some(auth) => Some(
            auth.resolve(&mapping.backend.base_url)
                .map_err(|e| StartupError::Mapping(e.to_string()))?,
        ),
        None => None,
    };
    let options = ClientOptions {
        connect_timeout: mapping.backend.connect_timeout,
        request_timeout: mapping.backend.timeout,
        read_timeout: mapping.backend.read_timeout,
        protection: mapping.backend.protection.clone(),
        credential,
        ca_file: mapping.backend.tls.ca_file.clone(),
        insecure_skip_verify: mapping.backend.tls.insecure_skip_verify,
        client_cert: mapping.backend.tls.client_cert.clone(),
        ..ClientOptions::default()
    };
    BackendClient::new(&mapping.backend.base_url, options)
        .map_err(|e| StartupError::Backend(e.to_string()))
}

/// The group store of a mapping that holds its groups in the gateway (`None` otherwise):
/// `running` when the configuration names the same store, else opened (its migrations
/// applied) on a thread of its own, as no server runs yet. A store that cannot be opened
/// stops the start, naming it.
fn open_store(
    config: &Config,
    mapping: &Mapping,
    running: Option<&GroupStore>,
    metrics: &Arc<Metrics>,
) -> Result<Option<GroupStore>, StartupError> {
    if mapping.held_groups.is_none() {
        return Ok(None);
    }
    if let Some(store) = running {
        return Ok(Some(store.clone()));
    }
    let url = config.store.url.clone();
    let metrics = metrics.clone();
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StartupError::Store(format!("the group store: no runtime: {e}")))?;
            runtime
                .block_on(GroupStore::open(&url, metrics))
                .map(Some)
                .map_err(|e| StartupError::Store(format!("the group store: {e}")))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(StartupError::Store(
                "the group store: its opening failed".into(),
            ))
        })
    })
}

/// `mapping.backend_url` of the configuration, over the mapping's own `backend.base_url`.
fn with_backend_url(config: &Config, mut mapping: Mapping) -> Mapping {
    if let Some(url) = &config.mapping.backend_url {
        mapping.backend.base_url = url.clone();
    }
    mapping
}

impl Gateway {
    /// Builds the gateway from a loaded configuration and mapping: resolves the backend
    /// credentials and address once, and reads the keys file the configuration names. The
    /// names the mapping gives are not looked up yet: [`Gateway::new`] (`server::lookups`)
    /// does, with the gateway built here.
    pub(crate) fn build(config: Config, mapping: Mapping) -> Result<Gateway, StartupError> {
        let mapping = with_backend_url(&config, mapping);
        // The client and the keys first: a missing secret or a bad certificate is said as such.
        let backend = backend_client(&mapping)?;
        let keys = key_ring(&config)?;
        let role_lookup = Arc::new(RoleLookupStatus::default());
        let rate_limits = Arc::new(TenantRateLimits::new(&config.limits));
        let membership = MembershipCache::new(
            Duration::from_secs(config.cache.ttl_seconds),
            config.cache.max_entries,
        );
        let records = RecordCache::new(
            Duration::from_secs(config.cache.record_ttl_seconds),
            config.cache.record_max_entries,
        );
        let metrics = Arc::new(Metrics::new());
        let store = open_store(&config, &mapping, None, &metrics)?;
        Ok(Gateway {
            config,
            mapping: Arc::new(mapping),
            backend: Arc::new(backend),
            keys,
            membership: Arc::new(membership),
            records: Arc::new(records),
            user_locks: Arc::new(LockSet::new()),
            create_locks: Arc::new(LockSet::new()),
            metrics,
            status: Arc::new(StatusBoard::default()),
            rate_limits,
            role_lookup,
            store,
        })
    }

    /// The next generation with a new configuration and mapping (a reload): a new backend
    /// client (its address resolved again), the keys file read again, and this generation's
    /// caches, locks, metrics and counts. The names the mapping gives are not looked up yet:
    /// [`Gateway::reloaded`] (`server::lookups`) does, and empties the membership cache once
    /// the generation is accepted.
    pub(crate) fn rebuilt(
        &self,
        config: Config,
        mapping: Mapping,
    ) -> Result<Gateway, StartupError> {
        let mapping = with_backend_url(&config, mapping);
        let backend = backend_client(&mapping)?;
        let keys = key_ring(&config)?;
        let rate_limits = TenantRateLimits::carried_over(&self.rate_limits, &config.limits);
        let same_store = (self.config.store == config.store)
            .then_some(self.store.as_ref())
            .flatten();
        let store = open_store(&config, &mapping, same_store, &self.metrics)?;
        Ok(Gateway {
            config,
            mapping: Arc::new(mapping),
            backend: Arc::new(backend),
            keys,
            membership: self.membership.clone(),
            records: self.records.clone(),
            user_locks: self.user_locks.clone(),
            create_locks: self.create_locks.clone(),
            metrics: self.metrics.clone(),
            status: self.status.clone(),
            rate_limits,
            role_lookup: self.role_lookup.clone(),
            store,
        })
    }

    /// The next generation with the keys file read again; everything else is shared.
    pub fn with_keys_reloaded(&self) -> Result<Gateway, KeysError> {
        Ok(Gateway {
            keys: key_ring(&self.config)?,
            ..self.clone()
        })
    }

    /// The next generation with `mapping` (this one's, its role names resolved to the legacy
    /// ids); everything else is shared.
    pub(crate) fn with_mapping(&self, mapping: Mapping) -> Gateway {
        Gateway {
            mapping: Arc::new(mapping),
            ..self.clone()
        }
    }

    /// This gateway (just built from a reloaded configuration) with the metrics, counts and
    /// last syncs of `previous`, so that counters do not restart at a reload.
    pub fn carry_over(mut self, previous: &Gateway) -> Gateway {
        self.metrics = previous.metrics.clone();
        self.status = previous.status.clone();
        self
    }
}

/// Sets `meta.location` of a resource from its `id` and `meta.resourceType`, and the `$ref` of
/// each of a user's `groups` (RFC 7643 §4.1.2: the group's URI) from its `value`.
pub fn set_location(resource: &mut Value, base_url: &str) {
    if let Some(groups) = resource.get_mut("groups").and_then(Value::as_array_mut) {
        set_group_refs(groups, base_url);
    }
    let Some(Value::String(id)) = resource.get("id") else {
        return;
    };
    let collection = match resource
        .get("meta")
        .and_then(|m| m.get("resourceType"))
        .and_then(Value::as_str)
    {
        Some("Group") => "Groups",
        _ => "Users",
    };
    let location = location_of(base_url, collection, id);
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("location".into(), Value::String(location));
    }
}

/// The `$ref` of each of a user's `groups`, from its `value`.
pub(crate) fn set_group_refs(groups: &mut [Value], base_url: &str) {
    for group in groups.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(id) = group.get("value").and_then(Value::as_str) {
            let encoded = percent_encoding::utf8_percent_encode(id, SEGMENT).to_string();
            group.insert(
                "$ref".into(),
                Value::String(format!("{base_url}/Groups/{encoded}")),
            );
        }
    }
}

/// The URI of resource `id` of `collection` (`Users`, `Groups`): its `meta.location`.
pub(crate) fn location_of(base_url: &str, collection: &str, id: &str) -> String {
    // One String, written in place: this runs on every answer.
    let mut location = String::with_capacity(base_url.len() + collection.len() + id.len() + 8);
    location.push_str(base_url);
    location.push('/');
    location.push_str(collection);
    location.push('/');
    location.extend(percent_encoding::utf8_percent_encode(id, SEGMENT));
    location
}
