//! The example legacy API "Acme HR" as a stand-alone process, for the load harness
//! (`benches/load/run`): serves [`AcmeHr`] on a port with a given API key and `N` seeded users
//! (logins `seed.user{id}`, ids 1..=N).
//!
//! It adds one route the real API does not have, `GET /_admin/requests`, answering the request
//! counters as JSON (`{"total": n, "endpoints": {"GET /api/v1/users/{id}": n, ...}}`), so that
//! the harness can count legacy calls per SCIM operation; `POST /_admin/reset` sets them to zero.
//! Admin requests are not counted and need no key: this is a loopback test fixture, not a
//! product.
//!
//! ```text
//! cargo run --release --example legacy_api -- --port 18081 --key secret --users 10000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use async_trait::async_trait;
use clap::Parser;
use http::{header, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway_example_apis::AcmeHr;
use scim_gateway_hosting::{http_service, server_conf, start_with_signals};
use serde_json::{json, Map, Value};

#[derive(Parser)]
#[command(about = "The example legacy API Acme HR, with request counters at /_admin/requests")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 18081)]
    port: u16,
    /// The API key clients must send in X-Acme-Api-Key (default: $ACME_API_KEY).
    #[arg(long)]
    key: Option<String>,
    /// How many users to seed.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Room for this many users in all, made at start: a load run's creates then never make
    /// the store grow, and pause, in the middle of a measured run.
    #[arg(long, default_value_t = 0)]
    room: usize,
}

/// Acme HR plus the admin routes.
struct WithAdmin {
    api: AcmeHr,
}

fn json_reply(status: StatusCode, body: &Value) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(bytes);
    *resp.status_mut() = status;
    let len = resp.body().len();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    resp
}

impl WithAdmin {
    fn counts(&self) -> Value {
        let requests = self.api.requests();
        let endpoints: Map<String, Value> = requests
            .snapshot()
            .into_iter()
            .map(|(endpoint, n)| (endpoint.to_string(), json!(n)))
            .collect();
        json!({"total": requests.total(), "endpoints": endpoints, "users": self.api.user_count()})
    }
}

#[async_trait]
impl ServeHttp for WithAdmin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = session.req_header();
        match (&head.method, head.uri.path()) {
            (&Method::GET, "/_admin/requests") => json_reply(StatusCode::OK, &self.counts()),
            (&Method::POST, "/_admin/reset") => {
                self.api.requests().reset();
                json_reply(StatusCode::OK, &self.counts())
            }
            _ => self.api.response(session).await,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(key) = args.key.or_else(|| std::env::var("ACME_API_KEY").ok()) else {
        eprintln!("legacy_api: give the API key with --key or ACME_API_KEY");
        return ExitCode::from(2);
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let api = AcmeHr::new(key);
    api.reserve(args.room);
    api.seed(args.users);
    let service = http_service(
        "acme-hr (example legacy API)",
        addr,
        args.threads,
        WithAdmin { api },
    );
    match start_with_signals(server_conf(0, 1), vec![service], &[addr]) {
        Ok(server) => {
            println!("acme-hr listening on http://{addr} ({} users)", args.users);
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("legacy_api: {e}");
            ExitCode::from(2)
        }
    }
}
