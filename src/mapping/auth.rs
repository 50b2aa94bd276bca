//! How the gateway authenticates to the legacy API (`backend.auth`): the compiled forms
//! ([`BackendAuth`], where each secret comes from as a [`SecretSource`]), and the credential
//! they resolve to at start-up and on every reload ([`Credential`]), which the backend client
//! sends.
//!
//! A secret is read only by [`BackendAuth::resolve`]; its value never appears in a `Debug`
//! output, an error message or a log line: errors name the variable or the file.

use std::path::PathBuf;

use base64::Engine as _;

use super::error::MappingError;

/// A credential sent with every legacy call, as the mapping names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAuth {
    /// `<name>: <secret>` (e.g. `X-Acme-Api-Key`).
    Header { name: String, secret: SecretSource },
    /// `Authorization: Bearer <secret>`.
    Bearer(SecretSource),
    /// `Authorization: Basic base64(<username>:<password>)` (RFC 7617).
    Basic {
        username: SecretSource,
        password: SecretSource,
    },
    /// `?<name>=<secret>` on every call, added by the backend client after everything that
    /// logs a legacy URL has seen it.
    Query { name: String, secret: SecretSource },
    /// `Authorization: Bearer <token>`, the token fetched with the OAuth 2.0 client credentials
    /// grant (RFC 6749 §4.4).
    OAuth2(OAuth2),
}

/// `backend.auth.oauth2`: where the token is fetched and with which client credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    pub(crate) token_url: TokenUrl,
    /// A client id is not a secret, but it may come from the environment like one.
    pub(crate) client_id: SecretSource,
    pub(crate) client_secret: SecretSource,
    /// The `scope` form field, as written (space-separated).
    pub(crate) scope: Option<String>,
    pub(crate) client_auth: ClientAuth,
}

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUrl {
    /// `http[s]://host[:port]/path`.
    Absolute(String),
    /// `/oauth/token`: appended to `backend.base_url`, like every endpoint's path.
    Path(String),
}

/// How the gateway authenticates itself to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` as form fields of the token request.
    Form,
    /// `Authorization: Basic` of the form-encoded client id and secret.
    Basic,
}

impl BackendAuth {
    /// The header this credential is sent in; `None` for a query parameter.
    pub(crate) fn header_name(&self) -> Option<&str> {
        match self {
            BackendAuth::Header { name, .. } => Some(name),
            BackendAuth::Bearer(_) | BackendAuth::Basic { .. } | BackendAuth::OAuth2(_) => {
                Some("Authorization")
            }
            BackendAuth::Query { .. } => None,
        }
    }

    /// The same credential with its secret taken from `secret` instead: the key of a header,
    /// bearer or query credential, the password of HTTP Basic, the client secret of OAuth 2.0.
    /// For a program that embeds the gateway in front of a legacy API whose secret it holds
    /// (the demo, the tests), keeping everything else the mapping says.
    pub fn with_secret(self, secret: SecretSource) -> BackendAuth {
        match self {
            BackendAuth::Header { name, .. } => BackendAuth::Header { name, secret },
            BackendAuth::Bearer(_) => BackendAuth::Bearer(secret),
            BackendAuth::Basic { username, .. } => BackendAuth::Basic {
                username,
                password: secret,
            },
            BackendAuth::Query { name, .. } => BackendAuth::Query { name, secret },
            BackendAuth::OAuth2(o) => BackendAuth::OAuth2(OAuth2 {
                client_secret: secret,
                ..o
            }),
        }
    }

    /// Reads the secrets (at start-up and on reload) and returns what the backend client
    /// sends. `base_url` (without a trailing `/`) is where a token endpoint given as a path is.
    /// Errors name the variable or the file, never a value.
    pub(crate) fn resolve(&self, base_url: &str) -> Result<Credential, MappingError> {
        Ok(match self {
            BackendAuth::Header { name, secret } => Credential::Header {
                name: name.clone(),
                value: Secret(secret.resolve()?),
            },
            BackendAuth::Bearer(secret) => Credential::Header {
                name: "authorization".into(),
                value: Secret(format!("Bearer {}", secret.resolve()?)),
            },
            BackendAuth::Basic { username, password } => {
                let user = username.resolve()?;
                if user.contains(':') {
                    return Err(MappingError::Secret {
                        what: username.describe(),
                        reason: "contains a colon, which HTTP Basic cannot send in a user name"
                            .into(),
                    });
                }
                Credential::Header {
                    name: "authorization".into(),
                    value: Secret(basic(&user, &password.resolve()?)),
                }
            }
            BackendAuth::Query { name, secret } => Credential::Query {
                name: name.clone(),
                value: Secret(secret.resolve()?),
            },
            BackendAuth::OAuth2(o) => Credential::OAuth2(ClientCredentials {
                token_url: match &o.token_url {
                    TokenUrl::Absolute(url) => url.clone(),
                    TokenUrl::Path(path) => format!("{}{path}", base_url.trim_end_matches('/')),
                },
                client_id: o.client_id.resolve()?,
                client_secret: Secret(o.client_secret.resolve()?),
                scope: o.scope.clone(),
                client_auth: o.client_auth,
            }),
        })
    }

    /// The header value of a static credential (`Bearer …` for a bearer), for the tests.
    #[cfg(test)]
    pub(crate) fn header_value(&self) -> Result<String, MappingError> {
        match self.resolve("http://unused")? {
            Credential::Header { value, .. } => Ok(value.0),
            other => panic!("not a header credential: {other:?}"),
        }
    }
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A secret value, resolved. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A credential with its secrets read: what the backend client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A header on every call (a key header, `Bearer`, `Basic`).
    Header { name: String, value: Secret },
    /// A query parameter on every call.
    Query { name: String, value: Secret },
    /// A bearer token fetched from a token endpoint.
    OAuth2(ClientCredentials),
}

/// The OAuth 2.0 client credentials grant, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The token endpoint's absolute URL.
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) scope: Option<String>,
    pub(crate) client_auth: ClientAuth,
}

impl ClientCredentials {
    /// The form body of a token request, and the `Authorization` header value when the client
    /// authenticates with HTTP Basic (the client id and secret each form-encoded first, as
    /// RFC 6749 §2.3.1 says).
    pub(crate) fn token_request(&self) -> (Vec<u8>, Option<Secret>) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &self.scope {
            form.append_pair("scope", scope);
        }
        let basic_header = match self.client_auth {
            ClientAuth::Form => {
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_secret", self.client_secret.expose());
                None
            }
            ClientAuth::Basic => {
                let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect();
                let id: String = encode(&self.client_id);
                let secret: String = encode(self.client_secret.expose());
                Some(Secret(basic(&id, &secret)))
            }
        };
        (form.finish().into_bytes(), basic_header)
    }
}

/// Where a secret comes from. Its `Debug` shows the variable or file, never the value.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    /// Given directly: by the program that embeds the gateway (the demo, the tests), or written
    /// in the mapping for a value that is not secret (a user name, a client id). A mapping file
    /// cannot give a password, a key or a client secret this way.
    Value(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "Env({var:?})"),
            SecretSource::File(path) => write!(f, "File({path:?})"),
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

impl SecretSource {
    /// What the secret is, for a message: the variable or the file.
    fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("environment variable {var}"),
            SecretSource::File(path) => format!("secret file {}", path.display()),
            SecretSource::Value(_) => "the value given in the mapping".to_string(),
        }
    }

    /// Reads the secret (at start-up). A trailing newline of a file is dropped. Errors name the
    /// variable or the file, never the value.
    pub(crate) fn resolve(&self) -> Result<String, MappingError> {
        let what = self.describe();
        let value = match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(MappingError::Secret {
                        what,
                        reason: "is not set (the mapping's backend.auth names it)".into(),
                    })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(MappingError::Secret {
                        what,
                        reason: "is not valid UTF-8".into(),
                    })
                }
            },
            SecretSource::Value(v) => v.clone(),
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(v) => v.trim_end_matches(['\r', '\n']).to_string(),
                Err(e) => {
                    return Err(MappingError::Secret {
                        what,
                        reason: format!("cannot be read: {e}"),
                    })
                }
            },
        };
        if value.trim().is_empty() {
            return Err(MappingError::Secret {
                what,
                reason: "is empty".into(),
            });
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(MappingError::Secret {
                what,
                reason: "contains a line break or NUL, which cannot be sent in a header".into(),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        (dir, file)
    }

    #[test]
    fn secret_errors_name_the_source_never_the_value() {
        let missing = SecretSource::Env("SCIM_GATEWAY_TEST_SURELY_UNSET_VAR".into());
        let e = missing.resolve().unwrap_err().to_string();
        assert!(
            e.starts_with("environment variable SCIM_GATEWAY_TEST_SURELY_UNSET_VAR: is not set")
        );

        let (_dir, file) = temp_file("token", "s3cr3t-value\n");
        let src = SecretSource::File(file.clone());
        assert_eq!(src.resolve().unwrap(), "s3cr3t-value");
        let bearer = BackendAuth::Bearer(src);
        assert_eq!(bearer.header_name(), Some("Authorization"));
        assert_eq!(bearer.header_value().unwrap(), "Bearer s3cr3t-value");
        assert!(!format!("{bearer:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", bearer.resolve("http://x").unwrap()).contains("s3cr3t"));

        std::fs::write(&file, "\n").unwrap();
        let e = SecretSource::File(file.clone())
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("token: is empty"), "{e}");
        std::fs::remove_file(&file).unwrap();
        let e = SecretSource::File(file).resolve().unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
    }

    #[test]
    fn basic_is_the_rfc_7617_header() {
        // RFC 7617 §2's example.
        let auth = BackendAuth::Basic {
            username: SecretSource::Value("Aladdin".into()),
            password: SecretSource::Value("open sesame".into()),
        };
        assert_eq!(
            auth.header_value().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(auth.header_name(), Some("Authorization"));
    }

    #[test]
    fn a_basic_user_name_with_a_colon_is_refused_naming_its_source_only() {
        let (_dir, file) = temp_file("user", "svc:scim\n");
        let auth = BackendAuth::Basic {
            username: SecretSource::File(file.clone()),
            password: SecretSource::Value("pw".into()),
        };
        let e = auth.resolve("http://x").unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(e.contains("colon"), "{e}");
        assert!(!e.contains("svc:scim"), "{e}");
    }

    #[test]
    fn a_query_credential_has_no_header() {
        let auth = BackendAuth::Query {
            name: "api_key".into(),
            secret: SecretSource::Value("k".into()),
        };
        assert_eq!(auth.header_name(), None);
        assert_eq!(
            auth.resolve("http://x").unwrap(),
            Credential::Query {
                name: "api_key".into(),
                value: Secret("k".into())
            }
        );
    }

    fn oauth2(token_url: TokenUrl, client_auth: ClientAuth) -> BackendAuth {
        BackendAuth::OAuth2(OAuth2 {
            token_url,
            client_id: SecretSource::Value("scim gateway".into()),
            client_secret: SecretSource::Value("s&cret=1".into()),
            scope: Some("users teams".into()),
            client_auth,
        })
    }

    #[test]
    fn with_secret_replaces_only_the_secret() {
        let given = SecretSource::Value("given".into());
        let auth =
            oauth2(TokenUrl::Path("/t".into()), ClientAuth::Basic).with_secret(given.clone());
        let BackendAuth::OAuth2(o) = &auth else {
            panic!("oauth2 expected");
        };
        assert_eq!(o.client_secret, given);
        assert_eq!(o.client_id, SecretSource::Value("scim gateway".into()));
        assert_eq!(o.client_auth, ClientAuth::Basic);
        let basic = BackendAuth::Basic {
            username: SecretSource::Value("svc".into()),
            password: SecretSource::Env("P".into()),
        };
        assert_eq!(
            basic.with_secret(given.clone()),
            BackendAuth::Basic {
                username: SecretSource::Value("svc".into()),
                password: given.clone(),
            }
        );
        let query = BackendAuth::Query {
            name: "api_key".into(),
            secret: SecretSource::Env("K".into()),
        };
        assert_eq!(
            query.with_secret(given.clone()),
            BackendAuth::Query {
                name: "api_key".into(),
                secret: given,
            }
        );
    }

    #[test]
    fn a_token_url_path_is_appended_to_the_base_url() {
        let auth = oauth2(TokenUrl::Path("/oauth/token".into()), ClientAuth::Form);
        let Credential::OAuth2(c) = auth.resolve("http://127.0.0.1:8084/api/").unwrap() else {
            panic!("oauth2 expected");
        };
        assert_eq!(c.token_url, "http://127.0.0.1:8084/api/oauth/token");

        let auth = oauth2(
            TokenUrl::Absolute("https://login.example.com/token".into()),
            ClientAuth::Form,
        );
        let Credential::OAuth2(c) = auth.resolve("http://127.0.0.1:8084").unwrap() else {
            panic!("oauth2 expected");
        };
        assert_eq!(c.token_url, "https://login.example.com/token");
    }

    #[test]
    fn the_token_request_carries_the_client_credentials_as_form_fields_or_basic() {
        let Credential::OAuth2(form) = oauth2(TokenUrl::Path("/t".into()), ClientAuth::Form)
            .resolve("http://h")
            .unwrap()
        else {
            panic!("oauth2 expected");
        };
        let (body, header) = form.token_request();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=client_credentials&scope=users+teams\
             &client_id=scim+gateway&client_secret=s%26cret%3D1"
        );
        assert_eq!(header, None);

        let Credential::OAuth2(basic) = oauth2(TokenUrl::Path("/t".into()), ClientAuth::Basic)
            .resolve("http://h")
            .unwrap()
        else {
            panic!("oauth2 expected");
        };
        let (body, header) = basic.token_request();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=client_credentials&scope=users+teams"
        );
        let header = header.unwrap();
        let encoded = header.expose().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"scim+gateway:s%26cret%3D1");
        assert_eq!(format!("{header:?}"), "<redacted>");
    }
}
