//! The admin listener as a platform team uses it: an Entra-like sequence of SCIM requests, then
//! `/metrics` counts exactly what was sent (by tenant, resource, operation and status), the
//! legacy calls per endpoint equal the legacy API's own counts, cache and auth counters move,
//! no user name or email is in the scrape; `/healthz`, `/readyz` (503 once the legacy API is
//! gone) and `/status` with the per-tenant counts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Env, Legacy};
use scim_gateway_example_apis::acme_hr;
use serde_json::{json, Value};

/// One sample of a Prometheus text exposition.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once("=\"").expect("k=\"v\"");
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        out.push(Sample {
            name: name.to_string(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    out
}

/// The sum of `name` over the samples whose labels include `with`.
fn sum(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": true,
        "name": {"givenName": "Test", "familyName": "Person"},
        "emails": [{"type": "work", "value": format!("{name}.mail@example.org"), "primary": true}]
    })
}

/// Sends requests and tallies what `/metrics` must show for them.
struct Driver<'a> {
    env: &'a Env,
    sent: BTreeMap<(String, String, String, String), u64>,
}

impl Driver<'_> {
    fn send(
        &mut self,
        (resource, operation): (&str, &str),
        method: &str,
        path: &str,
        body: Option<&Value>,
        authorization: Option<&str>,
    ) -> common::Answer {
        let tenant = if authorization == Some(&format!("Bearer {}", common::TOKEN)) {
            "default"
        } else {
            "none"
        };
        let answer = self.env.call_with(method, path, body, authorization);
        *self
            .sent
            .entry((
                tenant.to_string(),
                resource.to_string(),
                operation.to_string(),
                answer.status.to_string(),
            ))
            .or_insert(0) += 1;
        answer
    }

    fn ok(
        &mut self,
        labels: (&str, &str),
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> common::Answer {
        let auth = format!("Bearer {}", common::TOKEN);
        self.send(labels, method, path, body, Some(&auth))
    }
}

/// What the Entra-like sequence sent and created.
struct Sent {
    /// (tenant, resource, operation, status) → requests.
    requests: BTreeMap<(String, String, String, String), u64>,
    names: [&'static str; 3],
    user_ids: Vec<String>,
    group_id: String,
}

// The steps are functions of their own: the test thread's stack (2 MB) must also hold the
// mapping loader's recursion when the environment starts.
#[test]
fn metrics_count_what_was_sent_and_what_the_legacy_api_received() {
    let mut env = Env::start(Legacy::AcmeHr);
    let sent = entra_like_sequence(&env);
    scrape_counts_what_was_sent(&env, &sent);
    status_counts_users_and_groups(&env);
    health_and_readiness(&mut env);
}

fn entra_like_sequence(env: &Env) -> Sent {
    let mut d = Driver {
        env,
        sent: BTreeMap::new(),
    };
    // Refused before authentication: counted for tenant "none", and as auth failures.
    let r = d.send(("Users", "list"), "GET", "/Users", None, None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("x-request-id").map(str::len),
        Some(32),
        "a request id on every answer, errors included"
    );
    let r = d.send(
        ("Users", "get"),
        "GET",
        "/Users/1",
        None,
        Some("Bearer wrong-token"),
    );
    assert_eq!(r.status, 401);
    // Entra's sequence: test connection, match, create, read, deactivate, delete, groups.
    let probe = "/Users?filter=userName+eq+%22nobody%40example.org%22";
    assert_eq!(d.ok(("Users", "list"), "GET", probe, None).status, 200);
    let names = ["ada.metrics", "grace.metrics", "alan.metrics"];
    let mut ids = Vec::new();
    for n in names {
        let r = d.ok(("Users", "create"), "POST", "/Users", Some(&user(n)));
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let dup = d.ok(("Users", "create"), "POST", "/Users", Some(&user(names[0])));
    assert_eq!(dup.status, 409);
    let unknown = d.ok(("Users", "get"), "GET", "/Users/999999", None);
    assert_eq!(unknown.status, 404);
    for _ in 0..2 {
        let r = d.ok(("Users", "get"), "GET", &format!("/Users/{}", ids[0]), None);
        assert_eq!(r.status, 200);
    }
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    });
    let r = d.ok(
        ("Users", "patch"),
        "PATCH",
        &format!("/Users/{}", ids[1]),
        Some(&deactivate),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = d.ok(
        ("Users", "delete"),
        "DELETE",
        &format!("/Users/{}", ids[2]),
        None,
    );
    assert_eq!(r.status, 204);
    let r = d.ok(("Users", "get"), "GET", &format!("/Users/{}", ids[2]), None);
    assert_eq!(r.status, 404);
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Metrics team",
        "members": [{"value": ids[0]}]
    });
    let g = d.ok(("Groups", "create"), "POST", "/Groups", Some(&group));
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": ids[1]}]}]
    });
    let r = d.ok(
        ("Groups", "patch"),
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&add),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = d.ok(("Groups", "get"), "GET", &format!("/Groups/{gid}"), None);
    assert_eq!(r.status, 200);
    let r = d.ok(("Users", "get"), "GET", &format!("/Users/{}", ids[1]), None);
    assert_eq!(r.body["groups"][0]["value"], gid.as_str());
    let search =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 5});
    assert_eq!(
        d.ok(("Search", "search"), "POST", "/.search", Some(&search))
            .status,
        200
    );
    let spc = d.ok(
        ("ServiceProviderConfig", "discovery"),
        "GET",
        "/ServiceProviderConfig",
        None,
    );
    assert_eq!(spc.status, 200);
    let nowhere = d.ok(("none", "none"), "GET", "/Nowhere", None);
    assert_eq!(nowhere.status, 404);
    // The admin endpoints are not on the SCIM listener.
    let scim_root = env.base.trim_end_matches("/scim/v2").to_string();
    for path in ["/metrics", "/healthz", "/status"] {
        let r = d.ok(("none", "none"), "GET", &format!("{scim_root}{path}"), None);
        assert_eq!(r.status, 404, "{path} on the SCIM listener");
    }
    Sent {
        requests: d.sent,
        names,
        user_ids: ids,
        group_id: gid,
    }
}

fn scrape_counts_what_was_sent(env: &Env, sent: &Sent) {
    let (names, ids, gid) = (&sent.names, &sent.user_ids, &sent.group_id);
    assert_eq!(env.admin_get("/nowhere").0, 404);

    let (status, text) = env.admin_get("/metrics");
    assert_eq!(status, 200);
    let samples = parse(&text);

    // Every SCIM request, by its labels, exactly as sent.
    let mut seen = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "scim_gateway_scim_requests_total")
    {
        let l = |k: &str| s.labels[k].clone();
        seen.insert(
            (l("tenant"), l("resource"), l("operation"), l("status")),
            s.value as u64,
        );
    }
    assert_eq!(seen, sent.requests, "scim_requests_total");
    let creates = sum(
        &samples,
        "scim_gateway_scim_request_duration_seconds_count",
        &[("resource", "Users"), ("operation", "create")],
    );
    assert_eq!(creates, 4.0);
    assert_eq!(
        sum(&samples, "scim_gateway_scim_requests_in_flight", &[]),
        0.0
    );

    // Legacy calls by endpoint name = what the legacy API itself received.
    let counts = env.acme().requests();
    let endpoints = [
        ("users.create", "POST", acme_hr::USERS),
        ("users.list", "GET", acme_hr::USERS),
        ("users.get", "GET", acme_hr::USER),
        ("users.update", "PUT", acme_hr::USER),
        ("users.delete", "DELETE", acme_hr::USER),
        ("groups.create", "POST", acme_hr::TEAMS),
        ("groups.list", "GET", acme_hr::TEAMS),
        ("groups.get", "GET", acme_hr::TEAM),
        ("groups.update", "PATCH", acme_hr::TEAM),
        ("groups.delete", "DELETE", acme_hr::TEAM),
        ("groups.add_member", "POST", acme_hr::TEAM_MEMBERS),
        ("groups.list_members", "GET", acme_hr::TEAM_MEMBERS),
        ("groups.remove_member", "DELETE", acme_hr::TEAM_MEMBER),
        ("groups.user_groups", "GET", acme_hr::USER_TEAMS),
    ];
    for (name, method, pattern) in endpoints {
        let ours = sum(
            &samples,
            "scim_gateway_backend_requests_total",
            &[("endpoint", name)],
        );
        assert_eq!(
            ours as u64,
            counts.get(method, pattern),
            "{name} ({method} {pattern})"
        );
    }
    let all = sum(&samples, "scim_gateway_backend_requests_total", &[]);
    assert_eq!(all as u64, counts.total(), "every legacy call is counted");
    assert!(
        sum(
            &samples,
            "scim_gateway_backend_requests_total",
            &[("endpoint", "users.get"), ("status", "404")]
        ) >= 1.0,
        "the unknown id's legacy refusal is counted by its status"
    );
    let timed = sum(
        &samples,
        "scim_gateway_backend_request_duration_seconds_count",
        &[],
    );
    assert_eq!(timed, all);

    // The membership cache and authentication.
    assert!(
        sum(
            &samples,
            "scim_gateway_cache_hits_total",
            &[("cache", "membership")]
        ) >= 1.0
    );
    assert!(
        sum(
            &samples,
            "scim_gateway_cache_misses_total",
            &[("cache", "membership")]
        ) >= 1.0
    );
    assert_eq!(
        sum(
            &samples,
            "scim_gateway_auth_failures_total",
            &[("reason", "missing")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "scim_gateway_auth_failures_total",
            &[("reason", "unknown_key")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "scim_gateway_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(sum(&samples, "scim_gateway_config_reloads_total", &[]), 0.0);

    // No personal data in the scrape: no user name, no email, no id as a label value.
    for n in names {
        assert!(!text.contains(*n), "{n} in the metrics");
    }
    assert!(!text.contains("@example.org"));
    let values: BTreeSet<&str> = samples
        .iter()
        .flat_map(|s| s.labels.iter())
        .filter(|(k, _)| *k != "le")
        .map(|(_, v)| v.as_str())
        .collect();
    for id in ids.iter().chain([gid]) {
        assert!(!values.contains(id.as_str()), "id {id} as a label value");
    }
}

fn status_counts_users_and_groups(env: &Env) {
    // /status: the counts the vendor bills on. ada active, grace deactivated, alan deleted.
    let (status, body) = env.admin_get("/status");
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["started"].as_str().unwrap().contains('T'));
    let t = &doc["tenants"]["default"];
    assert_eq!(t["users_active"], 1, "{doc}");
    assert_eq!(t["users_inactive"], 1, "{doc}");
    assert_eq!(t["groups"], 1, "{doc}");
    assert!(t["last_sync"].as_str().unwrap().ends_with('Z'), "{doc}");
    let samples = parse(&env.admin_get("/metrics").1);
    let gauge = |state| {
        sum(
            &samples,
            "scim_gateway_provisioned_users",
            &[("tenant", "default"), ("state", state)],
        )
    };
    assert_eq!((gauge("active"), gauge("inactive")), (1.0, 1.0));
    assert_eq!(
        sum(
            &samples,
            "scim_gateway_provisioned_groups",
            &[("tenant", "default")]
        ),
        1.0
    );
    // A change makes the counts stale: the next /status counts again.
    let r = env.post("/Users", &user("barbara.metrics"));
    assert_eq!(r.status, 201);
    let doc: Value = serde_json::from_str(&env.admin_get("/status").1).unwrap();
    assert_eq!(doc["tenants"]["default"]["users_active"], 2, "{doc}");
}

fn health_and_readiness(env: &mut Env) {
    assert_eq!(env.admin_get("/healthz"), (200, "ok\n".to_string()));
    let (status, body) = env.admin_get("/readyz");
    assert_eq!(status, 200, "{body}");
    env.stop_backend();
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let (status, body) = env.admin_get("/readyz");
        if status == 503 {
            assert!(body.contains("legacy API"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {status} without a legacy API"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(env.admin_get("/healthz").0, 200, "alive, though not ready");
}

#[test]
fn crewbase_counts_deactivated_users_as_inactive_and_groups_by_their_total() {
    let env = Env::start(Legacy::Crewbase);
    let mut ids = Vec::new();
    for n in ["one.counts", "two.counts", "three.counts"] {
        let r = env.post("/Users", &user(n));
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    // Crewbase keeps a deleted person, deactivated.
    assert_eq!(env.delete(&format!("/Users/{}", ids[2])).status, 204);
    for name in ["Red", "Blue"] {
        let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
        assert_eq!(env.post("/Groups", &g).status, 201);
    }
    let before = env.backend_requests();
    let doc: Value = serde_json::from_str(&env.admin_get("/status").1).unwrap();
    let t = &doc["tenants"]["default"];
    assert_eq!(
        (&t["users_active"], &t["users_inactive"], &t["groups"]),
        (&json!(2), &json!(1), &json!(2)),
        "{doc}"
    );
    assert_eq!(
        env.backend_requests() - before,
        2,
        "one scan page of users, one page of 1 for the groups' total"
    );
    // Fresh counts are served without calling the legacy API again.
    let before = env.backend_requests();
    env.admin_get("/status");
    assert_eq!(env.backend_requests() - before, 0);
}

#[test]
fn counts_past_the_scan_limit_are_unknown_after_one_legacy_page() {
    // Acme HR has a deleted marker, so its users are counted by a scan. 450 users against a
    // limit of 250: the first page's total is past the limit, so the count stops there.
    let env = Env::start_tweaked(Legacy::AcmeHr, |m| m.users.scan_limit = 250, |_| {});
    env.acme().seed(450);
    let doc: Value = serde_json::from_str(&env.admin_get("/status").1).unwrap();
    let t = &doc["tenants"]["default"];
    assert_eq!(
        (&t["users_active"], &t["users_inactive"]),
        (&Value::Null, &Value::Null),
        "{doc}"
    );
    assert_eq!(t["groups"], 0, "{doc}");
    assert_eq!(env.acme().requests().get("GET", acme_hr::USERS), 1);
}
