//! Validation tests of how endpoints hold the record: the section's `envelope:` and each
//! endpoint's over it, per-endpoint `errors:`, `exists: read_first` and `after_empty_answer:`.

use super::*;
use crate::mapping::plan::AfterEmpty;

const SECTION_AT: &str = "  id: $.id\n";

fn enveloped(envelope: &str) -> String {
    with(SECTION_AT, &format!("  envelope: {envelope}\n  id: $.id\n"))
}

#[test]
fn the_section_envelope_applies_to_the_endpoints_it_concerns() {
    let m = load_str(
        SOURCE,
        &enveloped("{ answer: data, body: user, item: user }"),
    )
    .unwrap();
    let e = &m.users.endpoints;
    let create = e.create.as_ref().unwrap();
    for (name, endpoint) in [("create", create), ("update", e.update.as_ref().unwrap())] {
        assert_eq!(endpoint.record.answer.as_deref(), Some("data"), "{name}");
        assert_eq!(endpoint.record.body.as_deref(), Some("user"), "{name}");
        assert_eq!(endpoint.record.item, None, "{name}");
    }
    assert_eq!(e.get.record.answer.as_deref(), Some("data"));
    assert_eq!(e.get.record.body, None);
    // The delete's answer is not read and it is sent no record.
    let delete = e.delete.as_ref().unwrap();
    assert_eq!((&delete.record.answer, &delete.record.body), (&None, &None));
    let list = &e.list.endpoint.record;
    assert_eq!(
        (&list.answer, &list.body, list.item.as_deref()),
        (&None, &None, Some("user"))
    );
    assert!(!e.update.as_ref().unwrap().record.read_first);
    assert_eq!(e.update_after_empty, AfterEmpty::Read);
}

#[test]
fn an_endpoint_envelope_overrides_the_section_key_by_key_and_null_removes_one() {
    let yaml = enveloped("{ answer: data, body: user, item: user }")
        .replacen(
            "create: { method: POST, path: /users }",
            "create: { method: POST, path: /users, envelope: { answer: created } }",
            1,
        )
        .replacen(
            "      items: $.data\n",
            "      items: $.data\n      envelope: { item: null }\n",
            1,
        )
        .replacen(
            "update: { method: PUT, path: \"/users/{id}\", mode: full }",
            "update: { method: PUT, path: \"/users/{id}\", mode: full, envelope: { answer: null, body: \" record \" } }",
            1,
        );
    let m = load_str(SOURCE, &yaml).unwrap();
    let e = &m.users.endpoints;
    let create = e.create.as_ref().unwrap();
    assert_eq!(create.record.answer.as_deref(), Some("created"));
    assert_eq!(create.record.body.as_deref(), Some("user"));
    assert_eq!(e.update.as_ref().unwrap().record.answer, None);
    assert_eq!(
        e.update.as_ref().unwrap().record.body.as_deref(),
        Some("record")
    );
    assert_eq!(e.list.endpoint.record.item, None);
    assert_eq!(e.get.record.answer.as_deref(), Some("data"));
}

#[test]
fn without_an_envelope_nothing_is_wrapped() {
    let m = load_str(SOURCE, BASE).unwrap();
    let e = &m.users.endpoints;
    let create = e.create.as_ref().unwrap();
    for endpoint in [create, &e.get, e.update.as_ref().unwrap(), &e.list.endpoint] {
        let r = &endpoint.record;
        assert_eq!((&r.answer, &r.body, &r.item), (&None, &None, &None));
        assert!(r.errors.is_empty() && !r.read_first);
    }
}

#[test]
fn an_envelope_key_is_one_key_name() {
    let p = expect(
        &enveloped("{ answer: $.data.user }"),
        "envelope:",
        "\"$.data.user\" is a path; an envelope is one key name",
        "write the key alone, e.g. data",
    );
    assert_eq!(p.at, "users.envelope.answer");
    expect(
        &enveloped("{ body: \" \" }"),
        "envelope:",
        "an empty key names no place",
        "null for none",
    );
    expect(
        &enveloped("{ item: 3 }"),
        "envelope:",
        "3 is not a key name",
        "e.g. data",
    );
    expect(
        &enveloped("{}"),
        "envelope:",
        "the envelope names no key",
        "envelope: { answer: data, body: user }",
    );
    expect(
        &enveloped("{ answer: data, bodies: user }"),
        "envelope:",
        "unknown field `bodies`",
        "answer, body, item",
    );
}

#[test]
fn an_envelope_where_the_endpoint_has_nothing_to_wrap_is_refused() {
    // A GET sends no body.
    let yaml = with(
        "get: { method: GET, path: \"/users/{id}\", query: { expand: all, v: 2 } }",
        "get: { method: GET, path: \"/users/{id}\", envelope: { answer: data, body: user } }",
    );
    let p = expect(
        &yaml,
        "get: {",
        "this endpoint is sent no record, so `body` has nothing to wrap",
        "remove `body` (this endpoint takes envelope: { answer: data })",
    );
    assert_eq!(p.at, "users.endpoints.get.envelope.body");
    // The delete's answer is not read.
    let yaml = with(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\", envelope: { answer: data } }",
    );
    expect(
        &yaml,
        "delete: {",
        "the gateway neither sends a record to the delete endpoint nor reads one",
        "remove the delete endpoint's envelope",
    );
    // A list answer holds items.
    let yaml = with(
        "      items: $.data\n",
        "      items: $.data\n      envelope: { answer: user }\n",
    );
    expect(
        &yaml,
        "envelope: { answer: user }",
        "a list answer holds items, not one record",
        "envelope: { item: user }",
    );
    // `item` belongs to the list.
    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: /users, envelope: { item: user } }",
    );
    expect(
        &yaml,
        "create: {",
        "`item` is the key of the record in a list item",
        "remove `item`",
    );
    // A deactivation by DELETE sends no body.
    let yaml = with(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\" }\n    deactivate: { method: DELETE, path: \"/users/{id}/active\", envelope: { body: user } }",
    );
    expect(
        &yaml,
        "deactivate: {",
        "a DELETE call sends no body",
        "remove `body`",
    );
}

#[test]
fn endpoint_error_rules_are_compiled_and_checked() {
    let yaml = with(
        "get: { method: GET, path: \"/users/{id}\", query: { expand: all, v: 2 } }",
        "get:\n      method: GET\n      path: \"/users/{id}\"\n      errors:\n        - { status: 403, scim_status: 404 }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let rules = &m.users.endpoints.get.record.errors;
    assert_eq!(rules.len(), 1);
    assert_eq!((rules[0].status, rules[0].scim_status), (403, 404));
    // The section's rules are still the section's.
    assert_eq!(m.users.plan.errors.rules.len(), 1);
    // The get's 403 is a 404 for the get, and a refused credential for the other endpoints.
    let get = m
        .users
        .map_error_of(Some(&m.users.endpoints.get), 403, b"{}");
    assert_eq!(get.status, 404);
    let update = m
        .users
        .map_error_of(m.users.endpoints.update.as_ref(), 403, b"{}");
    assert_eq!(update.status, 502);

    let yaml = with(
        "get: { method: GET, path: \"/users/{id}\", query: { expand: all, v: 2 } }",
        "get:\n      method: GET\n      path: \"/users/{id}\"\n      errors:\n        - { status: 403, scim_status: 200 }",
    );
    let p = expect(
        &yaml,
        "scim_status: 200",
        "200 is not an error status",
        "between 400 and 599",
    );
    assert_eq!(p.at, "users.endpoints.get.errors[0].scim_status");
}

#[test]
fn endpoint_rules_are_tried_before_the_section_rules() {
    let yaml = with(
        "update: { method: PUT, path: \"/users/{id}\", mode: full }",
        "update: { method: PUT, path: \"/users/{id}\", mode: full, errors: [ { status: 422, scim_status: 409, scim_type: uniqueness } ] }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let u = &m.users;
    let e = u.map_error_of(u.endpoints.update.as_ref(), 422, b"{}");
    assert_eq!(e.status, 409);
    let e = u.map_error_of(u.endpoints.create.as_ref(), 422, b"{}");
    assert_eq!(e.status, 400);
    assert_eq!(
        u.map_error(422, br#"{"error": "bad"}"#).detail,
        "legacy API: bad"
    );
}

#[test]
fn exists_read_first_is_for_the_calls_that_change_a_record() {
    let yaml = with(
        "update: { method: PUT, path: \"/users/{id}\", mode: full }",
        "update: { method: PUT, path: \"/users/{id}\", mode: full, exists: read_first }",
    )
    .replacen(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\", exists: read_first }",
        1,
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert!(m.users.endpoints.update.as_ref().unwrap().record.read_first);
    assert!(m.users.endpoints.delete.as_ref().unwrap().record.read_first);
    assert!(!m.users.endpoints.get.record.read_first);

    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: /users, exists: read_first }",
    );
    let p = expect(
        &yaml,
        "create: {",
        "`exists` applies to the calls that change a record",
        "remove it",
    );
    assert_eq!(p.at, "users.endpoints.create.exists");
    let yaml = with(
        "update: { method: PUT, path: \"/users/{id}\", mode: full }",
        "update: { method: PUT, path: \"/users/{id}\", mode: full, exists: always }",
    );
    expect(
        &yaml,
        "update: {",
        "\"always\" is not an existence check",
        "exists: read_first",
    );
}

#[test]
fn after_empty_answer_is_read_or_as_written_on_the_update_only() {
    let yaml = with(
        "update: { method: PUT, path: \"/users/{id}\", mode: full }",
        "update: { method: PUT, path: \"/users/{id}\", mode: full, after_empty_answer: as_written }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert_eq!(m.users.endpoints.update_after_empty, AfterEmpty::AsWritten);
    let yaml = with(
        "update: { method: PUT, path: \"/users/{id}\", mode: full }",
        "update: { method: PUT, path: \"/users/{id}\", mode: full, after_empty_answer: reread }",
    );
    let p = expect(
        &yaml,
        "update: {",
        "\"reread\" is not read or as_written",
        "did you mean read?",
    );
    assert_eq!(p.at, "users.endpoints.update.after_empty_answer");
    let yaml = with(
        "create: { method: POST, path: /users }",
        "create: { method: POST, path: /users, after_empty_answer: read }",
    );
    expect(
        &yaml,
        "create: {",
        "`after_empty_answer` only applies to the update endpoint",
        "remove it",
    );
}

#[test]
fn the_shipped_keystone_mapping_reads_its_records_inside_their_envelopes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let m = load_file(&root.join("mappings/keystone.yaml")).unwrap();
    let e = &m.users.endpoints;
    assert_eq!(e.get.record.answer.as_deref(), Some("user"));
    assert_eq!(
        e.create.as_ref().unwrap().record.body.as_deref(),
        Some("user")
    );
    assert_eq!(e.list.endpoint.record.item.as_deref(), Some("user"));
    let g = m.groups.unwrap().resource;
    assert_eq!(
        g.endpoints.update.as_ref().unwrap().record.body.as_deref(),
        Some("team")
    );
    assert_eq!(
        g.endpoints.list.endpoint.record.item.as_deref(),
        Some("team")
    );
}

#[test]
fn a_deactivation_body_is_wrapped_only_by_its_own_envelope() {
    let yaml = enveloped("{ answer: data, body: user }").replacen(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\" }\n    deactivate: { method: POST, path: \"/users/{id}/suspend\" }\n    reactivate: { method: POST, path: \"/users/{id}/resume\", envelope: { body: account } }",
        1,
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let e = &m.users.endpoints;
    let (off, on) = (
        e.deactivate.as_ref().unwrap(),
        e.reactivate.as_ref().unwrap(),
    );
    assert_eq!(off.record.answer.as_deref(), Some("data"));
    assert_eq!(off.record.body, None);
    assert_eq!(on.record.answer.as_deref(), Some("data"));
    assert_eq!(on.record.body.as_deref(), Some("account"));
}

#[test]
fn member_calls_take_no_envelope_errors_or_existence_check() {
    use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS};
    let members = GROUPS_ENDPOINTS.replacen(
        "remove: { method: DELETE, path: \"/teams/{id}/members/{member}\" }",
        "remove: { method: DELETE, path: \"/teams/{id}/members/{member}\", exists: read_first, envelope: { answer: data } }",
        1,
    );
    let yaml = format!("{BASE}{GROUPS}{members}");
    let p = expect(
        &yaml,
        "remove: {",
        "`exists` applies to the users: and groups: endpoints, not member calls",
        "remove it",
    );
    assert_eq!(p.at, "groups.membership.endpoints.remove.exists");
    expect(
        &yaml,
        "remove: {",
        "`envelope` applies to the users: and groups: endpoints, not member calls",
        "remove it",
    );
    // The groups section's own envelope applies to its endpoints, not to the member calls.
    let yaml = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}").replacen(
        "groups:\n",
        "groups:\n  envelope: { answer: team, body: team }\n",
        1,
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let g = m.groups.unwrap();
    assert_eq!(
        g.resource.endpoints.get.record.answer.as_deref(),
        Some("team")
    );
    match g.membership {
        Membership::Endpoints { add, remove, .. } => {
            assert_eq!(add.endpoint.record.body, None);
            assert_eq!(remove.record.answer, None);
        }
        other => panic!("member endpoints expected, got {other:?}"),
    }
}
