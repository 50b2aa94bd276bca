//! The provisioning log as an operator reads it: `scim-gateway serve` with `log.format = "json"`
//! in front of Acme HR; each change gives exactly one line (target `provisioning`) with the
//! contract's fields, each member change one more; the request id is the one returned in
//! `X-Request-Id` and the one the legacy API received; reads are debug lines of
//! `scim_gateway::access`; no secret appears anywhere in the output.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scim_gateway::server::auth::token_digest_hex;
use scim_gateway_example_apis::acme_hr::{self, AcmeHr};
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");
const TOKEN: &str = "provisioning-log-idp-token";
const PASSWORD: &str = "Pa55w0rd-never-logged";

/// The gateway binary, its stderr collected line by line.
struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    base: String,
    agent: ureq::Agent,
}

impl Served {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        request_id: Option<&str>,
    ) -> (u16, Value, String) {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"));
        if let Some(id) = request_id {
            b = b.header("X-Request-Id", id);
        }
        let bytes = match body {
            Some(v) => {
                b = b.header("Content-Type", "application/scim+json");
                serde_json::to_vec(v).unwrap()
            }
            None => Vec::new(),
        };
        let r = self
            .agent
            .run(b.body(bytes).unwrap())
            .expect("the gateway answers");
        let status = r.status().as_u16();
        let id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("every answer carries X-Request-Id")
            .to_string();
        let text = r.into_body().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, body, id)
    }

    /// Stops the gateway (SIGTERM) and returns everything it logged.
    fn stop(mut self) -> Vec<String> {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let the reader thread drain the pipe.
        std::thread::sleep(Duration::from_millis(200));
        self.lines.lock().unwrap().clone()
    }
}

fn serve(api_key: &str, backend: std::net::SocketAddr) -> Served {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("scim-gw-provlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    let scim = free_loopback_addr().unwrap();
    std::fs::write(
        &config,
        format!(
            "[listen]\naddress = \"{scim}\"\n[mapping]\nfile = \"{root}/mappings/acme-hr.yaml\"\nbackend_url = \"http://{backend}\"\n\
             [auth]\ntoken_sha256 = [\"{}\"]\n[admin]\naddress = \"\"\n[shutdown]\ngrace_period_seconds = 0\ntimeout_seconds = 1\n\
             [scim]\nallowed_hosts = [\"127.0.0.1\"]\n\
             [log]\nformat = \"json\"\nlevel = \"info,scim_gateway::access=debug\"\n",
            token_digest_hex(TOKEN)
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("ACME_API_KEY", api_key)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let served = Served {
        child,
        lines,
        base: format!("http://{scim}/scim/v2"),
        agent,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(scim).is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    &line["fields"][name]
}

#[test]
fn each_change_is_one_provisioning_line_with_the_request_id_the_legacy_api_saw() {
    let api_key = format!("acme-key-{}", uuid::Uuid::new_v4().simple());
    let api = AcmeHr::new(api_key.clone());
    let backend = free_loopback_addr().unwrap();
    let _legacy = start(
        server_conf(0, 1),
        vec![http_service("acme", backend, 1, api.clone())],
        &[backend],
    )
    .unwrap();
    let gw = serve(&api_key, backend);

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada.provlog@example.org",
        "password": PASSWORD,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"type": "work", "value": "ada.provlog@example.org"}]
    });
    // (request id sent, operation, resource, expected status)
    let mut changes: Vec<(String, &str, &str, u16)> = Vec::new();

    let (status, created, rid) = gw.call("POST", "/Users", Some(&user), Some("entra-create.1"));
    assert_eq!(status, 201, "{created}");
    assert_eq!(rid, "entra-create.1", "a well-formed incoming id is kept");
    let uid = created["id"].as_str().unwrap().to_string();
    changes.push((rid, "create", "Users", 201));

    let (status, _, rid) = gw.call("POST", "/Users", Some(&user), Some("not a valid id"));
    assert_eq!(status, 409);
    assert_ne!(rid, "not a valid id", "a malformed id is replaced");
    changes.push((rid, "create", "Users", 409));

    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Analyst"}]
    });
    let (status, _, rid) = gw.call("PATCH", &format!("/Users/{uid}"), Some(&patch), None);
    assert_eq!(status, 200);
    changes.push((rid, "patch", "Users", 200));

    let (status, _, read_id) = gw.call("GET", &format!("/Users/{uid}"), None, None);
    assert_eq!(status, 200);

    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Provisioning log team",
        "members": [{"value": uid}, {"value": "999999"}]
    });
    let (status, g, group_rid) = gw.call("POST", "/Groups", Some(&group), None);
    assert_eq!(status, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    changes.push((group_rid.clone(), "create", "Groups", 201));

    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]
    });
    let (status, _, remove_rid) = gw.call("PATCH", &format!("/Groups/{gid}"), Some(&remove), None);
    assert_eq!(status, 204);
    changes.push((remove_rid.clone(), "patch", "Groups", 204));

    // The product's member service fails after one of two adds: the line says "partial".
    let seeded = api.seed(2);
    api.requests().fail("POST", acme_hr::TEAM_MEMBERS, 1, 1);
    let add_two = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members",
                        "value": [{"value": seeded[0].to_string()}, {"value": seeded[1].to_string()}]}]
    });
    let (status, _, partial_rid) =
        gw.call("PATCH", &format!("/Groups/{gid}"), Some(&add_two), None);
    assert_eq!(status, 502);
    changes.push((partial_rid.clone(), "patch", "Groups", 502));

    let (status, _, rid) = gw.call("DELETE", &format!("/Users/{uid}"), None, None);
    assert_eq!(status, 204);
    changes.push((rid, "delete", "Users", 204));
    let (status, _, rid) = gw.call("DELETE", &format!("/Users/{uid}"), None, None);
    assert_eq!(status, 404);
    changes.push((rid, "delete", "Users", 404));

    let received = api.requests().request_ids();
    let logs = gw.stop();
    let all = logs.join("\n");
    let json_lines: Vec<Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let provisioning: Vec<&Value> = json_lines
        .iter()
        .filter(|l| l["target"] == "provisioning")
        .collect();
    let with_id = |id: &str| -> Vec<&Value> {
        provisioning
            .iter()
            .copied()
            .filter(|l| field(l, "request_id") == id)
            .collect()
    };

    for (rid, operation, resource, status) in &changes {
        let lines: Vec<&Value> = with_id(rid)
            .into_iter()
            .filter(|l| field(l, "operation") == *operation)
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one line for {operation} {resource} ({rid}):\n{all}"
        );
        let l = lines[0];
        assert_eq!(field(l, "tenant"), "default");
        assert_eq!(field(l, "resource"), *resource);
        assert_eq!(field(l, "scim_status"), *status);
        let outcome = match status {
            s if *s < 400 => "ok",
            // Failed after one of its two member adds was made.
            _ if *rid == partial_rid => "partial",
            _ => "error",
        };
        assert_eq!(field(l, "outcome"), outcome, "{l}");
        assert!(field(l, "latency_ms").as_f64().unwrap() > 0.0);
        assert!(field(l, "legacy_status").as_u64().is_some(), "{l}");
        assert!(field(l, "detail").is_string(), "{l}");
        if *operation != "create" || *status < 400 {
            assert!(field(l, "resource_id").is_string(), "{l}");
        }
        if *resource == "Users" && *status != 404 {
            assert_eq!(field(l, "user_name"), "ada.provlog@example.org", "{l}");
        } else if *resource == "Groups" {
            assert!(field(l, "user_name").is_null(), "{l}");
        }
        assert!(
            received.contains(rid),
            "the legacy API received X-Request-Id {rid}"
        );
    }
    let dup = with_id(&changes[1].0);
    assert_eq!(
        field(dup[0], "legacy_status"),
        422,
        "the legacy API's refusal of the taken login (the mapping says `unique: userName`: the \
         create goes first, the look-up by userName after it)"
    );
    assert!(
        field(dup[0], "detail")
            .as_str()
            .unwrap()
            .contains(&format!("already taken by user {uid}")),
        "{}",
        dup[0]
    );
    let partial = with_id(&partial_rid);
    let patch_line = partial
        .iter()
        .find(|l| field(l, "operation") == "patch")
        .expect("the PATCH's line");
    let detail = field(patch_line, "detail").as_str().unwrap();
    assert!(
        detail.contains(&format!("Not applied: adding user {}", seeded[1]))
            && detail.contains(&format!("Already applied: added user {}", seeded[0])),
        "{detail}"
    );

    // Each member change is a line of its own, saying what the identity provider is told: one
    // added, one unknown user skipped (the group's create answered 201), one removed; in the
    // partial PATCH, one added and one failed.
    let members: Vec<(String, String)> = with_id(&group_rid)
        .iter()
        .chain(with_id(&remove_rid).iter())
        .filter(|l| field(l, "operation") != "create" && field(l, "operation") != "patch")
        .map(|l| {
            (
                field(l, "operation").as_str().unwrap().to_string(),
                field(l, "outcome").as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            ("add_member".to_string(), "ok".to_string()),
            ("add_member".to_string(), "skipped".to_string()),
            ("remove_member".to_string(), "ok".to_string()),
        ],
        "{all}"
    );
    assert_eq!(
        provisioning.len(),
        changes.len() + 3 + 2,
        "nothing else in the provisioning log:\n{all}"
    );

    // A read is an access line at debug, never a provisioning line.
    assert!(with_id(&read_id).is_empty());
    assert!(json_lines
        .iter()
        .any(|l| l["target"] == "scim_gateway::access"
            && l["level"] == "DEBUG"
            && field(l, "request_id") == read_id.as_str()));

    for secret in [TOKEN, api_key.as_str(), PASSWORD] {
        assert!(!all.contains(secret), "a secret in the log output");
    }
}
