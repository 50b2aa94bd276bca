//! The admin listener (`[admin] address`, its own pingora service, never the SCIM listener):
//! `GET /metrics` (Prometheus text format), `/healthz` (200 while the process serves),
//! `/readyz` (200 when the mapping is loaded, the legacy roles it names by name are looked up,
//! and the legacy API accepted a TCP connection in a check at most [`READY_CHECK_EVERY`] old,
//! else 503 with the reason), `/status` (JSON:
//! version, start time, per-tenant counts and last sync; counts refreshed first when stale).
//! Anything else is 404. No authentication: bind it to loopback or a pod-internal address.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::{header, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::server::counts;
use crate::server::reload::Live;
use crate::server::roles;

/// How old the last TCP check of the legacy API may be before `/readyz` checks again.
pub const READY_CHECK_EVERY: Duration = Duration::from_secs(5);

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    Metrics,
    Healthz,
    Readyz,
    Status,
    /// A known path with a method other than GET.
    MethodNotAllowed,
    NotFound,
}

/// Routes an admin request.
pub fn route(method: &Method, path: &str) -> AdminRoute {
    let known = match path {
        "/metrics" => AdminRoute::Metrics,
        "/healthz" => AdminRoute::Healthz,
        "/readyz" => AdminRoute::Readyz,
        "/status" => AdminRoute::Status,
        _ => return AdminRoute::NotFound,
    };
    if method == Method::GET {
        known
    } else {
        AdminRoute::MethodNotAllowed
    }
}

/// The cached result of the last readiness check of the legacy API.
struct Readiness {
    last: Mutex<Option<(Instant, Result<(), String>)>>,
    /// One check at a time.
    checking: tokio::sync::Mutex<()>,
}

/// The pingora app of the admin listener.
pub struct AdminApp {
    /// The running gateway: each request looks at its current generation.
    gateway: Live,
    ready: Readiness,
}

impl AdminApp {
    pub fn new(gateway: impl Into<Live>) -> AdminApp {
        AdminApp {
            gateway: gateway.into(),
            ready: Readiness {
                last: Mutex::new(None),
                checking: tokio::sync::Mutex::new(()),
            },
        }
    }

    fn cached(&self) -> Option<Result<(), String>> {
        let last = self
            .ready
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.as_ref()
            .filter(|(at, _)| at.elapsed() <= READY_CHECK_EVERY)
            .map(|(_, r)| r.clone())
    }

    /// Whether the gateway can serve: the mapping is loaded (it is, or the gateway would not
    /// exist), the legacy roles and the `otherwise:` group it names by name are looked up, and
    /// the legacy API accepts a TCP connection at the address resolved at start-up (no DNS
    /// here).
    async fn readiness(&self) -> Result<(), String> {
        let gateway = self.gateway.current();
        if roles::pending(&gateway.mapping) {
            let why = gateway
                .role_lookup
                .last_failure()
                .unwrap_or_else(|| "not tried yet".into());
            let roles_pending = gateway
                .mapping
                .group_rules()
                .is_some_and(|r| r.roles_pending());
            let what = if roles_pending {
                "the legacy role look-up (groups.roles.lookup)"
            } else {
                "the look-up of the otherwise group (groups.membership.user_attribute.otherwise)"
            };
            return Err(format!(
                "{what} is pending, retried in the background: {why}"
            ));
        }
        if let Some(store) = &gateway.store {
            let timeout = Duration::from_secs(2);
            match tokio::time::timeout(timeout, store.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(format!(
                        "the group store ({}) cannot answer: {e}",
                        store.kind()
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "the group store ({}) did not answer within {timeout:?}",
                        store.kind()
                    ))
                }
            }
        }
        if let Some(r) = self.cached() {
            return r;
        }
        let _one = self.ready.checking.lock().await;
        if let Some(r) = self.cached() {
            return r;
        }
        let addr = self.gateway.current().backend.address();
        let timeout = Duration::from_secs(1);
        let result = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "the legacy API at {addr} did not accept a TCP connection: {e}"
            )),
            Err(_) => Err(format!(
                "the legacy API at {addr} did not accept a TCP connection within {timeout:?}"
            )),
        };
        *self
            .ready
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((Instant::now(), result.clone()));
        result
    }

    /// The answer to one admin request.
    pub async fn answer(&self, method: &Method, path: &str) -> (u16, &'static str, Vec<u8>) {
        let text = "text/plain; charset=utf-8";
        let gateway = self.gateway.current();
        match route(method, path) {
            AdminRoute::Metrics => {
                let body = gateway.metrics.render(gateway.membership.stats());
                (200, PROMETHEUS_TEXT, body.into_bytes())
            }
            AdminRoute::Healthz => (200, text, b"ok\n".to_vec()),
            AdminRoute::Readyz => match self.readiness().await {
                Ok(()) => (
                    200,
                    text,
                    format!(
                        "ready: mapping {:?} loaded, legacy API reachable\n",
                        gateway.mapping.name
                    )
                    .into_bytes(),
                ),
                Err(reason) => (503, text, format!("not ready: {reason}\n").into_bytes()),
            },
            AdminRoute::Status => {
                counts::refresh(&gateway, false).await;
                let doc = gateway.status.to_json(&gateway.tenants());
                let body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
                (200, "application/json", body)
            }
            AdminRoute::MethodNotAllowed => (405, text, b"only GET\n".to_vec()),
            AdminRoute::NotFound => (
                404,
                text,
                b"not found; the admin endpoints are /metrics, /healthz, /readyz, /status\n"
                    .to_vec(),
            ),
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = session.req_header();
        let method = head.method.clone();
        let path = head.uri.path().to_string();
        let (status, content_type, body) = self.answer(&method, &path).await;
        let len = body.len();
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, len)
            .header(header::CACHE_CONTROL, "no-store")
            .body(body)
            .unwrap_or_else(|_| Response::new(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_endpoints_answer_get_and_nothing_else() {
        assert_eq!(route(&Method::GET, "/metrics"), AdminRoute::Metrics);
        assert_eq!(route(&Method::GET, "/healthz"), AdminRoute::Healthz);
        assert_eq!(route(&Method::GET, "/readyz"), AdminRoute::Readyz);
        assert_eq!(
            route(&Method::HEAD, "/readyz"),
            AdminRoute::MethodNotAllowed
        );
        assert_eq!(route(&Method::GET, "/status"), AdminRoute::Status);
        assert_eq!(
            route(&Method::POST, "/metrics"),
            AdminRoute::MethodNotAllowed
        );
        assert_eq!(route(&Method::GET, "/metrics/"), AdminRoute::NotFound);
        assert_eq!(route(&Method::GET, "/scim/v2/Users"), AdminRoute::NotFound);
        assert_eq!(route(&Method::GET, "/"), AdminRoute::NotFound);
    }
}
