//! The integration-test harness: a legacy backend (one of the example APIs) and the gateway in
//! front of it (its SCIM and admin listeners), on ephemeral loopback ports, each in its own
//! pingora server, and a small SCIM client over real HTTP.
#![allow(dead_code)]

pub mod faulty;
pub mod logs;
pub mod postgres;
pub mod scim;

use std::path::Path;

use scim_gateway::config::Config;
use scim_gateway::mapping::{self, BackendAuth, Mapping, SecretSource};
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway::server::reload::Live;
use scim_gateway::server::runner::gateway_services;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_example_apis::crewbase::Crewbase;
use scim_gateway_example_apis::keystone::Keystone;
use scim_gateway_example_apis::orbit::Orbit;
use scim_gateway_example_apis::tallybook::{self, Tallybook};
use scim_gateway_hosting::{
    free_loopback_addr, http_service, server_conf, start, RunningServer, Stop,
};
use serde_json::Value;

pub const TOKEN: &str = "integration-test-token";

/// Which example legacy API (and its shipped mapping) a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    AcmeHr,
    Crewbase,
    Keystone,
    Orbit,
    /// Orbit with SCIM Groups as its roles (`mappings/orbit-roles.yaml`).
    OrbitRoles,
    /// Tallybook: users only, its SCIM Groups held by the gateway (`mappings/tallybook.yaml`).
    Tallybook,
}

impl Legacy {
    /// The shipped mapping that describes this legacy API, relative to the repository.
    pub fn mapping_file(self) -> &'static str {
        match self {
            Legacy::AcmeHr => "mappings/acme-hr.yaml",
            Legacy::Crewbase => "mappings/crewbase.yaml",
            Legacy::Keystone => "mappings/keystone.yaml",
            Legacy::Orbit => "mappings/orbit.yaml",
            Legacy::OrbitRoles => "mappings/orbit-roles.yaml",
            Legacy::Tallybook => "mappings/tallybook.yaml",
        }
    }
}

/// The client id the Orbit environment's OAuth client is registered with (the one
/// `mappings/orbit.yaml` and `mappings/orbit-roles.yaml` name).
pub const ORBIT_CLIENT_ID: &str = "scim-gateway";

/// The legacy API of an environment (the one its `Legacy` names is `Some`).
pub struct Apis<'a> {
    pub acme: Option<&'a AcmeHr>,
    pub crewbase: Option<&'a Crewbase>,
    pub keystone: Option<&'a Keystone>,
    pub orbit: Option<&'a Orbit>,
    pub tallybook: Option<&'a Tallybook>,
}

/// A running gateway + legacy API.
pub struct Env {
    pub legacy: Legacy,
    /// The SCIM base URL, e.g. `http://127.0.0.1:40123/scim/v2`.
    pub base: String,
    /// The legacy API's own base URL.
    pub backend_url: String,
    pub backend_secret: String,
    /// The running gateway's state: reload it, read its counters.
    pub live: Live,
    /// The admin listener's base URL, e.g. `http://127.0.0.1:40124`.
    pub admin: String,
    agent: ureq::Agent,
    acme: Option<AcmeHr>,
    crewbase: Option<Crewbase>,
    keystone: Option<Keystone>,
    orbit: Option<Orbit>,
    tallybook: Option<Tallybook>,
    server: Option<RunningServer>,
    backend_server: Option<RunningServer>,
}

/// An HTTP answer: status, headers we look at, JSON body (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A fresh SQLite file for a group store, in the temporary directory.
pub fn temp_store_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "scim-gw-store-{}-{}.db",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ))
}

impl Env {
    pub fn start(legacy: Legacy) -> Env {
        Self::start_with(legacy, |_| {})
    }

    /// Starts with a configuration adjusted by `tweak`.
    pub fn start_with(legacy: Legacy, tweak: impl FnOnce(&mut Config)) -> Env {
        Self::start_tweaked(legacy, |_| {}, tweak)
    }

    /// Starts with the shipped mapping adjusted by `tweak_mapping` and the configuration by
    /// `tweak`.
    pub fn start_tweaked(
        legacy: Legacy,
        tweak_mapping: impl FnOnce(&mut Mapping),
        tweak: impl FnOnce(&mut Config),
    ) -> Env {
        Self::start_prepared(legacy, tweak_mapping, tweak, |_| {})
    }

    /// [`Env::start_tweaked`], with `prepare` given the legacy API before the gateway starts:
    /// to seed what the gateway reads at start (a group the mapping names by name).
    pub fn start_prepared(
        legacy: Legacy,
        tweak_mapping: impl FnOnce(&mut Mapping),
        tweak: impl FnOnce(&mut Config),
        prepare: impl FnOnce(&Apis<'_>),
    ) -> Env {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut mapping =
            mapping::load_file(&root.join(legacy.mapping_file())).expect("shipped mapping loads");
        let backend_addr = free_loopback_addr().unwrap();
        let scim_addr = free_loopback_addr().unwrap();
        let admin_addr = free_loopback_addr().unwrap();
        let secret = format!("legacy-secret-{}", uuid::Uuid::new_v4().simple());
        mapping.backend.base_url = format!("http://{backend_addr}");
        let (mut acme, mut crewbase, mut keystone, mut orbit, mut tallybook) =
            (None, None, None, None, None);
        // The example API, and the credential the gateway sends it in place of the one the
        // shipped mapping reads from the environment.
        let (backend_service, auth) = match legacy {
            Legacy::AcmeHr => {
                let api = AcmeHr::new(secret.clone());
                acme = Some(api.clone());
                (
                    http_service("acme-hr", backend_addr, 1, api),
                    BackendAuth::Header {
                        name: "X-Acme-Api-Key".into(),
                        secret: SecretSource::Value(secret.clone()),
                    },
                )
            }
            Legacy::Crewbase => {
                let api = Crewbase::new(secret.clone());
                crewbase = Some(api.clone());
                (
                    http_service("crewbase", backend_addr, 1, api),
                    BackendAuth::Bearer(SecretSource::Value(secret.clone())),
                )
            }
            Legacy::Keystone => {
                let api = Keystone::new(secret.clone());
                keystone = Some(api.clone());
                (
                    http_service("keystone", backend_addr, 1, api),
                    // Rails token authentication: the credential is the whole header value.
                    BackendAuth::Header {
                        name: "Authorization".into(),
                        secret: SecretSource::Value(format!("Token token=\"{secret}\"")),
                    },
                )
            }
            Legacy::Orbit | Legacy::OrbitRoles => {
                let api = Orbit::new(ORBIT_CLIENT_ID, secret.clone());
                // The shipped mapping's OAuth 2.0 client credentials with this API's client
                // secret (a token_url given as a path follows base_url here), so that every
                // suite runs the token flow too; a mapping without them gets a static bearer
                // token the API issued, valid for a day.
                let auth = match mapping.backend.auth.take() {
                    Some(oauth2 @ BackendAuth::OAuth2(_)) => {
                        oauth2.with_secret(SecretSource::Value(secret.clone()))
                    }
                    _ => {
                        api.set_token_lifetime(std::time::Duration::from_secs(86_400));
                        BackendAuth::Bearer(SecretSource::Value(api.issue_token()))
                    }
                };
                orbit = Some(api.clone());
                (http_service("orbit", backend_addr, 1, api), auth)
            }
            Legacy::Tallybook => {
                let api = Tallybook::new(secret.clone());
                tallybook = Some(api.clone());
                (
                    http_service("tallybook", backend_addr, 1, api),
                    BackendAuth::Header {
                        name: tallybook::TOKEN_HEADER.into(),
                        secret: SecretSource::Value(secret.clone()),
                    },
                )
            }
        };
        mapping.backend.auth = Some(auth);
        let mut config = Config::default();
        config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
        config.listen.address = scim_addr;
        config.admin.address = admin_addr.to_string();
        // Counts only when /status asks: no background calls under the tests' request counts.
        config.admin.counts_interval_seconds = 0;
        // Groups held by the gateway: a store of this environment's own.
        config.store.url = format!("sqlite:{}", temp_store_file().display());
        tweak_mapping(&mut mapping);
        tweak(&mut config);
        // The legacy API first: a gateway may read from it at start (roles looked up by name).
        let backend_server = start(server_conf(0, 1), vec![backend_service], &[backend_addr])
            .expect("the legacy API starts");
        prepare(&Apis {
            acme: acme.as_ref(),
            crewbase: crewbase.as_ref(),
            keystone: keystone.as_ref(),
            orbit: orbit.as_ref(),
            tallybook: tallybook.as_ref(),
        });
        let live = Live::new(Gateway::new(config, mapping).expect("gateway builds"));
        let (services, addrs) = gateway_services(&live);
        let server = start(server_conf(0, 1), services, &addrs).expect("the gateway starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Env {
            legacy,
            base: format!("http://{scim_addr}/scim/v2"),
            backend_url: format!("http://{backend_addr}"),
            backend_secret: secret,
            live,
            admin: format!("http://{admin_addr}"),
            agent,
            acme,
            crewbase,
            keystone,
            orbit,
            tallybook,
            server: Some(server),
            backend_server: Some(backend_server),
        }
    }

    pub fn acme(&self) -> &AcmeHr {
        self.acme.as_ref().expect("an Acme HR environment")
    }

    pub fn crewbase(&self) -> &Crewbase {
        self.crewbase.as_ref().expect("a Crewbase environment")
    }

    pub fn keystone(&self) -> &Keystone {
        self.keystone.as_ref().expect("a Keystone environment")
    }

    pub fn orbit(&self) -> &Orbit {
        self.orbit.as_ref().expect("an Orbit environment")
    }

    pub fn tallybook(&self) -> &Tallybook {
        self.tallybook.as_ref().expect("a Tallybook environment")
    }

    /// The SCIM listener's `host:port`, for clients that open their own connections.
    pub fn scim_addr(&self) -> String {
        let rest = self.base.trim_start_matches("http://");
        rest.split('/').next().unwrap_or(rest).to_string()
    }

    /// How many requests the legacy API has received so far.
    pub fn backend_requests(&self) -> u64 {
        match self.legacy {
            Legacy::AcmeHr => self.acme().request_count(),
            Legacy::Crewbase => self.crewbase().request_count(),
            Legacy::Keystone => self.keystone().request_count(),
            Legacy::Orbit | Legacy::OrbitRoles => self.orbit().request_count(),
            Legacy::Tallybook => self.tallybook().request_count(),
        }
    }

    /// Seeds `n` users in the legacy API and returns their SCIM ids.
    pub fn seed_users(&self, n: usize) -> Vec<String> {
        match self.legacy {
            Legacy::AcmeHr => self.acme().seed(n).iter().map(u64::to_string).collect(),
            Legacy::Crewbase => self.crewbase().seed(n),
            Legacy::Keystone => self.keystone().seed(n).iter().map(u64::to_string).collect(),
            Legacy::Orbit | Legacy::OrbitRoles => self.orbit().seed(n),
            Legacy::Tallybook => self
                .tallybook()
                .seed(n)
                .iter()
                .map(u64::to_string)
                .collect(),
        }
    }

    /// Stops the servers gracefully.
    pub fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop(Stop::Graceful);
        }
        if let Some(s) = self.backend_server.take() {
            s.stop(Stop::Graceful);
        }
    }

    /// Stops the legacy API only (the gateway keeps running).
    pub fn stop_backend(&mut self) {
        if let Some(s) = self.backend_server.take() {
            s.stop(Stop::Fast);
        }
    }

    /// `GET` on the admin listener: status and body.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.admin))
            .call()
            .expect("the admin listener answers");
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// A request to the gateway with the valid token; `path` is relative to the SCIM base.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.call_with(method, path, body, Some(&format!("Bearer {TOKEN}")))
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        authorization: Option<&str>,
    ) -> Answer {
        self.call_with_headers(method, path, body, authorization, &[])
    }

    /// [`Env::call_with`] with extra request headers.
    pub fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = self.url(path);
        let mut builder = http::Request::builder().method(method).uri(&url);
        if let Some(a) = authorization {
            builder = builder.header("Authorization", a);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let bytes = match body {
            Some(b) => {
                builder = builder.header("Content-Type", "application/scim+json");
                serde_json::to_vec(b).unwrap()
            }
            None => Vec::new(),
        };
        let request = builder.body(bytes).unwrap();
        let response = self.agent.run(request).expect("the gateway answers");
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.into_body().read_to_string().unwrap_or_default();
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"))
        };
        Answer {
            status,
            body,
            location,
            content_type,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None)
    }
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body))
    }
    pub fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path, Some(body))
    }
    pub fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call("PATCH", path, Some(body))
    }
    pub fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None)
    }
}

/// Runs the same test body against the example legacy APIs the shared suites describe, each
/// with its shipped mapping: a module `$name` with one test per API (`acme_hr`, `crewbase`,
/// `orbit`). Not Keystone: it refuses by design things these suites need (it has its own
/// suites, `tests/keystone.rs`).
#[macro_export]
macro_rules! all_mappings {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn acme_hr() {
                let f: fn(&$crate::common::Env) = $body;
                let env = $crate::common::Env::start($crate::common::Legacy::AcmeHr);
                f(&env);
            }
            #[test]
            fn crewbase() {
                let f: fn(&$crate::common::Env) = $body;
                let env = $crate::common::Env::start($crate::common::Legacy::Crewbase);
                f(&env);
            }
            #[test]
            fn orbit() {
                let f: fn(&$crate::common::Env) = $body;
                let env = $crate::common::Env::start($crate::common::Legacy::Orbit);
                f(&env);
            }
        }
    };
}
