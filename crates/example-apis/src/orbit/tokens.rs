//! Orbit's OAuth 2.0 token endpoint (client credentials grant, RFC 6749 §4.4) and the bearer
//! check of every `/api/v2` request.
//!
//! - `POST /oauth/token`, form-encoded `grant_type=client_credentials`, the client named by
//!   HTTP Basic (`client_id:client_secret`, each form-encoded) or else by the form fields
//!   `client_id` and `client_secret`; an optional `scope` is granted as asked. → 200
//!   `{"access_token", "token_type": "Bearer", "expires_in", "scope"?}` with `Cache-Control:
//!   no-store`;
//! - another grant type is 400 `{"error": "unsupported_grant_type"}`, none 400 `{"error":
//!   "invalid_request"}`; an unknown client or a wrong secret 401 `{"error":
//!   "invalid_client"}` (with `WWW-Authenticate: Basic` when Basic was used); another method
//!   405;
//! - a token is valid for its lifetime ([`DEFAULT_TOKEN_LIFETIME`](super::DEFAULT_TOKEN_LIFETIME)
//!   unless [`Orbit::set_token_lifetime`] says otherwise), or until [`Orbit::expire_tokens`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::{
    first_param, json_response, read_body, secret_matches, ApiError, Orbit, RequestHead,
    DEFAULT_TOKEN_LIFETIME,
};

/// The tokens issued and still valid, and how long new ones live.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    /// Token → when it stops being valid.
    valid: HashMap<String, Instant>,
    /// How long a new token lives; `None`: [`DEFAULT_TOKEN_LIFETIME`].
    lifetime: Option<Duration>,
    /// Tokens issued since start (through the endpoint or [`Orbit::issue_token`]).
    issued: u64,
    /// The grants made through the endpoint, oldest first.
    grants: Vec<TokenGrant>,
}

/// How a client named itself to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` as form fields.
    Form,
    /// HTTP Basic (`client_secret_basic`).
    Basic,
}

/// One token granted by `POST /oauth/token`: what a test of the gateway's OAuth client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub client_auth: ClientAuth,
    /// The `scope` asked for, if any.
    pub scope: Option<String>,
}

impl Tokens {
    /// A new token, valid from now for the lifetime; and that lifetime.
    fn issue(&mut self) -> (String, Duration) {
        let lifetime = self.lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let now = Instant::now();
        self.valid.retain(|_, until| *until > now);
        let token = format!("orb_at_{}", uuid::Uuid::new_v4().simple());
        self.valid.insert(token.clone(), now + lifetime);
        self.issued += 1;
        (token, lifetime)
    }

    fn is_valid(&self, token: &str) -> bool {
        // A map lookup is not constant-time, but the key is a random 128-bit value the caller
        // either holds or does not: nothing to learn from timing but the token itself.
        self.valid
            .get(token)
            .is_some_and(|until| *until > Instant::now())
    }
}

/// A token request refused, in the shape of RFC 6749 §5.2.
enum TokenError {
    InvalidRequest,
    UnsupportedGrantType,
    /// The client could not be authenticated; `true` when it tried HTTP Basic.
    InvalidClient(bool),
}

impl TokenError {
    fn into_response(self) -> Response<Vec<u8>> {
        let (status, error) = match self {
            TokenError::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            TokenError::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_client"),
        };
        let mut resp = json_response(status, &json!({ "error": error }));
        if let TokenError::InvalidClient(true) = self {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"orbit\""),
            );
        }
        resp
    }
}

/// The client id and secret of an `Authorization: Basic` header (each form-decoded, as RFC
/// 6749 §2.3.1 has them encoded); `None` when the header is absent or not Basic, `Some(None)`
/// when it is Basic but unreadable.
fn basic_credentials(head: &RequestHead) -> Option<Option<(String, String)>> {
    let value = head.header("authorization")?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let form_decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(decoded.and_then(|pair| {
        let (id, secret) = pair.split_once(':')?;
        Some((form_decode(id), form_decode(secret)))
    }))
}

impl Orbit {
    /// Issues a valid bearer token without going through HTTP (counted in
    /// [`tokens_issued`](Self::tokens_issued)), for tests and demos that send a static bearer.
    pub fn issue_token(&self) -> String {
        self.tokens().issue().0
    }

    /// Makes every token issued so far invalid: the next API call with one is 401, as when a
    /// token expires or the product rotates its signing keys.
    pub fn expire_tokens(&self) {
        self.tokens().valid.clear();
    }

    /// How many tokens were issued since start (through the endpoint or
    /// [`issue_token`](Self::issue_token)).
    pub fn tokens_issued(&self) -> u64 {
        self.tokens().issued
    }

    /// The tokens granted through `POST /oauth/token`, oldest first: how the client
    /// authenticated and the scope it asked for.
    pub fn token_grants(&self) -> Vec<TokenGrant> {
        self.tokens().grants.clone()
    }

    /// How long the tokens issued from now on live (and the `expires_in` they are answered
    /// with, in whole seconds).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.tokens().lifetime = Some(lifetime);
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Authorization: Bearer <token>` with a token issued and still valid.
    pub(super) fn authenticate(&self, head: &RequestHead) -> Result<(), ApiError> {
        let token = head
            .header("authorization")
            .map(str::trim)
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token {
            Some(t) if self.tokens().is_valid(t) => Ok(()),
            _ => Err(ApiError::Unauthorized),
        }
    }

    /// `POST /oauth/token`.
    pub(super) async fn token_endpoint(
        &self,
        head: &RequestHead,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        if head.method != Method::POST {
            return Err(ApiError::MethodNotAllowed("POST"));
        }
        let body = read_body(session).await?;
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        Ok(match self.grant(head, &form) {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        })
    }

    fn grant(
        &self,
        head: &RequestHead,
        form: &[(String, String)],
    ) -> Result<Response<Vec<u8>>, TokenError> {
        match first_param(form, "grant_type") {
            None => return Err(TokenError::InvalidRequest),
            Some("client_credentials") => {}
            Some(_) => return Err(TokenError::UnsupportedGrantType),
        }
        let (id, secret, basic) = match basic_credentials(head) {
            Some(Some((id, secret))) => (id, secret, true),
            Some(None) => return Err(TokenError::InvalidClient(true)),
            None => match (
                first_param(form, "client_id"),
                first_param(form, "client_secret"),
            ) {
                (Some(id), Some(secret)) => (id.to_string(), secret.to_string(), false),
                _ => return Err(TokenError::InvalidClient(false)),
            },
        };
        let known = secret_matches(&id, &self.inner.client_id)
            & secret_matches(&secret, &self.inner.client_secret);
        if !known {
            return Err(TokenError::InvalidClient(basic));
        }
        let scope = first_param(form, "scope").map(str::to_string);
        let (token, lifetime) = {
            let mut tokens = self.tokens();
            tokens.grants.push(TokenGrant {
                client_auth: if basic {
                    ClientAuth::Basic
                } else {
                    ClientAuth::Form
                },
                scope: scope.clone(),
            });
            tokens.issue()
        };
        let mut answer = Map::new();
        answer.insert("access_token".into(), json!(token));
        answer.insert("token_type".into(), json!("Bearer"));
        answer.insert("expires_in".into(), json!(lifetime.as_secs()));
        if let Some(scope) = scope {
            answer.insert("scope".into(), json!(scope));
        }
        let mut resp = json_response(StatusCode::OK, &Value::Object(answer));
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;
    use serde_json::json;

    use super::super::tests::{running, CLIENT_ID, SECRET};
    use super::super::{TOKEN, USERS};
    use super::{ClientAuth, TokenGrant};
    use crate::common::test_client::{Client, Reply};

    const FORM: &str = "application/x-www-form-urlencoded";

    fn ask(client: &Client, form: &str, headers: &[(&str, &str)]) -> Reply {
        client.call_typed("POST", TOKEN, Some((form, FORM)), headers)
    }

    fn basic(id: &str, secret: &str) -> String {
        let pair = format!("{id}:{secret}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn bearer(client: &Client, token: &str) -> Client {
        client.with_auth(Some(("Authorization", format!("Bearer {token}"))))
    }

    #[test]
    fn client_credentials_as_form_fields_or_basic_give_a_bearer_token() {
        let t = running();
        let anonymous = t.client.with_auth(None);
        let issued_before = t.api.tokens_issued();
        let form = ask(
            &anonymous,
            &format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"),
            &[],
        );
        assert_eq!(form.status, 200, "{:?}", form.json);
        assert_eq!(form.json["token_type"], "Bearer");
        assert_eq!(form.json["expires_in"], 3600);
        assert_eq!(form.header("cache-control"), Some("no-store"));
        assert!(form.json.get("scope").is_none());
        let token = form.json["access_token"].as_str().unwrap().to_string();
        assert_eq!(bearer(&anonymous, &token).get(USERS).status, 200);

        let via_basic = ask(
            &anonymous,
            "grant_type=client_credentials&scope=users+teams",
            &[("Authorization", &basic(CLIENT_ID, SECRET))],
        );
        assert_eq!(via_basic.status, 200, "{:?}", via_basic.json);
        assert_eq!(via_basic.json["scope"], "users teams", "granted as asked");
        let other = via_basic.json["access_token"].as_str().unwrap();
        assert_ne!(other, token);
        assert_eq!(bearer(&anonymous, other).get(USERS).status, 200);
        assert_eq!(t.api.tokens_issued(), issued_before + 2);
        assert_eq!(
            t.api.token_grants(),
            [
                TokenGrant {
                    client_auth: ClientAuth::Form,
                    scope: None
                },
                TokenGrant {
                    client_auth: ClientAuth::Basic,
                    scope: Some("users teams".into())
                }
            ],
            "issue_token is no grant"
        );
    }

    #[test]
    fn a_wrong_client_or_grant_gets_no_token() {
        let t = running();
        let anonymous = t.client.with_auth(None);
        let issued_before = t.api.tokens_issued();
        for (form, headers, status, error) in [
            (
                format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=nope"),
                vec![],
                401,
                "invalid_client",
            ),
            (
                format!("grant_type=client_credentials&client_id=other&client_secret={SECRET}"),
                vec![],
                401,
                "invalid_client",
            ),
            (
                "grant_type=client_credentials".to_string(),
                vec![],
                401,
                "invalid_client",
            ),
            (
                format!("grant_type=password&client_id={CLIENT_ID}&client_secret={SECRET}"),
                vec![],
                400,
                "unsupported_grant_type",
            ),
            (
                format!("client_id={CLIENT_ID}&client_secret={SECRET}"),
                vec![],
                400,
                "invalid_request",
            ),
            (
                "grant_type=client_credentials".to_string(),
                vec![("Authorization", basic(CLIENT_ID, "nope"))],
                401,
                "invalid_client",
            ),
            (
                "grant_type=client_credentials".to_string(),
                vec![("Authorization", "Basic !!!".to_string())],
                401,
                "invalid_client",
            ),
        ] {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = ask(&anonymous, &form, &headers);
            assert_eq!(reply.status, status, "{form} {headers:?}");
            assert_eq!(reply.json, json!({ "error": error }), "{form}");
            let basic_used = !headers.is_empty();
            assert_eq!(
                reply.header("www-authenticate").is_some(),
                basic_used && status == 401,
                "{form} {headers:?}"
            );
        }
        assert_eq!(t.api.tokens_issued(), issued_before);
        assert!(t.api.token_grants().is_empty());
        assert_eq!(anonymous.get(TOKEN).status, 405);
    }

    #[test]
    fn api_calls_need_a_valid_bearer_token() {
        let t = running();
        let wrong: &[Option<(&'static str, String)>] = &[
            None,
            Some(("Authorization", "Bearer orb_at_unknown".to_string())),
            Some(("Authorization", format!("Token token=\"{SECRET}\""))),
            Some(("Authorization", basic(CLIENT_ID, SECRET))),
            Some(("Authorization", "Bearer".to_string())),
        ];
        for auth in wrong {
            let reply = t.client.with_auth(auth.clone()).get(USERS);
            assert_eq!(reply.status, 401, "{auth:?}");
            assert_eq!(
                reply.json,
                json!({"errors": [{"status": "401", "code": "unauthorized"}]})
            );
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer error=\"invalid_token\"")
            );
        }
        let token = t.api.issue_token();
        let lower = t
            .client
            .with_auth(Some(("Authorization", format!("bearer {token}"))));
        assert_eq!(lower.get(USERS).status, 200, "the scheme ignores case");
    }

    #[test]
    fn tokens_expire_and_a_new_one_works() {
        let t = running();
        assert_eq!(t.client.get(USERS).status, 200);
        t.api.expire_tokens();
        let expired = t.client.get(USERS);
        assert_eq!(expired.status, 401, "expire_tokens ends every token");
        let anonymous = t.client.with_auth(None);
        let fresh = ask(
            &anonymous,
            &format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"),
            &[],
        );
        let token = fresh.json["access_token"].as_str().unwrap();
        assert_eq!(bearer(&anonymous, token).get(USERS).status, 200);

        // A token also ends when its lifetime is over.
        t.api.set_token_lifetime(Duration::from_millis(300));
        let short = ask(
            &anonymous,
            &format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"),
            &[],
        );
        assert_eq!(short.json["expires_in"], 0, "whole seconds");
        let short = bearer(&anonymous, short.json["access_token"].as_str().unwrap());
        assert_eq!(short.get(USERS).status, 200);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(short.get(USERS).status, 401);
        assert_eq!(
            bearer(&anonymous, token).get(USERS).status,
            200,
            "others live on"
        );
    }
}
