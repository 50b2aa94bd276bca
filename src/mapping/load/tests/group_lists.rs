//! Validation tests of membership held as a list on the legacy group (`group_attribute`), of a
//! single-valued membership's `ranking`, and of what the identity provider may do to groups
//! (`protected`, `hidden`, `create: false`).

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_GROUP_ATTRIBUTE, GROUPS_USER_ATTRIBUTE};
use crate::mapping::plan::GroupSelector;
use crate::mapping::{GroupAttribute, Membership};

fn list_yaml() -> String {
    format!("{BASE}{GROUPS}{GROUPS_GROUP_ATTRIBUTE}")
}

fn group_attribute(yaml: &str) -> GroupAttribute {
    match load_str(SOURCE, yaml).unwrap().groups.unwrap().membership {
        Membership::GroupAttribute(a) => a,
        other => panic!("expected a group attribute, got {other:?}"),
    }
}

#[test]
fn a_member_list_on_the_group_loads() {
    let a = group_attribute(&list_yaml());
    assert!(a.update.is_none(), "the groups' update endpoint by default");
    let ug = a.user_groups.as_ref().unwrap();
    assert_eq!(ug.endpoint.name, "groups.user_groups");
    let m = load_str(SOURCE, &list_yaml()).unwrap();
    // A user's groups are advertised (the membership can tell them).
    assert!(m
        .users
        .schema
        .find(&crate::scim::path::AttrPath::parse("groups.value").unwrap())
        .is_some());
    // Its own write call.
    let own = edit(
        &list_yaml(),
        "      if_match: $.rev\n",
        "      if_match: $.rev\n      update: { method: PUT, path: \"/teams/{id}/members\" }\n",
    );
    let a = group_attribute(&own);
    let u = a.update.unwrap();
    assert_eq!(u.method, http::Method::PUT);
    assert_eq!(u.name, "groups.write_members");
}

fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(yaml.contains(from), "no {from:?} in the mapping");
    yaml.replacen(from, to, 1)
}

#[test]
fn the_list_must_be_one_writable_field() {
    expect(
        &edit(
            &list_yaml(),
            "legacy: $.member_ids",
            "legacy: $.members[*].id",
        ),
        "legacy: $.members[*].id",
        "cannot be written",
        "membership is written",
    );
    expect(
        &edit(&list_yaml(), "legacy: $.member_ids", "legacy: $.members[0]"),
        "legacy: $.members[0]",
        "does not name one field",
        "legacy: $.member_ids",
    );
    expect(
        &edit(
            &list_yaml(),
            "      legacy: $.member_ids\n",
            "      legacy_ids: $.member_ids\n",
        ),
        "legacy_ids",
        "unknown field `legacy_ids`",
        "legacy",
    );
    expect(
        &edit(&list_yaml(), "legacy_type: integer", "legacy_type: boolean"),
        "legacy_type: boolean",
        "an id cannot be a boolean",
        "legacy_type: integer",
    );
}

#[test]
fn a_users_groups_call_must_say_whose() {
    let yaml = edit(&list_yaml(), "query: { member_id: \"{id}\" }, ", "");
    let err = load_str(SOURCE, &yaml).unwrap_err().to_string();
    assert!(err.contains("user_groups"), "{err}");
    assert!(err.contains("{id}"), "{err}");
}

#[test]
fn without_a_users_groups_call_roles_are_refused() {
    let yaml = format!(
        "{}  roles:\n    legacy: $.role\n    default: member\n    ranking: [admin, member]\n    \
         from_groups: [ {{ group: Admins, role: admin }} ]\n",
        edit(
            &list_yaml(),
            "      user_groups: { method: GET, path: /teams, query: { member_id: \"{id}\" }, items: $.data, group: $.id }\n",
            "",
        )
    );
    expect(
        &yaml,
        "legacy: $.role",
        "roles and flags need a user's groups",
        "membership.group_attribute.user_groups",
    );
}

#[test]
fn membership_takes_one_shape_of_three() {
    let two = format!(
        "{}{}",
        list_yaml(),
        GROUPS_USER_ATTRIBUTE.replace("  membership:\n", "")
    );
    expect(
        &two,
        "      legacy: $.teams.ids",
        "give one of `group_attribute`, `user_attribute`, not several",
        "`group_attribute` if the group record holds its member ids",
    );
}

fn single_yaml(extra: &str) -> String {
    let membership = GROUPS_USER_ATTRIBUTE
        .replace(
            "legacy: $.teams.ids",
            "legacy: $.role_id\n      single: true",
        )
        .replace("      members_query: { param: team }\n", "");
    format!("{BASE}{GROUPS}{membership}{extra}")
}

#[test]
fn a_ranking_needs_a_single_field_and_names_each_group_once() {
    let ok = single_yaml("      ranking: [Admins, Editors, \"7\"]\n");
    let m = load_str(SOURCE, &ok).unwrap();
    let Membership::UserAttribute(a) = m.groups.unwrap().membership else {
        panic!("a user attribute");
    };
    assert_eq!(a.ranking, ["Admins", "Editors", "7"]);
    expect(
        &single_yaml("      ranking: [Admins, admins]\n"),
        "ranking: [Admins, admins]",
        "the group \"admins\" is empty or ranked twice",
        "list each group once",
    );
    let list = format!(
        "{BASE}{GROUPS}{}      ranking: [Admins]\n",
        GROUPS_USER_ATTRIBUTE
    );
    expect(
        &list,
        "ranking: [Admins]",
        "a ranking chooses the one group of a user, and this field holds a list",
        "add single: true",
    );
}

fn with_access(access: &str) -> String {
    format!("{}{access}", list_yaml())
}

#[test]
fn protected_and_hidden_groups_are_named_by_name_or_id() {
    let yaml = with_access(
        "  protected: [ { name: Administrator }, { id: 42 } ]\n  hidden: [ { id: \"t_9\" }, { name: \" Billing \" } ]\n",
    );
    let g = load_str(SOURCE, &yaml).unwrap().groups.unwrap();
    assert_eq!(
        g.protected,
        [
            GroupSelector::Name("Administrator".into()),
            GroupSelector::Id("42".into())
        ]
    );
    assert_eq!(
        g.hidden,
        [
            GroupSelector::Id("t_9".into()),
            GroupSelector::Name("Billing".into())
        ]
    );
    assert!(g.is_protected("1", Some("administrator ")));
    assert!(g.is_protected("42", None));
    assert!(!g.is_protected("4", Some("Admins")));
    assert!(g.is_hidden("t_9", None));
    assert!(g.is_hidden("x", Some("BILLING")));
    assert!(!g.is_hidden("t_90", Some("Billing Ops")));
    assert!(g.names_groups());
    assert!(g.resource.endpoints.create.is_some());
}

#[test]
fn a_group_entry_names_exactly_one_group() {
    expect(
        &with_access("  protected: [ { name: Administrator, id: 4 } ]\n"),
        "protected:",
        "give the group's name or its id, not both",
        "{ name: Administrator }",
    );
    expect(
        &with_access("  hidden: [ {} ]\n"),
        "hidden:",
        "the entry names no group",
        "{ id: \"42\" }",
    );
    expect(
        &with_access("  hidden: [ { name: \"  \" } ]\n"),
        "hidden:",
        "the name is empty",
        "{ name: Administrator }",
    );
    expect(
        &with_access("  hidden: [ { id: [1] } ]\n"),
        "hidden:",
        "the id must be a non-empty string or a number",
        "{ id: \"42\" }",
    );
    expect(
        &with_access("  hidden: [ { name: Billing }, { name: Billing } ]\n"),
        "hidden:",
        "is listed twice",
        "list each group once",
    );
    expect(
        &with_access("  protected: [ { name: Billing } ]\n  hidden: [ { name: Billing } ]\n"),
        "hidden:",
        "this group is also protected",
        "not both",
    );
    expect(
        &with_access("  hidden: [ { title: Billing } ]\n"),
        "hidden:",
        "unknown field `title`",
        "",
    );
}

#[test]
fn groups_not_created_need_no_create_endpoint() {
    let yaml = edit(
        &with_access("  create: false\n"),
        "    create: { method: POST, path: /teams }\n",
        "",
    );
    let g = load_str(SOURCE, &yaml).unwrap().groups.unwrap();
    assert!(g.resource.endpoints.create.is_none());
    // With a create endpoint, one of the two is a mistake.
    expect(
        &with_access("  create: false\n"),
        "create: { method: POST, path: /teams }",
        "groups.create is false, so this endpoint would never be called",
        "remove the create endpoint",
    );
    // Without `create: false`, the endpoint is needed.
    let err = load_str(
        SOURCE,
        &edit(
            &list_yaml(),
            "    create: { method: POST, path: /teams }\n",
            "",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("create"), "{err}");
}

#[test]
fn group_keys_under_users_are_refused() {
    for key in ["protected: []", "hidden: []", "create: false"] {
        let yaml = BASE.replacen("users:\n", &format!("users:\n  {key}\n"), 1);
        let name = key.split(':').next().unwrap();
        expect(
            &yaml,
            key,
            &format!("{name} belongs to the groups: section"),
            "move it under groups:",
        );
    }
}
