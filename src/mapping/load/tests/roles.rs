//! Validation tests of `groups.roles` and `groups.flags`.

use serde_json::json;

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS};
use crate::mapping::roles::UserGroup;

pub(super) const RULES: &str = r#"  roles:
    legacy: $.role
    default: member
    ranking: [owner, manager, member]
    protected: [owner]
    from_groups:
      - { group: "Managers", role: manager }
      - { group: "Eng Leads", role: manager, set: { $.archetype: eng_lead } }
  flags:
    - { legacy: $.licensed, group: "Pro", member: true, otherwise: false }
"#;

fn yaml(rules: &str) -> String {
    format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}{rules}")
}

#[test]
fn roles_and_flags_load_and_apply() {
    let m = load_str(SOURCE, &yaml(RULES)).unwrap();
    let rules = &m.groups.as_ref().unwrap().rules;
    assert!(!rules.is_empty());
    let lead = UserGroup {
        id: "9",
        display: Some("eng leads"),
    };
    let pro = UserGroup {
        id: "3",
        display: Some("Pro"),
    };
    let out = rules
        .applied(json!({"role": "member"}), &[lead, pro])
        .unwrap();
    assert_eq!(
        out,
        json!({"role": "manager", "archetype": "eng_lead", "licensed": true})
    );
    assert_eq!(
        rules.with_default_role(&json!({})).unwrap()["role"],
        "member"
    );
}

#[test]
fn a_mapping_without_roles_derives_nothing() {
    let m = load_str(SOURCE, &yaml("")).unwrap();
    assert!(m.groups.unwrap().rules.is_empty());
}

#[test]
fn a_role_outside_the_ranking_is_refused_with_the_closest() {
    let y = yaml(&RULES.replace("role: manager }", "role: managr }"));
    expect(
        &y,
        "role: managr",
        "\"managr\" is not in roles.ranking",
        "did you mean manager",
    );
    let y = yaml(&RULES.replace("default: member", "default: guest"));
    expect(
        &y,
        "default: guest",
        "\"guest\" is not in roles.ranking",
        "add it to ranking",
    );
    let y = yaml(&RULES.replace("protected: [owner]", "protected: [boss]"));
    expect(
        &y,
        "protected: [boss]",
        "\"boss\" is not in roles.ranking",
        "ranking",
    );
}

#[test]
fn a_role_ranked_twice_is_refused() {
    let y = yaml(&RULES.replace("[owner, manager, member]", "[owner, manager, Owner]"));
    expect(&y, "ranking:", "ranked twice", "list each role once");
}

#[test]
fn unwritable_paths_are_refused() {
    let y = yaml(&RULES.replace("legacy: $.role", "legacy: $.roles[*]"));
    expect(
        &y,
        "legacy: $.roles[*]",
        "cannot be written",
        "$.address.street",
    );
    let y = yaml(&RULES.replace("$.archetype: eng_lead", "$..archetype: eng_lead"));
    expect(&y, "Eng Leads", "cannot be written", "$.address.street");
    let y = yaml(&RULES.replace("legacy: $.licensed", "legacy: licensed"));
    expect(
        &y,
        "legacy: licensed",
        "not a valid JSONPath",
        "write $.licensed",
    );
}

#[test]
fn unknown_and_missing_keys_are_refused() {
    let y = yaml(&RULES.replace("protected:", "protect:"));
    let err = load_str(SOURCE, &y).unwrap_err();
    assert_eq!(err.problems()[0].line, line_of(&y, "protect:"), "{err}");
    let y = yaml(&RULES.replace("group: \"Pro\", ", ""));
    expect(
        &y,
        "legacy: $.licensed",
        "`group` is missing",
        "group: \"Pro\"",
    );
}

#[test]
fn roles_under_users_are_refused() {
    let y = BASE.replace(
        "  on_delete: deactivate\n",
        "  on_delete: deactivate\n  roles: { legacy: $.role }\n",
    );
    expect(
        &y,
        "roles: {",
        "belongs to the groups: section",
        "move it under groups:",
    );
}

#[test]
fn roles_need_a_way_to_read_a_users_groups() {
    let endpoints = GROUPS_ENDPOINTS
        .lines()
        .filter(|l| !l.contains("user_groups"))
        .collect::<Vec<_>>()
        .join("\n");
    let y = format!("{BASE}{GROUPS}{endpoints}\n{RULES}");
    expect(
        &y,
        "    legacy: $.role",
        "cannot read them",
        "membership.endpoints.user_groups",
    );
}

#[test]
fn roles_by_name_need_a_get_look_up_without_a_tenant() {
    let with = |lookup: &str| {
        yaml(RULES).replacen(
            "  roles:\n",
            &format!("  roles:\n    lookup: {lookup}\n"),
            1,
        )
    };
    let ok = with("{ method: GET, path: /roles, items: $.data, id: $.id, name: $.name }");
    let m = load_str(SOURCE, &ok).unwrap();
    let rules = &m.groups.unwrap().rules;
    let lookup = rules.role_lookup().unwrap();
    assert_eq!(lookup.endpoint.name, "groups.roles");
    let named = &rules.roles.as_ref().unwrap().named_at;
    assert!(
        named
            .iter()
            .any(|(n, at)| n == "member" && at.starts_with("mappings/test.yaml:")),
        "{named:?}"
    );
    // Until resolved, the names are never written as ids: no default role, no derived role
    // (flags, which need no id, still apply).
    assert!(rules.roles_pending());
    let new_user = json!({"login": "ada"});
    assert!(rules.needs_default_role(&new_user));
    assert_eq!(rules.with_default_role(&new_user).unwrap(), new_user);
    let manager = UserGroup {
        id: "9",
        display: Some("Managers"),
    };
    let pro = UserGroup {
        id: "7",
        display: Some("Pro"),
    };
    assert!(rules.derives_role_from("9", Some("managers")));
    assert!(!rules.derives_role_from("7", Some("Pro")));
    assert_eq!(
        rules
            .applied(json!({"role": "r-1"}), &[manager, pro])
            .unwrap(),
        json!({"role": "r-1", "licensed": true})
    );
    let resolved = rules
        .with_role_ids(&[
            ("r-1".into(), "member".into()),
            ("r-2".into(), "Manager".into()),
            ("r-3".into(), "owner".into()),
        ])
        .unwrap();
    assert!(!resolved.roles_pending());
    assert_eq!(
        resolved.with_default_role(&new_user).unwrap()["role"],
        "r-1"
    );
    assert_eq!(
        resolved
            .applied(json!({"role": "r-1"}), &[manager])
            .unwrap()["role"],
        "r-2"
    );
    expect(
        &with("{ method: POST, path: /roles, items: $.data, id: $.id, name: $.name }"),
        "lookup:",
        "the look-up reads the roles: it must be a GET",
        "method: GET",
    );
    expect(
        &with(
            "{ method: GET, path: \"/t/{tenant}/roles\", items: $.data, id: $.id, name: $.name }",
        ),
        "lookup:",
        "the roles are looked up once for every tenant",
        "remove {tenant}",
    );
    expect(
        &with("{ method: GET, path: /roles, items: $.data, id: $.id }"),
        "lookup:",
        "name",
        "name: $.name",
    );
}
