//! Groups held by the gateway on PostgreSQL, as several replicas run them: two `scim-gateway
//! serve` processes in front of one Tallybook, sharing one store on a real, throw-away
//! PostgreSQL server (`common::postgres`). Members added through both at once are all kept, a
//! name created through both at once is created once, and a store taken away answers 503 with
//! `Retry-After` for groups while users are still served.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{postgres, Env, Legacy};
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway_hosting::free_loopback_addr;
use serde_json::{json, Value};

const TOKEN: &str = "replica-token";

/// One `scim-gateway serve` process.
struct Replica {
    child: Child,
    base: String,
    /// The admin listener's base URL (`/readyz`).
    admin: String,
    agent: ureq::Agent,
}

impl Replica {
    fn start(env: &Env, store_url: &str, dir: &std::path::Path, name: &str) -> Replica {
        let root = env!("CARGO_MANIFEST_DIR");
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[mapping]\nfile = \"{root}/mappings/tallybook.yaml\"\n[auth]\ntoken_sha256 = [\"{}\"]\n[shutdown]\ngrace_period_seconds = 0\ntimeout_seconds = 1\n[admin]\ncounts_interval_seconds = 0\n[scim]\nallowed_hosts = [\"127.0.0.1\"]\n",
                token_digest_hex(TOKEN)
            ),
        )
        .unwrap();
        let scim = free_loopback_addr().unwrap();
        let admin = free_loopback_addr().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("SCIM_GATEWAY_LISTEN__ADDRESS", scim.to_string())
            .env("SCIM_GATEWAY_ADMIN__ADDRESS", admin.to_string())
            .env("SCIM_GATEWAY_MAPPING__BACKEND_URL", &env.backend_url)
            .env("SCIM_GATEWAY_STORE__URL", store_url)
            .env("TALLYBOOK_TOKEN", &env.backend_secret)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        let replica = Replica {
            child,
            base: format!("http://{scim}/scim/v2"),
            admin: format!("http://{admin}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while replica.try_call("GET", "/Groups?count=0", None).is_none() {
            assert!(
                Instant::now() < deadline,
                "replica {name} did not come up: {}",
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        replica
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Option<(u16, Value, Option<String>)> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"));
        let bytes = match body {
            Some(b) => {
                builder = builder.header("Content-Type", "application/scim+json");
                serde_json::to_vec(b).unwrap()
            }
            None => Vec::new(),
        };
        let response = self.agent.run(builder.body(bytes).unwrap()).ok()?;
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.into_body().read_to_string().unwrap_or_default();
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            retry,
        ))
    }

    /// `GET /readyz`: its status and text.
    fn readyz(&self) -> (u16, String) {
        let response = self
            .agent
            .get(format!("{}/readyz", self.admin))
            .call()
            .expect("the admin listener answers");
        let status = response.status().as_u16();
        (
            status,
            response.into_body().read_to_string().unwrap_or_default(),
        )
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, Option<String>) {
        self.try_call(method, path, body)
            .expect("the replica answers")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn group(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
}

fn add(user: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "Add", "path": "members", "value": [{"value": user}]}]})
}

#[test]
fn two_replicas_on_one_postgres_share_groups_lose_no_member_and_create_a_name_once() {
    let env = Env::start(Legacy::Tallybook);
    let users = env.seed_users(20);
    let db = postgres::database();
    let dir = std::env::temp_dir().join(format!("scim-gw-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = Replica::start(&env, &db.url, &dir, "a");
    let b = Replica::start(&env, &db.url, &dir, "b");

    let (status, created, _) = a.call("POST", "/Groups", Some(&group("Tallybook Pro")));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    // Seen by the other replica at once.
    assert_eq!(b.call("GET", &format!("/Groups/{id}"), None).0, 200);

    // Half the members through each replica, at the same time.
    std::thread::scope(|s| {
        for (replica, half) in [(&a, &users[..10]), (&b, &users[10..])] {
            let id = &id;
            s.spawn(move || {
                for u in half {
                    let (status, body, _) =
                        replica.call("PATCH", &format!("/Groups/{id}"), Some(&add(u)));
                    assert_eq!(status, 204, "{body}");
                }
            });
        }
    });
    let (_, read, _) = a.call("GET", &format!("/Groups/{id}"), None);
    let mut members: Vec<String> = read["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut want = users.clone();
    want.sort();
    assert_eq!(members, want, "no member lost");
    for u in &users {
        assert_eq!(
            env.tallybook().user(u.parse().unwrap()).unwrap()["licensed"],
            true
        );
    }

    // The same new name through both replicas at once: created once, the other told 409.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = [&a, &b]
            .into_iter()
            .map(|r| {
                s.spawn(move || {
                    r.call("POST", "/Groups", Some(&group("Tallybook Managers")))
                        .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [201, 409], "{statuses:?}");
    let (_, list, _) = b.call(
        "GET",
        "/Groups?filter=displayName%20eq%20%22Tallybook%20Managers%22",
        None,
    );
    assert_eq!(list["totalResults"], 1);

    assert_eq!(a.readyz().0, 200, "{}", a.readyz().1);
    // The store taken away: group operations answer 503 with Retry-After, users still work,
    // and /readyz says why.
    postgres::drop_database(&db);
    let (status, why) = a.readyz();
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("group store"), "{why}");
    let (status, body, retry) = a.call("GET", &format!("/Groups/{id}"), None);
    assert_eq!(status, 503, "{body}");
    assert!(retry.is_some(), "Retry-After is set");
    let (status, user, _) = a.call("GET", &format!("/Users/{}", users[0]), None);
    assert_eq!(status, 200, "{user}");
    assert!(
        user.get("groups").is_none(),
        "its groups are the store's: left out, not made up"
    );
}
