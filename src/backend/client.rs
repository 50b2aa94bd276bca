//! [`BackendClient`]: the HTTP/1.1 client that calls the legacy REST API, on pingora's own client
//! stack (a `TransportConnector` with its keep-alive pool, and pingora's HTTP/1 client session).
//!
//! What it does: one JSON request in, one complete response out (any status), with pooled
//! keep-alive connections, a connect timeout, a whole-call deadline and a bound on the response
//! size. The backend's address is resolved once, when the client is built (pingora's
//! `HttpPeer::new` would resolve, blocking, and panic on failure).
//!
//! `https://` base URLs use TLS through pingora's rustls connector: the peer carries the SNI
//! (the URL's host) and whether to verify the certificate; the connector holds the trusted roots
//! (the system's, or `ClientOptions::ca_file`). Certificates are checked against the host name
//! as written in the URL, even though the connection goes to the address resolved at start-up.
//!
//! What it does not do: decide what to call (the mapping does). [`BackendClient::send`] is one
//! attempt; [`BackendClient::send_protected`] (in `protect.rs`) adds the protection of
//! `docs/security.md` ("Backend-facing") around it — the concurrency bound, retries, the circuit breaker — with the state
//! this client holds for it ([`Guard`]). The one retry in here is at the connection level: a
//! request that died on a stale pooled connection is sent again on a fresh one (see
//! [`BackendClient::call`]).
//!
//! The credential (`ClientOptions::credential`): a header travels with the default headers; a
//! query parameter is appended to every request target in [`BackendClient::request_head`], so
//! that nothing above this module ever holds a URL with the key in it; OAuth 2.0 tokens come
//! from `oauth.rs` and are set by the protected call. With `ClientOptions::client_cert`, an
//! `https://` backend that asks for a client certificate is shown that one. Header values,
//! the query credential and tokens never appear in a `Debug` or `Display` output or a log line
//! of this module.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::Method;
use pingora::connectors::{ConnectorOptions, TransportConnector};
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession};
use pingora::protocols::Stream;
use pingora::upstreams::peer::{HttpPeer, Peer};
use pingora::{Error as PingoraError, ErrorType, OrErr};

use super::error::{BackendConfigError, BackendError, CertificateProblem, TimeoutPhase};
use super::limiter::Refusal;
use super::oauth::TokenSource;
use super::protect::Guard;
use crate::mapping::protection::Protection;
use crate::mapping::{ClientCertFiles, Credential};

/// The default bound on a response body: 16 MiB.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// How many idle keep-alive connections the pool keeps (pingora's own default).
const POOL_SIZE: usize = 128;

/// How the client behaves. `Default` gives sensible values and no default headers.
#[derive(Clone)]
pub(crate) struct ClientOptions {
    /// Bound on opening a TCP connection.
    pub(crate) connect_timeout: Duration,
    /// Bound on the whole call: connecting, sending, and reading the complete response,
    /// including the one resend on a fresh connection.
    pub(crate) request_timeout: Duration,
    /// Bound on each wait for the next bytes of the response (a legacy API that went silent
    /// mid-answer); `None`: only `request_timeout` bounds it.
    pub(crate) read_timeout: Option<Duration>,
    /// How long an idle connection stays in the keep-alive pool. Best kept below the backend's
    /// own keep-alive timeout.
    pub(crate) idle_timeout: Duration,
    /// Bound on a response body; a larger one is [`BackendError::TooLarge`].
    pub(crate) max_response_bytes: usize,
    /// Headers sent with every request. Never logged.
    pub(crate) default_headers: Vec<(HeaderName, HeaderValue)>,
    /// The credential sent with every request (`backend.auth`, resolved): a header, a query
    /// parameter, or a bearer token from an OAuth 2.0 token endpoint. Never logged.
    pub(crate) credential: Option<Credential>,
    /// The `User-Agent` sent with every request.
    pub(crate) user_agent: String,
    /// For an `https://` backend: a PEM file of CA certificates to trust *instead of* the
    /// system's root certificates (an internal PKI). To trust both, put the system bundle and
    /// the internal CA in one file. `None`: the system's roots (`SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` are honoured). Ignored for an `http://` backend.
    pub(crate) ca_file: Option<PathBuf>,
    /// For an `https://` backend: accept any certificate, for any name. Anyone on the network
    /// path can then impersonate the legacy API and read its credentials; the client logs a
    /// warning when it is built with this set. Never the default; cannot be combined with
    /// `ca_file`. Ignored for an `http://` backend.
    pub(crate) insecure_skip_verify: bool,
    /// For an `https://` backend: the certificate the client presents when the server asks
    /// for one (mutual TLS), read when the client is built. Ignored for an `http://` backend.
    pub(crate) client_cert: Option<ClientCertFiles>,
    /// The concurrency bound, retries and circuit breaker of [`BackendClient::send_protected`].
    pub(crate) protection: Protection,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            read_timeout: None,
            idle_timeout: Duration::from_secs(30),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            default_headers: Vec::new(),
            credential: None,
            user_agent: concat!("scim-gateway/", env!("CARGO_PKG_VERSION")).to_string(),
            ca_file: None,
            insecure_skip_verify: false,
            client_cert: None,
            protection: Protection::default(),
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("default_headers", &HeaderNames(&self.default_headers))
            .field("user_agent", &self.user_agent)
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("credential", &self.credential)
            .field("client_cert", &self.client_cert)
            .field("protection", &self.protection)
            .finish()
    }
}

/// One call to the legacy API.
#[derive(Clone)]
pub(crate) struct BackendRequest {
    pub(crate) method: Method,
    /// Path and query, already percent-encoded, starting with `/`; appended to the base URL's
    /// path prefix.
    pub(crate) path_and_query: String,
    /// Headers that many calls send alike (an endpoint's static headers, the tenant's); they
    /// replace default headers of the same name. The client keeps a head with each such set
    /// already in it ([`SharedHeads`]), so that a call only clones it.
    pub(crate) shared_headers: Vec<(HeaderName, HeaderValue)>,
    /// This call's own headers (`If-Match`, the request id); they replace default and shared
    /// headers of the same name.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// A JSON body, sent with `Content-Type: application/json`.
    pub(crate) body: Option<Vec<u8>>,
}

/// Building a request step by step, for the tests.
#[cfg(test)]
impl BackendRequest {
    /// A request without headers or body.
    pub(crate) fn new(method: Method, path_and_query: impl Into<String>) -> Self {
        BackendRequest {
            method,
            path_and_query: path_and_query.into(),
            shared_headers: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// The same request with a JSON body.
    pub(crate) fn with_json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// The same request with one more header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl fmt::Debug for BackendRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendRequest")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("shared_headers", &HeaderNames(&self.shared_headers))
            .field("headers", &HeaderNames(&self.headers))
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// A complete response from the legacy API, whatever its status.
#[derive(Clone)]
pub(crate) struct BackendResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl fmt::Debug for BackendResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("BackendResponse")
            .field("status", &self.status)
            .field("header_names", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Shows header names only: `x-api-key: <redacted>`.
struct HeaderNames<'a>(&'a [(HeaderName, HeaderValue)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}: <redacted>")))
            .finish()
    }
}

/// The head every request starts from, built once: `Host`, `User-Agent`, `Accept`, then the
/// default headers (the credential among them) replacing the names they set. Each request
/// clones it and sets its own line and headers, rather than building and parsing them again.
/// Holds secrets: its `Debug` shows header names only, and the default headers' values are
/// marked sensitive for `http`'s own `Debug`.
struct HeadTemplate {
    head: RequestHeader,
    /// Whether the default headers set `Content-Length` or `Transfer-Encoding`.
    sets_framing: bool,
}

impl HeadTemplate {
    fn new(
        authority: &str,
        user_agent: HeaderValue,
        defaults: &[(HeaderName, HeaderValue)],
    ) -> pingora::Result<HeadTemplate> {
        let mut head = RequestHeader::build(Method::GET, b"/", None)?;
        head.insert_header("Host", authority)?;
        head.insert_header("User-Agent", user_agent)?;
        head.insert_header("Accept", "application/json")?;
        replace_headers(&mut head, defaults)?;
        let sets_framing = defaults.iter().any(|(name, _)| {
            name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING
        });
        Ok(HeadTemplate { head, sets_framing })
    }
}

impl fmt::Debug for HeadTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.head
                    .headers
                    .keys()
                    .map(|name| format!("{name}: <redacted>")),
            )
            .finish()
    }
}

/// How many sets of shared headers get a head of their own (one per tenant and endpoint
/// headers, in practice); calls with any other set build theirs each time.
const MAX_SHARED_HEADS: usize = 64;

/// The request head with each set of shared headers ([`BackendRequest::shared_headers`])
/// already set on the [`HeadTemplate`]: setting a header on a pingora head parses its name
/// again and records its case in a second map, about 1,700 instructions each, paid once per
/// set instead of on every call.
#[derive(Default)]
struct SharedHeads(RwLock<Vec<(HeaderLayer, RequestHeader)>>);

/// Headers set together, in order.
type HeaderLayer = Vec<(HeaderName, HeaderValue)>;

impl SharedHeads {
    /// `template` with `shared` set on it, as [`replace_headers`] sets a layer.
    fn head(
        &self,
        template: &RequestHeader,
        shared: &[(HeaderName, HeaderValue)],
    ) -> pingora::Result<RequestHeader> {
        if shared.is_empty() {
            return Ok(template.clone());
        }
        let made = |heads: &[(HeaderLayer, RequestHeader)]| {
            heads
                .iter()
                .find(|(set, _)| set.as_slice() == shared)
                .map(|(_, head)| head.clone())
        };
        if let Some(head) = made(&self.0.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(head);
        }
        let mut head = template.clone();
        replace_headers(&mut head, shared)?;
        let mut heads = self.0.write().unwrap_or_else(|p| p.into_inner());
        if heads.len() < MAX_SHARED_HEADS && made(&heads).is_none() {
            heads.push((shared.to_vec(), head.clone()));
        }
        Ok(head)
    }
}

/// A credential sent as a query parameter: `name=value` form-encoded, and the forms the value
/// may be quoted in (as is, form-encoded, percent-encoded). Its `Debug` shows nothing of it.
struct QueryCredential {
    pair: String,
    quoted: Vec<String>,
}

impl QueryCredential {
    fn new(name: &str, value: &str) -> QueryCredential {
        let pair = form_urlencoded::Serializer::new(String::new())
            .append_pair(name, value)
            .finish();
        let mut quoted = vec![
            value.to_string(),
            form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        ];
        // The longest first, so that a form containing another is replaced whole.
        quoted.sort_by_key(|q| std::cmp::Reverse(q.len()));
        quoted.dedup();
        QueryCredential { pair, quoted }
    }

    /// `body` with every quoted form of the value replaced by `<redacted>`.
    fn redact(&self, body: Bytes) -> Bytes {
        let found = |q: &String| body.windows(q.len()).any(|w| w == q.as_bytes());
        if !self.quoted.iter().any(found) {
            return body;
        }
        let mut text = String::from_utf8_lossy(&body).into_owned();
        for q in &self.quoted {
            text = text.replace(q.as_str(), "<redacted>");
        }
        Bytes::from(text)
    }
}

impl fmt::Debug for QueryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The client of one legacy API. Cheap to share (`Arc`) between all requests of the gateway.
pub struct BackendClient {
    /// pingora's connection layer and keep-alive pool. `connectors::http::v1::Connector` is
    /// this plus `HttpSession::new_with_options`; the transport is used directly because the
    /// resend after a stale pooled connection must go to a *new* connection (`new_stream`),
    /// which the HTTP connectors cannot ask for.
    transport: TransportConnector,
    peer: HttpPeer,
    address: SocketAddr,
    /// `host[:port]` as written in the base URL: the `Host` header, and the name of the backend
    /// in errors and logs.
    authority: String,
    /// The host name (or IP address) the backend's certificate must be valid for.
    host: String,
    tls: bool,
    /// The base URL's path without its trailing `/` (`""` for none).
    prefix: String,
    head: HeadTemplate,
    /// The head with each set of shared headers calls have sent, made from `head`.
    shared_heads: SharedHeads,
    /// `name=value`, form-encoded: the credential sent as a query parameter
    /// (`backend.auth.query`), appended to every request target here, below everything that
    /// logs a legacy path. Never logged.
    query_credential: Option<QueryCredential>,
    /// The OAuth 2.0 access tokens of `backend.auth.oauth2`: sent by
    /// [`BackendClient::send_protected`].
    tokens: Option<Box<TokenSource>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    read_timeout: Option<Duration>,
    idle_timeout: Duration,
    max_response_bytes: usize,
    /// The running state of [`BackendClient::send_protected`].
    guard: Guard,
}

impl fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendClient")
            .field("backend", &self.authority)
            .field("address", &self.address)
            .field("tls", &self.tls)
            .field("verify_cert", &self.peer.options.verify_cert)
            .field("prefix", &self.prefix)
            .field("headers", &self.head)
            .field("query_credential", &self.query_credential)
            .field("tokens", &self.tokens)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("guard", &self.guard)
            .finish()
    }
}

/// How one attempt, on one connection, failed.
enum Failure {
    /// The connection broke (closed, reset, write failed) before a response head arrived.
    NoResponse(Box<PingoraError>),
    /// Anything else.
    Other(BackendError),
}

impl BackendClient {
    /// A client for the legacy API at `base_url` (`http[s]://host[:port][/prefix]`).
    ///
    /// Resolves the host here, once, with the system resolver, and for `https` loads the
    /// trusted root certificates: this blocks, so call it at start-up or on a configuration
    /// reload, never on the request path. When a name resolves to both IPv4 and IPv6 addresses,
    /// the first IPv4 one is used (a backend listening on `0.0.0.0` is common, one listening on
    /// IPv6 only is rare).
    pub(crate) fn new(
        base_url: &str,
        options: ClientOptions,
    ) -> Result<BackendClient, BackendConfigError> {
        let base = BaseUrl::parse(base_url)?;
        let address = resolve(&base.host, base.port)?;
        let user_agent = HeaderValue::from_str(&options.user_agent)
            .map_err(|_| BackendConfigError::InvalidUserAgent(options.user_agent.clone()))?;
        let connector = connector_options(&base, &options)?;
        let mut default_headers = options.default_headers.clone();
        let mut query_credential = None;
        let mut tokens = None;
        match &options.credential {
            None => {}
            Some(Credential::Header { name, value }) => {
                let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                    BackendConfigError::Credential(format!("{name:?} is not a valid header name"))
                })?;
                let value = HeaderValue::try_from(value.expose()).map_err(|_| {
                    BackendConfigError::Credential(
                        "the secret contains characters not allowed in a header".into(),
                    )
                })?;
                default_headers.push((name, value));
            }
            Some(Credential::Query { name, value }) => {
                query_credential = Some(QueryCredential::new(name, value.expose()));
            }
            Some(Credential::OAuth2(credentials)) => {
                tokens = Some(Box::new(TokenSource::new(credentials, &options)?));
            }
        }
        for (_, value) in &mut default_headers {
            value.set_sensitive(true);
        }
        let head = HeadTemplate::new(&base.authority, user_agent, &default_headers)
            .map_err(|e| BackendConfigError::InvalidHeaders(e.etype().as_str().to_string()))?;

        // The SNI is also the name the certificate is checked against; pingora skips all
        // verification when it is empty, which a parsed base URL never is.
        let sni = if base.tls {
            base.host.clone()
        } else {
            String::new()
        };
        let mut peer = HttpPeer::new(address, base.tls, sni);
        peer.options.connection_timeout = Some(options.connect_timeout);
        peer.options.total_connection_timeout = Some(options.connect_timeout);
        peer.options.idle_timeout = Some(options.idle_timeout);
        peer.options.verify_cert = !options.insecure_skip_verify;
        peer.options.verify_hostname = !options.insecure_skip_verify;
        if let (true, Some(files)) = (base.tls, &options.client_cert) {
            peer.client_cert_key = Some(load_client_cert(files)?);
        }
        // No per-write timeout: the deadline of the whole call bounds every write already. The
        // per-read timeout (`read_timeout`) is set on each session: pingora's HTTP/1 session
        // does not take it from the peer.

        Ok(BackendClient {
            transport: TransportConnector::new(Some(connector)),
            peer,
            address,
            authority: base.authority,
            host: base.host,
            tls: base.tls,
            prefix: base.prefix,
            head,
            shared_heads: SharedHeads::default(),
            query_credential,
            tokens,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            read_timeout: options.read_timeout,
            idle_timeout: options.idle_timeout,
            max_response_bytes: options.max_response_bytes,
            guard: Guard::new(&options.protection),
        })
    }

    /// `host[:port]` of the backend, as written in its URL.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The OAuth 2.0 token source, when the credential is one.
    pub(super) fn tokens(&self) -> Option<&TokenSource> {
        self.tokens.as_deref()
    }

    /// The address the backend's host resolved to.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The running state of [`BackendClient::send_protected`]: the circuit, the queue.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Sends `request` once, unprotected, and reads the complete response, within
    /// `request_timeout`.
    #[cfg(test)]
    pub(crate) async fn send(
        &self,
        request: BackendRequest,
    ) -> Result<BackendResponse, BackendError> {
        self.send_one(&request).await
    }

    /// [`BackendClient::send`] of a borrowed request (one attempt of a protected call).
    pub(super) async fn send_one(
        &self,
        request: &BackendRequest,
    ) -> Result<BackendResponse, BackendError> {
        let mut response =
            match tokio::time::timeout(self.request_timeout, self.call(request)).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(BackendError::Timeout {
                        backend: self.authority.clone(),
                        phase: TimeoutPhase::Request,
                        after: self.request_timeout,
                    })
                }
            };
        // An error answer may quote the request's URL (`GET /users?api_key=… not allowed`), and
        // its message can reach a SCIM error detail and the logs through the mapping's
        // `errors:`: the query credential is taken out of it here.
        if let (Some(credential), true) = (&self.query_credential, response.status >= 400) {
            response.body = credential.redact(response.body);
        }
        Ok(response)
    }

    /// One call: on a pooled connection if there is one, else on a new one.
    async fn call(&self, request: &BackendRequest) -> Result<BackendResponse, BackendError> {
        let head = self.request_head(request)?;
        let body = request.body.as_deref().unwrap_or_default();
        // What `TransportConnector::get_stream` does, with the connect boxed: its future is
        // about 8 KB (TLS included), and held inline it made every future of a legacy call,
        // up to the request's own, that large, and copied at each level (a pooled connection is
        // the common case).
        let (stream, reused) = match self.transport.reused_stream(&self.peer).await {
            Some(stream) => (stream, true),
            None => (self.connect().await?, false),
        };
        match self.exchange(stream, &head, body).await {
            // A keep-alive server may close an idle connection at any moment. pingora checks a
            // pooled socket before handing it out, but the server's close can cross our request
            // on the wire; the request then dies without a byte of answer. In that race the
            // server closed the connection before reading the request, so it never acted on it,
            // and sending it again on a fresh connection is safe whatever the method. pingora's
            // HTTP/1 client marks exactly these errors retryable on reused connections
            // (`RetryType::ReusedOnly`). The client cannot tell this race from a server that
            // read the request and then died without answering; that case is rare enough to
            // accept. A failure on a *fresh* connection is never resent, and neither is any
            // failure after the response head arrived.
            Err(Failure::NoResponse(e)) if reused => {
                tracing::debug!(
                    backend = %self.authority,
                    error = e.etype().as_str(),
                    "pooled connection to the legacy API was closed by the server; \
                     sending the request again on a new connection"
                );
                let stream = self.connect().await?;
                self.exchange(stream, &head, body)
                    .await
                    .map_err(|f| self.failure(f))
            }
            result => result.map_err(|f| self.failure(f)),
        }
    }

    /// A new connection to the legacy API.
    async fn connect(&self) -> Result<Stream, BackendError> {
        Box::pin(self.transport.new_stream(&self.peer))
            .await
            .map_err(|e| self.connect_error(&e))
    }

    /// Sends the request on `stream` and reads the whole response. On success the connection
    /// goes back to the keep-alive pool (when HTTP allows it); on failure it is dropped.
    async fn exchange(
        &self,
        mut stream: Stream,
        head: &RequestHeader,
        body: &[u8],
    ) -> Result<BackendResponse, Failure> {
        let sent = async {
            send_whole(&mut stream, head, body).await?;
            let mut session = HttpSession::new_with_options(stream, &self.peer);
            session.read_timeout = self.read_timeout;
            session.read_response().await.map(|_| session)
        }
        .await;
        let mut session = match sent {
            Ok(session) => session,
            Err(e) => {
                return Err(match e.etype() {
                    ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError => {
                        Failure::NoResponse(e)
                    }
                    _ => Failure::Other(self.read_error(&e, "reading the response head")),
                })
            }
        };
        // Skip informational (1xx) heads: the real response follows.
        while session.get_status().is_some_and(|s| s.is_informational()) {
            session
                .read_response()
                .await
                .map_err(|e| Failure::Other(self.read_error(&e, "reading the response head")))?;
        }
        let Some(response_head) = session.resp_header() else {
            return Err(Failure::Other(BackendError::Protocol {
                backend: self.authority.clone(),
                reason: "no response head".into(),
            }));
        };
        let status = response_head.status.as_u16();
        let headers = response_head.headers.clone();

        if declared_length(&headers).is_some_and(|len| len > self.max_response_bytes as u64) {
            return Err(Failure::Other(self.too_large()));
        }
        let mut received = BytesMut::new();
        while let Some(chunk) = session
            .read_body_ref()
            .await
            .map_err(|e| Failure::Other(self.read_error(&e, "reading the response body")))?
        {
            if received.len().saturating_add(chunk.len()) > self.max_response_bytes {
                return Err(Failure::Other(self.too_large()));
            }
            received.extend_from_slice(chunk);
        }

        // The response is complete. pingora keeps the connection only if HTTP allows it (1.1
        // without `Connection: close`, a body framed by length or chunks, nothing read beyond).
        session.respect_keepalive();
        if let Some(stream) = session.reuse().await {
            self.transport
                .release_stream(stream, self.peer.reuse_hash(), Some(self.idle_timeout));
        }
        Ok(BackendResponse {
            status,
            headers,
            body: received.freeze(),
        })
    }

    /// The request head: request line, then headers in layers where a later layer replaces
    /// the names it sets: the client's own (`Host`, `User-Agent`, `Accept`, `Content-Type`),
    /// then `default_headers`, then the request's shared headers, then its own. Body framing
    /// (`Content-Length`) is the client's alone.
    fn request_head(&self, request: &BackendRequest) -> Result<RequestHeader, BackendError> {
        if !request.path_and_query.starts_with('/') {
            return Err(BackendError::InvalidRequest(
                "the path must start with '/'".into(),
            ));
        }
        let credential = self
            .query_credential
            .as_ref()
            .map_or(0, |c| c.pair.len() + 1);
        let mut target =
            String::with_capacity(self.prefix.len() + request.path_and_query.len() + credential);
        target.push_str(&self.prefix);
        target.push_str(&request.path_and_query);
        if let Some(credential) = &self.query_credential {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&credential.pair);
        }
        let uri = match PathAndQuery::try_from(target.as_str()) {
            Ok(parsed) if parsed.as_str() == target => Uri::from(parsed),
            _ => {
                return Err(BackendError::InvalidRequest(
                    "the path is not a valid percent-encoded request target".into(),
                ))
            }
        };
        let build = || -> pingora::Result<RequestHeader> {
            let mut head = self
                .shared_heads
                .head(&self.head.head, &request.shared_headers)?;
            head.set_method(request.method.clone());
            head.set_uri(uri);
            // The default or shared headers may set the content type; the call's replace it.
            if request.body.is_some() && !head.headers.contains_key(http::header::CONTENT_TYPE) {
                head.insert_header("Content-Type", "application/json")?;
            }
            replace_headers(&mut head, &request.headers)?;
            // Framing is the client's: whatever a layer set of it goes (the map is looked up
            // only when one may have).
            let framed = |name: &HeaderName| {
                self.head.sets_framing
                    || [&request.shared_headers, &request.headers]
                        .iter()
                        .any(|layer| layer.iter().any(|(n, _)| n == name))
            };
            if framed(&http::header::TRANSFER_ENCODING) {
                head.remove_header(&http::header::TRANSFER_ENCODING);
            }
            match &request.body {
                Some(body) => head.insert_header("Content-Length", body.len())?,
                // Some servers answer 411 to a body-less POST without a length.
                None if [Method::POST, Method::PUT, Method::PATCH].contains(&request.method) => {
                    head.insert_header("Content-Length", 0)?
                }
                None if framed(&http::header::CONTENT_LENGTH) => {
                    head.remove_header(&http::header::CONTENT_LENGTH);
                }
                None => {}
            }
            Ok(head)
        };
        build().map_err(|e| {
            BackendError::InvalidRequest(format!("{} in the request head", e.etype().as_str()))
        })
    }

    fn connect_error(&self, e: &PingoraError) -> BackendError {
        match e.etype() {
            ErrorType::ConnectTimedout => BackendError::Timeout {
                backend: self.authority.clone(),
                phase: TimeoutPhase::Connect,
                after: self.connect_timeout,
            },
            ErrorType::TLSHandshakeFailure | ErrorType::InvalidCert => self.tls_error(e),
            _ => BackendError::Connect {
                backend: self.authority.clone(),
                reason: describe(e),
            },
        }
    }

    /// A failed read of the response: the read timeout, or a broken response.
    fn read_error(&self, e: &PingoraError, while_doing: &str) -> BackendError {
        match (e.etype(), self.read_timeout) {
            (ErrorType::ReadTimedout, Some(after)) => BackendError::Timeout {
                backend: self.authority.clone(),
                phase: TimeoutPhase::Read,
                after,
            },
            _ => self.protocol_error(e, while_doing),
        }
    }

    /// A call the circuit breaker refused, open for `retry_after` more.
    pub(super) fn circuit_open(&self, retry_after: Duration) -> BackendError {
        BackendError::CircuitOpen {
            backend: self.authority.clone(),
            retry_after,
        }
    }

    /// A call the concurrency bound refused.
    pub(super) fn busy(&self, reason: Refusal) -> BackendError {
        BackendError::Busy {
            backend: self.authority.clone(),
            reason,
        }
    }

    /// Built from pingora's error type and I/O error kind only: pingora's own context strings
    /// can quote the bytes the backend sent.
    fn protocol_error(&self, e: &PingoraError, while_doing: &str) -> BackendError {
        // With TLS 1.3 a server that refuses the client's certificate (or its absence) says so
        // with an alert after the handshake, which the client reads in place of the answer.
        if let Some(alert) = tls_alert(e).filter(|_| self.tls) {
            let hint = if CLIENT_CERT_ALERTS.contains(&alert.as_str()) {
                ": it wants a client certificate it trusts (backend.tls.client_cert)"
            } else {
                ""
            };
            return BackendError::TlsHandshake {
                backend: self.authority.clone(),
                reason: format!("the server refused the connection (TLS alert {alert}){hint}"),
            };
        }
        BackendError::Protocol {
            backend: self.authority.clone(),
            reason: format!("{} while {while_doing}", describe(e)),
        }
    }

    /// A failed TLS handshake. pingora's rustls connector keeps the rustls error only as text
    /// in the error's context (`... invalid peer certificate: UnknownIssuer, SNI: ...`); it is
    /// classified here into a fixed set of reasons, so nothing the server sent is repeated.
    fn tls_error(&self, e: &PingoraError) -> BackendError {
        let context = e.context.as_ref().map(|c| c.as_str()).unwrap_or_default();
        if let Some((_, cert)) = context.split_once("invalid peer certificate: ") {
            let problem = if cert.starts_with("UnknownIssuer") {
                CertificateProblem::UnknownIssuer
            } else if cert.starts_with("certificate not valid for name")
                || cert.starts_with("NotValidForName")
            {
                CertificateProblem::NameMismatch {
                    name: self.host.clone(),
                }
            } else if cert.starts_with("certificate expired") || cert.starts_with("Expired") {
                CertificateProblem::Expired
            } else if cert.starts_with("certificate not valid yet")
                || cert.starts_with("NotValidYet")
            {
                CertificateProblem::NotYetValid
            } else if cert.starts_with("Revoked") {
                CertificateProblem::Revoked
            } else {
                CertificateProblem::Invalid
            };
            return BackendError::Certificate {
                backend: self.authority.clone(),
                problem,
            };
        }
        let reason = if context.contains("received corrupt message") {
            "the server did not answer in TLS (is it a plain http:// port?)".to_string()
        } else if context.contains("tls handshake eof") {
            "the server closed the connection during the handshake \
             (is it a plain http:// port?)"
                .to_string()
        } else if let Some((_, alert)) = context.split_once("received fatal alert: ") {
            let alert: String = alert
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            format!("the server refused the handshake (TLS alert {alert})")
        } else {
            describe(e)
        };
        BackendError::TlsHandshake {
            backend: self.authority.clone(),
            reason,
        }
    }

    fn too_large(&self) -> BackendError {
        BackendError::TooLarge {
            backend: self.authority.clone(),
            limit: self.max_response_bytes,
        }
    }

    fn failure(&self, failure: Failure) -> BackendError {
        match failure {
            Failure::NoResponse(e) => self.protocol_error(&e, "waiting for the response"),
            Failure::Other(e) => e,
        }
    }
}

/// Writes the request (head, then body) to `stream` in one write and flushes it: one segment
/// on the wire and one wake-up of the legacy API. pingora's client session sends its head on
/// its own (`write_request_header` flushes) and the body after, so a create or an update went
/// out in two segments and the legacy API read it in two. The head is pingora's own wire
/// form. The session that reads the answer is made after the write, so it does not hold the
/// request: it would look there only for a `HEAD` (an answer without a body) or a
/// `Connection: close`, and the gateway sends neither (a mapping's methods are GET, POST, PUT,
/// PATCH and DELETE).
async fn send_whole(stream: &mut Stream, head: &RequestHeader, body: &[u8]) -> pingora::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut wire = http_req_header_to_wire(head).ok_or_else(|| {
        PingoraError::explain(
            ErrorType::InvalidHTTPHeader,
            "request-line contains forbidden delimiter bytes or unsupported HTTP version",
        )
    })?;
    wire.extend_from_slice(body);
    stream
        .write_all(&wire)
        .await
        .or_err(ErrorType::WriteError, "while writing the request")?;
    stream
        .flush()
        .await
        .or_err(ErrorType::WriteError, "flushing the request")
}

/// Sets `layer` on `head`, replacing any earlier values of the names it contains (several
/// values of one name within the layer are all kept).
fn replace_headers(
    head: &mut RequestHeader,
    layer: &[(HeaderName, HeaderValue)],
) -> pingora::Result<()> {
    for (name, _) in layer {
        if head.headers.contains_key(name) {
            head.remove_header(name);
        }
    }
    for (name, value) in layer {
        head.append_header(name.clone(), value.clone())?;
    }
    Ok(())
}

/// The `Content-Length` of a response, if it has a valid one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The TLS alerts a server sends when it refuses the client's certificate or its absence.
const CLIENT_CERT_ALERTS: [&str; 8] = [
    "CertificateRequired",
    "BadCertificate",
    "UnsupportedCertificate",
    "CertificateRevoked",
    "CertificateExpired",
    "CertificateUnknown",
    "UnknownCA",
    "AccessDenied",
];

/// The name of the TLS alert that ended a read or a write, if one did (rustls reports it as
/// `received fatal alert: <Name>` inside the I/O error). Only the alert's name is kept.
fn tls_alert(e: &PingoraError) -> Option<String> {
    let io = e
        .cause
        .as_deref()
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())?;
    let text = io.get_ref()?.to_string();
    let (_, alert) = text.split_once("received fatal alert: ")?;
    let alert: String = alert
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (!alert.is_empty()).then_some(alert)
}

/// `ConnectRefused (connection refused)`: pingora's error type and, when there is one, the kind
/// of the underlying I/O error.
fn describe(e: &PingoraError) -> String {
    let io = e
        .cause
        .as_deref()
        .and_then(|cause| cause.downcast_ref::<std::io::Error>());
    match io {
        Some(io) => format!("{} ({})", e.etype().as_str(), io.kind()),
        None => e.etype().as_str().to_string(),
    }
}

/// pingora's connector options: the pool size, and for `https` the trusted roots, checked
/// here first because pingora's connector panics on roots it cannot load. Logs the warning for
/// `insecure_skip_verify`.
fn connector_options(
    base: &BaseUrl,
    options: &ClientOptions,
) -> Result<ConnectorOptions, BackendConfigError> {
    let mut connector = ConnectorOptions::new(POOL_SIZE);
    if !base.tls {
        if options.ca_file.is_some()
            || options.insecure_skip_verify
            || options.client_cert.is_some()
        {
            tracing::warn!(
                backend = %base.authority,
                "the legacy API's URL is http://, so its TLS settings \
                 (ca_file, insecure_skip_verify, client_cert) are ignored"
            );
        }
        // The connector loads the system roots even for plain HTTP.
        check_system_roots(false)?;
        return Ok(connector);
    }
    match (&options.ca_file, options.insecure_skip_verify) {
        (Some(_), true) => return Err(BackendConfigError::ConflictingTlsOptions),
        (Some(path), false) => {
            connector.ca_file = Some(check_ca_file(path)?);
        }
        (None, true) => {
            tracing::warn!(
                backend = %base.authority,
                "INSECURE: TLS certificate verification of the legacy API is OFF \
                 (insecure_skip_verify). Anyone on the network path can impersonate it and \
                 read its credentials. Trust its CA with ca_file instead."
            );
            check_system_roots(false)?;
        }
        (None, false) => check_system_roots(true)?,
    }
    Ok(connector)
}

/// Loads `path` the way pingora's connector will, and refuses a file that yields no
/// certificate (pingora would accept it and then trust nothing). Returns the path as pingora
/// takes it.
fn check_ca_file(path: &Path) -> Result<String, BackendConfigError> {
    let ca_error = |reason: String| BackendConfigError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = path
        .to_str()
        .ok_or_else(|| ca_error("the path is not valid UTF-8".into()))?;
    let mut store = pingora::tls::RootCertStore::empty();
    pingora::tls::load_ca_file_into_store(text, &mut store).map_err(|e| {
        ca_error(match e.etype() {
            ErrorType::FileReadError => format!("it cannot be read: {}", describe(&e)),
            _ => "it is not a PEM file of CA certificates only".into(),
        })
    })?;
    if store.is_empty() {
        return Err(ca_error(
            "it contains no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(text.to_string())
}

/// Loads the system's root certificates the way pingora's connector will. With `required`,
/// finding none is an error: every certificate would be refused.
fn check_system_roots(required: bool) -> Result<(), BackendConfigError> {
    let mut store = pingora::tls::RootCertStore::empty();
    pingora::tls::load_platform_certs_incl_env_into_store(&mut store).map_err(|e| {
        BackendConfigError::SystemRoots(format!(
            "{} (check SSL_CERT_FILE and SSL_CERT_DIR)",
            describe(&e)
        ))
    })?;
    if required && store.is_empty() {
        return Err(BackendConfigError::SystemRoots(
            "none were found (install the system's CA certificates, or set ca_file)".into(),
        ));
    }
    Ok(())
}

/// The client certificate and key of `files`, checked here because pingora's connector panics
/// on a key or certificate it cannot parse: PEM files, the certificate chain leaf first, a
/// PKCS#8, PKCS#1 or SEC1 private key that belongs to the leaf.
fn load_client_cert(
    files: &ClientCertFiles,
) -> Result<std::sync::Arc<pingora::utils::tls::CertKey>, BackendConfigError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let cert_error = |path: &Path, reason: String| BackendConfigError::ClientCert {
        path: path.to_path_buf(),
        reason,
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| cert_error(path, format!("it cannot be read: {}", e.kind())))
    };
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| cert_error(&files.cert, "it is not a PEM file of certificates".into()))?;
    if chain.is_empty() {
        return Err(cert_error(
            &files.cert,
            "it contains no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    for cert in &chain {
        if x509_parser::parse_x509_certificate(cert.as_ref()).is_err() {
            return Err(cert_error(
                &files.cert,
                "a certificate in it is malformed".into(),
            ));
        }
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        cert_error(
            &files.key,
            "it contains no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
        )
    })?;
    pingora::tls::install_default_crypto_provider();
    let Some(provider) = pingora::tls::CryptoProvider::get_default() else {
        return Err(cert_error(
            &files.key,
            "no TLS crypto provider is installed".into(),
        ));
    };
    pingora::tls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), provider).map_err(
        |e| {
            cert_error(
                &files.key,
                match e {
                    pingora::tls::RusTlsError::InconsistentKeys(_) => {
                        format!(
                            "it is not the key of the certificate in {}",
                            files.cert.display()
                        )
                    }
                    _ => "the key cannot be used for TLS".into(),
                },
            )
        },
    )?;
    let key_der = key.secret_der().to_vec();
    // What pingora's connector does with the key at every handshake, done once here.
    PrivateKeyDer::try_from(key_der.clone())
        .map_err(|_| cert_error(&files.key, "the key cannot be used for TLS".into()))?;
    Ok(std::sync::Arc::new(pingora::utils::tls::CertKey::new(
        chain.into_iter().map(|c| c.to_vec()).collect(),
        key_der,
    )))
}

/// The parts of a base URL the client uses.
#[derive(Debug, PartialEq, Eq)]
struct BaseUrl {
    tls: bool,
    /// Host name or IP address, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    /// `host[:port]` as written.
    authority: String,
    /// Path without its trailing `/`.
    prefix: String,
}

impl BaseUrl {
    fn parse(url: &str) -> Result<BaseUrl, BackendConfigError> {
        // Before anything can echo the URL back in an error message.
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority_part = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        if authority_part.contains('@') {
            return Err(BackendConfigError::CredentialsInUrl);
        }
        let invalid = |reason| BackendConfigError::InvalidUrl {
            url: url.to_string(),
            reason,
        };

        let uri: Uri = url
            .parse()
            .map_err(|_| invalid("expected a URL like http://legacy-api:8080/api"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(_) => return Err(invalid("only http:// and https:// URLs are supported")),
            None => return Err(invalid("expected a URL like http://legacy-api:8080/api")),
        };
        let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
            return Err(invalid("the URL has no host"));
        };
        if host.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL cannot have a query string"));
        }
        Ok(BaseUrl {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

/// Resolves `host` once, preferring an IPv4 address.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, BackendConfigError> {
    let resolve_error = |reason: String| BackendConfigError::Resolve {
        host: host.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| resolve_error(e.to_string()))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| resolve_error("the name has no address".into()))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Instant;

    use async_trait::async_trait;
    use http::Response;
    use pingora::apps::http_app::{HttpServer, ServeHttp};
    use pingora::protocols::http::ServerSession;
    use pingora::services::listening::Service;
    use serde_json::{json, Value};

    use super::*;
    use crate::scim::ScimError;
    use scim_gateway_hosting::{
        free_loopback_addr, http_service, server_conf, start, RunningServer,
    };

    const SECRET: &str = "s3cr3t-legacy-key";

    /// Answers every request with a JSON echo of it: method, target, headers (name → values),
    /// body, and the client's address (so a test can tell connections apart).
    /// `/status/<code>` answers with that status.
    struct Echo;

    #[async_trait]
    impl ServeHttp for Echo {
        async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
            let head = session.req_header();
            let method = head.method.to_string();
            let target = head.uri.to_string();
            let mut headers = serde_json::Map::new();
            for (name, value) in head.headers.iter() {
                let values = headers
                    .entry(name.as_str())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = values {
                    values.push(Value::from(value.to_str().unwrap()));
                }
            }
            let mut body = Vec::new();
            while let Some(chunk) = session.read_request_body().await.unwrap() {
                body.extend_from_slice(&chunk);
            }
            let status = target
                .strip_prefix("/status/")
                .map_or(200, |code| code.split('?').next().unwrap().parse().unwrap());
            let echo = json!({
                "method": method,
                "target": target,
                "headers": headers,
                "body": String::from_utf8(body).unwrap(),
                "peer": session.client_addr().map(|a| a.to_string()),
            });
            json_response(status, echo.to_string().into_bytes())
        }
    }

    /// Answers after `delay`.
    struct Slow {
        delay: Duration,
    }

    #[async_trait]
    impl ServeHttp for Slow {
        async fn response(&self, _session: &mut ServerSession) -> Response<Vec<u8>> {
            tokio::time::sleep(self.delay).await;
            json_response(200, b"{}".to_vec())
        }
    }

    fn json_response(status: u16, body: Vec<u8>) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .header("Content-Type", "application/json")
            .header("Content-Length", body.len())
            .body(body)
            .unwrap()
    }

    fn serve<A: ServeHttp + Send + Sync + 'static>(app: A) -> (RunningServer, SocketAddr) {
        let addr = free_loopback_addr().unwrap();
        let services = vec![http_service("test-backend", addr, 2, app)];
        let server = start(server_conf(0, 1), services, &[addr]).unwrap();
        (server, addr)
    }

    fn options() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(3),
            default_headers: vec![(
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_static(SECRET),
            )],
            ..ClientOptions::default()
        }
    }

    fn client(base_url: &str) -> BackendClient {
        BackendClient::new(base_url, options()).unwrap()
    }

    fn echo_of(response: &BackendResponse) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    /// Asserts that sequential requests, whose echoed client addresses are `peers`, all went
    /// over one kept-alive connection.
    ///
    /// Tests that count on a pooled connection being taken again run on a current-thread
    /// runtime: on a multi-threaded one, pingora's pool now and then misses an idle connection
    /// (its idle watcher releases the lock the taker waits for, then drops its own handle on the
    /// connection; a taker on another thread can come in between, fail to take sole ownership,
    /// and open a new connection instead). That costs a connection, not a failure, but it would
    /// make these tests flaky.
    fn assert_one_connection(peers: &[Value]) {
        assert!(peers[0].is_string(), "{peers:?}");
        assert!(peers.iter().all(|p| *p == peers[0]), "{peers:?}");
    }

    /// A hand-written HTTP/1.1 server on a plain socket, for what a well-behaved server never
    /// does (close mid-conversation, truncate, answer garbage). `script` runs on its own thread
    /// and reports what it saw through the channel.
    fn raw_server<F>(script: F) -> (SocketAddr, mpsc::Receiver<String>)
    where
        F: FnOnce(TcpListener, mpsc::Sender<String>) + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || script(listener, tx));
        (addr, rx)
    }

    fn accept(listener: &TcpListener) -> TcpStream {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    }

    /// Reads one request (head, then a `Content-Length` body) and returns it as text.
    fn read_request(stream: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "client closed early");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, value)| value.trim().parse().unwrap());
        let mut body = vec![0; length];
        stream.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    fn answer(stream: &mut TcpStream, body: &str) {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
    }

    fn received(rx: &mpsc::Receiver<String>) -> String {
        rx.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn get_sends_prefix_path_and_the_standard_headers() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}/legacy/v2/"));
        let request = BackendRequest::new(Method::GET, "/users?name=a%20b&page=2").with_header(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("42"),
        );

        let response = client.send(request).await.unwrap();

        assert_eq!(response.status, 200);
        assert_eq!(response.headers["content-type"], "application/json");
        let echo = echo_of(&response);
        assert_eq!(echo["method"], "GET");
        assert_eq!(echo["target"], "/legacy/v2/users?name=a%20b&page=2");
        let headers = &echo["headers"];
        assert_eq!(headers["host"], json!([addr.to_string()]));
        assert_eq!(headers["accept"], json!(["application/json"]));
        assert_eq!(headers["x-api-key"], json!([SECRET]));
        assert_eq!(headers["x-request-id"], json!(["42"]));
        let user_agent = headers["user-agent"][0].as_str().unwrap();
        assert!(user_agent.starts_with("scim-gateway/"), "{user_agent}");
        assert!(headers.get("content-type").is_none());
        assert!(headers.get("content-length").is_none());
    }

    /// A connection that keeps each write it is given apart (what a socket would send as one
    /// segment) and answers `answer`.
    #[derive(Debug)]
    struct Recorded {
        writes: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
        answer: std::io::Cursor<Vec<u8>>,
    }

    impl tokio::io::AsyncRead for Recorded {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.answer).poll_read(cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for Recorded {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes.lock().unwrap().push(buf.to_vec());
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    mod recorded_io {
        use pingora::protocols::{
            raw_connect::ProxyDigest, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek,
            Shutdown, SocketDigest, Ssl, TimingDigest, UniqueID, UniqueIDType,
        };

        use super::*;

        #[async_trait]
        impl Shutdown for Recorded {
            async fn shutdown(&mut self) {}
        }
        impl UniqueID for Recorded {
            fn id(&self) -> UniqueIDType {
                0
            }
        }
        impl Ssl for Recorded {}
        impl GetTimingDigest for Recorded {
            fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
                vec![]
            }
        }
        impl GetProxyDigest for Recorded {
            fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
                None
            }
        }
        impl GetSocketDigest for Recorded {
            fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
                None
            }
        }
        impl Peek for Recorded {}
    }

    #[tokio::test]
    async fn a_request_with_a_body_leaves_in_one_write() {
        let writes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stream: Stream = Box::new(Recorded {
            writes: writes.clone(),
            answer: std::io::Cursor::new(
                b"HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\n{\"id\":7}".to_vec(),
            ),
        });
        let client = client("http://127.0.0.1:9/api/");
        let body = br#"{"login":"ada"}"#;
        let request = BackendRequest::new(Method::POST, "/users").with_json(body.to_vec());
        let head = client.request_head(&request).unwrap();

        let response = match client.exchange(stream, &head, body).await {
            Ok(response) => response,
            Err(Failure::NoResponse(e)) => panic!("no response: {e}"),
            Err(Failure::Other(e)) => panic!("{e}"),
        };

        assert_eq!(
            (response.status, &response.body[..]),
            (201, &b"{\"id\":7}"[..])
        );
        let writes = writes.lock().unwrap();
        let texts: Vec<_> = writes.iter().map(|w| String::from_utf8_lossy(w)).collect();
        assert_eq!(writes.len(), 1, "{texts:?}");
        let sent = String::from_utf8(writes[0].clone()).unwrap();
        assert!(sent.starts_with("POST /api/users HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("\r\nContent-Length: 15\r\n"), "{sent}");
        assert!(sent.ends_with("\r\n\r\n{\"login\":\"ada\"}"), "{sent}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn post_sends_the_json_body_and_request_headers_override_defaults() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}"));
        let body = br#"{"userName":"ada","active":true}"#.to_vec();
        let request = BackendRequest::new(Method::POST, "/users")
            .with_json(body.clone())
            .with_header(
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_static("tenant-specific"),
            );

        let echo = echo_of(&client.send(request).await.unwrap());

        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["target"], "/users");
        assert_eq!(echo["body"], r#"{"userName":"ada","active":true}"#);
        let headers = &echo["headers"];
        assert_eq!(headers["content-type"], json!(["application/json"]));
        assert_eq!(headers["content-length"], json!([body.len().to_string()]));
        assert_eq!(headers["x-api-key"], json!(["tenant-specific"]));
    }

    /// Each set of shared headers is sent as it is, call after call (the second call of a set
    /// uses the head kept for it): over the default headers, under the call's own.
    #[tokio::test(flavor = "multi_thread")]
    async fn shared_headers_are_sent_per_set_between_the_defaults_and_the_calls_own() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}"));
        let tenant = HeaderName::from_static("x-tenant");
        let call = |shared: &[(&'static str, &'static str)], own: Option<&'static str>| {
            let mut request = BackendRequest::new(Method::GET, "/users");
            request.shared_headers = shared
                .iter()
                .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
                .collect();
            match own {
                Some(v) => request.with_header(tenant.clone(), HeaderValue::from_static(v)),
                None => request,
            }
        };
        let endpoint_key = ("x-api-key", "endpoint-key");
        for (shared, own, sent_tenant, sent_key) in [
            (vec![("x-tenant", "a")], None, json!(["a"]), json!([SECRET])),
            (
                vec![("x-tenant", "b"), endpoint_key],
                None,
                json!(["b"]),
                json!(["endpoint-key"]),
            ),
            (vec![("x-tenant", "a")], None, json!(["a"]), json!([SECRET])),
            (
                vec![("x-tenant", "b"), endpoint_key],
                Some("own"),
                json!(["own"]),
                json!(["endpoint-key"]),
            ),
            (
                vec![("x-tenant", "b"), endpoint_key],
                None,
                json!(["b"]),
                json!(["endpoint-key"]),
            ),
            (vec![], None, Value::Null, json!([SECRET])),
        ] {
            let echo = echo_of(&client.send(call(&shared, own)).await.unwrap());
            let headers = &echo["headers"];
            assert_eq!(headers["x-tenant"], sent_tenant, "{shared:?} {own:?}");
            assert_eq!(headers["x-api-key"], sent_key, "{shared:?} {own:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn body_less_delete_and_post_are_framed() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}"));

        let delete = echo_of(
            &client
                .send(BackendRequest::new(Method::DELETE, "/users/7"))
                .await
                .unwrap(),
        );
        let post = echo_of(
            &client
                .send(BackendRequest::new(Method::POST, "/users/7/disable"))
                .await
                .unwrap(),
        );

        assert_eq!(delete["method"], "DELETE");
        assert!(delete["headers"].get("content-length").is_none());
        assert_eq!(post["headers"]["content-length"], json!(["0"]));
        assert!(post["headers"].get("content-type").is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn error_statuses_are_responses_not_errors() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}"));

        let response = client
            .send(BackendRequest::new(Method::GET, "/status/404"))
            .await
            .unwrap();

        assert_eq!(response.status, 404);
        assert_eq!(echo_of(&response)["target"], "/status/404");
    }

    // One thread: see `assert_one_connection`.
    #[tokio::test(flavor = "current_thread")]
    async fn sequential_requests_share_one_keep_alive_connection() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://{addr}"));

        let mut peers = Vec::new();
        for i in 0..4 {
            let request = BackendRequest::new(Method::GET, format!("/users/{i}"));
            peers.push(echo_of(&client.send(request).await.unwrap())["peer"].clone());
        }

        assert_one_connection(&peers);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_idle_connection_the_server_closed_is_not_used_again() {
        let (addr, rx) = raw_server(|listener, tx| {
            let mut first = accept(&listener);
            read_request(&mut first);
            answer(&mut first, "first");
            drop(first);
            let mut second = accept(&listener);
            tx.send(read_request(&mut second)).unwrap();
            answer(&mut second, "second");
        });
        let client = client(&format!("http://{addr}"));

        let one = client
            .send(BackendRequest::new(Method::GET, "/a"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let two = client
            .send(BackendRequest::new(Method::GET, "/b"))
            .await
            .unwrap();

        assert_eq!(one.body, "first");
        assert_eq!(two.body, "second");
        assert!(received(&rx).starts_with("GET /b HTTP/1.1\r\n"));
    }

    // One thread: see `assert_one_connection`.
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_lost_on_a_pooled_connection_is_sent_again_on_a_new_one() {
        // The server answers once with keep-alive, then closes the connection on the next
        // request without answering: from the client's side, exactly the race with a server
        // closing an idle connection.
        let (addr, rx) = raw_server(|listener, tx| {
            let mut first = accept(&listener);
            read_request(&mut first);
            answer(&mut first, "first");
            read_request(&mut first);
            drop(first);
            let mut second = accept(&listener);
            tx.send(read_request(&mut second)).unwrap();
            answer(&mut second, "second");
        });
        let client = client(&format!("http://{addr}"));

        let one = client
            .send(BackendRequest::new(Method::GET, "/a"))
            .await
            .unwrap();
        let request = BackendRequest::new(Method::POST, "/users").with_json(b"{\"n\":2}".to_vec());
        let two = client.send(request).await.unwrap();

        assert_eq!(one.body, "first");
        assert_eq!(two.body, "second");
        let resent = received(&rx);
        assert!(resent.starts_with("POST /users HTTP/1.1\r\n"), "{resent}");
        assert!(resent.ends_with("\r\n\r\n{\"n\":2}"), "{resent}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_new_connection_closed_before_the_answer_is_an_error_and_not_resent() {
        let (addr, rx) = raw_server(|listener, tx| {
            let mut first = accept(&listener);
            read_request(&mut first);
            drop(first);
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_millis(500);
            let mut more = 0;
            while Instant::now() < deadline {
                if listener.accept().is_ok() {
                    more += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            tx.send(format!("{more} more connections")).unwrap();
        });
        let client = client(&format!("http://{addr}"));

        let error = client
            .send(BackendRequest::new(Method::POST, "/users").with_json(b"{}".to_vec()))
            .await
            .unwrap_err();

        assert!(matches!(error, BackendError::Protocol { .. }), "{error}");
        assert_eq!(received(&rx), "0 more connections");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_refused_connection_is_a_connect_error_and_a_502() {
        let addr = free_loopback_addr().unwrap();
        let client = client(&format!("http://{addr}"));

        let error = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap_err();

        assert!(matches!(error, BackendError::Connect { .. }), "{error}");
        let shown = error.to_string();
        assert!(shown.contains(&addr.to_string()), "{shown}");
        assert!(shown.contains("ConnectRefused"), "{shown}");
        let scim = ScimError::from(error);
        assert_eq!(scim.status, 502);
        assert_eq!(scim.detail, "the legacy API is unreachable");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_slow_backend_times_out_within_the_request_timeout() {
        let (_server, addr) = serve(Slow {
            delay: Duration::from_secs(3),
        });
        let options = ClientOptions {
            request_timeout: Duration::from_millis(300),
            ..options()
        };
        let client = BackendClient::new(&format!("http://{addr}"), options).unwrap();

        let started = Instant::now();
        let error = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap_err();
        let took = started.elapsed();

        assert_eq!(
            error,
            BackendError::Timeout {
                backend: addr.to_string(),
                phase: TimeoutPhase::Request,
                after: Duration::from_millis(300),
            }
        );
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
        assert_eq!(ScimError::from(error).status, 504);
    }

    fn one_raw_answer(raw: &'static str) -> SocketAddr {
        let (addr, _rx) = raw_server(move |listener, _tx| {
            let mut stream = accept(&listener);
            read_request(&mut stream);
            stream.write_all(raw.as_bytes()).unwrap();
        });
        addr
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_truncated_body_is_a_protocol_error() {
        let addr =
            one_raw_answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":\"only part");
        let client = client(&format!("http://{addr}"));

        let error = client
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap_err();

        assert!(matches!(error, BackendError::Protocol { .. }), "{error}");
        assert!(error.to_string().contains("response body"), "{error}");
        assert_eq!(ScimError::from(error).status, 502);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_garbage_answer_is_a_protocol_error() {
        let addr = one_raw_answer("SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n");
        let client = client(&format!("http://{addr}"));

        let error = client
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap_err();

        assert!(matches!(error, BackendError::Protocol { .. }), "{error}");
        assert!(!error.to_string().contains("OpenSSH"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_body_over_the_limit_is_rejected_whether_declared_or_chunked() {
        let (addr, _rx) = raw_server(|listener, _tx| {
            let mut declared = accept(&listener);
            read_request(&mut declared);
            declared
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
                .unwrap();
            let mut chunked = accept(&listener);
            read_request(&mut chunked);
            let chunk = format!("200\r\n{}\r\n", "x".repeat(0x200));
            let response = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}{chunk}0\r\n\r\n"
            );
            chunked.write_all(response.as_bytes()).unwrap();
            // Keep the connection open until the client gives up on it.
            let _ = chunked.read(&mut [0u8; 1]);
        });
        let options = ClientOptions {
            max_response_bytes: 1000,
            ..options()
        };
        let client = BackendClient::new(&format!("http://{addr}"), options).unwrap();

        for path in ["/declared", "/chunked"] {
            let error = client
                .send(BackendRequest::new(Method::GET, path))
                .await
                .unwrap_err();
            assert!(
                matches!(error, BackendError::TooLarge { limit: 1000, .. }),
                "{path}: {error}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sixteen_concurrent_requests_all_succeed() {
        let (_server, addr) = serve(Echo);
        let client = Arc::new(client(&format!("http://{addr}")));

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let client = client.clone();
            tasks.spawn(async move {
                let body = format!("{{\"n\":{i}}}");
                let request = BackendRequest::new(Method::PUT, format!("/users/{i}"))
                    .with_json(body.clone().into_bytes());
                let response = client.send(request).await.unwrap();
                let echo = echo_of(&response);
                (
                    response.status,
                    echo["target"].clone(),
                    echo["body"] == body.as_str(),
                    i,
                )
            });
        }
        let mut done = 0;
        while let Some(result) = tasks.join_next().await {
            let (status, target, body_matches, i) = result.unwrap();
            assert_eq!(status, 200);
            assert_eq!(target, format!("/users/{i}"));
            assert!(body_matches);
            done += 1;
        }
        assert_eq!(done, 16);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_host_name_is_resolved_once_and_sent_as_host() {
        let (_server, addr) = serve(Echo);
        let client = client(&format!("http://localhost:{}", addr.port()));

        assert!(client.address().ip().is_loopback());
        let echo = echo_of(
            &client
                .send(BackendRequest::new(Method::GET, "/"))
                .await
                .unwrap(),
        );
        assert_eq!(
            echo["headers"]["host"],
            json!([format!("localhost:{}", addr.port())])
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_path_that_is_not_a_valid_target_is_refused_before_connecting() {
        // Nothing listens there: a connection attempt would be a Connect error.
        let addr = free_loopback_addr().unwrap();
        let client = client(&format!("http://{addr}"));

        for path in [
            "/users/a b",
            "/users/x\r\nX-Evil: 1",
            "users",
            "/users#frag",
        ] {
            let error = client
                .send(BackendRequest::new(Method::GET, path))
                .await
                .unwrap_err();
            assert!(
                matches!(error, BackendError::InvalidRequest(_)),
                "{path:?}: {error}"
            );
        }
    }

    #[test]
    fn an_unresolvable_host_is_a_config_error_naming_it() {
        let error =
            BackendClient::new("http://no-such-backend.invalid:8080/api", options()).unwrap_err();

        assert!(
            matches!(&error, BackendConfigError::Resolve { host, .. } if host == "no-such-backend.invalid"),
            "{error}"
        );
        assert!(error.to_string().contains("no-such-backend.invalid"));
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_echoed() {
        let error =
            BackendClient::new("http://admin:hunter2@127.0.0.1:8080/", options()).unwrap_err();

        assert_eq!(error, BackendConfigError::CredentialsInUrl);
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn base_urls_are_parsed_into_host_port_and_prefix() {
        let parsed = BaseUrl::parse("http://legacy-api:8080/api/v1/").unwrap();
        assert_eq!(
            parsed,
            BaseUrl {
                tls: false,
                host: "legacy-api".into(),
                port: 8080,
                authority: "legacy-api:8080".into(),
                prefix: "/api/v1".into(),
            }
        );
        let bare = BaseUrl::parse("http://[::1]").unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.prefix.as_str()),
            ("::1", 80, "")
        );
        let https = BaseUrl::parse("https://legacy.example.com/api").unwrap();
        assert_eq!(
            (
                https.tls,
                https.host.as_str(),
                https.port,
                https.authority.as_str()
            ),
            (true, "legacy.example.com", 443, "legacy.example.com")
        );
        for bad in [
            "legacy-api:8080",
            "ftp://legacy-api/",
            "wss://legacy-api/",
            "http://legacy-api/api?x=1",
            "http://",
        ] {
            assert!(
                matches!(
                    BaseUrl::parse(bad),
                    Err(BackendConfigError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    fn with_credential(base_url: &str, credential: Credential) -> BackendClient {
        let options = ClientOptions {
            credential: Some(credential),
            ..options()
        };
        BackendClient::new(base_url, options).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_query_credential_is_the_last_parameter_form_encoded_and_never_shown() {
        let (_server, addr) = serve(Echo);
        let client = with_credential(
            &format!("http://{addr}/api"),
            Credential::Query {
                name: "api key".into(),
                value: crate::mapping::Secret("k3y a&b=c/d".into()),
            },
        );

        let mut targets = Vec::new();
        for path in ["/users?page=2&per_page=10", "/users/7"] {
            let response = client
                .send(BackendRequest::new(Method::GET, path))
                .await
                .unwrap();
            targets.push(echo_of(&response)["target"].as_str().unwrap().to_string());
        }

        assert_eq!(
            targets,
            [
                "/api/users?page=2&per_page=10&api+key=k3y+a%26b%3Dc%2Fd",
                "/api/users/7?api+key=k3y+a%26b%3Dc%2Fd",
            ]
        );
        let shown = format!("{client:?}");
        assert!(!shown.contains("k3y"), "{shown}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_error_answer_quoting_the_url_has_the_query_credential_taken_out() {
        let (_server, addr) = serve(Echo);
        let client = with_credential(
            &format!("http://{addr}"),
            Credential::Query {
                name: "api_key".into(),
                value: crate::mapping::Secret("k3y a&b".into()),
            },
        );

        let refused = client
            .send(BackendRequest::new(Method::GET, "/status/400"))
            .await
            .unwrap();
        let fine = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap();

        assert_eq!(
            echo_of(&refused)["target"],
            "/status/400?api_key=<redacted>"
        );
        assert_eq!(echo_of(&fine)["target"], "/users?api_key=k3y+a%26b");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_header_credential_is_sent_with_every_call_and_marked_sensitive() {
        let (_server, addr) = serve(Echo);
        let client = with_credential(
            &format!("http://{addr}"),
            Credential::Header {
                name: "authorization".into(),
                value: crate::mapping::Secret("Basic c3ZjOnB3".into()),
            },
        );

        let response = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap();

        assert_eq!(
            echo_of(&response)["headers"]["authorization"],
            json!(["Basic c3ZjOnB3"])
        );
        assert!(client.head.head.headers["authorization"].is_sensitive());
        assert!(!format!("{client:?}").contains("c3ZjOnB3"));
    }

    #[test]
    fn a_credential_that_cannot_be_sent_in_a_header_is_a_config_error_without_the_value() {
        let options = ClientOptions {
            credential: Some(Credential::Header {
                name: "x-api-key".into(),
                value: crate::mapping::Secret("line\nbreak-s3cr3t".into()),
            }),
            ..options()
        };

        let error = BackendClient::new("http://127.0.0.1:8080", options).unwrap_err();

        assert!(
            matches!(error, BackendConfigError::Credential(_)),
            "{error}"
        );
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }

    #[test]
    fn debug_output_never_shows_header_values() {
        let options = options();
        let client = BackendClient::new("http://127.0.0.1:9/", options.clone()).unwrap();
        let request = BackendRequest::new(Method::GET, "/").with_header(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer tok3n"),
        );
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", HeaderValue::from_static("session=c00kie"));
        let response = BackendResponse {
            status: 200,
            headers,
            body: Bytes::new(),
        };

        let shown = format!("{options:?} {client:?} {request:?} {response:?}");

        for secret in [SECRET, "tok3n", "c00kie"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("x-api-key: <redacted>"), "{shown}");
        assert!(shown.contains("authorization: <redacted>"), "{shown}");
    }

    /// Who signed a test backend's certificate.
    #[derive(Clone, Copy)]
    enum Signer {
        /// The certificate itself.
        SelfSigned,
        /// A test internal CA.
        InternalCa,
    }

    /// A pingora TLS listener on loopback serving [`Echo`] with a fresh certificate for
    /// `names`, and the PEM file a client should trust for it (what `ca_file` would point at):
    /// the certificate itself, or the internal CA's.
    struct TlsBackend {
        addr: SocketAddr,
        cert: PathBuf,
        _server: RunningServer,
        _dir: tempfile::TempDir,
    }

    fn serve_tls(names: &[&str], signer: Signer) -> TlsBackend {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let (server_pem, trusted_pem) = match signer {
            Signer::SelfSigned => {
                let pem = params.self_signed(&key).unwrap().pem();
                (pem.clone(), pem)
            }
            Signer::InternalCa => {
                let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                ca_params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, "Test Internal CA");
                let ca_key = rcgen::KeyPair::generate().unwrap();
                let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
                (params.signed_by(&key, &ca).unwrap().pem(), ca.pem())
            }
        };
        let server_cert = dir.path().join("server.pem");
        let server_key = dir.path().join("server-key.pem");
        let trusted = dir.path().join("trusted.pem");
        std::fs::write(&server_cert, server_pem).unwrap();
        std::fs::write(&server_key, key.serialize_pem()).unwrap();
        std::fs::write(&trusted, trusted_pem).unwrap();

        let addr = free_loopback_addr().unwrap();
        let mut service = Service::new("test-tls-backend".into(), HttpServer::new_app(Echo));
        service
            .add_tls(
                &addr.to_string(),
                server_cert.to_str().unwrap(),
                server_key.to_str().unwrap(),
            )
            .unwrap();
        service.threads = Some(2);
        let server = start(server_conf(0, 1), vec![Box::new(service)], &[addr]).unwrap();
        TlsBackend {
            addr,
            cert: trusted,
            _server: server,
            _dir: dir,
        }
    }

    /// A pingora TLS listener on loopback serving [`Echo`] for `localhost` that requires a
    /// client certificate signed by its test CA; the CA's PEM file, and a client certificate
    /// and key that CA signed.
    struct MutualTlsBackend {
        addr: SocketAddr,
        ca: PathBuf,
        client: ClientCertFiles,
        _server: RunningServer,
        _dir: tempfile::TempDir,
    }

    fn serve_mutual_tls() -> MutualTlsBackend {
        use pingora::listeners::tls::TlsSettings;
        use pingora::tls::{CertificateDer, RootCertStore, WebPkiClientVerifier};

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = rcgen::KeyPair::generate().unwrap();
        let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &ca).unwrap();
        let ca_file = write("ca.pem", ca.pem());
        let server_cert = write("server.pem", server.pem());
        let server_key = write("server.key", server_key.serialize_pem());
        let client = ClientCertFiles {
            cert: write("client.pem", client.pem()),
            key: write("client.key", client_key.serialize_pem()),
        };

        pingora::tls::install_default_crypto_provider();
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let mut settings =
            TlsSettings::intermediate(server_cert.to_str().unwrap(), server_key.to_str().unwrap())
                .unwrap();
        settings.set_client_cert_verifier(verifier);
        let addr = free_loopback_addr().unwrap();
        let mut service = Service::new("test-mtls-backend".into(), HttpServer::new_app(Echo));
        service.add_tls_with_settings(&addr.to_string(), None, settings);
        service.threads = Some(2);
        let server = start(server_conf(0, 1), vec![Box::new(service)], &[addr]).unwrap();
        MutualTlsBackend {
            addr,
            ca: ca_file,
            client,
            _server: server,
            _dir: dir,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_client_certificate_is_presented_to_a_server_that_requires_one() {
        let backend = serve_mutual_tls();
        let url = format!("https://localhost:{}", backend.addr.port());
        let with_cert = ClientOptions {
            ca_file: Some(backend.ca.clone()),
            client_cert: Some(backend.client.clone()),
            ..options()
        };
        let without = ClientOptions {
            ca_file: Some(backend.ca.clone()),
            ..options()
        };

        let response = BackendClient::new(&url, with_cert)
            .unwrap()
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap();
        let refused = BackendClient::new(&url, without)
            .unwrap()
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap_err();

        assert_eq!(echo_of(&response)["target"], "/users/1");
        assert!(
            matches!(&refused, BackendError::TlsHandshake { reason, .. }
                if reason.contains("TLS alert CertificateRequired")
                    && reason.contains("backend.tls.client_cert")),
            "{refused}"
        );
        assert_eq!(
            ScimError::from(refused).detail,
            "the TLS handshake with the legacy API failed"
        );
    }

    #[test]
    fn a_client_certificate_file_that_cannot_be_used_is_a_config_error_naming_it() {
        let backend = serve_mutual_tls();
        let missing = backend.client.cert.with_file_name("missing.pem");
        for (cert, key, expected) in [
            (&missing, &backend.client.key, "cannot be read"),
            (
                &backend.client.key,
                &backend.client.key,
                "contains no PEM certificate",
            ),
            (
                &backend.client.cert,
                &backend.client.cert,
                "contains no PEM private key",
            ),
            (
                &backend.client.cert,
                &backend.ca,
                "contains no PEM private key",
            ),
        ] {
            let options = ClientOptions {
                client_cert: Some(ClientCertFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                ..options()
            };
            let error = BackendClient::new("https://127.0.0.1:8443", options).unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
            assert!(
                error.to_string().contains("client certificate file"),
                "{error}"
            );
        }
        // Ignored (with a warning) for an http:// backend.
        let options = ClientOptions {
            client_cert: Some(ClientCertFiles {
                cert: missing.clone(),
                key: missing,
            }),
            ..options()
        };
        assert!(BackendClient::new("http://127.0.0.1:8080", options).is_ok());
    }

    fn tls_client(base_url: &str, ca_file: Option<&Path>, insecure: bool) -> BackendClient {
        let options = ClientOptions {
            ca_file: ca_file.map(Path::to_path_buf),
            insecure_skip_verify: insecure,
            ..options()
        };
        BackendClient::new(base_url, options).unwrap()
    }

    // One thread: see `assert_one_connection`.
    #[tokio::test(flavor = "current_thread")]
    async fn https_with_the_ca_file_round_trips_on_one_kept_alive_connection() {
        let backend = serve_tls(&["localhost"], Signer::SelfSigned);
        let port = backend.addr.port();
        let client = tls_client(
            &format!("https://localhost:{port}/api/"),
            Some(&backend.cert),
            false,
        );

        let mut peers = Vec::new();
        for i in 0..4 {
            let request = BackendRequest::new(Method::POST, format!("/users/{i}"))
                .with_json(format!("{{\"n\":{i}}}").into_bytes());
            let response = client.send(request).await.unwrap();
            assert_eq!(response.status, 200);
            let echo = echo_of(&response);
            assert_eq!(echo["target"], format!("/api/users/{i}"));
            assert_eq!(echo["body"], format!("{{\"n\":{i}}}"));
            assert_eq!(
                echo["headers"]["host"],
                json!([format!("localhost:{port}")])
            );
            assert_eq!(echo["headers"]["x-api-key"], json!([SECRET]));
            peers.push(echo["peer"].clone());
        }

        assert_one_connection(&peers);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_certificate_from_an_internal_ca_is_accepted_with_that_ca_as_ca_file() {
        let backend = serve_tls(&["localhost"], Signer::InternalCa);
        let port = backend.addr.port();
        let trusting = tls_client(
            &format!("https://localhost:{port}"),
            Some(&backend.cert),
            false,
        );
        let system_roots = tls_client(&format!("https://localhost:{port}"), None, false);

        let response = trusting
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap();
        let refused = system_roots
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap_err();

        assert_eq!(echo_of(&response)["target"], "/users/1");
        assert!(
            matches!(
                refused,
                BackendError::Certificate {
                    problem: CertificateProblem::UnknownIssuer,
                    ..
                }
            ),
            "{refused}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_self_signed_certificate_is_refused_with_the_system_roots() {
        let backend = serve_tls(&["localhost"], Signer::SelfSigned);
        let port = backend.addr.port();
        let client = tls_client(&format!("https://localhost:{port}"), None, false);

        let error = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap_err();

        assert_eq!(
            error,
            BackendError::Certificate {
                backend: format!("localhost:{port}"),
                problem: CertificateProblem::UnknownIssuer,
            }
        );
        let logged = error.to_string();
        assert!(logged.contains("unknown issuer"), "{logged}");
        assert!(!logged.contains(SECRET), "{logged}");
        let scim = ScimError::from(error);
        assert_eq!(scim.status, 502);
        assert_eq!(
            scim.detail,
            "the legacy API's TLS certificate was not accepted"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_certificate_for_another_name_is_a_name_mismatch() {
        let backend = serve_tls(&["other.example"], Signer::SelfSigned);
        let port = backend.addr.port();
        let client = tls_client(
            &format!("https://localhost:{port}"),
            Some(&backend.cert),
            false,
        );

        let error = client
            .send(BackendRequest::new(Method::GET, "/users"))
            .await
            .unwrap_err();

        assert_eq!(
            error,
            BackendError::Certificate {
                backend: format!("localhost:{port}"),
                problem: CertificateProblem::NameMismatch {
                    name: "localhost".into()
                },
            }
        );
        assert!(error.to_string().contains("name mismatch"), "{error}");
        assert_eq!(ScimError::from(error).status, 502);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_ip_address_url_is_checked_against_the_certificate_s_ip_addresses() {
        let backend = serve_tls(&["127.0.0.1"], Signer::InternalCa);
        let port = backend.addr.port();
        let by_ip = tls_client(
            &format!("https://127.0.0.1:{port}"),
            Some(&backend.cert),
            false,
        );
        let by_name = tls_client(
            &format!("https://localhost:{port}"),
            Some(&backend.cert),
            false,
        );

        let response = by_ip
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap();
        let refused = by_name
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap_err();

        assert_eq!(response.status, 200);
        assert!(
            matches!(
                &refused,
                BackendError::Certificate {
                    problem: CertificateProblem::NameMismatch { name },
                    ..
                } if name == "localhost"
            ),
            "{refused}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn insecure_skip_verify_accepts_an_untrusted_certificate_for_another_name() {
        let backend = serve_tls(&["other.example"], Signer::SelfSigned);
        let port = backend.addr.port();
        let client = tls_client(&format!("https://localhost:{port}"), None, true);

        let response = client
            .send(BackendRequest::new(Method::GET, "/users/1"))
            .await
            .unwrap();

        assert_eq!(response.status, 200);
        assert_eq!(echo_of(&response)["target"], "/users/1");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_https_url_to_a_plain_http_port_is_a_handshake_error() {
        // A server that closes on the TLS hello (pingora's own), and one that answers it in
        // plain HTTP.
        let (_server, closing) = serve(Echo);
        let (answering, _rx) = raw_server(|listener, _tx| {
            let mut stream = accept(&listener);
            let _ = stream.read(&mut [0u8; 1024]).unwrap();
            answer(&mut stream, "not tls");
            let _ = stream.read(&mut [0u8; 1]);
        });

        for (addr, expected) in [
            (closing, "closed the connection during the handshake"),
            (answering, "did not answer in TLS"),
        ] {
            let client = tls_client(&format!("https://localhost:{}", addr.port()), None, true);
            let error = client
                .send(BackendRequest::new(Method::GET, "/users"))
                .await
                .unwrap_err();

            assert!(
                matches!(&error, BackendError::TlsHandshake { reason, .. } if reason.contains(expected)),
                "{error}"
            );
            assert!(error.to_string().contains("plain http:// port"), "{error}");
            let scim = ScimError::from(error);
            assert_eq!(scim.status, 502);
            assert_eq!(scim.detail, "the TLS handshake with the legacy API failed");
        }
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_a_config_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.der");
        std::fs::write(&not_pem, b"this is not a certificate").unwrap();
        let key_only = dir.path().join("key.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&key_only, key.serialize_pem()).unwrap();
        let missing = dir.path().join("missing.pem");

        for (path, expected) in [
            (&missing, "cannot be read"),
            (&not_pem, "contains no PEM certificate"),
            (&key_only, "not a PEM file of CA certificates only"),
        ] {
            let options = ClientOptions {
                ca_file: Some(path.clone()),
                ..options()
            };
            let error = BackendClient::new("https://127.0.0.1:8443", options).unwrap_err();
            assert!(
                matches!(&error, BackendConfigError::CaFile { path: p, .. } if p == path),
                "{error}"
            );
            let shown = error.to_string();
            assert!(shown.contains(expected), "{shown}");
            assert!(shown.contains(&path.display().to_string()), "{shown}");
        }
    }

    #[test]
    fn ca_file_and_insecure_skip_verify_together_are_refused() {
        let backend_cert = std::env::temp_dir().join("never-read.pem");
        let options = ClientOptions {
            ca_file: Some(backend_cert),
            insecure_skip_verify: true,
            ..options()
        };

        let error = BackendClient::new("https://127.0.0.1:8443", options).unwrap_err();

        assert_eq!(error, BackendConfigError::ConflictingTlsOptions);
    }

    #[test]
    fn tls_settings_do_not_apply_to_an_http_backend() {
        let options = ClientOptions {
            ca_file: Some(std::env::temp_dir().join("no-such-ca.pem")),
            ..options()
        };

        assert!(BackendClient::new("http://127.0.0.1:8080", options).is_ok());
    }

    /// Everything logged through `tracing` in this test binary, from any thread.
    #[derive(Clone, Default)]
    struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for CapturedLogs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Installs the capture as the global subscriber on first use. Global rather than
    /// `with_default`: tracing caches per call site whether anyone listens, and another test
    /// thread reaching the same call site while a scoped subscriber is the only one alive
    /// caches "nobody" for everyone.
    fn captured_logs() -> String {
        static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
        let logs = LOGS.get_or_init(|| {
            let logs = CapturedLogs::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the test binary");
            logs
        });
        String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned()
    }

    #[test]
    fn insecure_skip_verify_logs_a_warning_when_the_client_is_built() {
        captured_logs();
        let insecure = ClientOptions {
            insecure_skip_verify: true,
            ..options()
        };

        BackendClient::new("https://127.0.0.1:18443", options()).unwrap();
        BackendClient::new("https://127.0.0.1:18444", insecure).unwrap();

        let logs = captured_logs();
        let warnings: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains("127.0.0.1:1844"))
            .collect();
        assert_eq!(warnings.len(), 1, "{logs}");
        assert!(warnings[0].contains("WARN"), "{logs}");
        assert!(warnings[0].contains("INSECURE"), "{logs}");
        assert!(warnings[0].contains("127.0.0.1:18444"), "{logs}");
        assert!(!logs.contains(SECRET), "{logs}");
    }
}
