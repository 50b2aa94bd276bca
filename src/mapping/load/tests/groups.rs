//! Validation tests of the `groups:` section: the group resource (compiled like users, over the
//! Group schema) and both membership shapes.

use super::*;
use crate::mapping::fixture::{
    GROUPS, GROUPS_ENDPOINTS, GROUPS_GROUP_ATTRIBUTE, GROUPS_USER_ATTRIBUTE,
};
use crate::mapping::plan::GroupSelector;
use crate::scim::urn;

/// The test users, then a groups section with member endpoints.
fn endpoints_yaml() -> String {
    format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}")
}

/// The test users, then a groups section with membership on the user.
fn attribute_yaml() -> String {
    format!("{BASE}{GROUPS}{GROUPS_USER_ATTRIBUTE}")
}

/// The 1-based line of the first line holding `needle` after the first line holding `after`.
fn line_after(yaml: &str, after: &str, needle: &str) -> u32 {
    let start = line_of(yaml, after) as usize;
    yaml.lines()
        .skip(start)
        .position(|l| l.contains(needle))
        .map(|i| (start + i + 1) as u32)
        .unwrap_or_else(|| panic!("no line holds {needle:?} after {after:?}"))
}

/// `yaml` with the first `from` (which must be there) replaced.
fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(yaml.contains(from), "no {from:?} in the mapping");
    yaml.replacen(from, to, 1)
}

#[test]
fn a_groups_section_loads_with_its_own_schema_and_on_delete() {
    let m = load_str(SOURCE, &endpoints_yaml()).unwrap();
    let groups = m.groups.as_ref().unwrap();
    let g = &groups.resource;
    // Groups are deleted by default.
    assert_eq!(g.on_delete, OnDelete::Delete);
    assert_eq!(g.scan_limit, 300);
    assert_eq!(g.endpoints.update_mode, UpdateMode::Partial);
    assert_eq!(g.endpoints.get.target(Some("5"), &[]), "/teams/5");
    assert!(g.has_version());
    // `/Schemas`: the Group schema with the mapped displayName and the members the server
    // fills, of users only.
    assert_eq!(g.schema.name, "Group");
    assert_eq!(g.schema.core.id, urn::GROUP);
    let names: Vec<&str> = g
        .schema
        .core
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["displayName", "members"]);
    let members = g.schema.core.attribute("members").unwrap();
    let subs: Vec<&str> = members
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "$ref", "display", "type"]);
    // A member's display name is the user's: shown when known, never written.
    assert_eq!(
        members.sub_attribute("display").unwrap().mutability,
        crate::scim::schema::Mutability::ReadOnly
    );
    assert_eq!(
        members.sub_attribute("type").unwrap().canonical_values,
        ["User"]
    );
    // With groups, users carry their (read-only) groups.
    let user_groups = m.users.schema.core.attribute("groups").unwrap();
    let subs: Vec<&str> = user_groups
        .sub_attributes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    // RFC 7643 §4.1.2: what a user's answers carry (`type` is always "direct").
    assert_eq!(subs, ["value", "$ref", "display", "type"]);
    // Without, nothing changes for users.
    let plain = load_str(SOURCE, BASE).unwrap();
    assert!(plain.groups.is_none());
    assert!(plain.users.schema.core.attribute("groups").is_none());
}

#[test]
fn group_attributes_resolve_against_the_group_schema() {
    let yaml = edit(
        &endpoints_yaml(),
        "scim: displayName, legacy",
        "scim: displayNme, legacy",
    );
    let p = expect(
        &yaml,
        "displayNme",
        "\"displayNme\" is not an attribute of the SCIM Group",
        "did you mean displayName?",
    );
    assert_eq!(p.at, "groups.attributes[0].scim");
    // A user attribute is not a group's.
    let yaml = edit(
        &endpoints_yaml(),
        "scim: displayName, legacy",
        "scim: title, legacy",
    );
    expect(
        &yaml,
        "scim: title",
        "is not an attribute of the SCIM Group",
        "displayName or externalId",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "{ scim: displayName, legacy: $.name }",
        "{ scim: 'members[type eq \"User\"].value', legacy: $.member_ids }",
    );
    let p = expect(
        &yaml,
        "member_ids",
        "members comes from the group membership",
        "groups.membership",
    );
    assert_eq!(p.at, "groups.attributes[0].scim");
    let yaml = edit(
        &endpoints_yaml(),
        "scim: displayName, legacy",
        "scim: id, legacy",
    );
    expect(
        &yaml,
        "scim: id, legacy: $.name",
        "is set by the gateway",
        "groups.id",
    );
    // Filters too, with their own location.
    let yaml = edit(
        &endpoints_yaml(),
        "{ scim: displayName, op: eq, param: name }",
        "{ scim: members.value, op: eq, param: member }",
    );
    let p = expect(
        &yaml,
        "param: member }",
        "comes from the group membership",
        "",
    );
    assert_eq!(p.at, "groups.filters[0].scim");
    let yaml = edit(
        &endpoints_yaml(),
        "{ scim: displayName, op: eq, param: name }",
        "{ scim: displayName, op: co, param: name }",
    );
    expect(&yaml, "op: co", "only eq can", "fetched groups");
}

#[test]
fn group_endpoints_and_lifecycle_are_checked() {
    let yaml = edit(
        &endpoints_yaml(),
        "path: \"/teams/{id}\" }",
        "path: /teams }",
    );
    let p = expect(
        &yaml,
        "get: { method: GET, path: /teams }",
        "has no {id}, so it cannot name one group",
        "/teams/{id}",
    );
    assert_eq!(p.at, "groups.endpoints.get.path");
    // Without a delete endpoint groups are not deleted; `on_delete: delete` written then is a
    // mistake.
    let yaml = edit(
        &endpoints_yaml(),
        "    delete: { method: DELETE, path: \"/teams/{id}\" }\n",
        "",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert!(m.groups.unwrap().resource.endpoints.delete.is_none());
    let yaml = edit(
        &yaml,
        "  scan_limit: 300\n",
        "  scan_limit: 300\n  on_delete: delete\n",
    );
    let p = expect_line(
        &yaml,
        line_after(&yaml, "groups:", "on_delete: delete"),
        "on_delete: delete needs a delete endpoint",
        "path: \"/groups/{id}\"",
    );
    assert_eq!(p.at, "groups.on_delete");
    // Groups have no `active`: no (de)activation endpoints…
    let yaml = edit(
        &endpoints_yaml(),
        "    delete: { method: DELETE, path: \"/teams/{id}\" }\n",
        "    delete: { method: DELETE, path: \"/teams/{id}\" }\n    deactivate: { method: POST, path: \"/teams/{id}/archive\" }\n",
    );
    expect(
        &yaml,
        "/archive",
        "a SCIM Group has no `active`",
        "on_delete: deactivate with deleted:",
    );
    // …and keeping the group on delete needs a deleted marker.
    let yaml = edit(
        &endpoints_yaml(),
        "  scan_limit: 300\n",
        "  scan_limit: 300\n  on_delete: deactivate\n",
    );
    expect_line(
        &yaml,
        line_after(&yaml, "groups:", "on_delete: deactivate"),
        "needs a deleted marker",
        "deleted: { legacy: $.status, value: archived }",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "  scan_limit: 300\n",
        "  scan_limit: 300\n  on_delete: deactivate\n  deleted: { legacy: $.archived, value: true }\n",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let g = &m.groups.unwrap().resource;
    assert_eq!(g.on_delete, OnDelete::Deactivate);
    assert!(g.is_deleted(&serde_json::json!({"id": 1, "archived": true})));
}

#[test]
fn member_placeholders_belong_to_member_endpoints() {
    // `{member}` in an endpoint that is not a member call.
    let yaml = edit(
        &endpoints_yaml(),
        "get: { method: GET, path: \"/teams/{id}\" }",
        "get: { method: GET, path: \"/teams/{id}/{member}\" }",
    );
    expect(
        &yaml,
        "/teams/{id}/{member}",
        "has {member}, which only the add and remove member calls fill",
        "remove {member}",
    );
    let yaml = with(
        "get: { method: GET, path: \"/users/{id}\"",
        "get: { method: GET, path: \"/users/{member}\"",
    );
    expect(&yaml, "/users/{member}", "has no {id}", "");
    // The remove call needs both.
    let yaml = edit(
        &endpoints_yaml(),
        "path: \"/teams/{id}/members/{member}\"",
        "path: \"/teams/{id}/members\"",
    );
    let p = expect(
        &yaml,
        "remove:",
        "\"/teams/{id}/members\" has no {member}, so it cannot name the member",
        "write e.g. /teams/{id}/members/{member}",
    );
    assert_eq!(p.at, "groups.membership.endpoints.remove.path");
    let yaml = edit(
        &endpoints_yaml(),
        "path: \"/teams/{id}/members/{member}\"",
        "path: \"/teams/members/{member}\"",
    );
    expect(
        &yaml,
        "remove:",
        "has no {id}, so it cannot name one group",
        "",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "path: \"/teams/{id}/members/{member}\"",
        "path: \"/teams/{id}/members/{user_id}\"",
    );
    expect(
        &yaml,
        "remove:",
        "has the placeholder {user_id}",
        "{member} where the member's legacy user id goes",
    );
    // The list names the group, not a member.
    let yaml = edit(
        &endpoints_yaml(),
        "        path: \"/teams/{id}/members\"\n",
        "        path: \"/teams/{id}/members/{member}\"\n",
    );
    expect(
        &yaml,
        "        path: \"/teams/{id}/members/{member}\"",
        "has {member}",
        "remove {member}",
    );
}

#[test]
fn the_add_call_must_say_which_member() {
    let yaml = edit(
        &endpoints_yaml(),
        ", body: { member: $.member.user_id, legacy_type: integer } }",
        " }",
    );
    let p = expect(
        &yaml,
        "add:",
        "does not say which member to add",
        "body: { member: $.user_id }",
    );
    assert_eq!(p.at, "groups.membership.endpoints.add");
    let yaml = edit(
        &endpoints_yaml(),
        "legacy_type: integer",
        "legacy_type: integr",
    );
    expect(
        &yaml,
        "integr",
        "is not a legacy type",
        "did you mean integer?",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "legacy_type: integer",
        "legacy_type: boolean",
    );
    expect(
        &yaml,
        "add:",
        "an id cannot be a boolean",
        "legacy_type: integer",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "member: $.member.user_id",
        "member: $..user_id",
    );
    let p = expect(&yaml, "add:", "cannot be written", "like $.user_id");
    assert_eq!(p.at, "groups.membership.endpoints.add.body.member");
    let yaml = edit(
        &endpoints_yaml(),
        "body: { member: $.member.user_id,",
        "body: {",
    );
    expect(&yaml, "add:", "`member` is missing", "member: $.user_id");
}

#[test]
fn the_member_list_and_user_groups_are_checked() {
    let yaml = edit(&endpoints_yaml(), "        member: $.user_id\n", "");
    let p = expect_line(
        &yaml,
        line_after(&yaml, "membership:", "method: GET"),
        "`member` is missing",
        "member: $.user_id",
    );
    assert_eq!(p.at, "groups.membership.endpoints.list");
    let yaml = edit(
        &endpoints_yaml(),
        "        path: \"/teams/{id}/members\"\n",
        "        path: /members\n",
    );
    expect(
        &yaml,
        "path: /members",
        "has no {id}, so it cannot name one group",
        "",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "pagination: { style: page, page_param: page, size_param: per_page, max_page_size: 200 }",
        "pagination: { style: pages }",
    );
    let p = expect(
        &yaml,
        "style: pages",
        "is not a pagination style",
        "did you mean page?",
    );
    assert_eq!(p.at, "groups.membership.endpoints.list.pagination.style");
    let yaml = edit(
        &endpoints_yaml(),
        "        items: $.data\n        member",
        "        items: $.data[*]\n        member",
    );
    expect(
        &yaml,
        "$.data[*]",
        "must name the list itself",
        "items: $.data",
    );
    let yaml = edit(
        &endpoints_yaml(),
        "path: \"/users/{id}/teams\"",
        "path: /teams",
    );
    let p = expect(
        &yaml,
        "user_groups:",
        "has no {id}, so it cannot name one user",
        "/teams/{id}",
    );
    assert_eq!(p.at, "groups.membership.endpoints.user_groups.path");
    let yaml = edit(&endpoints_yaml(), ", group: $.id }", " }");
    expect(&yaml, "user_groups:", "`group` is missing", "group: $.id");
    // Unknown keys are refused with the closest known key.
    let yaml = edit(&endpoints_yaml(), "group: $.id", "groups: $.id");
    expect(
        &yaml,
        "user_groups:",
        "unknown field `groups`",
        "did you mean `group`?",
    );
}

#[test]
fn membership_has_exactly_one_shape() {
    let both = format!(
        "{}{}",
        endpoints_yaml(),
        GROUPS_USER_ATTRIBUTE.replace("  membership:\n", "")
    );
    let p = expect(
        &both,
        "      legacy: $.teams.ids",
        "give one of `endpoints`, `user_attribute`, not several",
        "remove the others",
    );
    assert_eq!(p.at, "groups.membership");
    let neither = format!("{BASE}{GROUPS}  membership: {{}}\n");
    expect(
        &neither,
        "membership: {}",
        "membership has none of `endpoints`, `group_attribute` and `user_attribute`",
        "membership: { user_attribute: { legacy: $.team_ids } }",
    );
    let missing = format!("{BASE}{GROUPS}");
    let p = expect_line(
        &missing,
        line_of(&missing, "groups:") + 1,
        "`membership` is missing",
        "membership:",
    );
    assert_eq!(p.at, "groups");
    // Membership is not a users key.
    let in_users = with(
        "  on_delete: deactivate\n",
        &format!("  on_delete: deactivate\n{GROUPS_USER_ATTRIBUTE}"),
    );
    expect(
        &in_users,
        "user_attribute:",
        "membership belongs to the groups: section",
        "move it under groups:",
    );
}

#[test]
fn a_user_attribute_must_be_writable_and_free() {
    let m = load_str(SOURCE, &attribute_yaml()).unwrap();
    assert!(matches!(
        m.groups.unwrap().membership,
        Membership::UserAttribute(_)
    ));
    let yaml = edit(
        &attribute_yaml(),
        "legacy: $.teams.ids",
        "legacy: $.teams[*].id",
    );
    let p = expect(
        &yaml,
        "$.teams[*].id",
        "cannot be written",
        "membership is written",
    );
    assert_eq!(p.at, "groups.membership.user_attribute.legacy");
    // A field a users attribute writes (here `userName`'s).
    let yaml = edit(&attribute_yaml(), "legacy: $.teams.ids", "legacy: $.login");
    expect_line(
        &yaml,
        line_after(&yaml, "user_attribute:", "legacy: $.login"),
        "$.login is also written by the users attribute userName ($.login)",
        "direction: read",
    );
    let yaml = edit(
        &attribute_yaml(),
        "members_query: { param: team }",
        "members_query: { param: per_page }",
    );
    expect(
        &yaml,
        "members_query",
        "`per_page` is already a parameter of the users list endpoint",
        "param: team",
    );
    let yaml = edit(
        &attribute_yaml(),
        "members_query: { param: team }",
        "members_query: { param: \" \" }",
    );
    expect(&yaml, "members_query", "has no name", "param: team");
    let yaml = edit(
        &attribute_yaml(),
        "if_match: $.meta.version",
        "if_match: meta.version",
    );
    expect(
        &yaml,
        "if_match",
        "is not a valid JSONPath",
        "$.meta.version",
    );
    let yaml = edit(
        &attribute_yaml(),
        "      if_match",
        "      legacy_type: bool\n      if_match",
    );
    expect(&yaml, "legacy_type: bool", "is not a legacy type", "");
    let yaml = edit(&attribute_yaml(), "      legacy: $.teams.ids\n", "");
    expect(
        &yaml,
        "members_query",
        "`legacy` is missing",
        "legacy: $.team_ids",
    );
}

#[test]
fn read_only_groups_have_no_update_or_delete_endpoint() {
    // Members on the users: the groups themselves are never written.
    let yaml = edit(
        &edit(
            &attribute_yaml(),
            "    update: { method: PATCH, path: \"/teams/{id}\" }\n",
            "",
        ),
        "    delete: { method: DELETE, path: \"/teams/{id}\" }\n",
        "",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let e = &m.groups.unwrap().resource.endpoints;
    assert!(e.update.is_none() && e.delete.is_none());
    // Users are always written.
    let users = edit(
        &attribute_yaml(),
        "    update: { method: PUT, path: \"/users/{id}\", mode: full }\n",
        "",
    );
    let p = expect_line(
        &users,
        line_of(&users, "endpoints:") + 1,
        "`update` is missing",
        "update: { method: PUT",
    );
    assert_eq!(p.at, "users.endpoints");
    // A member list on the group is written with the groups' update, when it has no own call.
    let yaml = edit(
        &format!("{BASE}{GROUPS}{GROUPS_GROUP_ATTRIBUTE}"),
        "    update: { method: PATCH, path: \"/teams/{id}\" }\n",
        "",
    );
    let p = expect(
        &yaml,
        "group_attribute:",
        "the member list is written with the groups' update endpoint, and there is none",
        "add update: { method: PATCH",
    );
    assert_eq!(p.at, "groups.membership.group_attribute");
}

#[test]
fn otherwise_names_one_group_of_a_single_field() {
    let single = edit(
        &attribute_yaml(),
        "      legacy: $.teams.ids\n",
        "      legacy: $.role_id\n      single: true\n      otherwise: { name: Member }\n",
    );
    let m = load_str(SOURCE, &single).unwrap();
    let membership = m.groups.unwrap().membership;
    // A name is looked up at start: pending until replaced by the legacy id.
    assert_eq!(membership.otherwise_name(), Some("Member"));
    let resolved = membership.with_otherwise_id("3");
    assert_eq!(resolved.otherwise_name(), None);
    let Membership::UserAttribute(r) = resolved else {
        panic!("a user attribute");
    };
    assert_eq!(r.otherwise(), Some(&GroupSelector::Id("3".into())));
    let Membership::UserAttribute(a) = membership else {
        panic!("a user attribute");
    };
    assert_eq!(a.otherwise(), Some(&GroupSelector::Name("Member".into())));
    let by_id = edit(
        &single,
        "otherwise: { name: Member }",
        "otherwise: { id: 7 }",
    );
    let Membership::UserAttribute(a) = load_str(SOURCE, &by_id).unwrap().groups.unwrap().membership
    else {
        panic!("a user attribute");
    };
    assert_eq!(a.otherwise(), Some(&GroupSelector::Id("7".into())));
    // A list of groups has no "no group" value: leaving one takes it out of the list.
    let list = edit(
        &attribute_yaml(),
        "      legacy: $.teams.ids\n",
        "      legacy: $.teams.ids\n      otherwise: { name: Member }\n",
    );
    let p = expect(
        &list,
        "otherwise:",
        "this field holds a list",
        "add single: true",
    );
    assert_eq!(p.at, "groups.membership.user_attribute.otherwise");
    let both = edit(
        &single,
        "otherwise: { name: Member }",
        "otherwise: { name: Member, id: 7 }",
    );
    expect(
        &both,
        "otherwise:",
        "not both",
        "otherwise: { name: Member }",
    );
}
