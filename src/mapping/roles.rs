//! Roles and flags derived from group membership (docs/mapping.md, "Roles and flags"): the
//! compiled rules of `groups.roles` and `groups.flags`, and the pure computation of the legacy
//! fields a user's groups call for. Not here: finding a user's groups or writing the result
//! (the server does both), nor parsing the YAML (`load::roles`).

use serde_json::Value;

use super::error::TranslateError;
use super::legacy_path::LegacyPath;

/// `groups.roles`: where the legacy role is, the default of new users, the privilege order,
/// the roles never lowered, and the group → role table.
#[derive(Debug, Clone)]
pub(crate) struct RoleRules {
    pub(crate) legacy: LegacyPath,
    pub(crate) default: String,
    /// Highest privilege first.
    pub(crate) ranking: Vec<String>,
    pub(crate) protected: Vec<String>,
    pub(crate) from_groups: Vec<RoleRule>,
}

/// One row of `from_groups`: a group (display name, case-insensitive, or id), its role, and
/// the extra legacy fields the role carries.
#[derive(Debug, Clone)]
pub(crate) struct RoleRule {
    pub(crate) group: String,
    pub(crate) role: String,
    pub(crate) set: Vec<(LegacyPath, Value)>,
}

/// One entry of `groups.flags`: `member` while in the group, `otherwise` when not (left alone
/// when `otherwise` is absent).
#[derive(Debug, Clone)]
pub(crate) struct FlagRule {
    pub(crate) legacy: LegacyPath,
    pub(crate) group: String,
    pub(crate) member: Value,
    pub(crate) otherwise: Option<Value>,
}

/// Everything a mapping derives from groups; empty when it has neither roles nor flags.
#[derive(Debug, Clone, Default)]
pub struct GroupRules {
    pub(crate) roles: Option<RoleRules>,
    pub(crate) flags: Vec<FlagRule>,
}

/// One of the user's groups, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserGroup<'a> {
    pub id: &'a str,
    pub display: Option<&'a str>,
}

impl UserGroup<'_> {
    fn is(&self, group: &str) -> bool {
        self.id == group
            || self
                .display
                .is_some_and(|d| d.trim().eq_ignore_ascii_case(group.trim()))
    }
}

fn in_any(groups: &[UserGroup<'_>], group: &str) -> bool {
    groups.iter().any(|g| g.is(group))
}

impl RoleRules {
    /// The rank of a role (0 = highest privilege); unknown roles rank below every known one.
    fn rank(&self, role: &str) -> usize {
        self.ranking
            .iter()
            .position(|r| r.eq_ignore_ascii_case(role))
            .unwrap_or(self.ranking.len())
    }

    fn is_protected(&self, role: &str) -> bool {
        self.protected.iter().any(|p| p.eq_ignore_ascii_case(role))
    }

    /// The role the groups call for, and the rows granting it; `None` when the role stays as
    /// it is: no matching group, or a protected current role that the groups would not raise.
    pub(crate) fn derive<'r>(
        &'r self,
        current: Option<&str>,
        groups: &[UserGroup<'_>],
    ) -> Option<(&'r str, Vec<&'r RoleRule>)> {
        let best = self
            .from_groups
            .iter()
            .filter(|rule| in_any(groups, &rule.group))
            .min_by_key(|rule| self.rank(&rule.role))?;
        if let Some(cur) = current {
            if self.is_protected(cur) && self.rank(&best.role) >= self.rank(cur) {
                return None;
            }
        }
        let rows = self
            .from_groups
            .iter()
            .filter(|rule| rule.role == best.role && in_any(groups, &rule.group))
            .collect();
        Some((&best.role, rows))
    }
}

fn write(doc: &mut Value, path: &LegacyPath, value: Value) -> Result<(), TranslateError> {
    path.write(doc, value).map_err(|e| {
        TranslateError::LegacyResponse(format!(
            "the legacy user has no place for {}: {e}",
            path.as_str()
        ))
    })
}

impl GroupRules {
    pub(crate) fn is_empty(&self) -> bool {
        self.roles.is_none() && self.flags.is_empty()
    }

    /// Whether a rule names the group `id` (by id, or by its display name): a membership
    /// change in any other group cannot change a role or a flag.
    pub(crate) fn names_group(&self, id: &str, display: Option<&str>) -> bool {
        let g = UserGroup { id, display };
        let role_groups = self
            .roles
            .iter()
            .flat_map(|r| &r.from_groups)
            .map(|r| &r.group);
        let flag_groups = self.flags.iter().map(|f| &f.group);
        role_groups.chain(flag_groups).any(|name| g.is(name))
    }

    /// The legacy user with its role and flags recomputed from `groups`. Equal to `legacy_user`
    /// when nothing changes (the caller then writes nothing).
    pub fn apply(
        &self,
        legacy_user: &Value,
        groups: &[UserGroup<'_>],
    ) -> Result<Value, TranslateError> {
        let mut user = legacy_user.clone();
        if let Some(roles) = &self.roles {
            let current = roles.legacy.read(legacy_user).and_then(Value::as_str);
            if let Some((role, rows)) = roles.derive(current, groups) {
                if current != Some(role) {
                    write(&mut user, &roles.legacy, Value::String(role.to_string()))?;
                }
                for row in rows {
                    for (path, value) in &row.set {
                        if path.read(&user) != Some(value) {
                            write(&mut user, path, value.clone())?;
                        }
                    }
                }
            }
        }
        for flag in &self.flags {
            let wanted = if in_any(groups, &flag.group) {
                Some(&flag.member)
            } else {
                flag.otherwise.as_ref()
            };
            if let Some(v) = wanted {
                if flag.legacy.read(&user) != Some(v) {
                    write(&mut user, &flag.legacy, v.clone())?;
                }
            }
        }
        Ok(user)
    }

    /// A legacy user about to be created: the default role when it carries none.
    pub fn with_default_role(&self, legacy_user: &Value) -> Result<Value, TranslateError> {
        let mut user = legacy_user.clone();
        if let Some(roles) = &self.roles {
            if roles.legacy.read(&user).is_none_or(Value::is_null) {
                write(
                    &mut user,
                    &roles.legacy,
                    Value::String(roles.default.clone()),
                )?;
            }
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> LegacyPath {
        LegacyPath::compile(s).unwrap()
    }

    fn rule(group: &str, role: &str) -> RoleRule {
        RoleRule {
            group: group.into(),
            role: role.into(),
            set: Vec::new(),
        }
    }

    fn rules(from_groups: Vec<RoleRule>) -> GroupRules {
        GroupRules {
            roles: Some(RoleRules {
                legacy: p("$.role"),
                default: "member".into(),
                ranking: ["owner", "manager", "adviser", "assistant", "member"]
                    .map(String::from)
                    .to_vec(),
                protected: vec!["owner".into()],
                from_groups,
            }),
            flags: vec![FlagRule {
                legacy: p("$.licensed"),
                group: "Pro".into(),
                member: json!(true),
                otherwise: Some(json!(false)),
            }],
        }
    }

    fn table() -> GroupRules {
        let mut eng = rule("Eng Leads", "manager");
        eng.set = vec![(p("$.archetype"), json!("eng_lead"))];
        rules(vec![
            rule("Managers", "manager"),
            rule("Advisers", "adviser"),
            rule("g-assist", "assistant"),
            eng,
        ])
    }

    fn named(d: &str) -> UserGroup<'_> {
        UserGroup {
            id: "x",
            display: Some(d),
        }
    }

    fn role_of(r: &GroupRules, user: Value, groups: &[UserGroup<'_>]) -> Value {
        r.apply(&user, groups).unwrap()["role"].clone()
    }

    #[test]
    fn the_highest_ranked_matching_role_wins_whatever_the_order_of_groups() {
        let t = table();
        let u = json!({"role": "member"});
        assert_eq!(
            role_of(&t, u.clone(), &[named("Advisers"), named("Managers")]),
            "manager"
        );
        assert_eq!(
            role_of(&t, u.clone(), &[named("Managers"), named("Advisers")]),
            "manager"
        );
        assert_eq!(role_of(&t, u, &[named("Advisers")]), "adviser");
    }

    #[test]
    fn groups_match_by_display_name_case_insensitively_or_by_id() {
        let t = table();
        let u = json!({"role": "member"});
        assert_eq!(role_of(&t, u.clone(), &[named("  managers ")]), "manager");
        let by_id = UserGroup {
            id: "g-assist",
            display: None,
        };
        assert_eq!(role_of(&t, u.clone(), &[by_id]), "assistant");
        // An id is matched exactly.
        let other = UserGroup {
            id: "G-ASSIST",
            display: None,
        };
        assert_eq!(role_of(&t, u, &[other]), "member");
    }

    #[test]
    fn a_user_without_a_matching_group_keeps_its_role() {
        let t = table();
        let u = json!({"role": "manager", "licensed": false});
        assert_eq!(t.apply(&u, &[named("Sales")]).unwrap(), u);
        assert_eq!(t.apply(&u, &[]).unwrap(), u);
    }

    #[test]
    fn a_role_can_be_lowered_unless_protected() {
        let t = table();
        assert_eq!(
            role_of(&t, json!({"role": "manager"}), &[named("Advisers")]),
            "adviser"
        );
        assert_eq!(
            role_of(&t, json!({"role": "owner"}), &[named("Managers")]),
            "owner"
        );
        assert_eq!(
            role_of(&t, json!({"role": "OWNER"}), &[named("g-assist")]),
            "OWNER"
        );
    }

    #[test]
    fn a_protected_role_is_raised_only_to_a_higher_one() {
        let mut t = table();
        if let Some(r) = t.roles.as_mut() {
            r.protected = vec!["adviser".into()];
        }
        assert_eq!(
            role_of(&t, json!({"role": "adviser"}), &[named("Managers")]),
            "manager"
        );
        assert_eq!(
            role_of(&t, json!({"role": "adviser"}), &[named("g-assist")]),
            "adviser"
        );
    }

    #[test]
    fn an_unknown_or_missing_current_role_takes_the_groups_role() {
        let t = table();
        assert_eq!(
            role_of(&t, json!({"role": "guest"}), &[named("g-assist")]),
            "assistant"
        );
        assert_eq!(role_of(&t, json!({}), &[named("Managers")]), "manager");
    }

    #[test]
    fn a_role_writes_the_fields_it_carries() {
        let t = table();
        let out = t
            .apply(&json!({"role": "member"}), &[named("eng leads")])
            .unwrap();
        assert_eq!(out["role"], "manager");
        assert_eq!(out["archetype"], "eng_lead");
        // The same role from another group carries nothing.
        let out = t
            .apply(&json!({"role": "member"}), &[named("Managers")])
            .unwrap();
        assert!(out.get("archetype").is_none());
        // A protected role keeps its fields too.
        let out = t
            .apply(&json!({"role": "owner"}), &[named("Eng Leads")])
            .unwrap();
        assert!(out.get("archetype").is_none());
    }

    #[test]
    fn a_flag_follows_membership_on_and_off() {
        let t = table();
        let on = t
            .apply(&json!({"licensed": false}), &[named("pro")])
            .unwrap();
        assert_eq!(on["licensed"], true);
        let off = t.apply(&on, &[named("Managers")]).unwrap();
        assert_eq!(off["licensed"], false);
    }

    #[test]
    fn a_flag_without_otherwise_is_left_alone_outside_the_group() {
        let mut t = table();
        t.flags[0].otherwise = None;
        let u = json!({"licensed": true});
        assert_eq!(t.apply(&u, &[]).unwrap(), u);
    }

    #[test]
    fn nothing_changes_when_the_user_already_matches() {
        let t = table();
        let u = json!({"role": "manager", "licensed": true, "name": "Ann"});
        assert_eq!(t.apply(&u, &[named("Managers"), named("Pro")]).unwrap(), u);
    }

    #[test]
    fn a_changed_table_applies_at_the_next_computation() {
        let before = table();
        let u = json!({"role": "member", "licensed": false});
        let groups = [named("Advisers")];
        let synced = before.apply(&u, &groups).unwrap();
        assert_eq!(synced["role"], "adviser");
        // The table now makes Advisers managers: the next sync of the same user applies it.
        let after = rules(vec![rule("Advisers", "manager")]);
        assert_eq!(after.apply(&synced, &groups).unwrap()["role"], "manager");
    }

    #[test]
    fn only_groups_a_rule_names_matter() {
        let t = table();
        assert!(t.names_group("x", Some("managers")));
        assert!(t.names_group("g-assist", None));
        assert!(t.names_group("x", Some("PRO")));
        assert!(!t.names_group("x", Some("Everyone")));
        assert!(!t.names_group("x", None));
        assert!(!GroupRules::default().names_group("x", Some("Managers")));
    }

    #[test]
    fn the_default_role_is_written_only_when_none_is_given() {
        let t = table();
        assert_eq!(t.with_default_role(&json!({})).unwrap()["role"], "member");
        assert_eq!(
            t.with_default_role(&json!({"role": null})).unwrap()["role"],
            "member"
        );
        assert_eq!(
            t.with_default_role(&json!({"role": "adviser"})).unwrap()["role"],
            "adviser"
        );
        let none = GroupRules::default();
        assert!(none.is_empty());
        assert_eq!(none.with_default_role(&json!({})).unwrap(), json!({}));
    }
}
