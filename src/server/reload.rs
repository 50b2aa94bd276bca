//! The running gateway's state, swappable while it serves: [`Live`] holds the current
//! [`Gateway`] generation; each request takes it once and keeps it to the end, so requests in
//! flight finish on the old generation while new ones use the new one, and no connection is
//! dropped.
//!
//! What reloads, and when ([`watch`]):
//! - SIGHUP: everything the gateway was started from — the configuration file (then the
//!   environment), the mapping file it names, the keys file it names ([`Live::reload`]);
//! - a change of the keys file (its modification time, size or inode, polled every
//!   [`KEYS_POLL_INTERVAL`]): the keys only ([`Live::reload_keys`]).
//!
//! A file that does not load (a syntax error, an invalid key, a mapping problem) is refused: the
//! running generation stays, and an error is logged naming the file, the line and why. Each
//! outcome is counted, in [`ReloadCounters`] and in the metrics' `config_reloads_total{outcome}`
//! (the metrics, like the caches, are shared by every generation).
//!
//! A gateway built in code ([`Live::new`], the tests and the demo) has no configuration file:
//! its reload reads the keys file only.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::mapping;
use crate::server::gateway::Gateway;
use crate::server::lookups;
use crate::server::roles::{self, LookupFailure};

/// How often the keys file is checked for a change.
pub const KEYS_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The stack of the thread that reloads.
const RELOAD_STACK_BYTES: usize = 16 * 1024 * 1024;

/// How many reloads succeeded and how many were refused, since start.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    pub ok: AtomicU64,
    pub error: AtomicU64,
}

impl ReloadCounters {
    /// `(ok, error)`.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.error.load(Ordering::Relaxed),
        )
    }
}

/// A refused reload: the file at fault and the whole message (with its line and a fix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReloadError {
    pub file: PathBuf,
    pub message: String,
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    if path.as_os_str().is_empty() {
        return None;
    }
    // Follows symbolic links: a Kubernetes Secret volume swaps a link to a new directory.
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// The running gateway: its current generation, and how to build the next one. Cheap to clone
/// (a handle on shared state).
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<Gateway>,
    /// The configuration file of `serve`; `None` for a gateway built in code.
    config_file: Option<PathBuf>,
    reloads: ReloadCounters,
    /// The keys file as last read (or tried).
    keys_stamp: Mutex<Option<Stamp>>,
    /// One reload at a time.
    reloading: Mutex<()>,
}

impl From<Arc<Gateway>> for Live {
    fn from(gateway: Arc<Gateway>) -> Live {
        Live::build(gateway, None)
    }
}

impl From<Gateway> for Live {
    fn from(gateway: Gateway) -> Live {
        Live::new(gateway)
    }
}

impl Live {
    /// A gateway built in code: a reload reads its keys file again, nothing else.
    pub fn new(gateway: Gateway) -> Live {
        Live::build(Arc::new(gateway), None)
    }

    /// The gateway of `serve`, built from `config_file`: a reload reads that file, the mapping
    /// and the keys file again.
    pub fn from_config_file(gateway: Gateway, config_file: PathBuf) -> Live {
        Live::build(Arc::new(gateway), Some(config_file))
    }

    fn build(gateway: Arc<Gateway>, config_file: Option<PathBuf>) -> Live {
        let keys_stamp = stamp(&gateway.config.auth.keys_file);
        Live {
            inner: Arc::new(Inner {
                current: ArcSwap::new(gateway),
                config_file,
                reloads: ReloadCounters::default(),
                keys_stamp: Mutex::new(keys_stamp),
                reloading: Mutex::new(()),
            }),
        }
    }

    /// The current generation. A request takes it once and uses it to its end.
    pub fn current(&self) -> Arc<Gateway> {
        self.inner.current.load_full()
    }

    /// Whether the current generation's legacy roles, named by name, are not looked up yet
    /// (`groups.roles.lookup`; see `server::roles`).
    pub fn roles_pending(&self) -> bool {
        roles::pending(&self.current().mapping)
    }

    /// The reload counters (`config_reloads_total{outcome="ok"|"error"}`).
    pub fn reloads(&self) -> &ReloadCounters {
        &self.inner.reloads
    }

    /// The names of the tenants the current generation knows (from `[tenants.*]`, the keys,
    /// and "default" when static tokens are configured), sorted.
    pub fn tenant_names(&self) -> Vec<String> {
        self.current().keys.tenants().keys().cloned().collect()
    }

    /// Reloads everything the gateway was built from (SIGHUP). On error the current generation
    /// stays, and the error is logged and returned.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let _one = self.lock();
        let current = self.current();
        let next = match &self.inner.config_file {
            Some(file) => rebuild_all(&current, file),
            None => current.with_keys_reloaded().map_err(|e| ReloadError {
                file: current.config.auth.keys_file.clone(),
                message: e.to_string(),
            }),
        };
        self.finish(&current, next, "configuration")
    }

    /// Reloads the keys file only (it changed on disk). On error the current generation stays,
    /// and the error is logged and returned.
    pub fn reload_keys(&self) -> Result<(), ReloadError> {
        let _one = self.lock();
        let current = self.current();
        let next = current.with_keys_reloaded().map_err(|e| ReloadError {
            file: current.config.auth.keys_file.clone(),
            message: e.to_string(),
        });
        self.finish(&current, next, "keys file")
    }

    /// Whether the keys file changed on disk since it was last read (or appeared, or went).
    pub fn keys_file_changed(&self) -> bool {
        let path = self.current().config.auth.keys_file.clone();
        let now = stamp(&path);
        let last = self
            .inner
            .keys_stamp
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *last != now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .reloading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn finish(
        &self,
        current: &Gateway,
        next: Result<Gateway, ReloadError>,
        what: &str,
    ) -> Result<(), ReloadError> {
        // Whatever the outcome, the keys file as it is now has been seen: a broken file is
        // reported once, not at every poll.
        let keys_file = match &next {
            Ok(g) => g.config.auth.keys_file.clone(),
            Err(_) => current.config.auth.keys_file.clone(),
        };
        *self
            .inner
            .keys_stamp
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = stamp(&keys_file);
        match next {
            Ok(next) => {
                warn_restart_only(&current.config, &next.config);
                tracing::info!(
                    reloaded = what,
                    secrets = next.keys.len(),
                    tenants = next.keys.tenants().len(),
                    "reloaded; new requests use the new configuration"
                );
                next.metrics.record_config_reload(true);
                let roles_pending = roles::pending(&next.mapping);
                let role_lookup = next.role_lookup.clone();
                self.inner.current.store(Arc::new(next));
                if roles_pending {
                    role_lookup.wake();
                }
                self.inner.reloads.ok.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    file = %e.file.display(),
                    error = %e.message,
                    "reload refused; the gateway keeps running with its previous configuration"
                );
                current.metrics.record_config_reload(false);
                self.inner.reloads.error.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// What [`Live::resolve_roles`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RolesAttempt {
    /// The current generation has no role names to resolve.
    NothingPending,
    /// The roles were looked up, and the generation with their ids installed.
    Installed,
    /// Another generation was installed meanwhile, or a reload is running: look again.
    Superseded,
    /// The look-up failed (logged, and kept for `/readyz`).
    Failed(LookupFailure),
}

impl Live {
    /// When the current generation's roles are pending, looks them up with its backend client
    /// and installs the same generation with the role ids the way a reload installs one
    /// (logged, counted, requests in flight finishing on the old one).
    pub(crate) async fn resolve_roles(&self) -> RolesAttempt {
        let current = self.current();
        if !roles::pending(&current.mapping) {
            return RolesAttempt::NothingPending;
        }
        let mapping = match lookups::resolve(&current).await {
            Ok(mapping) => mapping,
            Err(failure) => {
                roles::log_failure(&current.mapping, &failure, false);
                current.role_lookup.failed(failure.clone());
                return RolesAttempt::Failed(failure);
            }
        };
        // Not waiting for a reload in progress (it may take seconds): it installs a
        // generation of its own, which the caller looks at next.
        let Ok(_one) = self.inner.reloading.try_lock() else {
            return RolesAttempt::Superseded;
        };
        let now = self.current();
        if !Arc::ptr_eq(&now.mapping, &current.mapping) {
            return RolesAttempt::Superseded;
        }
        let next = now.with_mapping(mapping);
        match self.finish(&now, Ok(next), "the legacy role ids (groups.roles.lookup)") {
            Ok(()) => RolesAttempt::Installed,
            Err(_) => RolesAttempt::Superseded,
        }
    }
}

/// The next generation from the configuration file, the mapping and the keys file.
fn rebuild_all(current: &Gateway, config_file: &Path) -> Result<Gateway, ReloadError> {
    let config = Config::load(config_file).map_err(|e| ReloadError {
        file: config_file.to_path_buf(),
        message: e.to_string(),
    })?;
    // What `serve` refuses to start with, a reload refuses too.
    if let Some(message) = crate::config::serve_problem(&config, config_file) {
        return Err(ReloadError {
            file: config_file.to_path_buf(),
            message,
        });
    }
    let mapping = mapping::load_file(&config.mapping.file).map_err(|e| ReloadError {
        file: config.mapping.file.clone(),
        message: e.to_string(),
    })?;
    current
        .reloaded(config.clone(), mapping)
        .map_err(|e| ReloadError {
            file: e.file(&config),
            message: e.to_string(),
        })
}

/// Settings a running gateway cannot change: say so rather than ignore them silently.
fn warn_restart_only(old: &Config, new: &Config) {
    let changed = [
        ("listen", old.listen != new.listen),
        ("cache", old.cache != new.cache),
        ("shutdown", old.shutdown != new.shutdown),
        ("log", old.log != new.log),
        ("admin", old.admin != new.admin),
    ];
    for (section, differs) in changed {
        if differs {
            tracing::warn!(
                section,
                "[{section}] changed: it applies at the next restart, not on reload"
            );
        }
    }
}

/// The thread that reloads on SIGHUP and when the keys file changes. Dropping it stops it.
pub struct Watcher {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts reloading `live` on SIGHUP and whenever its keys file changes (checked every `poll`).
/// SIGHUP is handled from the moment this returns (without a handler it would end the process).
pub fn watch(live: Live, poll: Duration) -> std::io::Result<Watcher> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut hangup = {
        let _in = runtime.enter();
        signal(SignalKind::hangup())?
    };
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("reload-watch".into())
        // Loading a configuration and a mapping (serde, deep YAML) needs the stack a main
        // thread has, not the 2 MiB of a spawned one.
        .stack_size(RELOAD_STACK_BYTES)
        .spawn(move || {
            runtime.block_on(async move {
                let mut tick = tokio::time::interval(poll);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        signal = hangup.recv() => {
                            if signal.is_none() {
                                break;
                            }
                            tracing::info!("SIGHUP: reloading");
                            let _ = live.reload();
                        }
                        _ = tick.tick() => {
                            if live.keys_file_changed() {
                                tracing::info!("the keys file changed: reloading the keys");
                                let _ = live.reload_keys();
                            }
                        }
                    }
                }
            });
        })?;
    Ok(Watcher {
        stop: Some(stop),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{self, KeysFile, NewKey, Scopes};

    const MAPPING: &str = r#"
name: t
backend: { base_url: "http://127.0.0.1:9" }
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.data, pagination: { style: page, page_param: page, size_param: per_page } }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.login }
"#;

    fn add_key(file: &mut KeysFile, path: &Path, tenant: &str) {
        let new = NewKey {
            tenant,
            scopes: Scopes::ALL,
            label: "t",
            expires: None,
        };
        keys::generate(file, &new, time::OffsetDateTime::now_utc()).unwrap();
        keys::write_file(path, file).unwrap();
    }

    #[test]
    fn a_reload_swaps_the_generation_and_one_in_use_stays_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let mut file = KeysFile::default();
        add_key(&mut file, &path, "acme");
        let mut config = Config::default();
        config.auth.keys_file = path.clone();
        let mapping = crate::mapping::load_str("t.yaml", MAPPING).unwrap();
        let live = Live::new(Gateway::new(config, mapping).unwrap());
        assert!(!live.keys_file_changed());

        let in_flight = live.current();
        add_key(&mut file, &path, "globex");
        assert!(live.keys_file_changed());
        live.reload_keys().unwrap();
        assert!(!live.keys_file_changed());
        assert_eq!(live.tenant_names(), ["acme", "globex"]);
        // A request that took the old generation keeps it whole.
        assert_eq!(in_flight.keys.len(), 1);
        assert_eq!(live.current().keys.len(), 2);
        // The cache and the locks are the same across generations.
        assert!(Arc::ptr_eq(
            &in_flight.membership,
            &live.current().membership
        ));
        assert!(std::ptr::eq(
            in_flight.user_locks.of("acme", "1"),
            live.current().user_locks.of("acme", "1")
        ));

        std::fs::write(&path, "not = [toml").unwrap();
        let err = live.reload().unwrap_err();
        assert_eq!(err.file, path);
        assert_eq!(live.current().keys.len(), 2, "the running keys stay");
        assert_eq!(live.reloads().snapshot(), (1, 1));
        assert!(!live.keys_file_changed(), "a broken file is reported once");
    }

    #[test]
    fn a_full_reload_reads_the_configuration_the_mapping_and_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let keys_path = dir.path().join("keys.toml");
        let mapping_path = dir.path().join("m.yaml");
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&mapping_path, MAPPING).unwrap();
        let mut file = KeysFile::default();
        add_key(&mut file, &keys_path, "acme");
        let write_config = |extra: &str| {
            std::fs::write(
                &config_path,
                format!(
                    "[mapping]\nfile = {:?}\n[auth]\nkeys_file = {:?}\n[scim]\nallowed_hosts = [\"localhost\"]\n{extra}",
                    mapping_path.display().to_string(),
                    keys_path.display().to_string()
                ),
            )
            .unwrap();
        };
        write_config("");
        let config = Config::load(&config_path).unwrap();
        let mapping = crate::mapping::load_file(&mapping_path).unwrap();
        let live =
            Live::from_config_file(Gateway::new(config, mapping).unwrap(), config_path.clone());
        write_config("[tenants.acme]\nallowed_domains = [\"acme.com\"]\n");
        live.reload().unwrap();
        let acme = live.current().keys.tenants()["acme"].clone();
        assert_eq!(acme.allowed_domains, ["acme.com"]);

        // A broken mapping is refused, naming its file and line.
        std::fs::write(
            &mapping_path,
            MAPPING.replace("{id}\" }\n    update", "{user}\" }\n    update"),
        )
        .unwrap();
        let err = live.reload().unwrap_err();
        assert_eq!(err.file, mapping_path);
        assert!(err.message.contains("m.yaml:8:"), "{}", err.message);
        // So is a broken configuration.
        std::fs::write(&mapping_path, MAPPING).unwrap();
        write_config("[tenants.Acme]\n");
        let err = live.reload().unwrap_err();
        assert_eq!(err.file, config_path);
        assert_eq!(live.reloads().snapshot(), (1, 2));
        assert_eq!(
            live.current().keys.tenants()["acme"].allowed_domains,
            ["acme.com"]
        );
    }
}
