//! What the example APIs share: the head and body of a request read from a pingora session,
//! JSON responses, the id segment of a path, timestamps, the shared-secret comparison, and the
//! per-endpoint request counters that tests and benches read (with the `X-Request-Id`s and raw
//! request targets received, and a delay a test can ask for one request).
//!
//! Nothing here knows an API's resources, field names or error shape: those stay in each API's
//! own module (`acme_hr.rs`, `crewbase.rs`, `keystone.rs`, `orbit.rs`, `tallybook.rs`), because the point of the
//! examples is that they differ.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway_hosting::{http_service, server_conf, start, RunningServer, StartError};
use serde_json::Value;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// The largest request body an example API accepts.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The parts of a request an example API routes on, copied out of the pingora session.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: Method,
    /// The path as received, still percent-encoded.
    pub path: String,
    /// The query string as received (without `?`), if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
}

impl RequestHead {
    pub fn of(session: &ServerSession) -> Self {
        let req = session.req_header();
        RequestHead {
            method: req.method.clone(),
            path: req.uri.path().to_string(),
            query: req.uri.query().map(str::to_string),
            headers: req.headers.clone(),
        }
    }

    /// The value of a header, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameters, form-decoded (`+` is a space, `%XX` a byte), in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default()
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("request body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("request body could not be read: {0}")]
    Read(String),
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
}

/// Reads the whole request body as a JSON object.
pub(crate) async fn read_json_object(
    session: &mut ServerSession,
) -> Result<serde_json::Map<String, Value>, BodyError> {
    let bytes = read_body(session).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

/// The JSON bodies an example API received, each with its method and endpoint pattern (the
/// latest [`REQUEST_IDS_KEPT`] of any endpoint), for tests that look at what a client sent.
#[derive(Default)]
pub(crate) struct BodyLog(Mutex<VecDeque<(Method, &'static str, Value)>>);

impl BodyLog {
    /// Keeps `body`, received by `method` on `pattern`.
    pub(crate) fn keep(&self, method: &Method, pattern: &'static str, body: Value) {
        let mut bodies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if bodies.len() == REQUEST_IDS_KEPT {
            bodies.pop_front();
        }
        bodies.push_back((method.clone(), pattern, body));
    }

    /// The bodies received by `method` (any case) on `pattern`, oldest first.
    pub(crate) fn of(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(m, p, _)| m.as_str().eq_ignore_ascii_case(method) && *p == pattern)
            .map(|(_, _, body)| body.clone())
            .collect()
    }
}

/// Reads the whole request body, up to [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(session: &mut ServerSession) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(BodyError::Read(e.to_string())),
        }
    }
}

/// A response with a JSON body (`Content-Type: application/json`, explicit `Content-Length`
/// so that the connection can be kept alive).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let len = bytes.len();
    let mut resp = Response::new(bytes);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A response without a body (e.g. 204 No Content).
pub(crate) fn empty_response(status: StatusCode) -> Response<Vec<u8>> {
    let mut resp = Response::new(Vec::new());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

/// Adds an `Allow` header listing `methods` (for 405 responses).
pub(crate) fn with_allow(mut resp: Response<Vec<u8>>, methods: &str) -> Response<Vec<u8>> {
    if let Ok(v) = HeaderValue::from_str(methods) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Percent-decodes one path segment. `None` if it decodes to invalid UTF-8. The result is
/// only ever compared with stored ids: a decoded `/` or `..` is data, never path structure.
pub(crate) fn decode_segment(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Splits `path` after `prefix` into its remaining segments: `Some([])` for the prefix itself,
/// `None` when `path` is not under `prefix`.
pub(crate) fn segments_under<'a>(path: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let rest = rest.strip_prefix('/')?;
    Some(rest.split('/').collect())
}

/// The current time as RFC 3339 in UTC, always with three fractional digits, e.g.
/// `2024-05-01T09:30:00.120Z` (so that timestamps also sort as strings).
pub(crate) fn now_rfc3339() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Compares a presented secret with the expected one in constant time.
pub(crate) fn secret_matches(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// One endpoint of an example API as the request counters see it: the method and the path
/// pattern (`/api/v1/users/{id}`), or [`NO_ROUTE`] for a path the API does not serve.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub method: String,
    pub pattern: &'static str,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.pattern)
    }
}

/// The pattern under which requests to a path no endpoint serves are counted.
pub const NO_ROUTE: &str = "(no route)";

/// How many of the latest `X-Request-Id`s received are kept.
pub const REQUEST_IDS_KEPT: usize = 1000;

/// Counts the requests an example API received, in total and per [`Endpoint`]. Every request is
/// counted when it arrives, whatever its outcome (a 401 is a request too). Also keeps the latest
/// `X-Request-Id`s received, and can hold the next request for a while (a slow legacy call).
#[derive(Debug, Default)]
pub struct RequestCounts {
    total: AtomicU64,
    by_endpoint: Mutex<BTreeMap<Endpoint, u64>>,
    request_ids: Mutex<VecDeque<String>>,
    targets: Mutex<VecDeque<String>>,
    delay_next: Mutex<Option<Duration>>,
    outages: Mutex<Vec<Outage>>,
}

/// Requests of one endpoint the API is to refuse with 503, or to handle late (see
/// [`RequestCounts::fail`] and [`RequestCounts::slow`]).
#[derive(Debug)]
struct Outage {
    method: Method,
    pattern: &'static str,
    /// Matching requests still let through before the outage.
    after: u32,
    /// Matching requests still to refuse or delay.
    times: u32,
    /// `None`: refused; else handled after this long.
    delay: Option<Duration>,
}

impl RequestCounts {
    /// Counts a request as it arrives (see [`record`](Self::record)), keeps its
    /// `X-Request-Id`, and waits first if [`delay_next`](Self::delay_next) asked for it.
    /// `true` when the API is to refuse it as unavailable (see [`fail`](Self::fail)).
    pub(crate) async fn arrive(&self, head: &RequestHead, pattern: &'static str) -> bool {
        self.record(&head.method, pattern);
        if let Some(id) = head.header("x-request-id") {
            let mut ids = self
                .request_ids
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if ids.len() == REQUEST_IDS_KEPT {
                ids.pop_front();
            }
            ids.push_back(id.to_string());
        }
        {
            let mut targets = self
                .targets
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if targets.len() == REQUEST_IDS_KEPT {
                targets.pop_front();
            }
            targets.push_back(match &head.query {
                Some(q) => format!("{} {}?{q}", head.method, head.path),
                None => format!("{} {}", head.method, head.path),
            });
        }
        let delay = self
            .delay_next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        match self.outage_of(&head.method, pattern) {
            Some(Some(d)) => {
                tokio::time::sleep(d).await;
                false
            }
            Some(None) => true,
            None => false,
        }
    }

    /// What an outage does to a request of `method` `pattern` (and counts it there): `None`
    /// nothing, `Some(None)` refuse it, `Some(Some(d))` handle it after `d`.
    fn outage_of(&self, method: &Method, pattern: &'static str) -> Option<Option<Duration>> {
        let mut outages = self
            .outages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let o = outages
            .iter_mut()
            .find(|o| o.method == method && o.pattern == pattern)?;
        if o.after > 0 {
            o.after -= 1;
            return None;
        }
        o.times -= 1;
        let delay = o.delay;
        outages.retain(|o| o.times > 0);
        Some(delay)
    }

    fn add_outage(
        &self,
        method: &str,
        pattern: &'static str,
        after: u32,
        times: u32,
        delay: Option<Duration>,
    ) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return;
        };
        if times == 0 {
            return;
        }
        self.outages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Outage {
                method,
                pattern,
                after,
                times,
                delay,
            });
    }

    /// Lets the next `after` requests of `method` `pattern` (e.g. `("POST",
    /// "/api/v1/teams/{id}/members")`) through, then answers the `times` after them 503, as a
    /// product does in an outage of one of its services.
    pub fn fail(&self, method: &str, pattern: &'static str, after: u32, times: u32) {
        self.add_outage(method, pattern, after, times, None);
    }

    /// Handles the next `times` requests of `method` `pattern` only after `delay` (they still
    /// take effect: a caller that gave up early never learns it).
    pub fn slow(&self, method: &str, pattern: &'static str, times: u32, delay: Duration) {
        self.add_outage(method, pattern, 0, times, Some(delay));
    }

    /// Makes the next request wait `delay` before it is handled.
    pub fn delay_next(&self, delay: Duration) {
        *self
            .delay_next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(delay);
    }

    /// The `X-Request-Id`s received, oldest first (the latest [`REQUEST_IDS_KEPT`]).
    pub fn request_ids(&self) -> Vec<String> {
        self.request_ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The requests received as `METHOD path?query`, path and query exactly as they arrived
    /// (still percent-encoded), oldest first (the latest [`REQUEST_IDS_KEPT`]).
    pub fn targets(&self) -> Vec<String> {
        self.targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub(crate) fn record(&self, method: &Method, pattern: &'static str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let key = Endpoint {
            method: method.as_str().to_string(),
            pattern,
        };
        let mut map = self
            .by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(key).or_insert(0) += 1;
    }

    /// All requests received since start (or the last [`reset`](Self::reset)).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Requests received for one method and path pattern, e.g. `("GET", "/api/v1/users/{id}")`.
    pub fn get(&self, method: &str, pattern: &str) -> u64 {
        self.by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter(|(e, _)| e.method.eq_ignore_ascii_case(method) && e.pattern == pattern)
            .map(|(_, n)| *n)
            .sum()
    }

    /// The count of every endpoint that received at least one request.
    pub fn snapshot(&self) -> BTreeMap<Endpoint, u64> {
        self.by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Sets every count back to zero and forgets the request ids and targets.
    pub fn reset(&self) {
        let mut map = self
            .by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.clear();
        self.total.store(0, Ordering::Relaxed);
        self.request_ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn segments_under_a_prefix() {
        assert_eq!(segments_under("/v2/people", "/v2/people"), Some(vec![]));
        assert_eq!(
            segments_under("/v2/people/p_0001/activate", "/v2/people"),
            Some(vec!["p_0001", "activate"])
        );
        assert_eq!(segments_under("/v2/peoplex", "/v2/people"), None);
        assert_eq!(segments_under("/v2/people/", "/v2/people"), Some(vec![""]));
    }

    #[test]
    fn a_decoded_segment_keeps_slashes_as_data() {
        assert_eq!(decode_segment("..%2Fadmin").as_deref(), Some("../admin"));
        assert_eq!(decode_segment("%FF"), None);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z'), "{t}");
        assert!(OffsetDateTime::parse(&t, &Rfc3339).is_ok(), "{t}");
        assert_eq!(t.len(), "2024-05-01T09:30:00.120Z".len(), "{t}");
    }

    #[test]
    fn counts_per_endpoint_and_reset() {
        let c = RequestCounts::default();
        c.record(&Method::GET, "/x/{id}");
        c.record(&Method::GET, "/x/{id}");
        c.record(&Method::POST, "/x");
        assert_eq!(c.total(), 3);
        assert_eq!(c.get("get", "/x/{id}"), 2);
        assert_eq!(c.get("POST", "/x"), 1);
        assert_eq!(c.get("DELETE", "/x"), 0);
        c.reset();
        assert_eq!(c.total(), 0);
        assert!(c.snapshot().is_empty());
    }

    fn head(request_id: Option<&str>) -> RequestHead {
        let mut headers = HeaderMap::new();
        if let Some(id) = request_id {
            headers.insert("x-request-id", HeaderValue::from_str(id).unwrap());
        }
        RequestHead {
            method: Method::GET,
            path: "/x".into(),
            query: None,
            headers,
        }
    }

    #[tokio::test]
    async fn request_targets_are_kept_as_received() {
        let c = RequestCounts::default();
        c.arrive(&head(None), "/x").await;
        let mut h = head(None);
        h.method = Method::DELETE;
        h.path = "/x/..%2Fadmin".into();
        h.query = Some("q=a%26b".into());
        c.arrive(&h, "/x/{id}").await;
        assert_eq!(c.targets(), ["GET /x", "DELETE /x/..%2Fadmin?q=a%26b"]);
        c.reset();
        assert!(c.targets().is_empty());
    }

    #[tokio::test]
    async fn request_ids_are_kept_latest_last_and_bounded() {
        let c = RequestCounts::default();
        c.arrive(&head(Some("a")), "/x").await;
        c.arrive(&head(None), "/x").await;
        c.arrive(&head(Some("b")), "/x").await;
        assert_eq!(c.request_ids(), ["a", "b"]);
        assert_eq!(c.total(), 3);
        for i in 0..REQUEST_IDS_KEPT {
            c.arrive(&head(Some(&format!("r{i}"))), "/x").await;
        }
        let ids = c.request_ids();
        assert_eq!(ids.len(), REQUEST_IDS_KEPT);
        assert_eq!(ids.last().map(String::as_str), Some("r999"));
    }

    #[tokio::test]
    async fn only_the_next_request_is_delayed() {
        let c = RequestCounts::default();
        c.delay_next(Duration::from_millis(150));
        let t = std::time::Instant::now();
        c.arrive(&head(None), "/x").await;
        assert!(t.elapsed() >= Duration::from_millis(150));
        let t = std::time::Instant::now();
        c.arrive(&head(None), "/x").await;
        assert!(t.elapsed() < Duration::from_millis(100));
    }
}

/// A blocking HTTP client for the example APIs' tests: every status is a normal answer.
#[cfg(test)]
pub(crate) mod test_client {
    use http::{HeaderMap, Method, Request};
    use serde_json::Value;

    /// One answer: status, headers, and the body parsed as JSON (`Null` when empty).
    #[derive(Debug)]
    pub struct Reply {
        pub status: u16,
        pub headers: HeaderMap,
        pub json: Value,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    pub struct Client {
        agent: ureq::Agent,
        base: String,
        auth: Option<(&'static str, String)>,
    }

    impl Client {
        /// A client for `http://{addr}` that sends `auth` (header name, value) on every request.
        pub fn new(addr: std::net::SocketAddr, auth: Option<(&'static str, String)>) -> Self {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            Client {
                agent,
                base: format!("http://{addr}"),
                auth,
            }
        }

        /// The same server, other credentials.
        pub fn with_auth(&self, auth: Option<(&'static str, String)>) -> Self {
            Client {
                agent: self.agent.clone(),
                base: self.base.clone(),
                auth,
            }
        }

        /// Sends `method path` with `body` (sent as is, with a JSON content type) if any.
        pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
            self.call_with(method, path, body, &[])
        }

        pub fn call_with(
            &self,
            method: &str,
            path: &str,
            body: Option<&str>,
            headers: &[(&str, &str)],
        ) -> Reply {
            self.call_typed(method, path, body.map(|b| (b, "application/json")), headers)
        }

        /// Sends `method path` with `body` as (text, content type), if any, and `headers`.
        pub fn call_typed(
            &self,
            method: &str,
            path: &str,
            body: Option<(&str, &str)>,
            headers: &[(&str, &str)],
        ) -> Reply {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = Request::builder()
                .method(method)
                .uri(format!("{}{}", self.base, path));
            if let Some((name, value)) = &self.auth {
                req = req.header(*name, value.as_str());
            }
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let resp = match body {
                Some((b, content_type)) => self
                    .agent
                    .run(
                        req.header("content-type", content_type)
                            .body(b.to_string())
                            .unwrap(),
                    )
                    .unwrap(),
                None => self.agent.run(req.body(()).unwrap()).unwrap(),
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = resp.into_body().read_to_string().unwrap();
            let json = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
            };
            Reply {
                status,
                headers,
                json,
            }
        }

        pub fn get(&self, path: &str) -> Reply {
            self.call("GET", path, None)
        }

        pub fn send(&self, method: &str, path: &str, body: &Value) -> Reply {
            self.call(method, path, Some(&body.to_string()))
        }
    }
}

/// Whether an `If-Match` header value names `version`: `*`, or one of its comma-separated
/// tags, each the version number bare or quoted (`3`, `"3"`, `W/"3"`).
pub(crate) fn version_matches(tags: &str, version: u64) -> bool {
    tags.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag.trim_matches('"') == version.to_string()
    })
}

/// Serves the example API `app` alone on `addr` (one worker thread) until the returned handle
/// is dropped: what each example API's `serve` does.
pub(crate) fn serve_alone<A>(
    name: &str,
    addr: SocketAddr,
    app: A,
) -> Result<RunningServer, StartError>
where
    A: ServeHttp + Send + Sync + 'static,
{
    start(
        server_conf(0, 1),
        vec![http_service(name, addr, 1, app)],
        &[addr],
    )
}
