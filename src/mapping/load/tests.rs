//! Validation tests: each broken mapping must be refused with a problem on the right line, a
//! message naming what is wrong, and a fix. The `groups:` section's are in `tests/groups.rs`.

mod auth;
mod group_lists;
mod groups;
mod held;
mod identity;
mod lists;
mod records;
mod roles;
mod values;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

use crate::mapping::*;

const BASE: &str = r#"name: test
backend:
  base_url: http://127.0.0.1:8081/
  auth:
    header: X-Api-Key
    from_env: TEST_API_KEY
  timeout_ms: 5000
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}", query: { expand: all, v: 2 } }
    update: { method: PUT, path: "/users/{id}", mode: full }
    delete: { method: DELETE, path: "/users/{id}" }
    list:
      method: GET
      path: /users
      items: $.data
      total: { body: $.total }
      pagination: { style: page, page_param: page, size_param: per_page }
  on_delete: deactivate
  attributes:
    - { scim: userName, legacy: $.login }
    - { scim: name.givenName, legacy: $.first_name }
    - scim: active
      legacy: $.status
      values:
        - { scim: true, legacy: enabled }
        - { scim: false, legacy: disabled }
    - { scim: 'emails[type eq "work"].value', legacy: $.email }
  filters:
    - { scim: userName, op: eq, param: login }
  errors:
    message: $.error
    rules:
      - { status: 422, scim_status: 400, scim_type: invalidValue }
"#;

const SOURCE: &str = "mappings/test.yaml";

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

/// The 1-based line of the first line of `yaml` containing `needle`.
fn line_of(yaml: &str, needle: &str) -> u32 {
    yaml.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
}

/// Loads `yaml`, which must fail with a problem whose message contains `message`, on the line
/// holding `needle`, with a fix containing `fix`.
fn expect(yaml: &str, needle: &str, message: &str, fix: &str) -> Problem {
    expect_line(yaml, line_of(yaml, needle), message, fix)
}

/// [`expect`] with the line given.
fn expect_line(yaml: &str, line: u32, message: &str, fix: &str) -> Problem {
    let err = match load_str(SOURCE, yaml) {
        Ok(_) => panic!("expected a problem {message:?}, but the mapping loads"),
        Err(e) => e,
    };
    let all = err.to_string();
    let p = err
        .problems()
        .iter()
        .find(|p| p.message.contains(message))
        .unwrap_or_else(|| panic!("no problem containing {message:?} in:\n{all}"))
        .clone();
    assert_eq!(p.source, SOURCE);
    assert_eq!(p.line, line, "wrong line for {message:?} in:\n{all}");
    assert!(p.column > 0, "no column in:\n{all}");
    let got_fix = p.fix.clone().unwrap_or_default();
    assert!(
        got_fix.contains(fix),
        "fix {got_fix:?} lacks {fix:?} in:\n{all}"
    );
    p
}

#[test]
fn the_base_mapping_loads_and_compiles() {
    let m = load_str(SOURCE, BASE).unwrap();
    assert_eq!(m.name, "test");
    assert_eq!(m.backend.base_url, "http://127.0.0.1:8081");
    assert_eq!(m.backend.timeout, Duration::from_millis(5000));
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::Header {
            name: "X-Api-Key".into(),
            secret: SecretSource::Env("TEST_API_KEY".into())
        })
    );
    let e = &m.users.endpoints;
    assert_eq!(e.get.method, http::Method::GET);
    assert_eq!(e.get.target(Some("7"), &[]), "/users/7?expand=all&v=2");
    assert_eq!(e.update_mode, UpdateMode::Full);
    assert!(e.deactivate.is_none());
    assert_eq!(
        e.list.pagination,
        Pagination::Page {
            page_param: "page".into(),
            size_param: "per_page".into(),
            first_page: 1,
            max_page_size: 100
        }
    );
    assert_eq!(m.users.on_delete, OnDelete::Deactivate);
    assert_eq!(m.users.scan_limit, 1000);
}

#[test]
fn problems_render_as_file_line_column_where_what_and_fix() {
    let yaml = with("legacy: $.first_name", "legacy: $.first...name");
    let err = load_str(SOURCE, &yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mappings/test.yaml:24:39: users.attributes[1].legacy: \"$.first...name\" is not a valid \
         JSONPath (unexpected '.' at column 10; expected '[', '*', or a name)\n  fix: write a \
         path like $.login, $.address.street or $.phones[?(@.kind == 'cell')].number"
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let yaml = with("legacy: $.login", "legacy: login")
        .replacen("method: PUT", "method: PUTT", 1)
        .replacen("param: login", "param: \"\"", 1);
    let err = load_str(SOURCE, &yaml).unwrap_err();
    let lines: Vec<u32> = err.problems().iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![
            line_of(&yaml, "PUTT"),
            line_of(&yaml, "legacy: login"),
            line_of(&yaml, "param: \"\"")
        ]
    );
}

// --- YAML syntax and unknown keys ------------------------------------------------------------

#[test]
fn unknown_keys_suggest_the_closest_known_key() {
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legcy: $.login }",
    );
    let p = expect(
        &yaml,
        "legcy",
        "unknown field `legcy`",
        "did you mean `legacy`?",
    );
    assert_eq!(p.column, 25);
    let yaml = with("  filters:", "  filtres:");
    expect(
        &yaml,
        "filtres",
        "unknown field `filtres`",
        "did you mean `filters`?",
    );
}

#[test]
fn yaml_syntax_errors_carry_the_line() {
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: [ }",
    );
    expect(&yaml, "legacy: [", "bracket", "check the YAML here");
    let yaml = with("  id: $.id\n", "");
    let p = expect(&yaml, "endpoints:", "`id` is missing", "add id: $.id");
    assert_eq!(p.at, "users");
    let yaml = with(
        "    create: { method: POST, path: /users }\n",
        "    create: { path: /users }\n",
    );
    expect(&yaml, "create:", "`method` is missing", "method: GET");
    let yaml = with(
        "        - { scim: true, legacy: enabled }",
        "        - { scim: true }",
    );
    expect(
        &yaml,
        "{ scim: true }",
        "`legacy` is missing",
        "legacy: enabled",
    );
    let yaml = with("timeout_ms: 5000", "timeout_ms: soon");
    expect(&yaml, "timeout_ms", "invalid", "");
}

// --- backend ---------------------------------------------------------------------------------

#[test]
fn backend_tls_is_read_and_a_contradiction_is_refused() {
    let yaml = with(
        "timeout_ms: 5000",
        "timeout_ms: 5000\n  tls: { ca_file: /etc/scim/ca.pem }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert_eq!(
        m.backend.tls.ca_file,
        Some(PathBuf::from("/etc/scim/ca.pem"))
    );
    assert!(!m.backend.tls.insecure_skip_verify);
    assert_eq!(
        load_str(SOURCE, BASE).unwrap().backend.tls,
        BackendTls::default()
    );
    let yaml = with(
        "timeout_ms: 5000",
        "timeout_ms: 5000\n  tls: { ca_file: /etc/scim/ca.pem, insecure_skip_verify: true }",
    );
    expect(&yaml, "tls:", "contradict", "keep ca_file");
    let yaml = with("timeout_ms: 5000", "timeout_ms: 5000\n  tls: { cafile: x }");
    expect(&yaml, "tls:", "cafile", "ca_file");
}

#[test]
fn backend_url_and_auth_are_checked() {
    let yaml = with("http://127.0.0.1:8081/", "127.0.0.1:8081");
    expect(
        &yaml,
        "base_url",
        "needs http:// or https://",
        "http://127.0.0.1:8081",
    );
    let yaml = with("http://127.0.0.1:8081/", "http://x/?a=1");
    expect(&yaml, "base_url", "has a query", "query:");
    let yaml = with("    header: X-Api-Key\n", "");
    expect(&yaml, "from_env", "need `header:`", "bearer_from_env");
    let yaml = with("from_env: TEST_API_KEY", "from_env: \"my secret\"");
    expect(
        &yaml,
        "from_env",
        "is not an environment variable name",
        "ACME_API_KEY",
    );
    let yaml = with(
        "from_env: TEST_API_KEY",
        "from_env: A\n    from_file: /run/key",
    );
    expect(
        &yaml,
        "from_file: /run/key",
        "from_env and from_file cannot both be set",
        "keep one",
    );
    let yaml = with(
        "    header: X-Api-Key\n    from_env: TEST_API_KEY",
        "    bearer_from_file: /run/secrets/token",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert_eq!(
        m.backend.auth,
        Some(BackendAuth::Bearer(SecretSource::File(
            "/run/secrets/token".into()
        )))
    );
    let yaml = with("timeout_ms: 5000", "timeout_ms: 0");
    expect(
        &yaml,
        "timeout_ms",
        "not a usable timeout",
        "timeout_ms: 5000",
    );
}

// --- endpoints -------------------------------------------------------------------------------

#[test]
fn the_tenant_is_read_from_backend_tenant_and_paths() {
    let m = load_str(SOURCE, BASE).unwrap();
    assert_eq!(m.backend.tenant, None);
    let m = load_str(
        SOURCE,
        &with(
            "  timeout_ms: 5000\n",
            "  timeout_ms: 5000\n  tenant: { header: X-Tenant }\n",
        ),
    )
    .unwrap();
    assert_eq!(
        m.backend.tenant,
        Some(TenantParam::Header(http::HeaderName::from_static(
            "x-tenant"
        )))
    );
    let m = load_str(
        SOURCE,
        &with(
            "  timeout_ms: 5000\n",
            "  timeout_ms: 5000\n  tenant: { query: org }\n",
        ),
    )
    .unwrap();
    assert_eq!(m.backend.tenant, Some(TenantParam::Query("org".into())));
    let m = load_str(
        SOURCE,
        &with(
            "path: \"/users/{id}\", query",
            "path: \"/t/{tenant}/users/{id}\", query",
        ),
    )
    .unwrap();
    assert!(m.users.endpoints.get.path.has_tenant());
    assert_eq!(
        m.backend
            .target(&m.users.endpoints.get, "acme", Some("7"), None, &[]),
        "/t/acme/users/7?expand=all&v=2"
    );
}

#[test]
fn a_bad_backend_tenant_is_refused_with_a_fix() {
    let tenant = |t: &str| {
        with(
            "  timeout_ms: 5000\n",
            &format!("  timeout_ms: 5000\n  tenant: {t}\n"),
        )
    };
    expect(
        &tenant("{ header: X-Tenant, query: org }"),
        "tenant:",
        "header and query cannot both be set",
        "{ header: X-Tenant }",
    );
    expect(
        &tenant("{}"),
        "tenant:",
        "says neither header nor query",
        "query: tenant",
    );
    expect(
        &tenant("{ header: X-Api-Key }"),
        "tenant:",
        "X-Api-Key is a header the gateway already sends",
        "X-Tenant",
    );
    expect(
        &tenant("{ header: authorization }"),
        "tenant:",
        "is a header the gateway already sends",
        "X-Tenant",
    );
    expect(
        &tenant("{ header: \"X Tenant\" }"),
        "tenant:",
        "not a valid header name",
        "X-Tenant",
    );
    expect(
        &tenant("{ query: \"\" }"),
        "tenant:",
        "has no name",
        "query: tenant",
    );
    expect(
        &tenant("{ query: login }"),
        "tenant:",
        "\"login\" is also used by users.filters",
        "query: tenant",
    );
    expect(
        &tenant("{ query: per_page }"),
        "tenant:",
        "also used by users.endpoints.list.pagination",
        "query: tenant",
    );
    expect(
        &tenant("{ heder: X-Tenant }"),
        "tenant:",
        "unknown field",
        "header",
    );
}

#[test]
fn endpoints_are_checked() {
    let yaml = with("method: PUT", "method: PTU");
    expect(&yaml, "PTU", "is not an HTTP method", "did you mean PUT?");
    let yaml = with("path: \"/users/{id}\", query", "path: \"/users\", query");
    expect(&yaml, "get:", "has no {id}", "/users/{id}");
    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: \"/users/{id}\" }",
    );
    expect(&yaml, "create:", "has {id}", "remove {id}");
    let yaml = with(
        "path: \"/users/{id}\", mode",
        "path: \"/users/{user_id}\", mode",
    );
    expect(
        &yaml,
        "user_id",
        "a path holds only {id}, {tenant} (and {member} in member endpoints)",
        "write {id} where the legacy user id goes",
    );
    let yaml = with("path: /users\n", "path: /users?active=true\n");
    expect(&yaml, "active=true", "must not contain '?'", "query:");
    let yaml = with("path: /users\n", "path: users\n");
    expect(&yaml, "path: users", "must start with '/'", "write /users");
    let yaml = with("mode: full", "mode: fulll");
    expect(&yaml, "fulll", "is not full or partial", "mode: partial");
    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: /users, mode: full }",
    );
    expect(
        &yaml,
        "create:",
        "only applies to the update endpoint",
        "remove it",
    );
    let yaml = with("mode: full }", "mode: full, if_match: true }");
    expect(
        &yaml,
        "if_match",
        "if_match sends the user's version, and no version: is mapped",
        "add version: $.version",
    );
    let yaml = with(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\", if_match: true }",
    );
    expect(
        &yaml,
        "delete:",
        "`if_match` only applies to the update endpoint",
        "remove it",
    );
    let guarded = with("mode: full }", "mode: full, if_match: true }")
        .replace("  id: $.id\n", "  id: $.id\n  version: $.rev\n");
    let m = load_str(SOURCE, &guarded).unwrap();
    assert!(m.users.endpoints.update_if_match);
    assert_eq!(
        m.users
            .update_if_match(&serde_json::json!({"id": 1, "rev": 7})),
        Some("\"7\"".to_string())
    );
    assert_eq!(m.users.update_if_match(&serde_json::json!({"id": 1})), None);
    let unguarded = load_str(SOURCE, BASE).unwrap();
    assert_eq!(
        unguarded
            .users
            .update_if_match(&serde_json::json!({"id": 1, "rev": 7})),
        None
    );
    let yaml = with("query: { expand: all, v: 2 }", "query: { expand: [a, b] }");
    expect(
        &yaml,
        "expand: [a, b]",
        "must be a single value",
        "expand: \"value\"",
    );
}

#[test]
fn list_items_total_and_pagination_are_checked() {
    let yaml = with("items: $.data", "items: $.data[*]");
    expect(
        &yaml,
        "items:",
        "must name the list itself",
        "items: $.data",
    );
    let yaml = with(
        "total: { body: $.total }",
        "total: { body: $.total, header: X-Total }",
    );
    expect(
        &yaml,
        "total:",
        "exactly one of `body` and `header`",
        "X-Total-Count",
    );
    let yaml = with("style: page", "style: pages");
    expect(
        &yaml,
        "pages",
        "is not a pagination style",
        "did you mean page?",
    );
    let yaml = with(
        "size_param: per_page }",
        "size_param: per_page, offset_param: skip }",
    );
    expect(
        &yaml,
        "offset_param",
        "`offset_param` is not used with style: page",
        "page_param",
    );
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: offset",
    );
    expect(
        &yaml,
        "style: offset",
        "needs `offset_param`",
        "offset_param: offset",
    );
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: cursor, cursor_param: c, size_param: n",
    );
    expect(&yaml, "style: cursor", "needs `next`", "link_header: true");
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: cursor, cursor_param: c, size_param: n, next: { link_header: false }",
    );
    expect(
        &yaml,
        "link_header: false",
        "exactly one of `cursor`",
        "next: { cursor",
    );
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: cursor, cursor_param: c, size_param: n, next: { more: $.has_more }",
    );
    expect(
        &yaml,
        "more: $.has_more",
        "`more` says whether another page follows",
        "next: { cursor: $.meta.after_cursor, more: $.meta.has_more }",
    );
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: cursor, cursor_param: c, size_param: n, next: { cursor: $.c, more: $..more }",
    );
    expect(
        &yaml,
        "more: $..more",
        "can match more than one value",
        "$.id",
    );
    let yaml = with(
        "size_param: per_page }",
        "size_param: per_page, first_page: 2 }",
    );
    expect(&yaml, "first_page", "is not 0 or 1", "first_page: 1");
}

#[test]
fn every_pagination_style_compiles() {
    let offset = with(
        "style: page, page_param: page, size_param: per_page",
        "style: offset, offset_param: offset, limit_param: limit, max_page_size: 50",
    );
    let m = load_str(SOURCE, &offset).unwrap();
    assert_eq!(
        m.users.endpoints.list.pagination,
        Pagination::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            max_page_size: 50
        }
    );
    for (next, expected) in [
        ("{ cursor: $.next }", "cursor"),
        ("{ url: $.links.next }", "url"),
        ("{ link_header: true }", "link"),
    ] {
        let yaml = with(
            "style: page, page_param: page, size_param: per_page",
            &format!("style: cursor, cursor_param: after, size_param: limit, next: {next}"),
        );
        let m = load_str(SOURCE, &yaml).unwrap();
        let Pagination::Cursor {
            cursor_param, next, ..
        } = &m.users.endpoints.list.pagination
        else {
            panic!("not a cursor pagination");
        };
        assert_eq!(cursor_param, "after");
        let kind = match next {
            NextSource::Cursor(_) => "cursor",
            NextSource::Url(_) => "url",
            NextSource::LinkHeader => "link",
        };
        assert_eq!(kind, expected);
    }
    let yaml = with(
        "style: page, page_param: page, size_param: per_page",
        "style: cursor, cursor_param: after, size_param: limit, \
         next: { cursor: $.meta.after_cursor, more: $.meta.has_more }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let Pagination::Cursor { more, .. } = &m.users.endpoints.list.pagination else {
        panic!("not a cursor pagination");
    };
    assert_eq!(more.as_ref().map(|m| m.0.as_str()), Some("$.meta.has_more"));
}

// --- backend.headers -----------------------------------------------------------------------

#[test]
fn static_headers_go_with_every_call_and_the_endpoints_own_win() {
    let yaml = with(
        "  timeout_ms: 5000\n",
        "  timeout_ms: 5000\n  headers: { X-App-Id: scim-7, Accept: application/vnd.v2+json }\n",
    )
    .replacen(
        "query: { expand: all, v: 2 } }",
        "query: { expand: all, v: 2 }, headers: { x-app-id: reader } }",
        1,
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let sent = |e: &Endpoint| -> Vec<(String, String)> {
        m.backend
            .headers_of(e)
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
    assert_eq!(
        sent(m.users.endpoints.create.as_ref().unwrap()),
        [
            pair("X-App-Id", "scim-7"),
            pair("Accept", "application/vnd.v2+json")
        ]
    );
    assert_eq!(
        sent(&m.users.endpoints.get),
        [
            pair("Accept", "application/vnd.v2+json"),
            pair("x-app-id", "reader")
        ]
    );
}

#[test]
fn static_headers_cannot_be_the_gateways_own_the_credentials_or_the_tenants() {
    let at = |headers: &str, tenant: &str| {
        with(
            "  timeout_ms: 5000\n",
            &format!("  timeout_ms: 5000\n  headers: {headers}\n{tenant}"),
        )
    };
    let fix = "(a secret goes in backend.auth)";
    for (headers, tenant, why) in [
        (
            "{ Content-Type: text/plain }",
            "",
            "the gateway sets it itself",
        ),
        (
            "{ Authorization: Bearer x }",
            "",
            "the gateway sets it itself",
        ),
        ("{ x-request-id: 1 }", "", "the gateway sets it itself"),
        (
            "{ x-api-key: k }",
            "",
            "the credential of backend.auth is sent in it",
        ),
        (
            "{ X-Tenant: acme }",
            "  tenant: { header: X-Tenant }\n",
            "backend.tenant sends the tenant in it",
        ),
    ] {
        let p = expect(&at(headers, tenant), "headers:", why, fix);
        assert!(
            p.message.contains("cannot be a static header"),
            "{}",
            p.message
        );
    }
    expect(
        &at("{ X-App-Id: [a, b] }", ""),
        "headers:",
        "must be a single value",
        "X-App-Id: \"value\"",
    );
    expect(
        &at("{ \"X App\": a }", ""),
        "headers:",
        "is not a valid HTTP header",
        "X-Client",
    );
}

// --- errors --------------------------------------------------------------------------------

#[test]
fn an_error_message_is_a_path_or_a_list_of_paths() {
    let m = load_str(
        SOURCE,
        &with("message: $.error", "message: [$.message, $.error]"),
    )
    .unwrap();
    let paths: Vec<&str> = m
        .users
        .plan
        .errors
        .message
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(paths, ["$.message", "$.error"]);
    let m = load_str(SOURCE, BASE).unwrap();
    assert_eq!(m.users.plan.errors.message.len(), 1);

    let fix = "message: [$.message, $.error]";
    expect(
        &with("message: $.error", "message: []"),
        "message: []",
        "the list is empty",
        fix,
    );
    expect(
        &with("message: $.error", "message: [$.message, 3]"),
        "message: [",
        "every entry of the list must be a JSONPath",
        fix,
    );
    expect(
        &with("message: $.error", "message: { path: $.error }"),
        "message: {",
        "is not a JSONPath or a list of them",
        fix,
    );
    expect(
        &with("message: $.error", "message: [$.message, error]"),
        "message: [",
        "is not a valid JSONPath",
        "write $.error",
    );
}

// --- lifecycle -------------------------------------------------------------------------------

#[test]
fn on_delete_and_activation_endpoints_must_fit() {
    let yaml = with(
        "    delete: { method: DELETE, path: \"/users/{id}\" }\n",
        "",
    )
    .replacen("on_delete: deactivate", "on_delete: delete", 1);
    expect(
        &yaml,
        "on_delete",
        "needs a delete endpoint",
        "on_delete: deactivate",
    );
    let yaml = with(
        "      legacy: $.status\n",
        "      legacy: $.status\n      direction: read\n",
    );
    expect(
        &yaml,
        "on_delete",
        "needs a writable `active` attribute",
        "deactivate/reactivate",
    );
    let yaml = with(
        "    delete: { method: DELETE, path: \"/users/{id}\" }\n",
        "    deactivate: { method: POST, path: \"/users/{id}/off\" }\n",
    );
    expect(
        &yaml,
        "deactivate:",
        "needs a reactivate endpoint",
        "reactivate:",
    );
    let yaml = with("on_delete: deactivate", "on_delete: archive");
    expect(
        &yaml,
        "archive",
        "is not deactivate or delete",
        "deactivate",
    );
    // Read-only active plus both endpoints is the Crewbase shape: valid.
    let yaml = with("      legacy: $.status\n", "      legacy: $.status\n      direction: read\n")
        .replacen(
            "    delete: { method: DELETE, path: \"/users/{id}\" }\n",
            "    deactivate: { method: POST, path: \"/users/{id}/off\" }\n    reactivate: { method: POST, path: \"/users/{id}/on\" }\n",
            1,
        );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert!(!m.users.writes_active());
    assert!(m.users.endpoints.reactivate.is_some());
}

// --- attributes ------------------------------------------------------------------------------

#[test]
fn legacy_paths_are_checked() {
    let yaml = with("legacy: $.login", "legacy: login");
    expect(
        &yaml,
        "legacy: login",
        "is not a valid JSONPath",
        "write $.login",
    );
    let yaml = with("legacy: $.login", "legacy: $..login");
    expect(
        &yaml,
        "$..login",
        "cannot be written: `..`",
        "direction: read",
    );
    let yaml = with(
        "legacy: $.email",
        "legacy: \"$.emails[?(@.kind != 'work')].value\"",
    );
    expect(
        &yaml,
        "emails[?",
        "cannot be written: only filters of the form",
        "[?(@.key == 'value')]",
    );
    // A read-only attribute may use any JSONPath.
    let yaml = with(
        "legacy: $.email }",
        "legacy: \"$.emails[*].value\", direction: read }",
    );
    load_str(SOURCE, &yaml).unwrap();
}

#[test]
fn scim_paths_are_checked_against_the_user_schema() {
    let yaml = with("scim: name.givenName", "scim: name.givenNme");
    expect(
        &yaml,
        "givenNme",
        "is not an attribute of the SCIM User",
        "did you mean name.givenName?",
    );
    let yaml = with("scim: name.givenName", "scim: departmnt");
    expect(
        &yaml,
        "departmnt",
        "is not an attribute",
        "did you mean department?",
    );
    let yaml = with("scim: name.givenName", "scim: phoneNumbers");
    expect(
        &yaml,
        "phoneNumbers",
        "is multi-valued",
        "phoneNumbers[type eq \"work\"].value",
    );
    let yaml = with("scim: name.givenName", "scim: name");
    expect(&yaml, "scim: name,", "is complex", "name.formatted");
    let yaml = with(
        "scim: name.givenName",
        "scim: 'emails[primary eq true].value'",
    );
    expect(
        &yaml,
        "primary eq true",
        "only an element selected by type",
        "emails[type eq \"work\"].value",
    );
    let yaml = with("scim: name.givenName", "scim: 'emails[type eq \"home\"]'");
    expect(&yaml, "\"home\"", "selects a whole element", ".value");
    let yaml = with("scim: name.givenName", "scim: id");
    expect(&yaml, "scim: id", "is set by the gateway", "users.id");
    let yaml = with("scim: name.givenName", "scim: 'name..x'");
    expect(
        &yaml,
        "name..x",
        "is not a SCIM attribute path",
        "name.givenName",
    );
    let yaml = with(
        "scim: name.givenName, legacy: $.first_name",
        "scim: groups.value, legacy: $.g",
    );
    // A user's groups come from the groups: section's membership.
    expect(
        &yaml,
        "groups.value",
        "groups comes from the group membership",
        "groups.membership",
    );
}

#[test]
fn attribute_forms_are_checked() {
    let yaml = with("{ scim: userName, legacy: $.login }", "{ scim: userName }");
    expect(
        &yaml,
        "{ scim: userName }",
        "no `legacy:` field and no `constant:`",
        "constant: value",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, constant: x }",
    );
    expect(
        &yaml,
        "constant: x",
        "`constant` does not apply to a mapped attribute",
        "remove `legacy`",
    );
    let yaml = with("{ scim: userName, legacy: $.login }", "{ legacy: $.login }");
    expect(
        &yaml,
        "{ legacy: $.login }",
        "needs exactly one of `constant:`",
        "constant: value",
    );
    let yaml = with("{ scim: userName, legacy: $.login }", "{ direction: read }");
    expect(
        &yaml,
        "{ direction: read }",
        "needs `scim:`, `legacy:` or both",
        "scim: userName",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, direction: sideways }",
    );
    expect(&yaml, "sideways", "is not both, read or write", "both");
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: title, constant: Boss, direction: write }",
    );
    expect(
        &yaml,
        "constant: Boss",
        "a SCIM constant is only ever read",
        "add `legacy:`",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ legacy: $.x, constant: 1, direction: read }",
    );
    expect(&yaml, "legacy: $.x", "only ever written", "add `scim:`");
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: password, legacy: $.pw }",
    );
    expect(
        &yaml,
        "password",
        "password is write-only in SCIM",
        "direction: write",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, direction: read, default: x }",
    );
    expect(
        &yaml,
        "default: x",
        "its default is never used",
        "remove `default`",
    );
}

#[test]
fn values_and_types_are_checked() {
    let yaml = with(
        "{ scim: true, legacy: enabled }",
        "{ scim: maybe, legacy: enabled }",
    );
    expect(
        &yaml,
        "maybe",
        "active is a SCIM Boolean",
        "write true or false",
    );
    let yaml = with(
        "{ scim: false, legacy: disabled }",
        "{ scim: false, legacy: [x] }",
    );
    expect(
        &yaml,
        "[x]",
        "must be a string, number or boolean",
        "legacy: enabled",
    );
    let yaml = with(
        "      legacy: $.status\n",
        "      legacy: $.status\n      legacy_type: string\n",
    );
    expect(
        &yaml,
        "legacy_type: string",
        "a value map already gives the legacy values",
        "remove `legacy_type`",
    );
    let yaml = with(
        "      legacy: $.status\n",
        "      legacy: $.status\n      default: maybe\n",
    );
    expect(
        &yaml,
        "default: maybe",
        "active is a SCIM Boolean",
        "true or false",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, legacy_type: integr }",
    );
    expect(
        &yaml,
        "integr",
        "is not a legacy type",
        "did you mean integer?",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login }\n    - { scim: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value, legacy: $.m, legacy_type: integer }\n    - { scim: x509Certificates, legacy: $.x }",
    );
    expect(&yaml, "x509Certificates", "is multi-valued", "");
    let yaml = with(
        "    - scim: active\n      legacy: $.status\n      values:\n        - { scim: true, legacy: enabled }\n        - { scim: false, legacy: disabled }\n",
        "    - { scim: active, legacy: $.enabled, legacy_type: integer }\n",
    );
    expect(
        &yaml,
        "legacy_type: integer",
        "cannot be converted to a legacy integer",
        "values:",
    );
}

#[test]
fn joins_are_checked() {
    let join = |parts: &str, sep: &str| {
        with(
            "{ scim: name.givenName, legacy: $.first_name }",
            &format!("{{ legacy: $.full_name, join: {{ parts: {parts}, separator: {sep} }} }}"),
        )
    };
    load_str(SOURCE, &join("[name.givenName, name.familyName]", "\" \"")).unwrap();
    let yaml = join("[name.givenName]", "\" \"");
    expect(
        &yaml,
        "parts:",
        "at least two parts",
        "parts: [name.givenName, name.familyName]",
    );
    let yaml = join("[name.givenName, active]", "\" \"");
    expect(
        &yaml,
        "parts:",
        "active is not a string",
        "join only string attributes",
    );
    let yaml = join("[name.givenName, name.familyName]", "\"\"");
    expect(
        &yaml,
        "separator",
        "the separator is empty",
        "separator: \" \"",
    );
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: userName, legacy: $.full_name, join: { parts: [name.givenName, name.familyName], separator: \" \" } }",
    );
    expect(
        &yaml,
        "join:",
        "`scim` does not apply to a join",
        "remove `scim`",
    );
}

#[test]
fn duplicates_are_refused() {
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: username, legacy: $.first_name }",
    );
    let p = expect(
        &yaml,
        "scim: username",
        "userName is already read by the entry on line 23",
        "direction: write",
    );
    assert_eq!(p.at, "users.attributes");
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: name.givenName, legacy: \"$['login']\" }",
    );
    expect(
        &yaml,
        "$['login']",
        "$['login'] is already written by the entry on line 23",
        "direction: read",
    );
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: name.givenName, legacy: $.login.first }",
    );
    expect(&yaml, "$.login.first", "already written", "");
    // Reading one field into two attributes is fine.
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: displayName, legacy: $.login, direction: read }",
    );
    load_str(SOURCE, &yaml).unwrap();
}

// --- deleted marker and required attributes ---------------------------------------------------

fn with_marker(marker: &str) -> String {
    with(
        "  on_delete: deactivate\n",
        &format!("  on_delete: deactivate\n  deleted: {marker}\n"),
    )
}

#[test]
fn a_deleted_marker_loads_with_on_delete_deactivate() {
    let m = load_str(
        SOURCE,
        &with_marker("{ legacy: $.status, value: archived }"),
    )
    .unwrap();
    assert!(m.users.has_deleted_marker());
    assert!(m
        .users
        .is_deleted(&serde_json::json!({"status": "archived"})));
    // A field no attribute writes is fine too, with any scalar.
    let m = load_str(
        SOURCE,
        &with_marker("{ legacy: $.flags.deleted, value: true }"),
    )
    .unwrap();
    assert!(m
        .users
        .is_deleted(&serde_json::json!({"flags": {"deleted": true}})));
    assert!(!load_str(SOURCE, BASE).unwrap().users.has_deleted_marker());
}

#[test]
fn a_deleted_marker_is_checked() {
    let yaml = with_marker("{ legacy: $.status, value: archived }").replacen(
        "on_delete: deactivate",
        "on_delete: delete",
        1,
    );
    // With on_delete: delete the marker is what the legacy API's own delete leaves.
    let m = load_str(SOURCE, &yaml).expect("a soft delete by the legacy API");
    assert!(m.users.has_deleted_marker());
    assert!(m
        .users
        .is_deleted(&serde_json::json!({"status": "archived"})));
    let yaml = with_marker("{ legacy: $.status }");
    expect(&yaml, "deleted:", "`value` is missing", "value: archived");
    let yaml = with_marker("{ value: archived }");
    expect(&yaml, "deleted:", "`legacy` is missing", "legacy: $.status");
    let yaml = with_marker("{ legacy: $.status, value: [a, b] }");
    expect(
        &yaml,
        "deleted:",
        "must be a string, number or boolean",
        "value: archived",
    );
    let yaml = with_marker("{ legacy: $..status, value: archived }");
    expect(&yaml, "deleted:", "cannot be written", "$.address.street");
    let yaml = with_marker("{ legacy: $.status, value: archived, field: x }");
    expect(&yaml, "deleted:", "unknown field `field`", "");
}

#[test]
fn no_attribute_may_write_the_deleted_marker() {
    // The value map of `active` writes `disabled`: a deactivated user would read as deleted.
    let yaml = with_marker("{ legacy: $.status, value: disabled }");
    let p = expect(
        &yaml,
        "deleted:",
        "$.status is also written by the entry on line 26 (active), which can write \"disabled\"",
        "choose a marker value that entry's value map does not write (e.g. archived)",
    );
    assert_eq!(p.at, "users.deleted.legacy");
    // An attribute without a value map can write anything.
    let yaml = with_marker("{ legacy: $.email, value: gone }");
    expect(
        &yaml,
        "deleted:",
        "(emails[type eq \"work\"].value), which can write \"gone\"",
        "mark deletion in a field no attribute writes",
    );
    // So can a constant equal to the marker; a different constant is harmless.
    let yaml = with_marker("{ legacy: $.origin, value: scim }").replacen(
        "    - { scim: userName, legacy: $.login }\n",
        "    - { scim: userName, legacy: $.login }\n    - { legacy: $.origin, constant: scim }\n",
        1,
    );
    expect(&yaml, "deleted:", "can write \"scim\"", "");
    load_str(
        SOURCE,
        &yaml.replacen("constant: scim", "constant: gateway", 1),
    )
    .unwrap();
    // A marker inside a written object, or around a written field.
    let yaml = with_marker("{ legacy: $.email.deleted, value: true }");
    expect(
        &yaml,
        "deleted:",
        "$.email.deleted overlaps $.email written by the entry on line 31",
        "no attribute writes",
    );
    // Reading the field is fine.
    let yaml = with_marker("{ legacy: $.state, value: gone }").replacen(
        "    - { scim: userName, legacy: $.login }\n",
        "    - { scim: userName, legacy: $.login }\n    - { scim: userType, legacy: $.state, direction: read }\n",
        1,
    );
    load_str(SOURCE, &yaml).unwrap();
}

#[test]
fn required_applies_to_mapped_attributes_only() {
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, required: true }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert!(m.users.schema.core.attribute("userName").unwrap().required);
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: name.givenName, legacy: $.first_name, direction: read, required: true }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let name = m.users.schema.core.attribute("name").unwrap();
    assert!(name.sub_attribute("givenName").unwrap().required);
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ legacy: $.full_name, required: true, join: { parts: [name.givenName, name.familyName], separator: \" \" } }",
    );
    expect(
        &yaml,
        "join:",
        "`required` does not apply to a join",
        "{ scim: …, legacy: …, required: true }",
    );
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: userType, constant: Employee, required: true }",
    );
    expect(
        &yaml,
        "constant: Employee",
        "`required` does not apply to a SCIM constant",
        "remove it",
    );
    let yaml = with(
        "{ scim: userName, legacy: $.login }",
        "{ scim: userName, legacy: $.login, required: yes please }",
    );
    expect(&yaml, "required: yes", "invalid", "write true or false");
}

// --- filters and errors ----------------------------------------------------------------------

#[test]
fn filters_are_checked() {
    let yaml = with(
        "{ scim: userName, op: eq, param: login }",
        "{ scim: userName, op: sw, param: login }",
    );
    expect(&yaml, "op: sw", "only eq can", "op: eq");
    let yaml = with(
        "{ scim: userName, op: eq, param: login }",
        "{ scim: title, param: title }",
    );
    expect(
        &yaml,
        "scim: title, param",
        "title is not read from the legacy API",
        "add an attributes entry",
    );
    let yaml = with(
        "{ scim: userName, op: eq, param: login }",
        "{ scim: userNam, param: login }",
    );
    expect(
        &yaml,
        "userNam,",
        "is not an attribute",
        "did you mean userName?",
    );
}

#[test]
fn error_rules_are_checked() {
    let yaml = with("scim_type: invalidValue", "scim_type: invalidValeu");
    expect(
        &yaml,
        "invalidValeu",
        "is not a SCIM error type",
        "did you mean invalidValue?",
    );
    let yaml = with(
        "{ status: 422, scim_status: 400",
        "{ status: 422, code_path: $.code, scim_status: 400",
    );
    expect(
        &yaml,
        "code_path",
        "code_path needs `equals:`",
        "equals: login_taken",
    );
    let yaml = with("scim_status: 400", "scim_status: 200");
    expect(
        &yaml,
        "scim_status: 200",
        "is not an error status",
        "scim_status: 409",
    );
    // A rule on a success could never apply: only refusals are translated.
    let yaml = with(
        "{ status: 422, scim_status: 400",
        "{ status: 200, scim_status: 404",
    );
    expect(
        &yaml,
        "status: 200",
        "200 is not an error: error rules translate the legacy API's refusals",
        "status: 422",
    );
    let yaml = with("message: $.error", "message: error");
    expect(
        &yaml,
        "message: error",
        "is not a valid JSONPath",
        "write $.error",
    );
}

#[test]
fn unreadable_files_name_the_file() {
    let e = load_file(std::path::Path::new("mappings/does-not-exist.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("mappings/does-not-exist.yaml: cannot read the mapping file:"),
        "{e}"
    );
}

#[test]
fn an_empty_or_odd_file_is_refused_with_a_fix() {
    for text in ["", "just a string\n", "- a\n- b\n"] {
        let err = load_str(SOURCE, text).unwrap_err();
        let p = &err.problems()[0];
        assert!(p.fix.is_some(), "{err}");
        assert_eq!((p.line, p.column), (1, 1), "{err}");
    }
    let err = load_str(SOURCE, "name: x\n").unwrap_err();
    let msgs: Vec<&str> = err.problems().iter().map(|p| p.message.as_str()).collect();
    assert_eq!(msgs, vec!["`backend` is missing", "`users` is missing"]);
}

/// What docs/mapping.md says is required or optional, as `check` enforces it.
#[test]
fn the_documented_required_and_optional_keys_are_what_check_enforces() {
    use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS};
    // backend.auth is optional: no credential is sent.
    let yaml = with(
        "  auth:\n    header: X-Api-Key\n    from_env: TEST_API_KEY\n",
        "",
    );
    assert_eq!(load_str(SOURCE, &yaml).unwrap().backend.auth, None);
    // groups.membership is required in a groups section.
    let yaml = format!("{BASE}{GROUPS}");
    expect_line(
        &yaml,
        line_of(&yaml, "groups:") + 1,
        "`membership` is missing",
        "a membership: section",
    );
    // roles.default is required; roles.protected is not.
    let roles = "  roles:\n    legacy: $.role\n    ranking: [member]\n    from_groups: []\n";
    let yaml = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}{roles}");
    expect_line(
        &yaml,
        line_of(&yaml, "  roles:") + 1,
        "`default` is missing",
        "default: member",
    );
    let yaml = yaml.replacen("ranking:", "default: member\n    ranking:", 1);
    load_str(SOURCE, &yaml).unwrap();
    // A SCIM default is one value of the attribute's type: a list is refused. A legacy
    // default or constant is any JSON value, written as it is.
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ scim: name.givenName, legacy: $.first_name, default: [a, b] }",
    );
    expect(
        &yaml,
        "default: [a, b]",
        "expected a string, got a list",
        "write a string",
    );
    let yaml = with(
        "{ scim: name.givenName, legacy: $.first_name }",
        "{ legacy: $.tags, default: [a, b] }",
    );
    let created = load_str(SOURCE, &yaml)
        .unwrap()
        .users
        .to_legacy(&serde_json::json!({"userName": "ada"}), None)
        .unwrap();
    assert_eq!(created["tags"], serde_json::json!(["a", "b"]));
    // An empty static value is sent empty; a key without a value is refused.
    let yaml = with("query: { expand: all, v: 2 }", "query: { expand: \"\" }");
    let m = load_str(SOURCE, &yaml).unwrap();
    assert_eq!(
        m.users.endpoints.get.target(Some("7"), &[]),
        "/users/7?expand="
    );
    let yaml = with("query: { expand: all, v: 2 }", "query: { expand: }");
    expect(
        &yaml,
        "query:",
        "must be a single value",
        "write expand: \"value\"",
    );
}
