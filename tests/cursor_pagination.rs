//! A third legacy shape, written only from docs/mapping.md: a directory whose list is
//! cursor-paginated with the next cursor in a `Link` header, no total, and `on_delete: delete`.
//! The gateway must page it for SCIM's startIndex/count, count its users (the same total on
//! every page), and delete for real.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway::config::Config;
use scim_gateway::mapping;
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start};
use serde_json::{json, Value};

/// A member directory: `GET /members?limit=&after=`, `GET|DELETE /members/{handle}`.
#[derive(Clone, Default)]
struct Directory {
    members: Arc<Mutex<Vec<Value>>>,
    list_calls: Arc<Mutex<u32>>,
}

#[async_trait]
impl ServeHttp for Directory {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = session.req_header();
        let method = head.method.clone();
        let path = head.uri.path().to_string();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(head.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let reply = |status: u16, body: Value, link: Option<String>| {
            let bytes = serde_json::to_vec(&body).unwrap();
            let mut b = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("content-length", bytes.len());
            if let Some(l) = link {
                b = b.header("link", l);
            }
            b.body(bytes).unwrap()
        };
        let mut members = self.members.lock().unwrap();
        if path == "/members" && method == http::Method::GET {
            *self.list_calls.lock().unwrap() += 1;
            let limit: usize = param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10)
                .min(10);
            let after = param("after");
            let start = match after {
                Some(a) => members
                    .iter()
                    .position(|m| m["handle"] == a.as_str())
                    .map(|i| i + 1)
                    .unwrap_or(members.len()),
                None => 0,
            };
            let page: Vec<Value> = members.iter().skip(start).take(limit).cloned().collect();
            let link = (start + limit < members.len()).then(|| {
                let last = page
                    .last()
                    .map(|m| m["handle"].as_str().unwrap().to_string())
                    .unwrap_or_default();
                format!("</members?limit={limit}&after={last}>; rel=\"next\"")
            });
            return reply(200, json!({ "results": page }), link);
        }
        if let Some(handle) = path.strip_prefix("/members/") {
            let at = members.iter().position(|m| m["handle"] == handle);
            return match (method.as_str(), at) {
                ("GET", Some(i)) => reply(200, members[i].clone(), None),
                ("DELETE", Some(i)) => {
                    members.remove(i);
                    reply(204, Value::Null, None)
                }
                _ => reply(404, json!({"error": "no such member"}), None),
            };
        }
        reply(404, json!({"error": "no route"}), None)
    }
}

const MAPPING: &str = r#"
name: directory
backend:
  base_url: http://127.0.0.1:1
users:
  id: $.handle
  endpoints:
    create: { method: POST, path: /members }
    get: { method: GET, path: "/members/{id}" }
    update: { method: PUT, path: "/members/{id}" }
    delete: { method: DELETE, path: "/members/{id}" }
    list:
      method: GET
      path: /members
      items: $.results
      pagination:
        style: cursor
        cursor_param: after
        size_param: limit
        next: { link_header: true }
        max_page_size: 10
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.handle }
    - { scim: displayName, legacy: $.name }
    - scim: active
      legacy: $.state
      values:
        - { scim: true, legacy: on }
        - { scim: false, legacy: off }
"#;

fn start_env() -> (Directory, String, impl Drop) {
    let dir = Directory::default();
    {
        let mut m = dir.members.lock().unwrap();
        for i in 1..=25 {
            m.push(
                json!({"handle": format!("m{i:02}"), "name": format!("Member {i}"), "state": "on"}),
            );
        }
    }
    let backend = free_loopback_addr().unwrap();
    let scim = free_loopback_addr().unwrap();
    let mut mapping = mapping::load_str("directory.yaml", MAPPING).expect("the mapping loads");
    mapping.backend.base_url = format!("http://{backend}");
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(common::TOKEN)];
    let gateway = Arc::new(Gateway::new(config, mapping).unwrap());
    let server = start(
        server_conf(0, 1),
        vec![
            http_service("directory", backend, 1, dir.clone()),
            http_service("scim", scim, 1, ScimApp::new(gateway)),
        ],
        &[backend, scim],
    )
    .unwrap();
    (dir, format!("http://{scim}/scim/v2"), server)
}

fn get(url: &str) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(url)
        .header("Authorization", &format!("Bearer {}", common::TOKEN))
        .call()
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null),
    )
}

#[test]
fn scim_pages_are_cut_from_a_cursor_walk() {
    let (dir, base, _server) = start_env();
    let (status, page) = get(&format!("{base}/Users?startIndex=11&count=10"));
    assert_eq!(status, 200, "{page:?}");
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        (11..=20).map(|i| format!("m{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(page["startIndex"], 11);
    // The directory reports no total: the gateway walks the whole list (three legacy calls)
    // and counts, so that every page answers the same total.
    assert_eq!(page["totalResults"], 25);
    assert_eq!(*dir.list_calls.lock().unwrap(), 3);

    let (_, last) = get(&format!("{base}/Users?startIndex=21&count=10"));
    assert_eq!(last["itemsPerPage"], 5);
    assert_eq!(last["totalResults"], 25);
    let (_, none) = get(&format!("{base}/Users?count=0"));
    assert_eq!(none["totalResults"], 25);

    // A filter the directory cannot answer walks every page and counts exactly.
    let (_, filtered) = get(&format!(
        "{base}/Users?filter=displayName+sw+%22Member+1%22"
    ));
    assert_eq!(filtered["totalResults"], 11, "Member 1 and Member 10..19");
}

#[test]
fn on_delete_delete_removes_the_legacy_record() {
    let (dir, base, _server) = start_env();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let r = agent
        .delete(&format!("{base}/Users/m03"))
        .header("Authorization", &format!("Bearer {}", common::TOKEN))
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(dir
        .members
        .lock()
        .unwrap()
        .iter()
        .all(|m| m["handle"] != "m03"));
    assert_eq!(get(&format!("{base}/Users/m03")).0, 404);
}
