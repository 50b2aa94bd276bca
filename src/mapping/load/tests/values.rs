//! Placeholders in query values and bodies, computed values (`template:`) and `empty: absent`:
//! what loads, what is refused (line, message, fix), and what the compiled mapping then does.

use serde_json::{json, Value};

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS};
use crate::scim::filter::{matches, Filter};
use crate::scim::schema::Mutability;

fn load(yaml: &str) -> Mapping {
    match load_str(SOURCE, yaml) {
        Ok(m) => m,
        Err(e) => panic!("the mapping does not load:\n{e}"),
    }
}

/// BASE with a deactivate endpoint (its line replaces the delete endpoint's).
fn with_deactivate(line: &str) -> String {
    with(
        r#"    delete: { method: DELETE, path: "/users/{id}" }"#,
        &format!(
            "    {line}\n    reactivate: {{ method: POST, path: \"/users/{{id}}/activate\" }}"
        ),
    )
}

fn groups_yaml() -> String {
    format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}")
}

fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(yaml.contains(from), "no {from:?} in the mapping");
    yaml.replacen(from, to, 1)
}

// --- placeholders in query values ------------------------------------------------------------

#[test]
fn query_values_take_the_placeholders_the_call_has() {
    let yaml = with(
        "query: { expand: all, v: 2 }",
        r#"query: { expand: all, "filter[org]": "{tenant}", who: "u-{id}" }"#,
    );
    let yaml = edit(
        &yaml,
        "      path: /users\n",
        "      path: /users\n      query: { org: \"{tenant}\" }\n",
    );
    let m = load(&yaml);
    let get = &m.users.endpoints.get;
    // Each value is one form-encoded value, whatever the id or tenant hold.
    assert_eq!(
        m.backend.target(get, "a&b=c", Some("7/x"), None, &[]),
        "/users/7%2Fx?expand=all&filter%5Borg%5D=a%26b%3Dc&who=u-7%2Fx"
    );
    let list = &m.users.endpoints.list.endpoint;
    assert_eq!(
        m.backend
            .target(list, "acme", None, None, &[("page".into(), "1".into())]),
        "/users?org=acme&page=1"
    );
}

#[test]
fn other_braces_in_a_query_value_stay_as_written() {
    let yaml = with(
        "query: { expand: all, v: 2 }",
        r#"query: { q: '{"active":true}', e: "{}" }"#,
    );
    let m = load(&yaml);
    assert_eq!(
        m.users.endpoints.get.target(Some("7"), &[]),
        "/users/7?q=%7B%22active%22%3Atrue%7D&e=%7B%7D"
    );
}

#[test]
fn an_id_in_the_query_names_the_record_as_well_as_one_in_the_path() {
    let yaml = with(
        r#"get: { method: GET, path: "/users/{id}", query: { expand: all, v: 2 } }"#,
        r#"get: { method: GET, path: /users/one, query: { user_id: "{id}" } }"#,
    );
    let m = load(&yaml);
    assert_eq!(
        m.users.endpoints.get.target(Some("42"), &[]),
        "/users/one?user_id=42"
    );
}

#[test]
fn an_id_in_a_list_query_is_refused() {
    let yaml = edit(
        BASE,
        "      path: /users\n",
        "      path: /users\n      query: { owner: \"{id}\" }\n",
    );
    let p = expect(
        &yaml,
        "owner:",
        "{id} cannot be filled here: this call is not about one user",
        "remove {id}",
    );
    assert_eq!(p.at, "users.endpoints.list.query.owner");
}

#[test]
fn an_id_in_a_create_query_is_refused() {
    let yaml = with(
        "create: { method: POST, path: /users }",
        r#"create: { method: POST, path: /users, query: { id: "{id}" } }"#,
    );
    expect(
        &yaml,
        "create:",
        "{id} cannot be filled here: this call is not about one user",
        "remove {id}",
    );
}

#[test]
fn a_member_outside_the_member_calls_is_refused() {
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: "/users/{id}/off", query: { by: "{member}" } }"#,
    );
    expect(
        &yaml,
        "deactivate:",
        "{member} cannot be filled here",
        "remove {member}",
    );
}

#[test]
fn a_word_in_braces_that_is_no_placeholder_is_refused() {
    let yaml = with(
        "query: { expand: all, v: 2 }",
        r#"query: { expand: "{tenant_id}" }"#,
    );
    expect(
        &yaml,
        "tenant_id",
        "has the placeholder {tenant_id}; the placeholders are {id}, {member} and {tenant}",
        "write {id}, {member} or {tenant}",
    );
}

// --- body templates --------------------------------------------------------------------------

#[test]
fn a_body_template_is_filled_for_the_call() {
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: "/users/{id}/suspend", body: { user_id: "{id}", reason: scim, note: "by {tenant}", n: 1 } }"#,
    );
    let yaml = edit(
        &yaml,
        "  on_delete: deactivate\n",
        "  on_delete: deactivate\n  id_format: integer\n",
    );
    let m = load(&yaml);
    let ep = m.users.endpoints.deactivate.as_ref().unwrap();
    // With `id_format: integer`, an id alone keeps the integer type; text around it is a string.
    assert_eq!(
        m.template_body(ep, "acme", Some("42"), None),
        Some(json!({"user_id": 42, "reason": "scim", "note": "by acme", "n": 1}))
    );
    // Calls without a template send no body.
    assert_eq!(
        m.template_body(&m.users.endpoints.get, "acme", Some("42"), None),
        None
    );
}

#[test]
fn without_an_integer_id_format_an_id_stays_a_string() {
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: /users/suspend, body: { user_id: "{id}", tag: "\"{id}\"" } }"#,
    );
    let m = load(&yaml);
    let ep = m.users.endpoints.deactivate.as_ref().unwrap();
    assert_eq!(
        m.template_body(ep, "acme", Some("4\"2"), None),
        Some(json!({"user_id": "4\"2", "tag": "\"4\"2\""}))
    );
}

#[test]
fn a_body_on_create_or_update_is_refused() {
    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: /users, body: { source: scim } }",
    );
    expect(
        &yaml,
        "create:",
        "the gateway sends the user record as the body of this call",
        "{ legacy: $.field, constant: value }",
    );
    let yaml = with(
        r#"update: { method: PUT, path: "/users/{id}", mode: full }"#,
        r#"update: { method: PUT, path: "/users/{id}", mode: full, body: {} }"#,
    );
    expect(
        &yaml,
        "update:",
        "the gateway sends the user record",
        "remove `body`",
    );
}

#[test]
fn a_body_placeholder_the_call_cannot_fill_is_refused() {
    let yaml = edit(
        BASE,
        "      path: /users\n",
        "      path: /users\n      body: { owner: \"{id}\" }\n",
    );
    expect(
        &yaml,
        "body:",
        "{id} cannot be filled here: this call is not about one user",
        "remove {id}",
    );
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: "/users/{id}/off", body: { a: ["{member}"] } }"#,
    );
    expect(
        &yaml,
        "deactivate:",
        "{member} cannot be filled here",
        "remove {member}",
    );
}

#[test]
fn a_body_typo_or_key_placeholder_is_refused_with_where() {
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: "/users/{id}/off", body: { a: { b: "{ID}" } } }"#,
    );
    expect(
        &yaml,
        "deactivate:",
        "$.a.b has the placeholder {ID}",
        "write {id}, {member} or {tenant}",
    );
    let yaml = with_deactivate(
        r#"deactivate: { method: POST, path: "/users/{id}/off", body: { "{id}": true } }"#,
    );
    expect(
        &yaml,
        "deactivate:",
        "only values are filled, never keys",
        "write the key",
    );
}

#[test]
fn member_calls_fill_the_member_and_the_group() {
    let yaml = edit(
        &groups_yaml(),
        r#"remove: { method: DELETE, path: "/teams/{id}/members/{member}" }"#,
        r#"remove: { method: POST, path: "/teams/{id}/members/remove", body: { user: "{member}", team: "{id}" } }"#,
    );
    let yaml = edit(
        &yaml,
        r#"user_groups: { method: GET, path: "/users/{id}/teams","#,
        r#"user_groups: { method: GET, path: /teams, query: { member_id: "{id}" },"#,
    );
    let yaml = edit(
        &yaml,
        "  scan_limit: 300\n",
        "  scan_limit: 300\n  id_format: integer\n",
    );
    let m = load(&yaml);
    let Membership::Endpoints {
        remove,
        user_groups,
        ..
    } = &m.groups.as_ref().unwrap().membership
    else {
        panic!("member endpoints expected");
    };
    // The group's id is an integer (groups.id_format), the member's a string (users have none).
    assert_eq!(
        m.template_body(remove, "acme", Some("5"), Some("17")),
        Some(json!({"user": "17", "team": 5}))
    );
    let ug = user_groups.as_ref().unwrap();
    assert_eq!(
        m.backend
            .target(&ug.endpoint, "acme", Some("u/1"), None, &[]),
        "/teams?member_id=u%2F1"
    );
}

#[test]
fn a_remove_call_without_member_anywhere_is_refused() {
    let yaml = edit(
        &groups_yaml(),
        r#"remove: { method: DELETE, path: "/teams/{id}/members/{member}" }"#,
        r#"remove: { method: POST, path: "/teams/{id}/members/remove", body: { team: "{id}" } }"#,
    );
    expect(
        &yaml,
        "remove:",
        "has no {member}, so it cannot name the member",
        "{member}",
    );
}

#[test]
fn an_add_call_may_name_the_member_in_its_query() {
    let yaml = edit(
        &groups_yaml(),
        r#"add: { method: POST, path: "/teams/{id}/members", body: { member: $.member.user_id, legacy_type: integer } }"#,
        r#"add: { method: POST, path: "/teams/{id}/members", query: { user: "{member}" } }"#,
    );
    let m = load(&yaml);
    let Membership::Endpoints { add, .. } = &m.groups.as_ref().unwrap().membership else {
        panic!("member endpoints expected");
    };
    assert_eq!(
        m.backend
            .target(&add.endpoint, "acme", Some("5"), Some("a b"), &[]),
        "/teams/5/members?user=a+b"
    );
}

// --- computed values -------------------------------------------------------------------------

const COMPUTED: &str = r#"    - { scim: displayName, template: "{first_name} {$.last_name}" }
"#;

fn with_computed(entry: &str) -> String {
    with(
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email }\n",
        &format!("    - {{ scim: 'emails[type eq \"work\"].value', legacy: $.email }}\n{entry}"),
    )
}

#[test]
fn a_computed_value_is_read_from_several_fields() {
    let m = load(&with_computed(COMPUTED));
    let u = &m.users;
    let scim = u
        .to_scim(&json!({"id": 1, "login": "ada", "first_name": "Ada", "last_name": "Lovelace"}))
        .unwrap();
    assert_eq!(scim["displayName"], "Ada Lovelace");
    let scim = u
        .to_scim(&json!({"id": 1, "login": "ada", "last_name": "Lovelace"}))
        .unwrap();
    assert_eq!(scim["displayName"], "Lovelace");
    let scim = u
        .to_scim(&json!({"id": 1, "login": "ada", "first_name": "", "last_name": null}))
        .unwrap();
    assert!(scim.get("displayName").is_none(), "{scim}");
    // Advertised, read-only.
    let def = u.schema.core.attribute("displayName").unwrap();
    assert_eq!(def.mutability, Mutability::ReadOnly);
}

#[test]
fn an_attribute_only_read_is_advertised_read_only_unless_another_entry_writes_it() {
    let read_only = with(
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email }\n",
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email, direction: read }\n",
    );
    let m = load(&read_only);
    let emails = m.users.schema.core.attribute("emails").unwrap();
    assert_eq!(
        emails.sub_attribute("value").unwrap().mutability,
        Mutability::ReadOnly
    );
    // Another type of e-mail is written: the attribute stays writable.
    let both = read_only.replace(
        "direction: read }\n",
        "direction: read }\n    - { scim: 'emails[type eq \"home\"].value', legacy: $.home_email }\n",
    );
    let m = load(&both);
    let emails = m.users.schema.core.attribute("emails").unwrap();
    assert_ne!(
        emails.sub_attribute("value").unwrap().mutability,
        Mutability::ReadOnly
    );
}

#[test]
fn a_computed_value_is_never_written() {
    let m = load(&with_computed(COMPUTED));
    let old = json!({"id": 1, "login": "ada", "first_name": "Ada", "last_name": "Lovelace"});
    let scim = json!({"userName": "ada", "displayName": "Somebody Else",
        "name": {"givenName": "Ada"}});
    let new = m.users.to_legacy(&scim, Some(&old)).unwrap();
    assert_eq!(new["last_name"], "Lovelace");
    assert!(new.get("displayName").is_none());
    let created = m.users.to_legacy(&scim, None).unwrap();
    assert!(created.get("last_name").is_none(), "{created}");
}

#[test]
fn a_filter_over_a_computed_value_is_evaluated_on_the_scim_user() {
    let m = load(&with_computed(COMPUTED));
    let scim = m
        .users
        .to_scim(&json!({"id": 1, "login": "ada", "first_name": "Ada", "last_name": "Lovelace"}))
        .unwrap();
    let f = Filter::parse(r#"displayName eq "Ada Lovelace""#).unwrap();
    assert!(matches(&f, &scim, &m.users.schema));
    let f = Filter::parse(r#"displayName sw "Ada" and displayName pr"#).unwrap();
    assert!(matches(&f, &scim, &m.users.schema));
    // Not a filter the legacy API can answer: left to the gateway.
    let f = Filter::parse(r#"displayName eq "Ada Lovelace""#).unwrap();
    assert!(m.users.pushdown(&f).params.is_empty());
}

#[test]
fn a_computed_value_refuses_writing_keys() {
    let cases = [
        (
            r#"    - { scim: displayName, template: "{a} {b}", direction: both }
"#,
            "a computed value is only ever read",
            "remove `direction`",
        ),
        (
            r#"    - { scim: displayName, template: "{a} {b}", direction: write }
"#,
            "a computed value is only ever read",
            "remove `direction`",
        ),
        (
            r#"    - { scim: displayName, template: "{a} {b}", legacy: $.x }
"#,
            "`legacy` does not apply to a computed attribute",
            "remove `legacy`",
        ),
        (
            r#"    - { scim: displayName, template: "{a} {b}", constant: x }
"#,
            "`constant` does not apply to a computed attribute",
            "remove it",
        ),
        (
            r#"    - { scim: displayName, template: "{a} {b}", join: { parts: [name.givenName, name.familyName], separator: " " } }
"#,
            "`join` does not apply to a computed attribute",
            "remove it",
        ),
        (
            r#"    - { scim: displayName, template: "{a} {b}", empty: absent }
"#,
            "`empty` does not apply to a computed attribute",
            "remove it",
        ),
    ];
    for (entry, message, fix) in cases {
        expect(&with_computed(entry), "template:", message, fix);
    }
}

#[test]
fn a_computed_value_refuses_bad_templates_and_targets() {
    let cases = [
        (
            r#"    - { scim: displayName, template: "Ada" }
"#,
            "has no {field} part",
            "{ scim: …, constant: … }",
        ),
        (
            r#"    - { scim: displayName, template: "{first_name" }
"#,
            "has an unclosed '{'",
            "{{ or }}",
        ),
        (
            r#"    - { scim: displayName, template: "{$.a[}" }
"#,
            "not a valid JSONPath",
            "{$.name.first}",
        ),
        (
            r#"    - { template: "{a} {b}" }
"#,
            "a template needs `scim:`",
            "scim: displayName",
        ),
        (
            r#"    - { scim: title, template: "{a} {b}" }
"#,
            "",
            "",
        ),
    ];
    for (entry, message, fix) in &cases[..4] {
        expect(&with_computed(entry), "template:", message, fix);
    }
    // A string attribute other than displayName computes as well.
    let m = load(&with_computed(cases[4].0));
    let scim = m
        .users
        .to_scim(&json!({"id": 1, "login": "ada", "a": "Chief", "b": "Analyst"}))
        .unwrap();
    assert_eq!(scim["title"], "Chief Analyst");
}

#[test]
fn a_computed_value_must_be_a_string() {
    expect(
        &with_computed(
            r#"    - { scim: active, template: "{a}" }
"#,
        ),
        "template:",
        "a template computes a string",
        "compute a string attribute",
    );
}

#[test]
fn a_computed_value_and_a_mapped_one_cannot_read_the_same_attribute() {
    expect(
        &with_computed(
            r#"    - { scim: name.givenName, template: "{a}" }
"#,
        ),
        "template:",
        "name.givenName is already read by the entry on line",
        "keep one entry that reads it",
    );
}

// --- empty: absent ---------------------------------------------------------------------------

const PHONE: &str = r#"    - { scim: 'phoneNumbers[type eq "work"].value', legacy: $.office_phone, empty: absent }
"#;

#[test]
fn an_empty_string_reads_as_absent() {
    let m = load(&with_computed(PHONE));
    for stored in [json!(""), json!("   "), Value::Null] {
        let scim = m
            .users
            .to_scim(&json!({"id": 1, "login": "ada", "office_phone": stored}))
            .unwrap();
        assert!(scim.get("phoneNumbers").is_none(), "{scim}");
        assert!(!matches(
            &Filter::parse("phoneNumbers pr").unwrap(),
            &scim,
            &m.users.schema
        ));
        assert!(!matches(
            &Filter::parse(r#"phoneNumbers.value eq """#).unwrap(),
            &scim,
            &m.users.schema
        ));
    }
    let scim = m
        .users
        .to_scim(&json!({"id": 1, "login": "ada", "office_phone": "+1 555"}))
        .unwrap();
    assert_eq!(scim["phoneNumbers"][0]["value"], "+1 555");
}

#[test]
fn without_empty_absent_an_empty_string_is_a_value() {
    let yaml = with_computed(
        r#"    - { scim: 'phoneNumbers[type eq "work"].value', legacy: $.office_phone }
"#,
    );
    let m = load(&yaml);
    let scim = m
        .users
        .to_scim(&json!({"id": 1, "login": "ada", "office_phone": ""}))
        .unwrap();
    assert_eq!(scim["phoneNumbers"][0]["value"], "");
}

#[test]
fn no_value_is_written_as_an_empty_string() {
    let m = load(&with_computed(PHONE));
    let old = json!({"id": 1, "login": "ada", "office_phone": "+1 555"});
    // A full update without the phone writes "" (never null).
    let new = m
        .users
        .to_legacy(&json!({"userName": "ada"}), Some(&old))
        .unwrap();
    assert_eq!(new["office_phone"], "");
    let new = m
        .users
        .to_legacy(
            &json!({"userName": "ada", "phoneNumbers": [{"type": "work", "value": null}]}),
            Some(&old),
        )
        .unwrap();
    assert_eq!(new["office_phone"], "");
    // A create without it writes nothing: the legacy API stores its own "" for none.
    let created = m
        .users
        .to_legacy(&json!({"userName": "ada"}), None)
        .unwrap();
    assert!(created.get("office_phone").is_none(), "{created}");
    // A value is written as it is.
    let new = m
        .users
        .to_legacy(
            &json!({"userName": "ada", "phoneNumbers": [{"type": "work", "value": "+1 777"}]}),
            Some(&old),
        )
        .unwrap();
    assert_eq!(new["office_phone"], "+1 777");
}

#[test]
fn a_partial_update_of_an_already_empty_field_sends_nothing() {
    let yaml = with(
        r#"update: { method: PUT, path: "/users/{id}", mode: full }"#,
        r#"update: { method: PATCH, path: "/users/{id}" }"#,
    );
    let yaml = edit(
        &yaml,
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email }\n",
        &format!("    - {{ scim: 'emails[type eq \"work\"].value', legacy: $.email }}\n{PHONE}"),
    );
    let m = load(&yaml);
    let old = json!({"id": 1, "login": "ada", "office_phone": ""});
    let scim = m.users.to_scim(&old).unwrap();
    let new = m.users.to_legacy(&scim, Some(&old)).unwrap();
    let body = m.users.update_body(&old, &new).to_value();
    assert!(body.get("office_phone").is_none(), "{body}");
    let old = json!({"id": 1, "login": "ada", "office_phone": "+1 555"});
    let new = m
        .users
        .to_legacy(&json!({"userName": "ada"}), Some(&old))
        .unwrap();
    assert_eq!(
        m.users.update_body(&old, &new).to_value()["office_phone"],
        ""
    );
}

#[test]
fn a_blank_comparison_is_not_pushed_down() {
    let yaml = with_computed(PHONE);
    let yaml = edit(
        &yaml,
        "    - { scim: userName, op: eq, param: login }\n",
        "    - { scim: userName, op: eq, param: login }\n    - { scim: 'phoneNumbers[type eq \"work\"].value', param: phone }\n",
    );
    let m = load(&yaml);
    let f = Filter::parse(r#"phoneNumbers[type eq "work" and value eq "+1"]"#).unwrap();
    assert_eq!(m.users.pushdown(&f).params, [("phone".into(), "+1".into())]);
    let f = Filter::parse(r#"phoneNumbers[type eq "work" and value eq ""]"#).unwrap();
    assert!(m.users.pushdown(&f).params.is_empty());
}

#[test]
fn empty_absent_is_refused_where_it_means_nothing() {
    let cases = [
        (
            r#"    - { scim: nickName, legacy: $.nick, empty: none }
"#,
            "\"none\" is not what an empty string can mean here",
            "write empty: absent",
        ),
        (
            r#"    - { scim: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', legacy: $.badge, legacy_type: integer, empty: absent }
"#,
            "",
            "",
        ),
        (
            r#"    - { legacy: $.source, constant: scim, empty: absent }
"#,
            "`empty` does not apply to a legacy constant or default",
            "{ scim: …, legacy: …, empty: absent }",
        ),
        (
            r#"    - { legacy: $.full, join: { parts: [name.givenName, name.familyName], separator: " " }, empty: absent }
"#,
            "`empty` does not apply to a join",
            "empty: absent",
        ),
        (
            r#"    - { scim: nickName, legacy: $.nick, empty: absent, values: [{ scim: none, legacy: "" }] }
"#,
            "the value map gives an empty legacy string a SCIM value",
            "remove `empty`",
        ),
    ];
    for (i, (entry, message, fix)) in cases.iter().enumerate() {
        if i == 1 {
            // A string attribute stored as a legacy integer: allowed (an empty string is none).
            load(&with_computed(entry));
            continue;
        }
        expect(&with_computed(entry), "empty:", message, fix);
    }
}

#[test]
fn empty_absent_is_refused_on_a_non_string_attribute() {
    let yaml = with(
        "    - scim: active\n      legacy: $.status\n",
        "    - scim: active\n      empty: absent\n      legacy: $.status\n",
    );
    expect(
        &yaml,
        "empty: absent",
        "active is a SCIM Boolean, which an empty string never is",
        "remove `empty`",
    );
}
