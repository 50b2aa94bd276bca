//! The OAuth 2.0 client credentials grant (RFC 6749 §4.4) toward the legacy API: a
//! [`TokenSource`] fetches an access token from the token endpoint, keeps it until shortly
//! before it expires, and shares one fetch between all the calls that need a token at the same
//! time (single-flight). A token the legacy API refused (401) is dropped by
//! [`TokenSource::invalidate`]; the protected call (`protect.rs`) then fetches a new one and
//! makes the call once more.
//!
//! The token and the client secret never appear in a `Debug` output, an error or a log line:
//! they are kept in sensitive `HeaderValue`s and a form body that nothing prints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::uri::Uri;
use http::{HeaderValue, Method};
use serde_json::Value;

use super::client::{BackendClient, BackendRequest, ClientOptions};
use super::error::{BackendConfigError, BackendError, TokenProblem};
use super::protect::CallObserver;
use crate::mapping::protection::Protection;
use crate::mapping::ClientCredentials;

/// The longest margin before a token's expiry at which it is fetched again.
const MAX_MARGIN: Duration = Duration::from_secs(30);

/// The error codes of RFC 6749 §5.2, the only text of a token endpoint's refusal that is
/// repeated (in the log and to the identity provider).
const REGISTERED_ERRORS: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// How one request to the token endpoint ended: the `outcome` label of
/// `backend_token_fetches_total`, told to the call's [`CallObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenFetch {
    /// A usable access token.
    Fetched,
    /// The endpoint refused the client credentials or the grant (400, 401, 403).
    Refused,
    /// No usable answer: unreachable, timed out, another error status, no token in it.
    Failed,
}

impl TokenFetch {
    #[cfg(test)]
    const ALL: [TokenFetch; 3] = [TokenFetch::Fetched, TokenFetch::Refused, TokenFetch::Failed];

    pub(crate) fn label(self) -> &'static str {
        match self {
            TokenFetch::Fetched => "fetched",
            TokenFetch::Refused => "refused",
            TokenFetch::Failed => "failed",
        }
    }

    fn of<T>(fetched: &Result<T, BackendError>) -> TokenFetch {
        match fetched {
            Ok(_) => TokenFetch::Fetched,
            Err(BackendError::Token {
                problem: TokenProblem::Refused { .. },
                ..
            }) => TokenFetch::Refused,
            Err(_) => TokenFetch::Failed,
        }
    }
}

/// An access token, as sent: `Bearer <token>`.
#[derive(Clone)]
pub(crate) struct Token {
    header: HeaderValue,
    /// When it must no longer be used: its expiry less the margin. `None`: the endpoint gave no
    /// `expires_in`; it is used until the legacy API refuses it.
    renew_at: Option<Instant>,
    /// Which fetch it came from, so that a refusal drops this token and not a newer one.
    serial: u64,
}

impl Token {
    /// The `Authorization` header value.
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }

    fn fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// What the callers share: the current token, and the outcome of the last failed fetch for
/// the callers that waited for it.
#[derive(Default)]
struct State {
    token: Option<Token>,
    failure: Option<(u64, BackendError)>,
}

/// Access tokens from one token endpoint, for one client.
pub(crate) struct TokenSource {
    /// A client of the token endpoint's origin, without any credential of its own.
    endpoint: BackendClient,
    path: String,
    /// `grant_type=client_credentials…`, with the client secret when it goes in the form.
    form: Vec<u8>,
    /// `Basic …` when the client authenticates with HTTP Basic.
    basic: Option<HeaderValue>,
    state: tokio::sync::Mutex<State>,
    /// Fetches finished so far; a token's serial is the count when it was fetched.
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.endpoint.authority())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for `credentials`, whose client uses the TLS settings and timeouts of
    /// `options` (the token endpoint is often on the legacy API's own host).
    pub(crate) fn new(
        credentials: &ClientCredentials,
        options: &ClientOptions,
    ) -> Result<TokenSource, BackendConfigError> {
        let url = credentials.token_url.as_str();
        let invalid = |reason: &str| BackendConfigError::TokenUrl(format!("{url:?} {reason}"));
        let uri: Uri = url
            .parse()
            .map_err(|_| invalid("is not a URL like https://login.example.com/oauth/token"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(invalid("is not an absolute http(s) URL"));
        };
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let endpoint = BackendClient::new(
            &format!("{scheme}://{authority}"),
            ClientOptions {
                credential: None,
                default_headers: Vec::new(),
                protection: Protection::default(),
                ..options.clone()
            },
        )?;
        let (form, basic) = credentials.token_request();
        let basic = match basic {
            Some(value) => {
                let mut value = HeaderValue::try_from(value.expose()).map_err(|_| {
                    BackendConfigError::Credential(
                        "the client id or secret cannot be sent in a header".into(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(TokenSource {
            endpoint,
            path,
            form,
            basic,
            state: tokio::sync::Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
        })
    }

    /// A token that is not about to expire: the cached one, or a new one fetched now. Callers
    /// that ask while a fetch is running wait for it and share its token, or its failure; the
    /// caller that fetched tells `observer` how the fetch ended.
    pub(crate) async fn token(&self, observer: &dyn CallObserver) -> Result<Token, BackendError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        if let Some(token) = state.token.as_ref().filter(|t| t.fresh(Instant::now())) {
            return Ok(token.clone());
        }
        if let Some((serial, failure)) = &state.failure {
            if *serial > seen {
                return Err(failure.clone());
            }
        }
        let fetched = self.fetch().await;
        observer.token_fetch(TokenFetch::of(&fetched));
        let serial = self.fetches.fetch_add(1, Ordering::AcqRel) + 1;
        match fetched {
            Ok((header, lifetime)) => {
                let token = Token {
                    header,
                    renew_at: lifetime.map(|l| Instant::now() + l.saturating_sub(margin(l))),
                    serial,
                };
                tracing::debug!(
                    endpoint = %self.endpoint.authority(),
                    expires_in = lifetime.map(|l| l.as_secs()),
                    "fetched an access token for the legacy API"
                );
                state.token = Some(token.clone());
                state.failure = None;
                Ok(token)
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching an access token for the legacy API failed");
                state.token = None;
                state.failure = Some((serial, e.clone()));
                Err(e)
            }
        }
    }

    /// Drops `used`, which the legacy API refused, unless a newer token replaced it already.
    pub(crate) async fn invalidate(&self, used: &Token) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.serial == used.serial)
        {
            state.token = None;
        }
    }

    /// One token request: the `Authorization` header value and the token's lifetime.
    async fn fetch(&self) -> Result<(HeaderValue, Option<Duration>), BackendError> {
        let mut headers = vec![(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )];
        if let Some(basic) = &self.basic {
            headers.push((AUTHORIZATION, basic.clone()));
        }
        let request = BackendRequest {
            method: Method::POST,
            path_and_query: self.path.clone(),
            shared_headers: Vec::new(),
            headers,
            body: Some(self.form.clone()),
        };
        let problem = |problem| BackendError::Token {
            endpoint: self.endpoint.authority().to_string(),
            problem,
        };
        let response = self
            .endpoint
            .send_one(&request)
            .await
            .map_err(|e| problem(TokenProblem::Unreachable(Box::new(e))))?;
        let body: Option<Value> = serde_json::from_slice(&response.body).ok();
        match response.status {
            200..=299 => {}
            status @ (400 | 401 | 403) => {
                let error = body
                    .as_ref()
                    .and_then(|b| b.get("error"))
                    .and_then(Value::as_str)
                    .filter(|e| REGISTERED_ERRORS.contains(e))
                    .map(str::to_string);
                return Err(problem(TokenProblem::Refused { status, error }));
            }
            status => return Err(problem(TokenProblem::Failed { status })),
        }
        let Some(body) = body else {
            return Err(problem(TokenProblem::Unusable("the answer is not JSON")));
        };
        parse_token(&body).map_err(|reason| problem(TokenProblem::Unusable(reason)))
    }
}

/// How long before its expiry a token of `lifetime` is renewed: a tenth of it, at most 30 s.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_MARGIN)
}

/// The `Authorization` header value and the lifetime of a token endpoint's success answer
/// (RFC 6749 §5.1). `expires_in` may be a number or a string of digits (some endpoints quote
/// it); a `token_type` other than `Bearer` cannot be used.
fn parse_token(body: &Value) -> Result<(HeaderValue, Option<Duration>), &'static str> {
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("no access_token")?;
    match body.get("token_type").and_then(Value::as_str) {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err("the token_type is not Bearer"),
    }
    let lifetime = match body.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or("expires_in is not a whole number")?),
        Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| "expires_in is not a number")?),
        Some(_) => return Err("expires_in is not a number"),
    };
    let mut header = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| "the access token cannot be sent in a header")?;
    header.set_sensitive(true);
    Ok((header, lifetime.map(Duration::from_secs)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_fetch_outcome_is_a_metric_label() {
        let labels = TokenFetch::ALL.map(TokenFetch::label);
        assert_eq!(labels, crate::metrics::TOKEN_FETCH_OUTCOMES);
        let token = |problem| {
            TokenFetch::of::<()>(&Err(BackendError::Token {
                endpoint: "login.example.com".into(),
                problem,
            }))
        };
        assert_eq!(TokenFetch::of(&Ok(())), TokenFetch::Fetched);
        let refused = TokenProblem::Refused {
            status: 401,
            error: Some("invalid_client".into()),
        };
        assert_eq!(token(refused), TokenFetch::Refused);
        assert_eq!(
            token(TokenProblem::Failed { status: 503 }),
            TokenFetch::Failed
        );
        assert_eq!(
            token(TokenProblem::Unusable("no token")),
            TokenFetch::Failed
        );
    }

    #[test]
    fn a_token_answer_gives_the_header_and_the_lifetime() {
        let (header, lifetime) = parse_token(
            &json!({"access_token": "abc", "token_type": "Bearer", "expires_in": 3600}),
        )
        .unwrap();
        assert_eq!(header, "Bearer abc");
        assert!(header.is_sensitive());
        assert_eq!(lifetime, Some(Duration::from_secs(3600)));

        let (_, lifetime) = parse_token(
            &json!({"access_token": "abc", "token_type": "bearer", "expires_in": "60"}),
        )
        .unwrap();
        assert_eq!(lifetime, Some(Duration::from_secs(60)));
        let (_, lifetime) = parse_token(&json!({"access_token": "abc"})).unwrap();
        assert_eq!(lifetime, None);
    }

    #[test]
    fn unusable_token_answers_are_refused_without_quoting_them() {
        for (body, reason) in [
            (json!({}), "no access_token"),
            (json!({"access_token": ""}), "no access_token"),
            (json!({"access_token": 7}), "no access_token"),
            (
                json!({"access_token": "t", "token_type": "mac"}),
                "the token_type is not Bearer",
            ),
            (
                json!({"access_token": "t", "expires_in": -5}),
                "expires_in is not a whole number",
            ),
            (
                json!({"access_token": "t", "expires_in": "soon"}),
                "expires_in is not a number",
            ),
            (
                json!({"access_token": "bad\ntoken"}),
                "the access token cannot be sent in a header",
            ),
        ] {
            assert_eq!(parse_token(&body).unwrap_err(), reason, "{body}");
        }
    }

    #[test]
    fn the_margin_is_a_tenth_of_the_lifetime_at_most_30_seconds() {
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(margin(Duration::from_secs(120)), Duration::from_secs(12));
        assert_eq!(margin(Duration::from_secs(0)), Duration::ZERO);
    }

    #[test]
    fn a_token_without_expiry_stays_fresh_and_one_past_its_renewal_does_not() {
        let now = Instant::now();
        let token = |renew_at| Token {
            header: HeaderValue::from_static("Bearer t"),
            renew_at,
            serial: 1,
        };
        assert!(token(None).fresh(now));
        assert!(token(Some(now + Duration::from_secs(1))).fresh(now));
        assert!(!token(Some(now)).fresh(now));
        assert!(!format!("{:?}", token(None)).contains("Bearer"));
    }
}
