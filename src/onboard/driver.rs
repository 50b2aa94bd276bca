//! SCIM requests made in process by the onboarding commands ([`Driver`]): as one tenant, routed
//! and operated exactly as the listener does (no authentication or rate limit: no identity
//! provider makes them), each legacy call they cause recorded as an [`Exchange`] — and, for
//! `explain`, answered by a [`Simulator`] instead of being sent.

use std::sync::{Arc, Mutex};

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::backend::BackendResponse;
use crate::config::Config;
use crate::mapping::Mapping;
use crate::server::app::handle_as;
use crate::server::gateway::{Gateway, StartupError};
use crate::server::record::RequestRecord;
use crate::server::tap::{Section, Tap, TapOutcome, TappedCall};
use crate::server::tenant::Tenant;
use crate::server::wire::{Body, Request};

/// One legacy call a SCIM request caused, and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// `users` or `groups`: the section of the mapping the endpoint is in.
    pub section: &'static str,
    /// The endpoint's name in that section (`get`, `create`, `add_member`…).
    pub endpoint: &'static str,
    pub method: String,
    /// The path and query, relative to `backend.base_url` (credentials are never in it).
    pub target: String,
    /// The JSON body sent, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The status answered (absent when the call failed without an answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer's body as received (JSON, else the text; `null` when empty).
    pub answer: Value,
    /// The answer's `Location` header, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Why the call has no answer (refused connection, timeout, open circuit…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The call was not sent: the simulator answered it (`explain`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

impl Exchange {
    /// `METHOD target`, as printed.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// Answers legacy calls instead of the legacy API (`explain`'s dry run).
pub trait Simulator: Send + Sync {
    /// The answer to give to `call` instead of sending it; `None` sends it.
    fn answer(&self, call: &SimulatedCall<'_>) -> Option<SimulatedAnswer>;
}

/// A call as a [`Simulator`] sees it.
pub struct SimulatedCall<'a> {
    /// `users` or `groups`.
    pub section: &'static str,
    /// The endpoint's name in its section (`get`, `list`, `create`…).
    pub endpoint: &'static str,
    pub method: &'a Method,
    pub target: &'a str,
    /// The JSON body the gateway would send.
    pub body: Option<Value>,
}

/// What a [`Simulator`] answers.
pub struct SimulatedAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// The tap of one request: records each call, lets the simulator answer.
struct Recorder {
    calls: Mutex<Vec<Exchange>>,
    simulator: Option<Arc<dyn Simulator>>,
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Users => "users",
        Section::Groups => "groups",
    }
}

fn json_of(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Tap for Recorder {
    fn answer(&self, call: &TappedCall<'_>) -> Option<BackendResponse> {
        let simulator = self.simulator.as_ref()?;
        let seen = SimulatedCall {
            section: section_name(call.section),
            endpoint: call.endpoint_name(),
            method: &call.request.method,
            target: &call.request.path_and_query,
            body: call.request.body.as_deref().map(json_of),
        };
        let answer = simulator.answer(&seen)?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &answer.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        let body = answer
            .body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default())
            .unwrap_or_default();
        Some(BackendResponse {
            status: answer.status,
            headers,
            body: body.into(),
        })
    }

    fn seen(&self, call: &TappedCall<'_>, outcome: TapOutcome<'_>) {
        let (response, failure, simulated) = match outcome {
            TapOutcome::Answered(r) => (Some(r), None, false),
            TapOutcome::Simulated(r) => (Some(r), None, true),
            TapOutcome::Failed(e) => (None, Some(e.to_string()), false),
        };
        let exchange = Exchange {
            section: section_name(call.section),
            endpoint: call.endpoint_name(),
            method: call.request.method.to_string(),
            target: call.request.path_and_query.clone(),
            body: call.request.body.as_deref().map(json_of),
            status: response.map(|r| r.status),
            answer: response.map_or(Value::Null, |r| json_of(&r.body)),
            location: response.and_then(|r| {
                r.headers
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            }),
            failure,
            simulated,
        };
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(exchange);
    }
}

/// What a SCIM request made in process came to.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The SCIM status.
    pub status: u16,
    /// The SCIM body (`null` when none, as for a 204).
    pub body: Value,
    /// The legacy calls it made, in order.
    pub calls: Vec<Exchange>,
}

impl Outcome {
    /// The SCIM error's detail, when the request failed.
    pub fn detail(&self) -> Option<&str> {
        (self.status >= 400)
            .then(|| self.body.get("detail").and_then(Value::as_str))
            .flatten()
    }

    /// The SCIM error's `scimType`, when the request failed with one.
    pub fn scim_type(&self) -> Option<&str> {
        (self.status >= 400)
            .then(|| self.body.get("scimType").and_then(Value::as_str))
            .flatten()
    }
}

/// Makes SCIM requests in process against one gateway, as one tenant.
pub struct Driver {
    gw: Gateway,
    tenant: Tenant,
    simulator: Option<Arc<dyn Simulator>>,
}

impl Driver {
    /// A gateway built from `config` and `mapping` as `serve` builds it (the roles named by name
    /// looked up), acting for `tenant` (as configured under `[tenants.<name>]`, else with the
    /// defaults).
    pub fn new(config: Config, mapping: Mapping, tenant: &str) -> Result<Driver, StartupError> {
        let tenant = match config.tenants.get(tenant) {
            Some(c) => Tenant::from_config(tenant, c),
            None => Tenant::named(tenant),
        };
        let gw = Gateway::new(config, mapping)?;
        Ok(Driver {
            gw,
            tenant,
            simulator: None,
        })
    }

    /// A driver for `explain`: as [`Driver::new`], except that without `live` (nothing is sent)
    /// the legacy credential is not needed and not read — unless the mapping looks names up
    /// in the legacy API at start (roles by name), which needs it either way.
    pub fn for_explain(
        config: Config,
        mut mapping: Mapping,
        tenant: &str,
        live: bool,
    ) -> Result<Driver, StartupError> {
        if !live && crate::server::roles::described(&mapping).is_none() {
            mapping.backend.auth = None;
        }
        Driver::new(config, mapping, tenant)
    }

    /// The same driver, its legacy calls answered by `simulator` where it answers them.
    pub fn simulated(mut self, simulator: Arc<dyn Simulator>) -> Driver {
        self.simulator = Some(simulator);
        self
    }

    /// The compiled mapping the gateway uses.
    pub fn mapping(&self) -> &Mapping {
        &self.gw.mapping
    }

    /// The tenant the requests act for.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The SCIM base path (`/scim/v2` by default).
    pub fn base_path(&self) -> &str {
        &self.gw.config.scim.base_path
    }

    /// The most resources one SCIM page holds (`scim.max_results`).
    pub fn max_results(&self) -> usize {
        self.gw.config.scim.max_results
    }

    /// Makes the SCIM request `method path_and_query` (relative to the base path: `/Users?…`)
    /// with `body`, and records its legacy calls.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Outcome {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let recorder = Arc::new(Recorder {
            calls: Mutex::new(Vec::new()),
            simulator: self.simulator.clone(),
        });
        let record = RequestRecord::tapped(recorder.clone());
        let request = Request {
            method,
            path: format!("{}{path}", self.gw.config.scim.base_path),
            query: query.to_string(),
            authorization: None,
            host: None,
            body: body
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
            request_id: format!("onboard-{}", uuid::Uuid::new_v4().simple()),
            if_match: None,
            if_none_match: None,
        };
        let reply = handle_as(&self.gw, &self.tenant, &request, &record).await;
        // What the listener would run once the answer is out, before the next request.
        if let Some(work) = record.take_after_answer(&self.gw.records) {
            work.await;
        }
        drop(record);
        let calls = std::mem::take(
            &mut *recorder
                .calls
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        Outcome {
            status: reply.status,
            body: reply.body.map_or(Value::Null, Body::into_json),
            calls,
        }
    }
}
