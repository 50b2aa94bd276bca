//! Group membership over the compiled plan ([`super::Membership`]): the body of an add-member
//! call, the member ids of a member-list page, a user's groups from the user-groups endpoint,
//! and, when membership is a field of the legacy user, reading and writing that field and the
//! user's version. Pure functions of their inputs. Not here: which calls to make, in which
//! order, or how to serialise concurrent changes (the server decides), nor the group's own
//! attributes (`translate`).

use serde_json::{Map, Value};

use super::error::TranslateError;
use super::legacy_path::LegacyPath;
use super::plan::{
    GroupAttribute, GroupSelector, MemberCall, MemberList, Membership, UserAttribute, UserGroups,
};
use super::roles::UserGroup;
use super::values::{self, scalar_string, to_legacy_type, LegacyType};

impl MemberCall {
    /// The body of the call that adds `member` (a legacy user id, as SCIM shows it): a new
    /// object with the id at the body's `member` path, converted to its `legacy_type`
    /// (`"17"` → `17`). `None` when the call has no body (the member is in the path). A member
    /// id that does not convert (`"p_1"` for an integer) is a 400.
    pub fn add_request_body(&self, member: &str) -> Result<Option<Value>, TranslateError> {
        let Some(body) = &self.body else {
            return Ok(None);
        };
        let value = convert("members.value", &body.member, member, body.legacy_type)?;
        let mut out = Value::Object(Map::new());
        write(&body.member, &mut out, value)?;
        Ok(Some(out))
    }
}

impl MemberList {
    /// The member's legacy user id in one item of a member-list page (`{"user_id": 17}` →
    /// `"17"`); `None` when the item has none.
    pub fn member_of_item(&self, item: &Value) -> Option<String> {
        id_at(&self.member, item)
    }

    /// The member ids of a member-list page, in order; items without an id are skipped. A
    /// response without the items is a 502 (see [`super::ListEndpoint::items`]).
    pub fn members(&self, body: &Value) -> Result<Vec<String>, TranslateError> {
        Ok(self
            .pages
            .items(body)?
            .iter()
            .filter_map(|item| self.member_of_item(item))
            .collect())
    }
}

impl UserGroups {
    /// The legacy ids of the groups in a user-groups response, in order, without repeats. A
    /// response without the items, or whose items are not a list, is a 502; a `null` there is
    /// no group.
    pub fn groups(&self, body: &Value) -> Result<Vec<String>, TranslateError> {
        let items = match self.items.read_all(body).first() {
            None => {
                return Err(TranslateError::LegacyResponse(format!(
                    "the user's groups response has no items at {}",
                    self.items.as_str()
                )))
            }
            Some(Value::Array(items)) => items.as_slice(),
            Some(Value::Null) => &[],
            Some(_) => {
                return Err(TranslateError::LegacyResponse(format!(
                    "the user's groups response's {} is not a list",
                    self.items.as_str()
                )))
            }
        };
        let mut out: Vec<String> = Vec::new();
        for id in items.iter().filter_map(|item| id_at(&self.group, item)) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

impl GroupAttribute {
    /// The member ids on a legacy group record, as strings, in order, without repeats. The
    /// list is written back whole, so it must have been read whole: a record without the field
    /// (a thin answer), or whose field is not a list of ids, is a 502; `null` is no member.
    pub fn members_of(&self, legacy_group: &Value) -> Result<Vec<String>, TranslateError> {
        let items = match field(&self.legacy, legacy_group) {
            None => {
                return Err(TranslateError::LegacyResponse(format!(
                    "the legacy group has no member list at {} (the gateway reads the whole \
                     list before it writes it back)",
                    self.legacy.as_str()
                )))
            }
            Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(TranslateError::LegacyResponse(format!(
                    "the legacy group's {} is not a list of member ids but {}",
                    self.legacy.as_str(),
                    values::kind(other)
                )))
            }
        };
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let Some(id) = scalar_string(item) else {
                return Err(TranslateError::LegacyResponse(format!(
                    "the legacy group's {} holds {} where a member id was expected",
                    self.legacy.as_str(),
                    values::kind(item)
                )));
            };
            if !id.is_empty() && !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// A copy of the legacy group whose list holds exactly `members` (repeats dropped), each
    /// converted to the `legacy_type`. An id that does not convert is a 400.
    pub fn with_members(
        &self,
        legacy_group: &Value,
        members: &[String],
    ) -> Result<Value, TranslateError> {
        let mut ids: Vec<Value> = Vec::with_capacity(members.len());
        let mut seen: Vec<&String> = Vec::with_capacity(members.len());
        for m in members {
            if !seen.contains(&m) {
                seen.push(m);
                ids.push(convert("members.value", &self.legacy, m, self.legacy_type)?);
            }
        }
        let mut out = legacy_group.clone();
        write(&self.legacy, &mut out, Value::Array(ids))?;
        Ok(out)
    }

    /// Whether `member` (a user id as SCIM shows it) can be written in the list: an id that
    /// does not convert to the `legacy_type` names no user.
    pub fn can_hold(&self, member: &str) -> bool {
        convert("members.value", &self.legacy, member, self.legacy_type).is_ok()
    }

    /// The `If-Match` header value for a write of this legacy group's list: its version
    /// (`if_match:`) as an entity tag. `None` without `if_match:` or a version.
    pub fn if_match(&self, legacy_group: &Value) -> Option<String> {
        version_at(self.if_match.as_ref(), legacy_group).map(crate::mapping::translate::entity_tag)
    }
}

/// The value of the field at `path` (field names only, as the loader checked) in `record`,
/// `null` included; `None` when the field is absent.
fn field<'v>(path: &LegacyPath, record: &'v Value) -> Option<&'v Value> {
    let names = path.field_names()?;
    names
        .iter()
        .try_fold(record, |value, name| value.as_object()?.get(*name))
}

/// The version at `path` in `record`, as text; `None` without a path or a version.
fn version_at(path: Option<&LegacyPath>, record: &Value) -> Option<String> {
    path.and_then(|p| p.read(record))
        .and_then(scalar_string)
        .filter(|v| !v.is_empty())
}

/// Which group a single-valued membership field holds when the identity provider puts the user
/// in another ([`UserAttribute::prefers`]).
impl UserAttribute {
    /// The rank of a group in `ranking:` (0 = highest), by id or display name; groups the
    /// ranking does not name rank below every named one.
    fn rank(&self, group: UserGroup<'_>) -> usize {
        self.ranking
            .iter()
            .position(|r| {
                r == group.id
                    || group
                        .display
                        .is_some_and(|d| d.trim().eq_ignore_ascii_case(r.trim()))
            })
            .unwrap_or(self.ranking.len())
    }

    /// With `single: true`, whether the group `added` replaces the user's group `current`: the
    /// higher-ranked of the two stays; between two of the same rank (two groups the ranking
    /// does not name, or no ranking at all) the most recent, `added`, wins.
    pub fn prefers(&self, added: UserGroup<'_>, current: UserGroup<'_>) -> bool {
        self.rank(added) <= self.rank(current)
    }

    /// With `otherwise:`, the group written when the user leaves the one its field holds, and
    /// that counts as no group.
    pub(crate) fn otherwise(&self) -> Option<&GroupSelector> {
        self.otherwise.as_ref()
    }

    /// Whether `ranking:` names groups by display name (then telling a group's rank needs its
    /// name).
    pub fn ranks_by_name(&self) -> bool {
        !self.ranking.is_empty()
    }
}

impl Membership {
    /// The display name of the `otherwise:` group while it is still to be resolved to the
    /// legacy id (`otherwise: { name: … }`, looked up at start and at each reload with the
    /// roles); `None` once resolved, for `{ id: … }`, or without `otherwise:`.
    pub(crate) fn otherwise_name(&self) -> Option<&str> {
        match self {
            Membership::UserAttribute(UserAttribute {
                otherwise: Some(GroupSelector::Name(name)),
                ..
            }) => Some(name),
            _ => None,
        }
    }

    /// This membership with the `otherwise:` group named by its legacy id `id`.
    pub(crate) fn with_otherwise_id(&self, id: &str) -> Membership {
        let mut out = self.clone();
        if let Membership::UserAttribute(ua) = &mut out {
            if ua.otherwise.is_some() {
                ua.otherwise = Some(GroupSelector::Id(id.to_string()));
            }
        }
        out
    }
}

impl UserAttribute {
    /// Whether the legacy user holds the field at all (null counts): an item of a thin list
    /// may not, and then tells nothing of the user's groups.
    pub fn holds_field(&self, legacy_user: &Value) -> bool {
        !self.legacy.read_all(legacy_user).is_empty()
    }

    /// The legacy ids of the groups a legacy user is in, as strings, in order, without repeats:
    /// the elements of the list at the field (a single value counts as one group); none when
    /// the field is absent, null or empty.
    pub fn groups_of_user(&self, legacy_user: &Value) -> Vec<String> {
        let ids: Vec<String> = match self.legacy.read(legacy_user) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(scalar_string).collect(),
            Some(v) => scalar_string(v).into_iter().collect(),
        };
        let mut out: Vec<String> = Vec::new();
        for id in ids.into_iter().filter(|s| !s.is_empty()) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// A copy of the legacy user whose field holds exactly `groups` (repeats dropped), each id
    /// converted to the `legacy_type`: a list (`[]` for none), or for `single: true` the one id
    /// (null for none). Nothing else changes. More than one group for a single field, or an id
    /// that does not convert, is a 400; a user whose shape leaves no place for the field is a
    /// 502.
    pub fn with_groups(
        &self,
        legacy_user: &Value,
        groups: &[String],
    ) -> Result<Value, TranslateError> {
        let mut unique: Vec<&String> = Vec::new();
        for g in groups {
            if !unique.contains(&g) {
                unique.push(g);
            }
        }
        let mut ids = Vec::with_capacity(unique.len());
        for g in unique {
            ids.push(convert("groups", &self.legacy, g, self.legacy_type)?);
        }
        let value = if self.single {
            match ids.as_slice() {
                [] => Value::Null,
                [one] => one.clone(),
                _ => {
                    return Err(TranslateError::InvalidValue {
                        attr: "groups".into(),
                        legacy: self.legacy.as_str().to_string(),
                        reason: format!(
                            "a user can be in only one group here, and would be in {}",
                            ids.len()
                        ),
                    })
                }
            }
        } else {
            Value::Array(ids)
        };
        let mut out = legacy_user.clone();
        write(&self.legacy, &mut out, value)?;
        Ok(out)
    }

    /// The legacy user's version (`if_match:`), as text (`4` → `"4"`), to send as `If-Match`
    /// on the write that changes its groups ([`UserAttribute::if_match`] gives the header
    /// value). `None` without `if_match:` or when the user has no version.
    pub fn version_of(&self, legacy_user: &Value) -> Option<String> {
        version_at(self.if_match.as_ref(), legacy_user)
    }

    /// The `If-Match` header value for a write of this legacy user: its version as an entity
    /// tag (`4` → `"4"`; a version that is already an entity tag, `"4"` or `W/"4"`, as it is).
    pub fn if_match(&self, legacy_user: &Value) -> Option<String> {
        self.version_of(legacy_user)
            .map(crate::mapping::translate::entity_tag)
    }

    /// The query parameter of the users list endpoint that lists a group's members
    /// (`?team=<group id>`), when the legacy API has one; without it, the members of a group
    /// are found by reading the users.
    pub fn members_query_param(&self) -> Option<&str> {
        self.members_query.as_deref()
    }
}

/// A non-empty id (as text) at `path` in `item`.
fn id_at(path: &LegacyPath, item: &Value) -> Option<String> {
    path.read(item)
        .and_then(scalar_string)
        .filter(|s| !s.is_empty())
}

/// An id (text, as SCIM shows it) converted to the legacy type; strings stay strings.
fn convert(
    attr: &str,
    legacy: &LegacyPath,
    id: &str,
    legacy_type: Option<LegacyType>,
) -> Result<Value, TranslateError> {
    let text = Value::String(id.to_string());
    match legacy_type {
        None => Ok(text),
        Some(t) => to_legacy_type(&text, t).map_err(|reason| TranslateError::InvalidValue {
            attr: attr.to_string(),
            legacy: legacy.as_str().to_string(),
            reason,
        }),
    }
}

fn write(path: &LegacyPath, out: &mut Value, value: Value) -> Result<(), TranslateError> {
    path.write(out, value).map(|_| ()).map_err(|c| {
        TranslateError::LegacyResponse(format!("cannot write to {}: {c}", path.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::fixture::{
        with_groups, GROUPS_ENDPOINTS, GROUPS_GROUP_ATTRIBUTE, GROUPS_USER_ATTRIBUTE,
    };
    use crate::mapping::Membership;
    use crate::scim::{ScimError, ScimType};
    use serde_json::json;

    fn endpoints() -> (MemberCall, crate::mapping::Endpoint, MemberList, UserGroups) {
        match with_groups(GROUPS_ENDPOINTS).groups.unwrap().membership {
            Membership::Endpoints {
                add,
                remove,
                list,
                user_groups,
            } => (add, remove, list, user_groups.unwrap()),
            other => panic!("expected member endpoints, got {other:?}"),
        }
    }

    fn attribute(yaml: &str) -> UserAttribute {
        match with_groups(yaml).groups.unwrap().membership {
            Membership::UserAttribute(a) => a,
            other => panic!("expected a user attribute, got {other:?}"),
        }
    }

    #[test]
    fn the_add_body_carries_the_member_in_its_legacy_type() {
        let (add, remove, ..) = endpoints();
        assert_eq!(add.endpoint.method, http::Method::POST);
        assert_eq!(
            add.endpoint.target_with(Some("5"), None, &[]),
            "/teams/5/members"
        );
        assert_eq!(
            add.add_request_body("17").unwrap(),
            Some(json!({"member": {"user_id": 17}}))
        );
        let e: ScimError = add.add_request_body("p_1").unwrap_err().into();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            "members.value: expected an integer, got \"p_1\" (legacy field $.member.user_id)"
        );
        assert_eq!(remove.method, http::Method::DELETE);
        assert_eq!(
            remove.target_with(Some("5"), Some("../17"), &[]),
            "/teams/5/members/..%2F17"
        );
    }

    #[test]
    fn an_add_with_the_member_in_the_path_has_no_body() {
        let yaml = GROUPS_ENDPOINTS.replace(
            "add: { method: POST, path: \"/teams/{id}/members\", body: { member: $.member.user_id, legacy_type: integer } }",
            "add: { method: PUT, path: \"/teams/{id}/members/{member}\" }",
        );
        let Membership::Endpoints { add, .. } = with_groups(&yaml).groups.unwrap().membership
        else {
            panic!("expected member endpoints");
        };
        assert_eq!(add.add_request_body("17").unwrap(), None);
        assert_eq!(
            add.endpoint.target_with(Some("5"), Some("17"), &[]),
            "/teams/5/members/17"
        );
    }

    #[test]
    fn an_add_body_template_carries_the_member_and_fixed_fields() {
        // GitLab-like: POST /groups/{id}/members {"user_id": 17, "access_level": 30}; and a
        // Zendesk-like call that names the group in the body rather than the path.
        for (add, expected) in [
            (
                r#"add: { method: POST, path: "/teams/{id}/members", body: { user_id: "{member}", access_level: 30 } }"#,
                json!({"user_id": "17", "access_level": 30}),
            ),
            (
                r#"add: { method: POST, path: /memberships, body: { membership: { user_id: "{member}", group_id: "{id}", note: "by {tenant}" } } }"#,
                json!({"membership": {"user_id": "17", "group_id": "5", "note": "by acme"}}),
            ),
        ] {
            let yaml = GROUPS_ENDPOINTS.replace(
                "add: { method: POST, path: \"/teams/{id}/members\", body: { member: $.member.user_id, legacy_type: integer } }",
                add,
            );
            let mapping = with_groups(&yaml);
            let Membership::Endpoints { add, .. } = &mapping.groups.as_ref().unwrap().membership
            else {
                panic!("expected member endpoints");
            };
            assert_eq!(add.add_request_body("17").unwrap(), None, "{yaml}");
            assert_eq!(
                mapping.template_body(&add.endpoint, "acme", Some("5"), Some("17")),
                Some(expected)
            );
        }
    }

    #[test]
    fn member_ids_come_from_the_list_items() {
        let (_, _, list, _) = endpoints();
        assert_eq!(
            list.member_of_item(&json!({"user_id": 17})),
            Some("17".into())
        );
        assert_eq!(
            list.member_of_item(&json!({"user_id": "u-2"})),
            Some("u-2".into())
        );
        assert_eq!(list.member_of_item(&json!({"user_id": null})), None);
        assert_eq!(list.member_of_item(&json!({"user_id": ""})), None);
        assert_eq!(list.member_of_item(&json!({})), None);
        let page = json!({"data": [{"user_id": 17}, {"other": 1}, {"user_id": 18}],
                          "meta": {"total": 3}});
        assert_eq!(list.members(&page).unwrap(), ["17", "18"]);
        assert_eq!(list.pages.total(&page, &http::HeaderMap::new()), Some(3));
        assert_eq!(
            list.pages.endpoint.target(Some("5"), &[]),
            "/teams/5/members"
        );
        let e: ScimError = list.members(&json!({"error": "x"})).unwrap_err().into();
        assert_eq!(e.status, 502);
    }

    #[test]
    fn a_users_groups_come_from_the_user_groups_endpoint() {
        let (.., user_groups) = endpoints();
        assert_eq!(
            user_groups.endpoint.target(Some("17"), &[]),
            "/users/17/teams"
        );
        let body = json!({"data": [{"id": 5, "name": "Eng"}, {"id": 9}, {"id": 5}, {"name": "x"}]});
        assert_eq!(user_groups.groups(&body).unwrap(), ["5", "9"]);
        assert!(user_groups
            .groups(&json!({"data": null}))
            .unwrap()
            .is_empty());
        assert!(user_groups.groups(&json!({})).is_err());
        let e: ScimError = user_groups
            .groups(&json!({"data": "x"}))
            .unwrap_err()
            .into();
        assert_eq!(e.status, 502);
        assert!(e.detail.contains("is not a list"), "{}", e.detail);
    }

    #[test]
    fn a_list_field_is_read_and_written_whole() {
        let a = attribute(GROUPS_USER_ATTRIBUTE);
        assert!(!a.single);
        assert_eq!(a.members_query_param(), Some("team"));
        let user = json!({"id": 1, "login": "ada", "teams": {"ids": ["t_01", "t_02", "t_01"]}});
        assert_eq!(a.groups_of_user(&user), ["t_01", "t_02"]);
        assert!(a.groups_of_user(&json!({"id": 1})).is_empty());
        assert!(a
            .groups_of_user(&json!({"id": 1, "teams": {"ids": null}}))
            .is_empty());

        let added = a
            .with_groups(
                &user,
                &["t_01".into(), "t_02".into(), "t_03".into(), "t_03".into()],
            )
            .unwrap();
        let mut expected = user.clone();
        expected["teams"]["ids"] = json!(["t_01", "t_02", "t_03"]);
        assert_eq!(added, expected);
        let none = a.with_groups(&user, &[]).unwrap();
        assert_eq!(none["teams"], json!({"ids": []}));
        // Missing parents are created.
        assert_eq!(
            a.with_groups(&json!({"id": 2}), &["t_9".into()]).unwrap(),
            json!({"id": 2, "teams": {"ids": ["t_9"]}})
        );
        // A user whose shape leaves no place for the field.
        let e: ScimError = a
            .with_groups(&json!({"id": 2, "teams": "x"}), &["t_9".into()])
            .unwrap_err()
            .into();
        assert_eq!(e.status, 502);
    }

    #[test]
    fn the_version_is_sent_as_an_entity_tag() {
        let a = attribute(GROUPS_USER_ATTRIBUTE);
        let user = json!({"id": 1, "meta": {"version": 4}});
        assert_eq!(a.version_of(&user), Some("4".into()));
        assert_eq!(a.if_match(&user), Some("\"4\"".into()));
        let tagged = json!({"meta": {"version": "W/\"abc\""}});
        assert_eq!(a.if_match(&tagged), Some("W/\"abc\"".into()));
        assert_eq!(a.version_of(&json!({"id": 1})), None);
        assert_eq!(a.if_match(&json!({"meta": {"version": ""}})), None);
        let plain =
            attribute(&GROUPS_USER_ATTRIBUTE.replace("      if_match: $.meta.version\n", ""));
        assert_eq!(plain.version_of(&user), None);
    }

    #[test]
    fn a_single_field_holds_one_group_in_its_legacy_type() {
        let yaml = GROUPS_USER_ATTRIBUTE
            .replace(
                "legacy: $.teams.ids",
                "legacy: $.role_id\n      single: true\n      legacy_type: integer",
            )
            .replace("      members_query: { param: team }\n", "");
        let a = attribute(&yaml);
        assert!(a.single);
        assert_eq!(a.members_query_param(), None);
        let user = json!({"id": 1, "role_id": 3});
        assert_eq!(a.groups_of_user(&user), ["3"]);
        assert!(a
            .groups_of_user(&json!({"id": 1, "role_id": null}))
            .is_empty());
        // A user with no group holds the field (null); a thin list item does not hold it.
        assert!(a.holds_field(&user));
        assert!(a.holds_field(&json!({"id": 1, "role_id": null})));
        assert!(!a.holds_field(&json!({"id": 1, "email": "ada@example.com"})));
        assert_eq!(
            a.with_groups(&user, &["7".into()]).unwrap(),
            json!({"id": 1, "role_id": 7})
        );
        assert_eq!(
            a.with_groups(&user, &[]).unwrap(),
            json!({"id": 1, "role_id": null})
        );
        let e: ScimError = a
            .with_groups(&user, &["3".into(), "7".into()])
            .unwrap_err()
            .into();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            "groups: a user can be in only one group here, and would be in 2 (legacy field $.role_id)"
        );
        let e: ScimError = a.with_groups(&user, &["admins".into()]).unwrap_err().into();
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("expected an integer"), "{}", e.detail);
    }

    fn list_on_group() -> GroupAttribute {
        match with_groups(GROUPS_GROUP_ATTRIBUTE)
            .groups
            .unwrap()
            .membership
        {
            Membership::GroupAttribute(a) => a,
            other => panic!("expected a group attribute, got {other:?}"),
        }
    }

    #[test]
    fn a_groups_member_list_is_read_whole_or_not_at_all() {
        let a = list_on_group();
        let team = json!({"id": 5, "member_ids": [17, "18", 17, ""], "rev": 3});
        assert_eq!(a.members_of(&team).unwrap(), ["17", "18"]);
        assert!(a
            .members_of(&json!({"id": 5, "member_ids": null}))
            .unwrap()
            .is_empty());
        assert!(a
            .members_of(&json!({"id": 5, "member_ids": []}))
            .unwrap()
            .is_empty());
        // A thin record (no list), a list of something else, a field that is not a list: the
        // list was not read whole, and is never written back.
        for (record, says) in [
            (json!({"id": 5}), "has no member list at $.member_ids"),
            (
                json!({"id": 5, "member_ids": [{"id": 17}]}),
                "holds an object where a member id was expected",
            ),
            (
                json!({"id": 5, "member_ids": "17,18"}),
                "is not a list of member ids but a string",
            ),
        ] {
            let e: ScimError = a.members_of(&record).unwrap_err().into();
            assert_eq!(e.status, 502, "{record}");
            assert!(e.detail.contains(says), "{}", e.detail);
        }
    }

    #[test]
    fn a_groups_member_list_is_written_whole_in_its_legacy_type() {
        let a = list_on_group();
        let team = json!({"id": 5, "name": "Eng", "member_ids": [17], "rev": 3});
        let written = a
            .with_members(&team, &["17".into(), "18".into(), "18".into()])
            .unwrap();
        assert_eq!(
            written,
            json!({"id": 5, "name": "Eng", "member_ids": [17, 18], "rev": 3})
        );
        assert_eq!(a.with_members(&team, &[]).unwrap()["member_ids"], json!([]));
        assert!(a.can_hold("17"));
        assert!(!a.can_hold("usr_1"));
        let e: ScimError = a.with_members(&team, &["x".into()]).unwrap_err().into();
        assert_eq!(e.status, 400);
        assert_eq!(a.if_match(&team), Some("\"3\"".into()));
        assert_eq!(a.if_match(&json!({"id": 5})), None);
        // Strings stay strings without a legacy_type.
        let yaml = GROUPS_GROUP_ATTRIBUTE.replace("      legacy_type: integer\n", "");
        let Membership::GroupAttribute(s) = with_groups(&yaml).groups.unwrap().membership else {
            panic!("a group attribute");
        };
        assert_eq!(
            s.with_members(&json!({"member_ids": null}), &["usr_1".into()])
                .unwrap(),
            json!({"member_ids": ["usr_1"]})
        );
    }

    #[test]
    fn a_single_group_keeps_the_higher_ranked_else_the_most_recent() {
        let yaml = GROUPS_USER_ATTRIBUTE
            .replace(
                "legacy: $.teams.ids",
                "legacy: $.role_id\n      single: true\n      ranking: [Administrator, Editor, \"9\"]",
            )
            .replace("      members_query: { param: team }\n", "");
        let a = attribute(&yaml);
        let g = |id, display| UserGroup { id, display };
        let admin = g("1", Some("administrator"));
        let editor = g("2", Some("Editor"));
        let nine = g("9", None);
        let other = g("5", Some("Viewer"));
        let another = g("6", None);
        assert!(a.prefers(admin, editor));
        assert!(!a.prefers(editor, admin));
        assert!(a.prefers(editor, nine), "a name ranked above an id");
        assert!(
            a.prefers(nine, other),
            "a ranked id above an unranked group"
        );
        assert!(!a.prefers(other, nine));
        assert!(a.prefers(other, another), "unranked: the most recent wins");
        assert!(a.prefers(another, other));
        assert!(a.prefers(editor, editor));
        assert!(a.ranks_by_name());
        // No ranking: the most recent always wins.
        let plain = attribute(
            &yaml
                .replace(", ranking: [Administrator, Editor, \"9\"]", "")
                .replace("\n      ranking: [Administrator, Editor, \"9\"]", ""),
        );
        assert!(!plain.ranks_by_name());
        assert!(plain.prefers(editor, admin));
        assert!(plain.prefers(admin, editor));
    }
}
