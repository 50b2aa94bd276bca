//! `backend.auth` and `backend.tls`: which credential the gateway sends the legacy API, where
//! its secrets come from, and how the TLS connection is trusted and authenticated. A secret is
//! only ever named here (a variable, a file); it is read at start-up (`BackendAuth::resolve`).

use std::path::PathBuf;

use serde_saphyr::Spanned;

use super::{loc, need, suggest_word, Cx};
use crate::mapping::auth::{ClientAuth, OAuth2, TokenUrl};
use crate::mapping::model::{AuthFile, BasicFile, OAuth2File, TlsFile};
use crate::mapping::plan::{BackendAuth, BackendTls, ClientCertFiles, SecretSource};

const AT: &str = "backend.auth";

/// Every form, for the fix of a problem that concerns the choice of form.
const FORMS: &str =
    "write one of {header: X-Api-Key, from_env: VAR}, {query: api_key, from_env: VAR}, \
                     {bearer_from_env: VAR}, {basic: {username: …, password_from_env: VAR}} or \
                     {oauth2: {token_url: …, client_id: …, client_secret_from_env: VAR}} \
                     (from_file / *_from_file instead of from_env read a file)";

/// `backend.auth`: exactly one form.
pub(super) fn auth(cx: &mut Cx<'_>, a: &Spanned<AuthFile>) -> Option<BackendAuth> {
    let f = &a.value;
    // Each form, by the key that starts it, in file order of the keys' definitions.
    let bearer = f.bearer_from_env.as_ref().or(f.bearer_from_file.as_ref());
    let forms: Vec<(&str, &serde_saphyr::Location)> = [
        ("header", f.header.as_ref().map(loc)),
        ("query", f.query.as_ref().map(loc)),
        ("bearer_from_env/bearer_from_file", bearer.map(loc)),
        ("basic", f.basic.as_ref().map(loc)),
        ("oauth2", f.oauth2.as_ref().map(loc)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect();
    match forms.as_slice() {
        [] => {
            if let Some(x) = f.from_env.as_ref().or(f.from_file.as_ref()) {
                cx.report(
                    loc(x),
                    AT,
                    "from_env/from_file need `header:` or `query:`, where the secret is sent"
                        .into(),
                    Some(
                        "add header: X-Api-Key (or query: api_key); for a bearer token write \
                         bearer_from_env: VAR"
                            .into(),
                    ),
                );
            } else {
                cx.report(
                    loc(a),
                    AT,
                    "no credential is given".into(),
                    Some(FORMS.into()),
                );
            }
            return None;
        }
        [_] => {}
        [(first, _), (second, at), ..] => {
            cx.report(
                at,
                AT,
                format!(
                    "{first} and {second} cannot both be set: the gateway sends one credential"
                ),
                Some(FORMS.into()),
            );
            return None;
        }
    }
    let stray = f.from_env.as_ref().or(f.from_file.as_ref());
    if f.header.is_none() && f.query.is_none() {
        if let Some(x) = stray {
            cx.report(
                loc(x),
                AT,
                "from_env/from_file belong to `header:` or `query:`, which are not set".into(),
                Some("remove it; the credential's own keys name its secrets".into()),
            );
            return None;
        }
    }
    if let Some(h) = &f.header {
        let name = match http::HeaderName::from_bytes(h.value.trim().as_bytes()) {
            Ok(_) => Some(h.value.trim().to_string()),
            Err(_) => {
                cx.report(
                    loc(h),
                    &format!("{AT}.header"),
                    format!("{:?} is not a valid header name", h.value),
                    Some("write a header name like X-Api-Key".into()),
                );
                None
            }
        };
        let secret = secret(cx, a, &f.from_env, &f.from_file, "from_env", "from_file");
        return Some(BackendAuth::Header {
            name: name?,
            secret: secret?,
        });
    }
    if let Some(q) = &f.query {
        let name = q.value.trim();
        let name = if name.is_empty() {
            cx.report(
                loc(q),
                &format!("{AT}.query"),
                "the query parameter has no name".into(),
                Some("write the legacy API's parameter, e.g. query: api_key".into()),
            );
            None
        } else {
            Some(name.to_string())
        };
        let secret = secret(cx, a, &f.from_env, &f.from_file, "from_env", "from_file");
        return Some(BackendAuth::Query {
            name: name?,
            secret: secret?,
        });
    }
    if bearer.is_some() {
        return secret(
            cx,
            a,
            &f.bearer_from_env,
            &f.bearer_from_file,
            "bearer_from_env",
            "bearer_from_file",
        )
        .map(BackendAuth::Bearer);
    }
    if let Some(b) = &f.basic {
        return basic(cx, b);
    }
    f.oauth2.as_ref().and_then(|o| oauth2(cx, o))
}

/// The one source of a secret: an environment variable or a file.
fn secret<T>(
    cx: &mut Cx<'_>,
    parent: &Spanned<T>,
    env: &Option<Spanned<String>>,
    file: &Option<Spanned<String>>,
    env_key: &str,
    file_key: &str,
) -> Option<SecretSource> {
    match (env, file) {
        (Some(e), None) => env_var(cx, e).map(SecretSource::Env),
        (None, Some(p)) if !p.value.trim().is_empty() => {
            Some(SecretSource::File(PathBuf::from(p.value.trim())))
        }
        (None, Some(p)) => {
            cx.report(
                loc(p),
                AT,
                format!("the path of {file_key} is empty"),
                Some(format!(
                    "write {file_key}: /run/secrets/NAME (a file holding only the secret)"
                )),
            );
            None
        }
        (Some(_), Some(p)) => {
            cx.report(
                loc(p),
                AT,
                format!("{env_key} and {file_key} cannot both be set"),
                Some("keep one: the secret comes from one place".into()),
            );
            None
        }
        (None, None) => {
            cx.report(
                loc(parent),
                AT,
                format!("the secret is not named: {env_key} or {file_key} is missing"),
                Some(format!(
                    "add {env_key}: VAR (an environment variable) or {file_key}: PATH; the \
                     secret itself never goes in the mapping"
                )),
            );
            None
        }
    }
}

/// A value that is not secret, written in the mapping or named by a variable (`username`,
/// `client_id`).
fn plain(
    cx: &mut Cx<'_>,
    parent: &Spanned<impl Sized>,
    value: &Option<Spanned<String>>,
    env: &Option<Spanned<String>>,
    key: &str,
    example: &str,
) -> Option<SecretSource> {
    match (value, env) {
        (Some(v), None) if !v.value.trim().is_empty() => {
            Some(SecretSource::Value(v.value.trim().to_string()))
        }
        (Some(v), None) => {
            cx.report(
                loc(v),
                &format!("{AT}.{key}"),
                format!("{key} is empty"),
                Some(format!("write e.g. {key}: {example}")),
            );
            None
        }
        (None, Some(e)) => env_var(cx, e).map(SecretSource::Env),
        (Some(_), Some(e)) => {
            cx.report(
                loc(e),
                AT,
                format!("{key} and {key}_from_env cannot both be set"),
                Some("keep one".into()),
            );
            None
        }
        (None, None) => {
            cx.report(
                loc(parent),
                AT,
                format!("{key} is missing"),
                Some(format!("add {key}: {example} (or {key}_from_env: VAR)")),
            );
            None
        }
    }
}

/// `basic: {username | username_from_env, password_from_env | password_from_file}`.
fn basic(cx: &mut Cx<'_>, b: &Spanned<BasicFile>) -> Option<BackendAuth> {
    let f = &b.value;
    let username = plain(
        cx,
        b,
        &f.username,
        &f.username_from_env,
        "username",
        "svc-scim",
    );
    if let Some(u) = f.username.as_ref().filter(|u| u.value.contains(':')) {
        cx.report(
            loc(u),
            &format!("{AT}.basic.username"),
            "a user name with a colon cannot be sent with HTTP Basic".into(),
            Some("check the user name the legacy API gave the gateway".into()),
        );
        return None;
    }
    let password = secret(
        cx,
        b,
        &f.password_from_env,
        &f.password_from_file,
        "password_from_env",
        "password_from_file",
    );
    Some(BackendAuth::Basic {
        username: username?,
        password: password?,
    })
}

/// `oauth2: {token_url, client_id…, client_secret…, scope?, client_auth?}`.
fn oauth2(cx: &mut Cx<'_>, o: &Spanned<OAuth2File>) -> Option<BackendAuth> {
    let f = &o.value;
    let at = format!("{AT}.oauth2");
    let token_url = need(
        cx,
        &f.token_url,
        loc(o),
        &at,
        "token_url",
        "token_url: https://login.example.com/oauth/token",
    )
    .and_then(|u| token_url(cx, u));
    let client_id = plain(
        cx,
        o,
        &f.client_id,
        &f.client_id_from_env,
        "client_id",
        "scim-gateway",
    );
    let client_secret = secret(
        cx,
        o,
        &f.client_secret_from_env,
        &f.client_secret_from_file,
        "client_secret_from_env",
        "client_secret_from_file",
    );
    let scope = match &f.scope {
        Some(s) if s.value.trim().is_empty() => {
            cx.report(
                loc(s),
                &format!("{at}.scope"),
                "the scope is empty".into(),
                Some("remove scope, or write the scopes the token needs, e.g. scope: \"users teams\"".into()),
            );
            None
        }
        s => Some(s.as_ref().map(|s| s.value.trim().to_string())),
    };
    let client_auth = match f.client_auth.as_ref().map(|c| (c, c.value.trim())) {
        None | Some((_, "form")) => Some(ClientAuth::Form),
        Some((_, "basic")) => Some(ClientAuth::Basic),
        Some((c, other)) => {
            cx.report(
                loc(c),
                &format!("{at}.client_auth"),
                format!("{other:?} is not a way to authenticate to the token endpoint"),
                Some(suggest_word(other, &["form", "basic"])),
            );
            None
        }
    };
    Some(BackendAuth::OAuth2(OAuth2 {
        token_url: token_url?,
        client_id: client_id?,
        client_secret: client_secret?,
        scope: scope?,
        client_auth: client_auth?,
    }))
}

/// An absolute `http(s)://` URL, or a path (appended to `base_url`); neither a query, a
/// fragment nor credentials in it.
fn token_url(cx: &mut Cx<'_>, u: &Spanned<String>) -> Option<TokenUrl> {
    let text = u.value.trim();
    let at = format!("{AT}.oauth2.token_url");
    let fix =
        "write the token endpoint's URL, e.g. token_url: https://login.example.com/oauth/token, \
               or a path appended to base_url, e.g. token_url: /oauth/token";
    let mut refuse = |message: String| {
        cx.report(loc(u), &at, message, Some(fix.into()));
        None
    };
    if text.contains(['?', '#']) {
        return refuse(format!(
            "{text:?} has a query or fragment; the token request sends its parameters in its body"
        ));
    }
    if text.starts_with('/') {
        return match http::uri::PathAndQuery::try_from(text) {
            Ok(_) => Some(TokenUrl::Path(text.to_string())),
            Err(_) => refuse(format!("{text:?} is not a valid path")),
        };
    }
    let Ok(uri) = text.parse::<http::Uri>() else {
        return refuse(format!("{text:?} is neither an http(s) URL nor a path"));
    };
    let Some(authority) = uri.authority() else {
        return refuse(format!("{text:?} is neither an http(s) URL nor a path"));
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return refuse(format!("{text:?} is not an http:// or https:// URL"));
    }
    if authority.as_str().contains('@') {
        return refuse(format!(
            "{:?} has a user name or password in it",
            format!(
                "{}://…@{}",
                uri.scheme_str().unwrap_or(""),
                authority.host()
            )
        ));
    }
    Some(TokenUrl::Absolute(text.trim_end_matches('/').to_string()))
}

pub(super) fn env_var(cx: &mut Cx<'_>, e: &Spanned<String>) -> Option<String> {
    let v = e.value.trim();
    let valid = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Some(v.to_string())
    } else {
        cx.report(
            loc(e),
            AT,
            format!("{v:?} is not an environment variable name"),
            Some(
                "write a name like ACME_API_KEY (the secret itself never goes in the mapping)"
                    .into(),
            ),
        );
        None
    }
}

/// `backend.tls`: trust (`ca_file` or `insecure_skip_verify`) and the gateway's own
/// certificate (`client_cert` with `client_key`).
pub(super) fn tls(cx: &mut Cx<'_>, spanned: &Spanned<TlsFile>) -> Option<BackendTls> {
    let t = &spanned.value;
    let insecure = t.insecure_skip_verify.as_ref().is_some_and(|v| v.value);
    if insecure && t.ca_file.is_some() {
        cx.report(
            loc(spanned),
            "backend.tls",
            "ca_file and insecure_skip_verify: true contradict each other".into(),
            Some("keep ca_file (the CA that signed the legacy API's certificate) and remove insecure_skip_verify".into()),
        );
        return None;
    }
    let path = |cx: &mut Cx<'_>, p: &Spanned<String>, key: &str| {
        let text = p.value.trim();
        if text.is_empty() {
            cx.report(
                loc(p),
                &format!("backend.tls.{key}"),
                format!("the path of {key} is empty"),
                Some(format!("write {key}: /etc/scim-gateway/client.pem")),
            );
            return None;
        }
        Some(PathBuf::from(text))
    };
    let client_cert = match (&t.client_cert, &t.client_key) {
        (None, None) => Some(None),
        (Some(c), Some(k)) => {
            let cert = path(cx, c, "client_cert");
            let key = path(cx, k, "client_key");
            Some(Some(ClientCertFiles {
                cert: cert?,
                key: key?,
            }))
        }
        (Some(c), None) => {
            cx.report(
                loc(c),
                "backend.tls.client_cert",
                "a client certificate needs its private key".into(),
                Some("add client_key: /etc/scim-gateway/client.key (the PEM private key of client_cert)".into()),
            );
            None
        }
        (None, Some(k)) => {
            cx.report(
                loc(k),
                "backend.tls.client_key",
                "a private key without its certificate".into(),
                Some("add client_cert: /etc/scim-gateway/client.pem (the PEM certificate, then any intermediates)".into()),
            );
            None
        }
    };
    Some(BackendTls {
        ca_file: t.ca_file.as_ref().map(|p| PathBuf::from(p.value.trim())),
        insecure_skip_verify: insecure,
        client_cert: client_cert?,
    })
}
