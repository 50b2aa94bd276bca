//! Roles and flags derived from group membership (docs/mapping.md, "Roles and flags"): the
//! compiled rules of `groups.roles` and `groups.flags`, and the pure computation of the legacy
//! fields a user's groups call for. Not here: finding a user's groups or writing the result
//! (the server does both), nor parsing the YAML (`load::roles`).

use serde_json::Value;

use super::error::TranslateError;
use super::legacy_path::LegacyPath;
use super::plan::Endpoint;
use super::values::scalar_string;

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
    /// `lookup:`: the roles above are names, to be resolved to the legacy ids this call lists
    /// ([`GroupRules::with_role_ids`]) before the rules are used; `None` once resolved, or
    /// when the roles are written as the legacy API stores them.
    pub(crate) lookup: Option<RoleLookup>,
    /// Where each role name is written in the mapping (`file:line:column`), for the look-up's
    /// errors.
    pub(crate) named_at: Vec<(String, String)>,
}

/// `roles.lookup`: the call listing the legacy roles, where the roles are in its answer, and
/// where each role's id and name are.
#[derive(Debug, Clone)]
pub struct RoleLookup {
    pub endpoint: Endpoint,
    pub(crate) items: LegacyPath,
    pub(crate) id: LegacyPath,
    pub(crate) name: LegacyPath,
}

impl RoleLookup {
    /// The roles (id, name) of a look-up answer, in order. An answer without the items, or an
    /// item without an id or a name, is refused, saying where.
    pub fn roles(&self, body: &Value) -> Result<Vec<(String, String)>, String> {
        let Some(Value::Array(items)) = self.items.read(body) else {
            return Err(format!(
                "the answer has no list of roles at {}",
                self.items.as_str()
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let text = |p: &LegacyPath| {
                p.read(item)
                    .and_then(scalar_string)
                    .filter(|s| !s.trim().is_empty())
            };
            match (text(&self.id), text(&self.name)) {
                (Some(id), Some(name)) => out.push((id, name.trim().to_string())),
                _ => {
                    return Err(format!(
                        "role {i} of the answer has no id at {} or no name at {}",
                        self.id.as_str(),
                        self.name.as_str()
                    ))
                }
            }
        }
        Ok(out)
    }
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

/// Writes `value` at `path`; `true` when `doc` changed.
fn write(doc: &mut Value, path: &LegacyPath, value: Value) -> Result<bool, TranslateError> {
    path.write(doc, value).map_err(|e| {
        TranslateError::LegacyResponse(format!(
            "the legacy user has no place for {}: {e}",
            path.as_str()
        ))
    })
}

impl GroupRules {
    /// The look-up of the legacy roles by name, when the rules name roles and the names are
    /// not resolved yet.
    pub fn role_lookup(&self) -> Option<&RoleLookup> {
        self.roles.as_ref().and_then(|r| r.lookup.as_ref())
    }

    /// These rules with every role name (default, ranking, protected, table) replaced by the
    /// id of the legacy role of that name (`roles`: id and name of each, as the look-up
    /// answered; names compare case-insensitively). A name no role has, or that two roles
    /// have, is refused, naming where it is written and the roles there are.
    pub fn with_role_ids(&self, roles: &[(String, String)]) -> Result<GroupRules, String> {
        let Some(rules) = &self.roles else {
            return Ok(self.clone());
        };
        let mut problems = Vec::new();
        let mut id_of = |name: &str| -> String {
            let matching: Vec<&(String, String)> = roles
                .iter()
                .filter(|(_, n)| n.trim().eq_ignore_ascii_case(name.trim()))
                .collect();
            match matching.as_slice() {
                [(id, _)] => id.clone(),
                found => {
                    let at: Vec<&str> = rules
                        .named_at
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, at)| at.as_str())
                        .collect();
                    let why = if found.is_empty() {
                        "no legacy role has this name"
                    } else {
                        "several legacy roles have this name"
                    };
                    let problem = format!("{}: role {name:?}: {why}", at.join(", "));
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                    name.to_string()
                }
            }
        };
        let resolved = RoleRules {
            legacy: rules.legacy.clone(),
            default: id_of(&rules.default),
            ranking: rules.ranking.iter().map(|r| id_of(r)).collect(),
            protected: rules.protected.iter().map(|r| id_of(r)).collect(),
            from_groups: rules
                .from_groups
                .iter()
                .map(|row| RoleRule {
                    group: row.group.clone(),
                    role: id_of(&row.role),
                    set: row.set.clone(),
                })
                .collect(),
            lookup: None,
            named_at: Vec::new(),
        };
        if !problems.is_empty() {
            let names: Vec<&str> = roles.iter().map(|(_, n)| n.as_str()).collect();
            return Err(format!(
                "{}\n  fix: the legacy API's roles are: {}; write one of these names",
                problems.join("\n"),
                names.join(", ")
            ));
        }
        Ok(GroupRules {
            roles: Some(resolved),
            flags: self.flags.clone(),
        })
    }

    /// Whether the roles are still named, not yet resolved to the legacy ids (the look-up has
    /// not succeeded yet): the rules then never write a role.
    pub fn roles_pending(&self) -> bool {
        self.role_lookup().is_some()
    }

    /// Whether a `from_groups` row names the group `id` (by id, or by its display name): a
    /// membership change in it derives a role.
    pub(crate) fn derives_role_from(&self, id: &str, display: Option<&str>) -> bool {
        let g = UserGroup { id, display };
        self.roles
            .iter()
            .flat_map(|r| &r.from_groups)
            .any(|row| g.is(&row.group))
    }

    /// Whether a legacy user about to be created gets the default role (it carries none).
    pub fn needs_default_role(&self, legacy_user: &Value) -> bool {
        self.roles
            .as_ref()
            .is_some_and(|r| r.legacy.read(legacy_user).is_none_or(Value::is_null))
    }

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

    /// Recomputes the legacy user's role and flags from `groups`, in place; `true` when that
    /// changed the user (else the caller has nothing of the rules' to write).
    pub fn apply(
        &self,
        user: &mut Value,
        groups: &[UserGroup<'_>],
    ) -> Result<bool, TranslateError> {
        let mut changed = false;
        // Names not resolved yet are never written as ids: the role stays as it is.
        if let Some(roles) = self.roles.as_ref().filter(|r| r.lookup.is_none()) {
            let current = roles
                .legacy
                .read(user)
                .and_then(Value::as_str)
                .map(str::to_owned);
            let current = current.as_deref();
            if let Some((role, rows)) = roles.derive(current, groups) {
                if current != Some(role) {
                    changed |= write(user, &roles.legacy, Value::String(role.to_string()))?;
                }
                for row in rows {
                    for (path, value) in &row.set {
                        if path.read(user) != Some(value) {
                            changed |= write(user, path, value.clone())?;
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
                if flag.legacy.read(user) != Some(v) {
                    changed |= write(user, &flag.legacy, v.clone())?;
                }
            }
        }
        Ok(changed)
    }

    /// [`GroupRules::apply`] to a user given up, which comes back with the rules applied.
    #[cfg(test)]
    pub(crate) fn applied(
        &self,
        mut user: Value,
        groups: &[UserGroup<'_>],
    ) -> Result<Value, TranslateError> {
        self.apply(&mut user, groups)?;
        Ok(user)
    }

    /// A legacy user about to be created: the default role when it carries none (none while
    /// the role names are not resolved: the caller refuses such a create first).
    pub fn with_default_role(&self, legacy_user: &Value) -> Result<Value, TranslateError> {
        let mut user = legacy_user.clone();
        if let Some(roles) = self.roles.as_ref().filter(|r| r.lookup.is_none()) {
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
                lookup: None,
                named_at: Vec::new(),
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
        r.applied(user.clone(), groups).unwrap()["role"].clone()
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
        assert_eq!(t.applied(u.clone(), &[named("Sales")]).unwrap(), u);
        assert_eq!(t.applied(u.clone(), &[]).unwrap(), u);
        assert!(
            !t.apply(&mut u.clone(), &[named("Sales")]).unwrap(),
            "nothing changed"
        );
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
            .applied(json!({"role": "member"}), &[named("eng leads")])
            .unwrap();
        assert_eq!(out["role"], "manager");
        assert_eq!(out["archetype"], "eng_lead");
        // The same role from another group carries nothing.
        let out = t
            .applied(json!({"role": "member"}), &[named("Managers")])
            .unwrap();
        assert!(out.get("archetype").is_none());
        // A protected role keeps its fields too.
        let out = t
            .applied(json!({"role": "owner"}), &[named("Eng Leads")])
            .unwrap();
        assert!(out.get("archetype").is_none());
    }

    #[test]
    fn a_flag_follows_membership_on_and_off() {
        let t = table();
        let on = t
            .applied(json!({"licensed": false}), &[named("pro")])
            .unwrap();
        assert_eq!(on["licensed"], true);
        let off = t.applied(on.clone(), &[named("Managers")]).unwrap();
        assert_eq!(off["licensed"], false);
    }

    #[test]
    fn a_flag_without_otherwise_is_left_alone_outside_the_group() {
        let mut t = table();
        t.flags[0].otherwise = None;
        let u = json!({"licensed": true});
        assert_eq!(t.applied(u.clone(), &[]).unwrap(), u);
    }

    #[test]
    fn nothing_changes_when_the_user_already_matches() {
        let t = table();
        let u = json!({"role": "manager", "licensed": true, "name": "Ann"});
        assert_eq!(
            t.applied(u.clone(), &[named("Managers"), named("Pro")])
                .unwrap(),
            u
        );
    }

    #[test]
    fn a_changed_table_applies_at_the_next_computation() {
        let before = table();
        let u = json!({"role": "member", "licensed": false});
        let groups = [named("Advisers")];
        let synced = before.applied(u.clone(), &groups).unwrap();
        assert_eq!(synced["role"], "adviser");
        // The table now makes Advisers managers: the next sync of the same user applies it.
        let after = rules(vec![rule("Advisers", "manager")]);
        assert_eq!(
            after.applied(synced.clone(), &groups).unwrap()["role"],
            "manager"
        );
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

    fn with_spots(rules: GroupRules) -> GroupRules {
        let mut rules = rules;
        if let Some(r) = rules.roles.as_mut() {
            r.named_at = vec![
                ("member".into(), "m.yaml:3:14".into()),
                ("owner".into(), "m.yaml:4:15".into()),
                ("owner".into(), "m.yaml:5:16".into()),
                ("manager".into(), "m.yaml:7:40".into()),
            ];
        }
        rules
    }

    fn legacy_roles() -> Vec<(String, String)> {
        [
            ("r-1", "Owner"),
            ("r-2", "Manager"),
            ("r-3", "Adviser"),
            ("r-4", "Assistant"),
            ("r-5", "Member"),
        ]
        .map(|(i, n)| (i.to_string(), n.to_string()))
        .to_vec()
    }

    #[test]
    fn role_names_are_resolved_to_the_legacy_ids() {
        let rules = with_spots(rules(vec![rule("Managers", "manager")]));
        let resolved = rules.with_role_ids(&legacy_roles()).unwrap();
        let r = resolved.roles.as_ref().unwrap();
        assert_eq!(r.default, "r-5");
        assert_eq!(r.ranking, ["r-1", "r-2", "r-3", "r-4", "r-5"]);
        assert_eq!(r.protected, ["r-1"]);
        assert_eq!(r.from_groups[0].role, "r-2");
        assert!(resolved.role_lookup().is_none(), "resolved once");
        assert_eq!(resolved.flags.len(), 1);
        // The rules then write ids, and compare the ids they read.
        let groups = [UserGroup {
            id: "9",
            display: Some("Managers"),
        }];
        let user = resolved.applied(json!({"role": "r-5"}), &groups).unwrap();
        assert_eq!(user["role"], "r-2");
        let owner = resolved.applied(json!({"role": "r-1"}), &groups).unwrap();
        assert_eq!(owner["role"], "r-1", "a protected role is not lowered");
        assert_eq!(
            resolved.with_default_role(&json!({})).unwrap()["role"],
            "r-5"
        );
    }

    #[test]
    fn an_unknown_or_ambiguous_role_name_is_refused_where_it_is_written() {
        let rules = with_spots(rules(vec![rule("Managers", "manager")]));
        let mut roles = legacy_roles();
        roles.retain(|(_, n)| n != "Owner");
        roles.push(("r-6".into(), "manager".into()));
        let e = rules.with_role_ids(&roles).unwrap_err();
        assert!(
            e.contains("m.yaml:4:15, m.yaml:5:16: role \"owner\": no legacy role has this name"),
            "{e}"
        );
        assert!(
            e.contains("m.yaml:7:40: role \"manager\": several legacy roles have this name"),
            "{e}"
        );
        assert!(
            e.contains(
                "fix: the legacy API's roles are: Manager, Adviser, Assistant, Member, manager"
            ),
            "{e}"
        );
        // Without roles there is nothing to resolve.
        let none = GroupRules::default();
        assert!(none.with_role_ids(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_roles_of_a_look_up_answer_are_read_with_their_ids_and_names() {
        let lookup = RoleLookup {
            endpoint: crate::mapping::fixture::fixture()
                .users
                .endpoints
                .get
                .clone(),
            items: p("$.data"),
            id: p("$.id"),
            name: p("$.name"),
        };
        let body = json!({"data": [{"id": "u-1", "name": " Administrator "}, {"id": 7, "name": "Viewer"}]});
        assert_eq!(
            lookup.roles(&body).unwrap(),
            [
                ("u-1".to_string(), "Administrator".to_string()),
                ("7".to_string(), "Viewer".to_string())
            ]
        );
        assert_eq!(
            lookup.roles(&json!({"roles": []})).unwrap_err(),
            "the answer has no list of roles at $.data"
        );
        assert_eq!(
            lookup.roles(&json!({"data": [{"id": "u-1"}]})).unwrap_err(),
            "role 0 of the answer has no id at $.id or no name at $.name"
        );
    }
}
