//! The gateway's own configuration: `config/gateway.toml` (every key documented there), then
//! `SCIM_GATEWAY_…` environment variables, with `__` between nested keys
//! (`SCIM_GATEWAY_LISTEN__ADDRESS=0.0.0.0:8080`). Loaded once with figment; unknown keys are
//! errors, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: Listen,
    pub mapping: MappingConfig,
    pub auth: AuthConfig,
    pub scim: ScimConfig,
    pub limits: Limits,
    pub cache: CacheConfig,
    pub shutdown: Shutdown,
    pub log: Log,
    pub admin: Admin,
    pub store: StoreConfig,
    /// `[tenants.<name>]`: what differs per customer tenant. A tenant named by a key but without
    /// a table here has the defaults.
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// One `[tenants.<name>]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// The domains a user's userName (when it has an `@`) and emails may have: each domain and
    /// its subdomains, case-insensitively. Empty: every domain.
    pub allowed_domains: Vec<String>,
    /// The value passed to the legacy API as the tenant (path, header or query, as the mapping
    /// says). Unset: the tenant's name.
    pub legacy_id: Option<String>,
}

/// The SCIM listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub address: SocketAddr,
    /// Worker threads of the SCIM listener.
    pub threads: usize,
    /// The longest a client may take to send a whole request head (request line and headers),
    /// from its connection's start or, on a kept-alive connection, from the first byte of the
    /// request; then the connection is closed. Also the admin listener's.
    pub header_timeout_seconds: u64,
    /// The longest a client may take to send a whole request body, from the end of its head;
    /// then the request is answered 400 and the connection closed. Also the admin listener's.
    pub body_timeout_seconds: u64,
    /// How long a kept-alive connection may wait for its next request before it is closed.
    /// Above the 60 s after which .NET's HTTP client (.NET 6 and later) drops idle connections
    /// itself, so that such a client, not the gateway, closes first. Also the admin listener's.
    pub idle_timeout_seconds: u64,
    /// The most connections open at once on the SCIM listener; one more is answered 503 with
    /// `Retry-After: 1` and closed. (The admin listener has its own fixed cap,
    /// [`ADMIN_MAX_CONNECTIONS`].)
    pub max_connections: usize,
}

/// The most connections open at once on the admin listener (Prometheus, probes, an operator's
/// curl need a few).
pub const ADMIN_MAX_CONNECTIONS: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MappingConfig {
    /// The mapping file describing the legacy API (relative paths are relative to the working
    /// directory).
    pub file: PathBuf,
    /// Overrides the mapping's `backend.base_url` (for the same mapping in several environments).
    pub backend_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// SHA-256 (hex) of each bearer token the identity providers may send. Several may be valid
    /// at once, for rotation. `scim-gateway hash-token` prints the hash of a token. These
    /// tokens act for the tenant "default" with both scopes.
    pub token_sha256: Vec<String>,
    /// The keys file written by `scim-gateway keys` (TOML). Empty: no keys file.
    pub keys_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// Where the SCIM endpoints are mounted (`/scim/v2` → `/scim/v2/Users`).
    pub base_path: String,
    /// The external base URL used in `meta.location` and `Location` (e.g.
    /// `https://scim.example.com/scim/v2`). Empty: derived from the request's `Host` header.
    pub public_url: String,
    /// The largest `count` a list request may ask for (also advertised as `filter.maxResults`).
    pub max_results: usize,
    /// The largest request body accepted, in bytes (larger → 413).
    pub max_body_bytes: usize,
    /// The largest total size of the request headers accepted, in bytes (larger → 431).
    pub max_header_bytes: usize,
    /// The most group members one request may change (400 `tooMany` past it, before anything
    /// is applied): the distinct ids a PATCH adds or removes, a POST's members, and for a PUT
    /// (or a PATCH that replaces `members`) the difference between the members sent and the
    /// current ones — so an identity provider's full push of a large group passes when few of
    /// its members change. At least 1.
    pub max_member_changes: usize,
    /// The most legacy calls one SCIM request may make (503 with `Retry-After` once spent,
    /// saying what was already applied). The default, 10,000, covers the costliest legitimate
    /// requests with room to spare: a PUT of a group whose 100,000 current members are read a
    /// page of 100 at a time (1,000 calls) and whose 1,000 changed members cost up to 4 calls
    /// each (the member call, a read of the user to explain a refusal, a read and an update of
    /// its role and flags: 4,000), or a filter the gateway checks itself over a `scan_limit` of
    /// 1,000 records (at most 1,000 pages and 1,000 full reads). Raise it with a mapping's
    /// `scan_limit` above a few thousand. At least 1.
    pub request_max_legacy_calls: u64,
    /// The most wall time one SCIM request may spend on legacy calls, in seconds (503 with
    /// `Retry-After` once spent, saying what was already applied): checked before each legacy
    /// call and between member changes, so a request ends at most one legacy call (its
    /// `backend.timeout`) after it. At least 1.
    pub request_timeout_seconds: u64,
    /// The host names (each with an optional `:port`) requests may be addressed to, matched
    /// without case against the `Host` header (or an absolute request URI's authority); a name
    /// without a port matches it on any port. A request to another host is refused with 421
    /// before any work. Empty: no check. `serve` needs this or `public_url`.
    pub allowed_hosts: Vec<String>,
    /// What `PATCH /Groups/{id}` answers: `no_content` (204, as Entra recommends) or `group`
    /// (200 with the group, its members only when `attributes` names them). A request with
    /// `attributes` or `excludedAttributes` is answered 200 with the group either way.
    pub group_patch_answer: GroupPatchAnswer,
}

/// `[scim] group_patch_answer`: what a successful `PATCH /Groups/{id}` answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupPatchAnswer {
    /// 204 No Content.
    #[default]
    NoContent,
    /// 200 with the group.
    Group,
}

/// `[limits]`: how fast each tenant's identity provider may send requests. A token bucket per
/// tenant; a request beyond it is answered 429 with `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Requests per second a tenant may send, sustained; 0: no limit.
    pub requests_per_second: f64,
    /// Requests a tenant may send at once above that rate (the bucket's size); 0: the rate
    /// rounded up (at least 1).
    pub burst: u32,
}

/// The group-membership cache.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// How long a user's group list is kept: the longest a change made in the legacy product
    /// directly (or through another gateway replica) takes to show.
    pub ttl_seconds: u64,
    /// How many users' group lists are kept at most.
    pub max_entries: u64,
    /// How long a legacy user record just read or written is kept for the read half of the
    /// next write of the same user (only where the mapping's update sends `If-Match`); 0: off.
    pub record_ttl_seconds: u64,
    /// How many legacy user records are kept at most, the least recently used going first; 0:
    /// off.
    pub record_max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl_seconds: 30,
            max_entries: 10_000,
            record_ttl_seconds: 10,
            record_max_entries: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// After SIGTERM, how long in-flight requests may take before the runtimes stop (pingora's
    /// own default is 300 s; keep Kubernetes' terminationGracePeriodSeconds above the sum).
    pub grace_period_seconds: u64,
    pub timeout_seconds: u64,
}

/// The admin listener (`/metrics`, `/healthz`, `/readyz`, `/status`; no authentication).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// `host:port` of the admin listener; `""` disables it. Bind it to loopback or a
    /// pod-internal address: it has no authentication.
    pub address: String,
    /// How often the per-tenant counts (`/status`, `provisioned_*` gauges) are refreshed in
    /// the background, in seconds; 0: only when `/status` finds them stale.
    pub counts_interval_seconds: u64,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            address: "127.0.0.1:9090".into(),
            counts_interval_seconds: 300,
        }
    }
}

/// `[store]`: where the groups held by the gateway (a mapping's `groups: held_by: gateway`) are
/// kept. Unused by other mappings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite:PATH` (relative to the working directory; created when missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (several replicas). A password in it is
    /// never logged.
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite:scim-gateway-groups.db".into(),
        }
    }
}

impl Admin {
    /// The admin listener's address; `None` when disabled (or invalid, which `validate`
    /// refuses).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let a = self.address.trim();
        if a.is_empty() {
            None
        } else {
            a.parse().ok()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `scim_gateway=debug`. `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            threads: 2,
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 75,
            max_connections: 1024,
        }
    }
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            base_path: "/scim/v2".into(),
            public_url: String::new(),
            max_results: 200,
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            max_member_changes: 1000,
            request_max_legacy_calls: 10_000,
            request_timeout_seconds: 60,
            allowed_hosts: Vec::new(),
            group_patch_answer: GroupPatchAnswer::NoContent,
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            grace_period_seconds: 10,
            timeout_seconds: 5,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: no such file (pass an existing file to --config)")]
    Missing { path: PathBuf },
    #[error("{0}")]
    Invalid(String),
}

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "SCIM_GATEWAY_";

impl Config {
    /// Loads `file` (which must exist: figment would silently ignore a missing file), then the
    /// environment.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        if !file.is_file() {
            return Err(ConfigError::Missing {
                path: file.to_path_buf(),
            });
        }
        Self::from_figment(Figment::from(Toml::file_exact(file)), Some(file))
    }

    /// Defaults, then the environment only (no file).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_figment(Figment::new(), None)
    }

    fn from_figment(base: Figment, file: Option<&Path>) -> Result<Config, ConfigError> {
        let figment = Figment::from(figment::providers::Serialized::defaults(Config::default()))
            .merge(base)
            .merge(Env::prefixed(ENV_PREFIX).split("__"));
        let config: Config = figment.extract().map_err(|e| {
            let mut lines = Vec::new();
            for err in e {
                let key = err.path.join(".");
                let source = err
                    .metadata
                    .as_ref()
                    .and_then(|m| m.source.as_ref().map(|s| s.to_string()))
                    .or_else(|| file.map(|f| f.display().to_string()))
                    .unwrap_or_else(|| "configuration".into());
                let key = if key.is_empty() {
                    String::new()
                } else {
                    format!(" key `{key}`:")
                };
                lines.push(format!("{source}:{key} {}", err.kind));
            }
            ConfigError::Invalid(lines.join("\n"))
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for (i, h) in self.auth.token_sha256.iter().enumerate() {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(format!(
                    "auth.token_sha256[{i}] is not a SHA-256 hex digest (64 hex characters); \
                     fix: put the output of `scim-gateway hash-token` there, never the token itself"
                ));
            }
        }
        for (name, tenant) in &self.tenants {
            problems.extend(tenant_problems(name, tenant));
        }
        if !self.scim.base_path.starts_with('/') || self.scim.base_path.ends_with('/') {
            problems.push(format!(
                "scim.base_path {:?} must start with '/' and not end with one; fix: e.g. \"/scim/v2\"",
                self.scim.base_path
            ));
        }
        let rate = self.limits.requests_per_second;
        if !rate.is_finite() || rate < 0.0 {
            problems.push(format!(
                "limits.requests_per_second {rate} is not a rate; fix: a number of requests per second, e.g. 20, or 0 for no limit"
            ));
        }
        if self.scim.max_results == 0 {
            problems.push("scim.max_results must be at least 1".into());
        }
        let listen = Listen::default();
        for (key, value, default) in [
            (
                "header_timeout_seconds",
                self.listen.header_timeout_seconds,
                listen.header_timeout_seconds,
            ),
            (
                "body_timeout_seconds",
                self.listen.body_timeout_seconds,
                listen.body_timeout_seconds,
            ),
            (
                "idle_timeout_seconds",
                self.listen.idle_timeout_seconds,
                listen.idle_timeout_seconds,
            ),
        ] {
            if value == 0 {
                problems.push(format!(
                    "listen.{key} is 0; fix: a number of seconds, at least 1 (the default is {default})"
                ));
            }
        }
        if self.listen.max_connections == 0 {
            problems
                .push("listen.max_connections is 0; fix: at least 1 (the default is 1024)".into());
        }
        for (key, value) in [
            ("max_member_changes", self.scim.max_member_changes as u64),
            (
                "request_max_legacy_calls",
                self.scim.request_max_legacy_calls,
            ),
            ("request_timeout_seconds", self.scim.request_timeout_seconds),
        ] {
            if value == 0 {
                problems.push(format!(
                    "scim.{key} is 0, which would refuse every request it bounds; fix: at least 1, \
                     or leave it out for the default"
                ));
            }
        }
        if matches!(self.mapping.backend_url.as_deref(), Some(u) if !u.starts_with("http://")) {
            problems.push(
                "mapping.backend_url must be an http:// URL; fix: e.g. \"http://127.0.0.1:8081\""
                    .into(),
            );
        }
        let admin = self.admin.address.trim();
        match self.admin.socket_addr() {
            None if !admin.is_empty() => problems.push(format!(
                "admin.address {admin:?} is not host:port with an IP address; fix: e.g. \"127.0.0.1:9090\", or \"\" to disable the admin listener"
            )),
            Some(a) if a == self.listen.address => problems.push(format!(
                "admin.address {a} is also listen.address; the admin endpoints must not be on the SCIM listener: fix: give the admin listener its own port, e.g. 127.0.0.1:9090"
            )),
            _ => {}
        }
        for (i, h) in self.scim.allowed_hosts.iter().enumerate() {
            if parse_host(h).is_none() {
                problems.push(format!(
                    "scim.allowed_hosts[{i}] {h:?} is not a host name with an optional port; \
                     fix: e.g. \"scim.example.com\" or \"gateway.internal:8080\", no scheme or path"
                ));
            }
        }
        if let Some(p) = store_url_problem(&self.store.url) {
            problems.push(p);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.join("\n")))
        }
    }
}

/// A host name or an IPv4 address: at most 253 characters, in dot-separated labels of 1 to 63
/// letters, digits, `-` or `_`. One pass over the bytes: it is checked on every request.
fn is_host_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut label = 0;
    for b in name.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// A `Host` value or an `allowed_hosts` entry: its host as written (an IPv6 address with its
/// brackets, a trailing dot dropped; host names compare ignoring ASCII case) and its port, if
/// any; `None` when it is not a host name, an IPv4 address or a bracketed IPv6 address, with an
/// optional `:port`. Borrowed from `text`: it is checked on every request.
pub fn parse_host(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return None;
        }
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (&text[..inner.len() + 2], port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let name = host.strip_suffix('.').unwrap_or(host);
        if !is_host_name(name) {
            return None;
        }
        (name, port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(p.parse::<u16>().ok()?)
        }
    };
    Some((host, port))
}

/// Why `serve` cannot run with this configuration read from `file`: with neither
/// `scim.public_url` nor `scim.allowed_hosts`, the URLs the gateway writes (`Location`,
/// `meta.location`) would be built from whatever `Host` a client sends.
pub fn serve_problem(config: &Config, file: &Path) -> Option<String> {
    if !config.scim.public_url.trim().is_empty() || !config.scim.allowed_hosts.is_empty() {
        return None;
    }
    Some(format!(
        "{}: [scim] sets neither public_url nor allowed_hosts, so the URLs in Location and \
         meta.location would come from whatever Host header a client sends; fix: set \
         public_url = \"https://scim.example.com/scim/v2\" (the URL your identity providers \
         use), or allowed_hosts = [\"scim.example.com\"] (the host names clients may use), \
         in that file or as SCIM_GATEWAY_SCIM__PUBLIC_URL",
        file.display()
    ))
}

/// What is wrong with `store.url`, if anything (the URL shown with its password hidden).
fn store_url_problem(url: &str) -> Option<String> {
    let shown = crate::store::redact_url(url);
    let fix = "fix: \"sqlite:PATH\" (e.g. \"sqlite:scim-gateway-groups.db\") or \
               \"postgres://USER:PASSWORD@HOST:5432/DATABASE\"";
    if let Some(path) = url.strip_prefix("sqlite:") {
        let file = path
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        return file
            .is_empty()
            .then(|| format!("store.url {shown:?} names no file; {fix}"));
    }
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        return rest
            .is_empty()
            .then(|| format!("store.url {shown:?} names no server; {fix}"));
    }
    Some(format!(
        "store.url {shown:?} is neither a sqlite: nor a postgres:// URL; {fix}"
    ))
}

/// The problems of one `[tenants.<name>]` table, each with its fix.
fn tenant_problems(name: &str, t: &TenantConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = crate::keys::check_tenant_name(name) {
        problems.push(format!("[tenants.{name}]: {e}"));
    }
    if let Some(id) = &t.legacy_id {
        let printable = id.bytes().all(|b| (0x20..0x7f).contains(&b));
        if id.trim().is_empty() || id.trim() != id || id.len() > 256 || !printable {
            problems.push(format!(
                "tenants.{name}.legacy_id {id:?} cannot be sent to the legacy API; fix: 1 to 256 \
                 printable ASCII characters without surrounding spaces, or remove it to send \
                 the tenant's name"
            ));
        }
    }
    for (i, d) in t.allowed_domains.iter().enumerate() {
        if let Err(why) = check_domain(d) {
            problems.push(format!("tenants.{name}.allowed_domains[{i}] {d:?}: {why}"));
        }
    }
    problems
}

/// An allow-list entry: a domain name (its subdomains are allowed with it).
fn check_domain(d: &str) -> Result<(), String> {
    if let Some(rest) = d.strip_prefix("*.") {
        return Err(format!(
            "no wildcards needed; fix: write \"{rest}\" (its subdomains are allowed too)"
        ));
    }
    if d.contains('@') {
        return Err("a domain, not an address; fix: write the part after the @".into());
    }
    // A Unicode name (bücher.example) is allowed: it is compared by its A-label.
    match crate::scim::address::domain_to_ascii(d) {
        Ok(_) => Ok(()),
        Err(why) => Err(format!(
            "is not a domain name (it {why}); fix: write e.g. \"acme.com\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("gateway.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scim-gw-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn shipped_config_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.scim.base_path, "/scim/v2");
        assert!(c.mapping.file.ends_with("acme-hr.yaml"));
    }

    #[test]
    fn missing_file_is_an_error_not_defaults() {
        let err = Config::load(Path::new("/nonexistent/gateway.toml")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/gateway.toml"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let d = temp_dir("unknown");
        let p = write(&d, "[listen]\nadress = \"127.0.0.1:1\"\n");
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("adress"), "{err}");
    }

    #[test]
    fn listener_bounds_default_and_zero_is_refused_with_the_fix() {
        let d = temp_dir("listen-bounds");
        let p = write(&d, "");
        let listen = Config::load(&p).unwrap().listen;
        assert_eq!(
            (
                listen.header_timeout_seconds,
                listen.body_timeout_seconds,
                listen.idle_timeout_seconds,
                listen.max_connections
            ),
            (10, 30, 75, 1024)
        );
        let p = write(
            &d,
            "[listen]\nheader_timeout_seconds = 0\nmax_connections = 0\n",
        );
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("listen.header_timeout_seconds is 0"), "{err}");
        assert!(err.contains("the default is 10"), "{err}");
        assert!(err.contains("listen.max_connections is 0"), "{err}");
    }

    #[test]
    fn a_plain_token_instead_of_its_hash_is_refused() {
        let d = temp_dir("token");
        let p = write(&d, "[auth]\ntoken_sha256 = [\"my-secret-token\"]\n");
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("hash-token"), "{err}");
        assert!(
            !err.contains("my-secret-token"),
            "the value must not be echoed: {err}"
        );
    }

    #[test]
    fn tenants_and_the_keys_file_load() {
        let d = temp_dir("tenants");
        let p = write(
            &d,
            "[auth]\nkeys_file = \"/etc/scim-gateway/keys/keys.toml\"\n\
             [tenants.acme]\nallowed_domains = [\"acme.com\", \"Acme.EU\"]\nlegacy_id = \"t-0042\"\n\
             [tenants.globex]\n",
        );
        let c = Config::load(&p).unwrap();
        assert_eq!(
            c.auth.keys_file,
            PathBuf::from("/etc/scim-gateway/keys/keys.toml")
        );
        assert_eq!(c.tenants["acme"].legacy_id.as_deref(), Some("t-0042"));
        assert_eq!(c.tenants["acme"].allowed_domains, ["acme.com", "Acme.EU"]);
        assert_eq!(c.tenants["globex"], TenantConfig::default());
    }

    #[test]
    fn bad_tenant_tables_are_refused_with_a_fix() {
        let d = temp_dir("bad-tenants");
        for (text, expected) in [
            ("[tenants.Acme]\n", "[tenants.Acme]"),
            (
                "[tenants.acme]\nallowed_domains = [\"*.acme.com\"]\n",
                "write \"acme.com\"",
            ),
            (
                "[tenants.acme]\nallowed_domains = [\"ops@acme.com\"]\n",
                "after the @",
            ),
            ("[tenants.acme]\nlegacy_id = \"\"\n", "legacy_id"),
            ("[tenants.acme]\nallowed_domain = []\n", "allowed_domain"),
        ] {
            let p = write(&d, text);
            let err = Config::load(&p).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn the_admin_listener_is_on_its_own_port_or_disabled() {
        let d = temp_dir("admin");
        let c = Config::load(&write(&d, "[admin]\naddress = \"\"\n")).unwrap();
        assert_eq!(c.admin.socket_addr(), None);
        assert_eq!(Config::default().admin.socket_addr().unwrap().port(), 9090);
        let err = Config::load(&write(&d, "[admin]\naddress = \"localhost:x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin.address"), "{err}");
        let same =
            "[listen]\naddress = \"127.0.0.1:8080\"\n[admin]\naddress = \"127.0.0.1:8080\"\n";
        let err = Config::load(&write(&d, same)).unwrap_err().to_string();
        assert!(err.contains("must not be on the SCIM listener"), "{err}");
    }

    #[test]
    fn limits_are_off_by_default_and_a_negative_rate_is_refused() {
        assert_eq!(Config::default().limits.requests_per_second, 0.0);
        let d = temp_dir("limits");
        let c = Config::load(&write(
            &d,
            "[limits]\nrequests_per_second = 2.5\nburst = 10\n",
        ))
        .unwrap();
        assert_eq!(c.limits.requests_per_second, 2.5);
        assert_eq!(c.limits.burst, 10);
        let err = Config::load(&write(&d, "[limits]\nrequests_per_second = -1\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.requests_per_second"), "{err}");
        let err = Config::load(&write(&d, "[limits]\nrate = 5\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rate"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test helper's error type
    fn the_store_is_a_sqlite_file_by_default_and_a_bad_url_is_refused_without_its_password() {
        // In a figment jail: the environment test beside it sets SCIM_GATEWAY_STORE__URL, and
        // jails run one at a time.
        figment::Jail::expect_with(|_| {
            store_from_files();
            Ok(())
        });
    }

    fn store_from_files() {
        assert_eq!(Config::default().store.url, "sqlite:scim-gateway-groups.db");
        let d = temp_dir("store");
        let c = Config::load(&write(
            &d,
            "[store]\nurl = \"postgres://gw:pw@db:5432/scim\"\n",
        ))
        .unwrap();
        assert_eq!(c.store.url, "postgres://gw:pw@db:5432/scim");
        for (text, expected) in [
            ("[store]\nurl = \"mysql://gw:hunter2@db/scim\"\n", "neither"),
            ("[store]\nurl = \"sqlite:\"\n", "names no file"),
            ("[store]\nurl = \"groups.db\"\n", "sqlite:PATH"),
        ] {
            let err = Config::load(&write(&d, text)).unwrap_err().to_string();
            assert!(err.contains("store.url"), "{text}: {err}");
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("hunter2"), "the password is shown: {err}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test helper's error type
    fn the_store_url_comes_from_the_environment_too() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", "")?;
            jail.set_env("SCIM_GATEWAY_STORE__URL", "postgres://gw@db/scim");
            let c = Config::load(Path::new("gateway.toml")).map_err(|e| e.to_string())?;
            assert_eq!(c.store.url, "postgres://gw@db/scim");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test helper's error type
    fn environment_overrides_the_file() {
        // figment::Jail isolates the environment of this test.
        figment::Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", "[scim]\nmax_results = 50\n")?;
            jail.set_env("SCIM_GATEWAY_SCIM__MAX_RESULTS", "75");
            jail.set_env("SCIM_GATEWAY_LISTEN__ADDRESS", "127.0.0.1:9999");
            let c = Config::load(Path::new("gateway.toml")).map_err(|e| e.to_string())?;
            assert_eq!(c.scim.max_results, 75);
            assert_eq!(c.listen.address.port(), 9999);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test helper's error type
    fn the_bounds_of_one_request_have_defaults_and_refuse_zero() {
        let d = Config::default();
        assert_eq!(d.scim.max_member_changes, 1000);
        assert_eq!(d.scim.request_max_legacy_calls, 10_000);
        assert_eq!(d.scim.request_timeout_seconds, 60);
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "gateway.toml",
                "[scim]\nmax_member_changes = 0\nrequest_timeout_seconds = 5\n",
            )?;
            jail.set_env("SCIM_GATEWAY_SCIM__REQUEST_MAX_LEGACY_CALLS", "250");
            let e = Config::load(Path::new("gateway.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("scim.max_member_changes is 0"), "{e}");
            assert!(e.contains("fix: at least 1"), "{e}");
            jail.create_file("gateway.toml", "[scim]\nrequest_timeout_seconds = 5\n")?;
            let c = Config::load(Path::new("gateway.toml")).map_err(|e| e.to_string())?;
            assert_eq!(c.scim.request_timeout_seconds, 5);
            assert_eq!(c.scim.request_max_legacy_calls, 250, "from the environment");
            Ok(())
        });
    }

    #[test]
    fn allowed_hosts_are_host_names_and_serve_needs_them_or_a_public_url() {
        let d = temp_dir("hosts");
        let p = write(
            &d,
            "[tenants.acme]\nallowed_domains = [\"bücher.example\"]\n",
        );
        let c = Config::load(&p).unwrap();
        let err = serve_problem(&c, &p).unwrap();
        for part in [
            p.display().to_string().as_str(),
            "public_url",
            "allowed_hosts",
            "fix:",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let p = write(
            &d,
            "[scim]\nallowed_hosts = [\"Scim.Example.com\", \"gw:8080\", \"[::1]:8080\"]\n",
        );
        let c = Config::load(&p).unwrap();
        assert_eq!(serve_problem(&c, &p), None);
        let p = write(
            &d,
            "[scim]\npublic_url = \"https://scim.example.com/scim/v2\"\n",
        );
        assert_eq!(serve_problem(&Config::load(&p).unwrap(), &p), None);
        for bad in [
            "https://scim.example.com",
            "scim.example.com/scim",
            "gw:http",
            "a b",
            "",
        ] {
            let p = write(&d, &format!("[scim]\nallowed_hosts = [{bad:?}]\n"));
            let err = Config::load(&p).unwrap_err().to_string();
            assert!(err.contains("scim.allowed_hosts[0]"), "{bad}: {err}");
        }
        assert_eq!(
            parse_host("GW.example.:8080"),
            Some(("GW.example", Some(8080)))
        );
        assert_eq!(parse_host("[::1]"), Some(("[::1]", None)));
        assert_eq!(parse_host("[::1]:8443"), Some(("[::1]", Some(8443))));
        assert_eq!(parse_host("[::1]x"), None);
    }

    proptest::proptest! {
        // The one-pass check says what checking each dot-separated label says.
        #[test]
        fn host_names_are_checked_label_by_label(
            name in "[a-z0-9._ -]{0,8}|[a.]{60,70}|a{60,70}(\\.a{1,3})?"
        ) {
            let by_labels = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            proptest::prop_assert_eq!(is_host_name(&name), by_labels, "{:?}", name);
        }
    }
}
