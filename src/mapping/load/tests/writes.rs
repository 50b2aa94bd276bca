//! Validation tests of what the gateway writes: the objects a partial update replaces whole,
//! the member id in an add call's body, and one writer per legacy field across `users:` and
//! `groups:` (attributes, group membership, roles, their `set:` fields, flags).

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS, GROUPS_USER_ATTRIBUTE};

const UPDATE: &str = "update: { method: PUT, path: \"/users/{id}\", mode: full }";

fn partial(extra: &str) -> String {
    with(
        UPDATE,
        &format!("update: {{ method: PATCH, path: \"/users/{{id}}\", mode: partial{extra} }}"),
    )
    .replacen(
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email }\n",
        "    - { scim: 'emails[type eq \"work\"].value', legacy: $.email }\n    - { scim: 'addresses[type eq \"work\"].locality', legacy: $.profile.address.city }\n",
        1,
    )
}

#[test]
fn replaces_whole_names_objects_the_attributes_write_into() {
    let m = load_str(
        SOURCE,
        &partial(", replaces_whole: [$.profile.address, $.profile]"),
    )
    .unwrap();
    let whole: Vec<&str> = m
        .users
        .endpoints
        .update_replaces_whole
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(whole, ["$.profile.address", "$.profile"]);

    let yaml = partial(", replaces_whole: [$.address]");
    let p = expect(
        &yaml,
        "replaces_whole",
        "no entry writes a field inside $.address, so a change never sends it",
        "e.g. $.address for $.address.street",
    );
    assert_eq!(p.at, "users.endpoints.update.replaces_whole[0]");
    // Not the written field itself: an object that holds it.
    expect(
        &partial(", replaces_whole: [$.profile.address.city]"),
        "replaces_whole",
        "no entry writes a field inside",
        "",
    );
    expect(
        &partial(", replaces_whole: [\"$.phones[0]\"]"),
        "replaces_whole",
        "does not name one object by its field names",
        "e.g. $.address",
    );
    // A full update sends the whole record anyway.
    let yaml = with(
        UPDATE,
        "update: { method: PUT, path: \"/users/{id}\", mode: full, replaces_whole: [$.email] }",
    );
    expect(
        &yaml,
        "replaces_whole",
        "replaces_whole is for a partial update",
        "mode: partial",
    );
    // Only the update endpoint has it (nor `mode`, nor `if_match`).
    let yaml = with(
        "delete: { method: DELETE, path: \"/users/{id}\" }",
        "delete: { method: DELETE, path: \"/users/{id}\", replaces_whole: [$.a], if_match: true }",
    );
    expect(
        &yaml,
        "replaces_whole",
        "`replaces_whole` only applies to the update endpoint",
        "remove it",
    );
    expect(
        &yaml,
        "replaces_whole",
        "`if_match` only applies to the update endpoint",
        "remove it",
    );
}

#[test]
fn a_member_add_body_never_puts_the_member_into_a_list() {
    let base = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}");
    for path in ["$.member_ids[0]", "$.members[?(@.type == 'user')].id"] {
        let yaml = base.replacen(
            "member: $.member.user_id",
            &format!("member: \"{path}\""),
            1,
        );
        let p = expect(
            &yaml,
            "add:",
            "puts the member into a list, and the add call's body is a new object",
            "member: $.user_id or $.membership.user_id",
        );
        assert_eq!(p.at, "groups.membership.endpoints.add.body.member");
    }
    // Names only, at any depth.
    load_str(SOURCE, &base).unwrap();
}

/// The users of [`BASE`], a groups section with membership on the user at `$.teams.ids`, and
/// `rules` (roles and flags).
fn with_rules(rules: &str) -> String {
    format!("{BASE}{GROUPS}{GROUPS_USER_ATTRIBUTE}{rules}")
}

const ROLES: &str = "  roles:
    legacy: $.role
    default: member
    ranking: [owner, member]
    from_groups:
      - { group: \"Owners\", role: owner, set: { $.archetype: boss } }
      - { group: \"Others\", role: member, set: { $.archetype: staff } }
";

#[test]
fn two_writers_of_one_legacy_field_are_refused() {
    // Rows of the role table may share their `set:` fields (one role applies at a time).
    load_str(SOURCE, &with_rules(ROLES)).unwrap();

    // Membership and the role both on $.role.
    let yaml = with_rules(ROLES).replacen(
        "legacy: $.teams.ids",
        "legacy: $.role\n      single: true",
        1,
    );
    let p = expect_line(
        &yaml,
        line_of(&yaml, "  roles:") + 1,
        "$.role is also written by groups.membership.user_attribute.legacy ($.role)",
        "keep the role in a field of its own",
    );
    assert_eq!(p.at, "groups.roles.legacy");

    // A role on a field a users attribute writes.
    let yaml = with_rules(&ROLES.replacen("legacy: $.role", "legacy: $.status", 1));
    expect_line(
        &yaml,
        line_of(&yaml, "  roles:") + 1,
        "$.status is also written by the users attribute active ($.status)",
        "keep the role in a field of its own",
    );

    // A flag inside the membership field; a flag on the role; a set: field on the role.
    let flags = "  flags:\n    - { legacy: $.teams.ids.pro, group: \"Pro\", member: true }\n";
    let yaml = with_rules(flags);
    let p = expect(
        &yaml,
        "$.teams.ids.pro",
        "$.teams.ids.pro is also written by groups.membership.user_attribute.legacy ($.teams.ids)",
        "give the flag a field of its own",
    );
    assert_eq!(p.at, "groups.flags[0].legacy");
    let yaml = with_rules(&format!(
        "{ROLES}  flags:\n    - {{ legacy: $.role, group: \"Pro\", member: owner }}\n"
    ));
    expect(
        &yaml,
        "legacy: $.role, group",
        "$.role is also written by groups.roles.legacy ($.role)",
        "give the flag a field of its own",
    );
    let yaml = with_rules(&ROLES.replacen("set: { $.archetype: staff }", "set: { $.role: x }", 1));
    let p = expect(
        &yaml,
        "set: { $.role: x }",
        "$.role is also written by groups.roles.legacy ($.role)",
        "set only fields that nothing else writes",
    );
    assert_eq!(p.at, "groups.roles.from_groups[1].set");

    // The users' deleted marker is a writer too.
    let yaml = with_rules(ROLES).replacen(
        "  on_delete: deactivate\n",
        "  on_delete: deactivate\n  deleted: { legacy: $.archetype, value: gone }\n",
        1,
    );
    expect(
        &yaml,
        "set: { $.archetype: boss }",
        "$.archetype is also written by the users' deleted marker ($.archetype)",
        "",
    );
}

#[test]
fn a_full_update_leaves_out_timestamps_and_read_only_fields_only() {
    let yaml = with("  id: $.id\n", "  id: $.id\n  created: $.created_at\n  last_modified: $.meta.changed\n  version: $.meta.version\n")
        .replacen(
            "    - { scim: userName, legacy: $.login }\n",
            "    - { scim: userName, legacy: $.login }\n    - { scim: displayName, legacy: $.full, direction: read }\n    - { scim: nickName, legacy: $.login, direction: read }\n    - { scim: title, legacy: \"$.jobs[0].title\", direction: read }\n    - { scim: userType, legacy: $.role, direction: read }\n",
            1,
        );
    let names = |m: &Mapping| -> Vec<String> {
        m.users
            .plan
            .read_only
            .iter()
            .map(|p| p.as_str().to_string())
            .collect()
    };
    let m = load_str(SOURCE, &yaml).unwrap();
    // `login` is written by userName; `jobs[0]` is not a path of names; `role` is not written.
    assert_eq!(
        names(&m),
        ["$.created_at", "$.meta.changed", "$.full", "$.role"]
    );
    // What the groups section writes is sent too.
    let m = load_str(
        SOURCE,
        &format!("{yaml}{GROUPS}{GROUPS_USER_ATTRIBUTE}{ROLES}"),
    )
    .unwrap();
    assert_eq!(names(&m), ["$.created_at", "$.meta.changed", "$.full"]);
}
