//! `scim-gateway explain`: the legacy calls one SCIM request would make, in order, with their
//! bodies, without sending a write.
//!
//! The request runs through the gateway in process ([`Driver`]), exactly as the listener runs
//! it, with a sample legacy API ([`simulator::SampleApi`]) answering every write, and every read
//! too unless `--live`: so the calls, their order and their bodies are the gateway's own, and
//! only the answers are samples. For a list, a search or the look-up a create makes first,
//! [`filter_plan`] says whether the filter is passed down whole, passed down and re-checked, or
//! scanned, and what that costs, from the gateway's own decisions.

mod filter_plan;
mod simulator;

use std::fmt::Write as _;
use std::sync::Arc;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::mapping::{Mapping, UpdateMode};
use crate::onboard::driver::{Driver, Exchange};
use crate::scim::filter::Filter;
use crate::scim::list::ListQuery;

pub use filter_plan::{FilterPlan, Param};

/// The SCIM request to explain.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub method: Method,
    /// Path and query relative to the SCIM base path (`/Users?filter=…`); a path that starts
    /// with the base path is taken as it is.
    pub path: String,
    pub body: Option<Value>,
    /// Send the reads to the legacy API (writes are never sent).
    pub live: bool,
}

/// What `explain` found.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The SCIM request, as explained.
    pub request: ExplainedRequest,
    /// The mapping's `name:`.
    pub mapping: String,
    /// `--live`: the reads were sent to the legacy API.
    pub live: bool,
    /// Why the request could not be explained (one line); nothing else is then set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How each list, search or look-up reaches the legacy list, in the order they are made.
    pub filters: Vec<FilterPlan>,
    /// Every legacy call, in order; `simulated`: not sent, answered by the sample API.
    pub calls: Vec<Exchange>,
    /// The SCIM answer the gateway gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<ScimAnswer>,
    /// What to keep in mind when reading the rest.
    pub notes: Vec<String>,
}

/// The SCIM request explained.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedRequest {
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The SCIM answer.
#[derive(Debug, Clone, Serialize)]
pub struct ScimAnswer {
    pub status: u16,
    /// The body (`null` for a 204).
    pub body: Value,
    /// The error's detail, when the status is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The note on every explanation with a simulated answer.
pub const SAMPLES_NOTE: &str = "Answers of calls marked \"not sent (simulated)\" are samples \
made from the mapping (a sample user or group translated by its attributes, with a made-up \
id), not the legacy API's: the calls, their order and their bodies are the gateway's own, the \
values in the answers are not.";

impl Explanation {
    /// Whether the request could not be explained (bad input).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// How many calls were sent to the legacy API (only reads, and only with `--live`).
    pub fn sent(&self) -> usize {
        self.calls.iter().filter(|c| !c.simulated).count()
    }

    /// The explanation as printed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.error {
            let _ = writeln!(out, "error: {e}");
            return out;
        }
        let _ = writeln!(
            out,
            "{} {} (mapping {}{})",
            self.request.method,
            self.request.path,
            self.mapping,
            if self.live {
                ", --live: reads sent, writes not"
            } else {
                ", nothing sent"
            }
        );
        if let Some(body) = &self.request.body {
            push_json(&mut out, "  ", body);
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nNote: {note}");
        }
        out.push('\n');
        for plan in &self.filters {
            out.push_str(&plan.text());
            out.push('\n');
        }
        if self.calls.is_empty() {
            out.push_str("No legacy call.\n");
        } else {
            let _ = writeln!(out, "Legacy calls, in order ({}):", self.calls.len());
            for (i, call) in self.calls.iter().enumerate() {
                let how = if call.simulated {
                    "not sent (simulated)"
                } else {
                    "sent"
                };
                let _ = writeln!(
                    out,
                    "{:>3}. {}  [{}.{}]  {how}",
                    i + 1,
                    call.line(),
                    call.section,
                    call.endpoint
                );
                if let Some(body) = &call.body {
                    out.push_str("       body:\n");
                    push_json(&mut out, "         ", body);
                }
                match (call.status, &call.failure) {
                    (Some(status), _) => {
                        let sample = if call.simulated { " (sample)" } else { "" };
                        let _ = write!(out, "       answered {status}{sample}");
                        if let Some(l) = &call.location {
                            let _ = write!(out, ", Location: {l}");
                        }
                        if call.answer.is_null() {
                            out.push_str(", no body\n");
                        } else {
                            out.push_str(":\n");
                            push_json(&mut out, "         ", &call.answer);
                        }
                    }
                    (None, Some(failure)) => {
                        let _ = writeln!(out, "       failed: {failure}");
                    }
                    (None, None) => out.push_str("       no answer\n"),
                }
            }
        }
        out.push('\n');
        if let Some(answer) = &self.answer {
            let _ = write!(out, "SCIM answer: {}", answer.status);
            match &answer.detail {
                Some(d) => {
                    let _ = writeln!(out, " — {d}");
                }
                None if answer.body.is_null() => out.push_str(", no body\n"),
                None => {
                    out.push('\n');
                    push_json(&mut out, "  ", &answer.body);
                }
            }
        }
        out
    }

    fn refused(request: &ExplainRequest, mapping: &Mapping, error: String) -> Explanation {
        Explanation {
            request: ExplainedRequest {
                method: request.method.to_string(),
                path: request.path.clone(),
                body: request.body.clone(),
            },
            mapping: mapping.name.clone(),
            live: request.live,
            error: Some(error),
            filters: Vec::new(),
            calls: Vec::new(),
            answer: None,
            notes: Vec::new(),
        }
    }
}

/// `value` as pretty JSON, each line indented by `indent`.
fn push_json(out: &mut String, indent: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    for line in text.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

/// What the SCIM request is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `GET /Users`, `GET /Groups` (with a query).
    List,
    /// `POST /Users/.search`.
    Search,
    /// `POST /Users`.
    Create,
    /// `GET`, `PUT`, `PATCH` or `DELETE` on `/Users/{id}`.
    One,
    /// `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`: no legacy call.
    Discovery,
}

/// The request's path and query relative to the base path, its section and shape.
struct Target {
    relative: String,
    query: String,
    section: Option<&'static str>,
    shape: Shape,
}

fn parse_target(request: &ExplainRequest, base: &str, mapping: &Mapping) -> Result<Target, String> {
    let raw = request.path.trim();
    let relative = match raw.strip_prefix(base) {
        Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with(['/', '?'])) => {
            rest.to_string()
        }
        _ => raw.to_string(),
    };
    if !relative.starts_with('/') {
        return Err(format!(
            "{raw:?} is not a SCIM path: give it relative to the SCIM base path, e.g. /Users, \
             /Users/{{id}} or '/Users?filter=userName eq \"ada@example.com\"'"
        ));
    }
    let (path, query) = relative.split_once('?').unwrap_or((&relative, ""));
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let unknown = || {
        format!(
            "unknown SCIM path {path:?}: explain takes /Users, /Users/{{id}}, /Groups, \
             /Groups/{{id}} (with a query for a list), /Users/.search or /Groups/.search"
        )
    };
    let (section, rest) = match segments.as_slice() {
        [] | [""] => return Err(unknown()),
        [first, rest @ ..] => (*first, rest),
    };
    let section = match section {
        "Users" => "users",
        "Groups" => {
            if mapping.groups.is_none() {
                return Err(format!(
                    "the mapping {} has no groups: section, so /Groups is not served",
                    mapping.name
                ));
            }
            "groups"
        }
        "ServiceProviderConfig" | "Schemas" | "ResourceTypes" => {
            return Ok(Target {
                relative: relative.clone(),
                query: query.to_string(),
                section: None,
                shape: Shape::Discovery,
            })
        }
        _ => return Err(unknown()),
    };
    let method = &request.method;
    let shape = match (rest, method.as_str()) {
        ([], "GET") => Shape::List,
        ([], "POST") => Shape::Create,
        ([".search"], "POST") => Shape::Search,
        ([id], "GET" | "PUT" | "PATCH" | "DELETE") if !id.is_empty() && *id != ".search" => {
            Shape::One
        }
        ([], _) => {
            return Err(format!(
                "{method} {path}: a collection takes GET (a list) or POST (a create)"
            ))
        }
        ([_], "POST") => {
            return Err(format!(
                "{method} {path}: a resource takes GET, PUT, PATCH or DELETE"
            ))
        }
        ([_], _) => {
            return Err(format!(
                "{method} is not a SCIM method explain takes: GET, POST, PUT, PATCH or DELETE"
            ))
        }
        _ => return Err(unknown()),
    };
    Ok(Target {
        relative: relative.clone(),
        query: query.to_string(),
        section: Some(section),
        shape,
    })
}

/// Refuses a body that is not what the request takes (one line).
fn check_body(request: &ExplainRequest, target: &Target) -> Result<(), String> {
    let method = request.method.as_str();
    let core = match target.section {
        Some("groups") => crate::scim::urn::GROUP,
        _ => crate::scim::urn::USER,
    };
    let needs_body = matches!(
        (method, &target.shape),
        ("POST", _) | ("PUT", Shape::One) | ("PATCH", Shape::One)
    );
    let body = match (&request.body, needs_body) {
        (None, true) => {
            return Err(format!(
                "{method} {} needs a body: give the SCIM JSON as the BODY argument, @FILE or -",
                request.path
            ))
        }
        (Some(_), false) => {
            return Err(format!("{method} {} takes no body", request.path));
        }
        (None, false) => return Ok(()),
        (Some(b), true) => b,
    };
    let Some(obj) = body.as_object() else {
        return Err(format!(
            "the body is not a SCIM resource: a JSON object is expected, got {}",
            kind(body)
        ));
    };
    let schemas: Vec<&str> = obj
        .get("schemas")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let has = |urn: &str| schemas.iter().any(|s| s.eq_ignore_ascii_case(urn));
    match (method, &target.shape) {
        ("PATCH", _) => {
            if !obj.get("Operations").is_some_and(Value::is_array) {
                return Err(
                    "the body is not a SCIM PatchOp: it needs \"Operations\": [ {\"op\": …} ] \
                     (and \"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"])"
                        .to_string(),
                );
            }
        }
        ("POST", Shape::Search) => {}
        _ => {
            if obj.contains_key("Operations") {
                return Err(format!(
                    "the body is a PatchOp, not a SCIM resource: send it with PATCH, or give \
                     the resource for {method}"
                ));
            }
            if obj.contains_key("schemas") && !has(core) {
                return Err(format!(
                    "the body is not a SCIM {} resource: its \"schemas\" lack {core:?}",
                    if core == crate::scim::urn::GROUP {
                        "Group"
                    } else {
                        "User"
                    }
                ));
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The name a create or rename of `section` looks up first, from the request's body.
fn looked_up_name(section: &str, body: Option<&Value>) -> (&'static str, String) {
    let attr = if section == "groups" {
        "displayName"
    } else {
        "userName"
    };
    let find = |v: &Value| -> Option<String> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    };
    let from_body = body.and_then(|b| {
        find(b).or_else(|| {
            b.get("Operations")?.as_array()?.iter().find_map(|op| {
                let value = op.get("value")?;
                match op.get("path").and_then(Value::as_str) {
                    Some(p) if p.eq_ignore_ascii_case(attr) => value.as_str().map(str::to_string),
                    Some(_) => None,
                    None => find(value),
                }
            })
        })
    });
    (attr, from_body.unwrap_or_else(|| "…".to_string()))
}

/// Explains `request` with the gateway of `driver`.
pub async fn explain(driver: Driver, request: &ExplainRequest) -> Explanation {
    let mapping = driver.mapping().clone();
    let base = driver.base_path().to_string();
    let target = match parse_target(request, &base, &mapping) {
        Ok(t) => t,
        Err(e) => return Explanation::refused(request, &mapping, e),
    };
    if let Err(e) = check_body(request, &target) {
        return Explanation::refused(request, &mapping, e);
    }
    // The query as the gateway reads it.
    let max = driver.max_results();
    let query = match target.shape {
        Shape::List => ListQuery::from_query_string(&target.query, max).ok(),
        Shape::Search => request
            .body
            .as_ref()
            .and_then(|b| ListQuery::from_search_request(b, max).ok()),
        _ => None,
    };
    let mut sample = simulator::SampleApi::new(mapping.clone(), request.live);
    if let (Some(section), Shape::Create) = (target.section, &target.shape) {
        sample = sample.with_empty_lists(section);
    }
    let parsed_filter = query
        .as_ref()
        .and_then(|q| q.filter.as_deref())
        .and_then(|f| Filter::parse(f.trim()).ok());
    if let (Some(section), Some(f)) = (target.section, &parsed_filter) {
        sample = sample.wanting(section, f);
    }
    let driver = driver.simulated(Arc::new(sample));
    let outcome = driver
        .send(
            request.method.clone(),
            &target.relative,
            request.body.as_ref(),
        )
        .await;

    let mut filters = Vec::new();
    let listed = |section: &str| {
        outcome
            .calls
            .iter()
            .any(|c| c.section == section && c.endpoint == "list")
    };
    // A list the gateway refused before reading anything (a filter on a user's groups) has
    // no cost to tell.
    if let (Some(section), Some(q)) = (target.section, &query) {
        if listed(section) {
            filters.extend(filter_plan::list_plan(&mapping, section, q));
        }
    }
    if matches!(target.shape, Shape::Create | Shape::One) {
        for section in ["users", "groups"] {
            if listed(section) && target.section == Some(section) {
                let (attr, value) = looked_up_name(section, request.body.as_ref());
                filters.extend(filter_plan::lookup_plan(&mapping, section, attr, &value));
            }
        }
    }

    let mut notes = Vec::new();
    if outcome.calls.iter().any(|c| c.simulated) {
        notes.push(SAMPLES_NOTE.to_string());
    }
    if target.shape == Shape::Create
        && outcome
            .calls
            .iter()
            .any(|c| c.simulated && c.endpoint == "list")
    {
        notes.push(
            "The look-up was answered with no record, as for a new user or group: against the \
             real API a record holding that name makes the create a 409 uniqueness (or, when \
             it was deleted through SCIM, restores it)."
                .to_string(),
        );
    }
    if request.live {
        let partial = |section: &str| match section {
            "users" => mapping.users.endpoints.update_mode == UpdateMode::Partial,
            _ => mapping
                .groups
                .as_ref()
                .is_some_and(|g| g.resource.endpoints.update_mode == UpdateMode::Partial),
        };
        if outcome
            .calls
            .iter()
            .any(|c| c.simulated && c.endpoint == "update" && partial(c.section))
        {
            notes.push(
                "--live: the partial update's answer is simulated on a sample record, so the \
                 attributes it did not change show sample values in the SCIM answer, not the \
                 record's."
                    .to_string(),
            );
        }
    }
    let detail = outcome.detail().map(str::to_string);
    Explanation {
        request: ExplainedRequest {
            method: request.method.to_string(),
            path: target.relative.clone(),
            body: request.body.clone(),
        },
        mapping: mapping.name.clone(),
        live: request.live,
        error: None,
        filters,
        calls: outcome.calls,
        answer: Some(ScimAnswer {
            status: outcome.status,
            body: outcome.body,
            detail,
        }),
        notes,
    }
}
