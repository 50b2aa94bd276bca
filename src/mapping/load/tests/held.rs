//! Validation tests of `groups:` with `held_by: gateway`: what loads, each key of legacy groups
//! refused where it is written, and roles and flags compiled exactly as for legacy groups.

use serde_json::json;

use super::roles::RULES;
use super::*;
use crate::mapping::fixture::{with_held_groups, GROUPS, GROUPS_ENDPOINTS};
use crate::mapping::roles::{GroupRules, UserGroup};

const HELD: &str = "groups:\n  held_by: gateway\n";

/// The test users, then groups held by the gateway with `rest` under `groups:`.
fn held(rest: &str) -> String {
    format!("{BASE}{HELD}{rest}")
}

/// The line of the first key written after `held_by:` in [`held`].
fn first_line() -> u32 {
    (BASE.lines().count() + HELD.lines().count() + 1) as u32
}

#[test]
fn groups_held_by_the_gateway_load_without_legacy_endpoints() {
    let m = load_str(SOURCE, &held("")).unwrap();
    assert!(m.groups.is_none(), "no legacy groups");
    let h = m.held_groups.as_ref().unwrap();
    assert!(h.rules.is_empty());
    assert!(!h.remove_deleted_users, "users leave no group by default");
    // Users carry their (read-only) groups, which the gateway knows.
    let user_groups = m.users.schema.core.attribute("groups").unwrap();
    let subs: Vec<&str> = user_groups
        .sub_attributes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "$ref", "display", "type"]);
    let m = load_str(SOURCE, &held("  remove_deleted_users: true\n")).unwrap();
    assert!(m.held_groups.unwrap().remove_deleted_users);
    let f = with_held_groups();
    assert!(f.groups.is_none());
    let h = f.held_groups.unwrap();
    assert!(h.remove_deleted_users);
    assert!(!h.rules.is_empty());
}

#[test]
fn each_key_of_legacy_groups_is_refused_where_it_is_written() {
    let keys = [
        ("id", "  id: $.id\n"),
        ("id_format", "  id_format: integer\n"),
        ("created", "  created: $.created_at\n"),
        ("last_modified", "  last_modified: $.updated_at\n"),
        ("version", "  version: $.rev\n"),
        (
            "endpoints",
            "  endpoints: { get: { method: GET, path: \"/teams/{id}\" } }\n",
        ),
        ("envelope", "  envelope: { answer: data }\n"),
        (
            "attributes",
            "  attributes: [{ scim: displayName, legacy: $.name }]\n",
        ),
        (
            "filters",
            "  filters: [{ scim: displayName, param: name }]\n",
        ),
        ("scan_limit", "  scan_limit: 10\n"),
        ("errors", "  errors: { message: $.error }\n"),
        (
            "membership",
            "  membership: { user_attribute: { legacy: $.teams } }\n",
        ),
        ("protected", "  protected: [{ name: Admins }]\n"),
        ("hidden", "  hidden: [{ name: Secret }]\n"),
        ("create", "  create: false\n"),
        ("on_delete", "  on_delete: delete\n"),
        (
            "deleted",
            "  deleted: { legacy: $.status, value: archived }\n",
        ),
    ];
    for (key, line) in keys {
        let p = expect_line(
            &held(line),
            first_line(),
            &format!("`{key}` describes legacy groups: "),
            &format!("remove {key}: (with held_by: gateway only roles, flags and"),
        );
        assert_eq!(p.at, format!("groups.{key}"));
        assert!(p.message.ends_with("(held_by: gateway)"), "{}", p.message);
    }
    // Every one of them is reported, in file order.
    let all: String = keys.iter().map(|(_, l)| *l).collect();
    let err = load_str(SOURCE, &held(&all)).unwrap_err();
    let at: Vec<&str> = err.problems().iter().map(|p| p.at.as_str()).collect();
    let expected: Vec<String> = keys.iter().map(|(k, _)| format!("groups.{k}")).collect();
    assert_eq!(at, expected);
    // The exact wording of one.
    let p = expect_line(
        &held("  membership: { user_attribute: { legacy: $.teams } }\n"),
        first_line(),
        "`membership` describes",
        "remove membership:",
    );
    assert_eq!(
        p.message,
        "`membership` describes legacy groups: the gateway keeps a held group's members \
         (held_by: gateway)"
    );
    assert_eq!(
        p.fix.as_deref(),
        Some(
            "remove membership: (with held_by: gateway only roles, flags and \
             remove_deleted_users are written), or remove held_by: gateway to map the legacy \
             API's groups"
        )
    );
}

#[test]
fn held_by_is_gateway_and_remove_deleted_users_needs_it() {
    let y = format!("{BASE}groups:\n  held_by: gatway\n");
    expect(
        &y,
        "held_by: gatway",
        "\"gatway\" is not gateway",
        "did you mean gateway",
    );
    // On legacy groups, whose members the legacy API keeps.
    let y = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}  remove_deleted_users: true\n");
    expect(
        &y,
        "remove_deleted_users: true",
        "remove_deleted_users applies to groups held by the gateway",
        "write held_by: gateway",
    );
    // In users.
    for key in ["held_by: gateway", "remove_deleted_users: true"] {
        let y = with(
            "  on_delete: deactivate\n",
            &format!("  on_delete: deactivate\n  {key}\n"),
        );
        let name = key.split(':').next().unwrap_or_default();
        expect(
            &y,
            key,
            &format!("{name} belongs to the groups: section"),
            "move it under groups:",
        );
    }
}

/// What `rules` derive, over a few users and groups, as comparable values.
fn derived(rules: &GroupRules) -> Vec<serde_json::Value> {
    let lead = UserGroup {
        id: "9",
        display: Some("eng leads"),
    };
    let managers = UserGroup {
        id: "4",
        display: Some("Managers"),
    };
    let pro = UserGroup {
        id: "3",
        display: Some("Pro"),
    };
    let cases: [(serde_json::Value, Vec<UserGroup<'_>>); 4] = [
        (json!({"role": "member"}), vec![lead, pro]),
        (json!({"role": "member", "licensed": true}), vec![managers]),
        (json!({"role": "owner"}), vec![]),
        (json!({"role": "manager"}), vec![]),
    ];
    let mut out: Vec<serde_json::Value> = cases
        .iter()
        .map(|(user, groups)| rules.applied(user.clone(), groups).unwrap())
        .collect();
    out.push(rules.with_default_role(&json!({})).unwrap());
    out
}

#[test]
fn roles_and_flags_compile_as_for_legacy_groups() {
    let legacy = load_str(SOURCE, &format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}{RULES}")).unwrap();
    let legacy = &legacy.groups.as_ref().unwrap().rules;
    let m = load_str(SOURCE, &held(RULES)).unwrap();
    let rules = &m.held_groups.as_ref().unwrap().rules;
    assert_eq!(derived(rules), derived(legacy));
    assert_eq!(
        derived(rules)[0],
        json!({"role": "manager", "archetype": "eng_lead", "licensed": true})
    );
    assert_eq!(
        derived(rules)[2]["role"],
        "owner",
        "an owner is never lowered"
    );
    // The mapping's one accessor gives them.
    assert!(m.group_rules().is_some_and(|r| !r.is_empty()));
    // Their problems are the same, in the same words.
    let y = held(&RULES.replace("role: manager }", "role: managr }"));
    expect(
        &y,
        "role: managr",
        "\"managr\" is not in roles.ranking",
        "did you mean manager",
    );
    // A field the users attributes write cannot be the role too.
    let y = held(&RULES.replace("legacy: $.role", "legacy: $.login"));
    expect(
        &y,
        "    legacy: $.login",
        "$.login is also written by the users attribute userName",
        "keep the role in a field of its own",
    );
}

#[test]
fn a_full_update_of_a_user_sends_the_fields_held_groups_write() {
    let users = with(
        "    - { scim: name.givenName, legacy: $.first_name }\n",
        "    - { scim: name.givenName, legacy: $.first_name }\n    - { scim: title, legacy: $.role, direction: read }\n",
    );
    let read_only = |m: &Mapping| -> Vec<String> {
        m.users
            .plan
            .read_only
            .iter()
            .map(|p| p.as_str().to_string())
            .collect()
    };
    let plain = load_str(SOURCE, &users).unwrap();
    assert!(read_only(&plain).contains(&"$.role".to_string()));
    let m = load_str(SOURCE, &format!("{users}{HELD}{RULES}")).unwrap();
    assert!(!read_only(&m).contains(&"$.role".to_string()));
}

#[test]
fn roles_by_name_are_looked_up_for_held_groups() {
    let y = held(&RULES.replacen(
        "  roles:\n",
        "  roles:\n    lookup: { method: GET, path: /roles, items: $.data, id: $.id, name: $.name }\n",
        1,
    ));
    let m = load_str(SOURCE, &y).unwrap();
    let rules = m.group_rules().unwrap();
    assert_eq!(rules.role_lookup().unwrap().endpoint.name, "groups.roles");
    assert!(rules.roles_pending());
    let resolved = rules
        .with_role_ids(&[
            ("r-1".into(), "member".into()),
            ("r-2".into(), "manager".into()),
            ("r-3".into(), "owner".into()),
        ])
        .unwrap();
    let mut m = m.clone();
    if let Some(r) = m.group_rules_mut() {
        *r = resolved;
    }
    assert!(!m.group_rules().unwrap().roles_pending());
    assert_eq!(
        m.held_groups
            .as_ref()
            .unwrap()
            .rules
            .with_default_role(&json!({}))
            .unwrap()["role"],
        "r-1"
    );
}
