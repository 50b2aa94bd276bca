//! Validation tests of `backend.auth` (Basic, a query parameter, OAuth 2.0 client credentials)
//! and of the gateway's client certificate in `backend.tls`.

use super::*;
use crate::mapping::auth::{ClientAuth, OAuth2, TokenUrl};

const AUTH: &str = "  auth:\n    header: X-Api-Key\n    from_env: TEST_API_KEY\n";

/// BASE with `auth:` replaced by `auth` (the lines under `  auth:`, indented by 4).
fn auth(lines: &str) -> String {
    with(AUTH, &format!("  auth:\n{lines}"))
}

#[test]
fn basic_reads_a_user_name_and_a_password_source() {
    let m = load_str(
        SOURCE,
        &auth("    basic: { username: svc-scim, password_from_env: ORBIT_PASSWORD }\n"),
    )
    .unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::Basic {
            username: SecretSource::Value("svc-scim".into()),
            password: SecretSource::Env("ORBIT_PASSWORD".into()),
        })
    );
    let m = load_str(
        SOURCE,
        &auth("    basic: { username_from_env: U, password_from_file: /run/secrets/pw }\n"),
    )
    .unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::Basic {
            username: SecretSource::Env("U".into()),
            password: SecretSource::File("/run/secrets/pw".into()),
        })
    );
}

#[test]
fn basic_without_a_password_source_or_with_two_user_names_is_refused() {
    let yaml = auth("    basic: { username: svc-scim }\n");
    expect(
        &yaml,
        "basic:",
        "password_from_env or password_from_file is missing",
        "add password_from_env: VAR",
    );
    let yaml = auth("    basic: { username: svc, username_from_env: U, password_from_env: P }\n");
    expect(
        &yaml,
        "basic:",
        "username and username_from_env cannot both be set",
        "keep one",
    );
    let yaml = auth("    basic: { username: \"svc:scim\", password_from_env: P }\n");
    expect(&yaml, "basic:", "with a colon", "user name");
    let yaml = auth("    basic: { password_from_env: P }\n");
    expect(&yaml, "basic:", "username is missing", "username: svc-scim");
    let yaml = auth("    basic: { username: svc, password: hunter2 }\n");
    expect(&yaml, "basic:", "password", "password_from_env");
}

#[test]
fn a_query_credential_names_the_parameter_and_the_secret() {
    let m = load_str(
        SOURCE,
        &auth("    query: api_key\n    from_file: /run/secrets/key\n"),
    )
    .unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::Query {
            name: "api_key".into(),
            secret: SecretSource::File("/run/secrets/key".into()),
        })
    );
    let yaml = auth("    query: api_key\n");
    expect(
        &yaml,
        "query: api_key",
        "the secret is not named",
        "from_env: VAR",
    );
    let yaml = auth("    query: \" \"\n    from_env: K\n");
    expect(&yaml, "query:", "has no name", "query: api_key");
}

#[test]
fn a_query_credential_cannot_take_a_parameter_the_gateway_already_sends() {
    let yaml = auth("    query: per_page\n    from_env: K\n");
    expect(
        &yaml,
        "query: per_page",
        "\"per_page\" is also used by users.endpoints.list.pagination",
        "query: api_key",
    );
    let yaml = with(
        "  timeout_ms: 5000\n",
        "  timeout_ms: 5000\n  tenant: { query: api_key }\n",
    )
    .replace(AUTH, "  auth:\n    query: api_key\n    from_env: K\n");
    expect(
        &yaml,
        "    query: api_key",
        "also used by backend.tenant.query",
        "query: api_key",
    );
}

#[test]
fn two_forms_at_once_are_refused_at_the_second() {
    for (lines, second, message) in [
        (
            "    header: X-Api-Key\n    from_env: K\n    bearer_from_env: T\n",
            "bearer_from_env",
            "header and bearer_from_env/bearer_from_file cannot both be set",
        ),
        (
            "    header: X-Api-Key\n    query: api_key\n    from_env: K\n",
            "query: api_key",
            "header and query cannot both be set",
        ),
        (
            "    basic: { username: u, password_from_env: P }\n    oauth2: { token_url: /t, client_id: c, client_secret_from_env: S }\n",
            "oauth2:",
            "basic and oauth2 cannot both be set",
        ),
    ] {
        expect(&auth(lines), second, message, "write one of");
    }
    let yaml = auth("    basic: { username: u, password_from_env: P }\n    from_env: K\n");
    expect(
        &yaml,
        "from_env: K",
        "belong to `header:` or `query:`",
        "remove it",
    );
    let yaml = auth("    {}\n");
    expect(&yaml, "{}", "no credential is given", "write one of");
}

const OAUTH2: &str = "    oauth2:\n      token_url: http://127.0.0.1:8084/oauth/token\n      client_id: scim-gateway\n      client_secret_from_env: ORBIT_CLIENT_SECRET\n";

#[test]
fn oauth2_reads_the_token_url_the_client_and_its_secret() {
    let m = load_str(SOURCE, &auth(OAUTH2)).unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::OAuth2(OAuth2 {
            token_url: TokenUrl::Absolute("http://127.0.0.1:8084/oauth/token".into()),
            client_id: SecretSource::Value("scim-gateway".into()),
            client_secret: SecretSource::Env("ORBIT_CLIENT_SECRET".into()),
            scope: None,
            client_auth: ClientAuth::Form,
        }))
    );
    let yaml = auth(
        "    oauth2:\n      token_url: /oauth/token\n      client_id_from_env: CID\n      client_secret_from_file: /run/secrets/cs\n      scope: \"users teams\"\n      client_auth: basic\n",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::OAuth2(OAuth2 {
            token_url: TokenUrl::Path("/oauth/token".into()),
            client_id: SecretSource::Env("CID".into()),
            client_secret: SecretSource::File("/run/secrets/cs".into()),
            scope: Some("users teams".into()),
            client_auth: ClientAuth::Basic,
        }))
    );
}

#[test]
fn oauth2_misuse_is_refused_with_a_fix() {
    for (from, to, needle, message, fix) in [
        (
            "http://127.0.0.1:8084/oauth/token",
            "ftp://127.0.0.1/token",
            "token_url",
            "is not an http:// or https:// URL",
            "token_url: /oauth/token",
        ),
        (
            "http://127.0.0.1:8084/oauth/token",
            "oauth/token",
            "token_url",
            "neither an http(s) URL nor a path",
            "token_url: /oauth/token",
        ),
        (
            "http://127.0.0.1:8084/oauth/token",
            "http://127.0.0.1:8084/oauth/token?grant_type=client_credentials",
            "token_url",
            "has a query or fragment",
            "https://login.example.com/oauth/token",
        ),
        (
            "http://127.0.0.1:8084/oauth/token",
            "http://user:pw@127.0.0.1:8084/oauth/token",
            "token_url",
            "user name or password",
            "token_url",
        ),
        (
            "      client_secret_from_env: ORBIT_CLIENT_SECRET\n",
            "",
            "token_url:",
            "client_secret_from_env or client_secret_from_file is missing",
            "client_secret_from_env: VAR",
        ),
        (
            "      client_id: scim-gateway\n",
            "",
            "token_url:",
            "client_id is missing",
            "client_id: scim-gateway",
        ),
        (
            "      client_id: scim-gateway\n",
            "      client_id: scim-gateway\n      client_auth: header\n",
            "client_auth",
            "\"header\" is not a way to authenticate",
            "form, basic",
        ),
        (
            "      client_id: scim-gateway\n",
            "      client_id: scim-gateway\n      scope: \"\"\n",
            "scope",
            "the scope is empty",
            "remove scope",
        ),
        (
            "      client_id: scim-gateway\n",
            "      client_id: scim-gateway\n      client_secret: hunter2\n",
            "client_secret:",
            "client_secret",
            "client_secret_from_env",
        ),
    ] {
        let yaml = auth(&OAUTH2.replacen(from, to, 1));
        expect(&yaml, needle, message, fix);
    }
    let yaml = auth("    oauth2:\n      client_id: c\n      client_secret_from_env: S\n");
    expect(&yaml, "client_id: c", "token_url", "token_url: https://");
}

#[test]
fn a_client_certificate_needs_its_key_and_the_key_its_certificate() {
    let tls = |t: &str| with("timeout_ms: 5000", &format!("timeout_ms: 5000\n  tls: {t}"));
    let m = load_str(
        SOURCE,
        &tls("{ client_cert: /etc/gw/client.pem, client_key: /etc/gw/client.key }"),
    )
    .unwrap();
    assert_eq!(
        m.backend.tls.client_cert,
        Some(ClientCertFiles {
            cert: "/etc/gw/client.pem".into(),
            key: "/etc/gw/client.key".into(),
        })
    );
    expect(
        &tls("{ client_cert: /etc/gw/client.pem }"),
        "tls:",
        "needs its private key",
        "add client_key:",
    );
    expect(
        &tls("{ client_key: /etc/gw/client.key }"),
        "tls:",
        "without its certificate",
        "add client_cert:",
    );
    expect(
        &tls("{ client_cert: \"\", client_key: /k }"),
        "tls:",
        "the path of client_cert is empty",
        "client_cert: /etc/scim-gateway/client.pem",
    );
}
