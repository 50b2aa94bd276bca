//! Loads every mapping shipped in `mappings/` and checks a few translations of each, and runs the
//! worked examples of `docs/mapping.md`, so that neither the shipped files nor the documentation
//! can rot.

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue};
use scim_gateway::mapping::{
    load_file, load_str, Mapping, Membership, OnDelete, Pagination, ResourceMapping, UpdateMode,
};
use scim_gateway::scim::filter::Filter;
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Mapping {
    let path = root().join("mappings").join(name);
    match load_file(&path) {
        Ok(m) => m,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_shipped_mapping_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("mappings")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = load_file(&path) {
                panic!("{} does not load:\n{e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 2, "expected at least two shipped mappings, found {n}");
}

/// The mapping language has no include: `orbit-roles.yaml` carries a copy of `orbit.yaml`'s
/// users part, which must not drift from it.
#[test]
fn orbit_roles_maps_users_exactly_as_orbit_does() {
    let users_part = |file: &str| {
        let text = std::fs::read_to_string(root().join("mappings").join(file)).unwrap();
        let start = text.find("\nusers:\n").expect("a users: section");
        let end = text.find("\ngroups:\n").expect("a groups: section");
        text[start..end].to_string()
    };
    assert_eq!(users_part("orbit-roles.yaml"), users_part("orbit.yaml"));
    let roles = load("orbit-roles.yaml");
    let orbit = load("orbit.yaml");
    assert_eq!(roles.backend.base_url, orbit.backend.base_url);
    assert!(roles
        .groups
        .as_ref()
        .unwrap()
        .resource
        .endpoints
        .create
        .is_none());
}

#[test]
fn acme_hr_translates_both_ways() {
    let m = load("acme-hr.yaml");
    assert_eq!(m.name, "acme-hr");
    let users = &m.users;
    assert_eq!(users.on_delete, OnDelete::Deactivate);
    assert_eq!(users.endpoints.update_mode, UpdateMode::Full);
    assert!(users.writes_active());
    assert_eq!(
        users.endpoints.get.target(Some("../admin"), &[]),
        "/api/v1/users/..%2Fadmin"
    );
    // Acme HR ids are numbers: any other id names no user (and no team).
    assert!(users.accepts_id("42"));
    for other in ["042", "42abc", "../admin", "-1", ""] {
        assert!(!users.accepts_id(other), "{other:?}");
    }
    let teams = &m.groups.as_ref().unwrap().resource;
    assert!(teams.accepts_id("5") && !teams.accepts_id("5x"));
    // Acme HR is multi-tenant: every call names the tenant in a header.
    let (name, value) = m.backend.tenant_header("acme").expect("a tenant header");
    assert_eq!((name.as_str(), value), ("x-acme-tenant", "acme"));

    let legacy = json!({
        "id": 42, "login": "ada", "external_ref": "ext-42", "display_name": "Ada Lovelace",
        "first_name": "Ada", "last_name": "Lovelace", "middle_name": null, "status": "enabled",
        "email": "ada@acme.example", "personal_email": null, "mobile_phone": "+1 555 0199",
        "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701",
                    "country": "US", "label": null},
        "employee_no": "E000042", "department": "Engineering", "manager_id": "7", "source": "seed",
        "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-02-03T04:05:06Z", "version": 3
    });
    let scim = users.to_scim(&legacy).unwrap();
    assert_eq!(scim["id"], "42");
    assert_eq!(scim["userName"], "ada");
    assert_eq!(scim["active"], true);
    assert_eq!(
        scim["name"],
        json!({"givenName": "Ada", "familyName": "Lovelace"})
    );
    assert_eq!(
        scim["emails"],
        json!([{"type": "work", "value": "ada@acme.example"}])
    );
    assert_eq!(
        scim["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0199"}])
    );
    assert_eq!(scim["addresses"][0]["postalCode"], "62701");
    assert_eq!(scim[ENTERPRISE]["manager"]["value"], "7");
    assert_eq!(scim["meta"]["version"], "W/\"3\"");
    assert!(scim.get("source").is_none());

    let created = users
        .to_legacy(
            &json!({"userName": "grace", "active": "False",
                     ENTERPRISE: {"manager": {"value": "42"}}}),
            None,
        )
        .unwrap();
    assert_eq!(
        created,
        json!({"login": "grace", "status": "disabled", "manager_id": "42", "source": "scim"})
    );

    let back = users.to_legacy(&scim, Some(&legacy)).unwrap();
    for key in [
        "login",
        "email",
        "mobile_phone",
        "address",
        "manager_id",
        "status",
    ] {
        assert_eq!(back[key], legacy[key], "{key}");
    }
    // Acme HR's PUT clears what it is not sent: the full update sends the user as read (its
    // role and licence, which the teams decide, included), without the timestamps it ignores.
    let mut stored = legacy.clone();
    stored["role"] = json!("manager");
    stored["licensed"] = json!(true);
    let mut renamed = users.to_scim(&stored).unwrap();
    renamed["userName"] = json!("ada.l");
    let new = users.to_legacy(&renamed, Some(&stored)).unwrap();
    let body = users.update_body(&stored, &new).to_value();
    for (key, value) in [
        ("id", json!(42)),
        ("version", json!(3)),
        ("login", json!("ada.l")),
        ("role", json!("manager")),
        ("licensed", json!(true)),
    ] {
        assert_eq!(body[key], value, "{key}");
    }
    let mut expected = new.clone();
    let fields = expected.as_object_mut().unwrap();
    fields.remove("created_at");
    fields.remove("updated_at");
    assert_eq!(body, expected);

    let filter = Filter::parse(r#"userName eq "x&role=owner""#).unwrap();
    let pushed = users.pushdown(&filter);
    assert!(pushed.complete);
    assert_eq!(
        users.endpoints.list.endpoint.target(None, &pushed.params),
        "/api/v1/users?exclude_status=archived&login=x%26role%3Downer"
    );
    let body = json!({"data": [legacy], "meta": {"total": 319}});
    assert_eq!(users.endpoints.list.items(&body).unwrap().len(), 1);
    assert_eq!(
        users.endpoints.list.total(&body, &HeaderMap::new()),
        Some(319)
    );

    let taken = users.map_error(
        422,
        br#"{"error": {"code": "login_taken", "message": "login is taken"}}"#,
    );
    assert_eq!(
        (taken.status, taken.detail.as_str()),
        (409, "legacy API: login is taken")
    );
    assert_eq!(users.map_error(401, b"{}").status, 502);
}

/// The `type` values, `required` flags and the deleted marker that Acme HR's mapping declares.
#[test]
fn acme_hr_advertises_its_types_and_marks_deleted_users() {
    let m = load("acme-hr.yaml");
    let users = &m.users;
    assert!(users.has_version());

    let core = &users.schema.core;
    let types = |attr: &str| {
        core.attribute(attr)
            .unwrap()
            .sub_attribute("type")
            .unwrap()
            .canonical_values
            .clone()
    };
    assert_eq!(types("emails"), ["work", "home"]);
    assert_eq!(types("phoneNumbers"), ["work", "mobile", "fax"]);
    assert_eq!(types("addresses"), ["work", "other"]);
    let subs: Vec<&str> = core
        .attribute("emails")
        .unwrap()
        .sub_attributes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "type"]);
    assert!(core.attribute("userName").unwrap().required);
    assert!(core.attribute("active").unwrap().required);
    assert!(!core.attribute("title").unwrap().required);

    // `status` cannot be null: a create without `active` is enabled, an update cannot remove it.
    let created = users.to_legacy(&json!({"userName": "ada"}), None).unwrap();
    assert_eq!(created["status"], "enabled");
    let stored = json!({"id": 1, "login": "ada", "status": "disabled"});
    let e = users
        .to_legacy(&json!({"userName": "ada"}), Some(&stored))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "active is required by the legacy API and cannot be removed"
    );

    // A SCIM DELETE archives the user; an archived user is deleted for SCIM, and reads without
    // `active` rather than failing.
    assert!(!users.is_deleted(&stored));
    let archived = users.mark_deleted(&stored).unwrap();
    assert_eq!(
        archived,
        json!({"id": 1, "login": "ada", "status": "archived"})
    );
    assert!(users.is_deleted(&archived));
    let scim = users.to_scim(&archived).unwrap();
    assert_eq!(scim["userName"], "ada");
    assert!(scim.get("active").is_none());
}

#[test]
fn crewbase_translates_both_ways() {
    let m = load("crewbase.yaml");
    let users = &m.users;
    assert_eq!(users.endpoints.update_mode, UpdateMode::Partial);
    assert!(!users.writes_active());
    assert!(users.endpoints.deactivate.is_some() && users.endpoints.reactivate.is_some());
    assert!(users.has_version() && users.endpoints.update_if_match);
    assert!(!users.has_deleted_marker());
    assert_eq!(users.mark_deleted(&json!({"uid": "p_1"})), None);
    // The forms Crewbase hands out, and nothing it would resolve to another person.
    for uid in ["p_0001", "p_9999", "p_10000"] {
        assert!(users.accepts_id(uid), "{uid}");
    }
    for other in ["p_1", "p_01", "P_0001", "p_0001x", "p_01234", "1", "t_01"] {
        assert!(!users.accepts_id(other), "{other}");
    }
    let teams = &m.groups.as_ref().unwrap().resource;
    for (tid, ok) in [
        ("t_01", true),
        ("t_100", true),
        ("t_1", false),
        ("t_012", false),
    ] {
        assert_eq!(teams.accepts_id(tid), ok, "{tid}");
    }
    // `active` is read-only here: advertised as required, written through the endpoints.
    assert!(users.schema.core.attribute("active").unwrap().required);
    assert_eq!(
        users
            .schema
            .core
            .attribute("phoneNumbers")
            .unwrap()
            .sub_attribute("type")
            .unwrap()
            .canonical_values,
        ["mobile", "work"]
    );
    assert!(matches!(
        users.endpoints.list.pagination,
        Pagination::Offset {
            max_page_size: 50,
            ..
        }
    ));

    let legacy = json!({
        "uid": "p_0001", "username": "ada", "ext_id": null, "full_name": "Mary Ann Smith",
        "position": "Engineer", "is_active": false, "work_email": "ada@crew.example",
        "phones": [{"kind": "desk", "number": "+44 20 1111"}, {"kind": "cell", "number": "+44 7700 1"}],
        "hr": {"badge": 1815, "team": "Field"},
        "meta": {"created": "2024-01-02T03:04:05Z", "modified": "2024-02-03T04:05:06Z"}
    });
    let scim = users.to_scim(&legacy).unwrap();
    assert_eq!(scim["id"], "p_0001");
    assert_eq!(scim["displayName"], "Mary Ann Smith");
    assert_eq!(
        scim["name"],
        json!({"givenName": "Mary Ann", "familyName": "Smith", "formatted": "Mary Ann Smith"})
    );
    assert_eq!(scim["active"], false);
    assert_eq!(
        scim["phoneNumbers"],
        json!([{"type": "mobile", "value": "+44 7700 1"}, {"type": "work", "value": "+44 20 1111"}])
    );
    assert_eq!(scim[ENTERPRISE]["employeeNumber"], "1815");

    let mut changed = scim.clone();
    changed["name"]["familyName"] = json!("Jones");
    changed["phoneNumbers"] = json!([{"type": "work", "value": "+44 20 2222"}]);
    changed["active"] = json!(true);
    let new_legacy = users.to_legacy(&changed, Some(&legacy)).unwrap();
    assert_eq!(new_legacy["is_active"], false, "active is read-only here");
    let body = users.update_body(&legacy, &new_legacy).to_value();
    assert_eq!(
        body,
        json!({"full_name": "Mary Ann Jones",
               "phones": [{"kind": "desk", "number": "+44 20 2222"}]})
    );

    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from_static("57"));
    assert_eq!(
        users.endpoints.list.total(&json!({"people": []}), &headers),
        Some(57)
    );
    let taken = users.map_error(
        409,
        br#"{"message": "username already exists", "code": 409}"#,
    );
    assert_eq!(taken.status, 409);
    assert_eq!(taken.detail, "legacy API: username already exists");
}

/// Acme HR teams: a group resource like its users, and member endpoints.
#[test]
fn acme_hr_groups_are_teams_with_member_endpoints() {
    let m = load("acme-hr.yaml");
    let groups = m.groups.as_ref().expect("acme-hr maps groups");
    let teams = &groups.resource;
    assert_eq!(teams.on_delete, OnDelete::Delete);
    assert_eq!(teams.endpoints.update_mode, UpdateMode::Partial);

    let team = json!({
        "id": 5, "name": "Engineering", "description": "Builds things", "external_ref": "8aa1",
        "member_count": 2, "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-02-03T04:05:06Z"
    });
    let scim = teams.to_scim(&team).unwrap();
    assert_eq!(
        scim,
        json!({"schemas": [GROUP], "id": "5", "displayName": "Engineering", "externalId": "8aa1",
               "meta": {"resourceType": "Group", "created": "2024-01-02T03:04:05Z",
                        "lastModified": "2024-02-03T04:05:06Z"}})
    );
    // Entra's create: displayName and externalId, no members.
    let created = teams
        .to_legacy(
            &json!({"schemas": [GROUP], "displayName": "Sales", "externalId": "e-1", "members": []}),
            None,
        )
        .unwrap();
    assert_eq!(created, json!({"name": "Sales", "external_ref": "e-1"}));
    let mut renamed = scim.clone();
    renamed["displayName"] = json!("Platform");
    let new = teams.to_legacy(&renamed, Some(&team)).unwrap();
    assert_eq!(
        teams.update_body(&team, &new).to_value(),
        json!({"name": "Platform"})
    );
    let e = teams
        .to_legacy(&json!({"externalId": "e-1"}), None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "displayName is required by the legacy API and has no value"
    );

    let filter = Filter::parse(r#"displayName eq "R&D""#).unwrap();
    let pushed = teams.pushdown(&filter);
    assert!(pushed.complete);
    assert_eq!(
        teams.endpoints.list.endpoint.target(None, &pushed.params),
        "/api/v1/teams?name=R%26D"
    );
    let taken = teams.map_error(
        422,
        br#"{"error": {"code": "name_taken", "message": "a team with this name exists"}}"#,
    );
    assert_eq!(
        (taken.status, taken.detail.as_str()),
        (409, "legacy API: a team with this name exists")
    );

    let Membership::Endpoints {
        add,
        remove,
        list,
        user_groups,
    } = &groups.membership
    else {
        panic!("acme-hr has member endpoints");
    };
    assert_eq!(add.endpoint.method, http::Method::POST);
    assert_eq!(
        add.endpoint.target_with(Some("5"), None, &[]),
        "/api/v1/teams/5/members"
    );
    assert_eq!(
        add.add_request_body("17").unwrap(),
        Some(json!({"user_id": 17}))
    );
    assert_eq!(remove.method, http::Method::DELETE);
    assert_eq!(
        remove.target_with(Some("5"), Some("17"), &[]),
        "/api/v1/teams/5/members/17"
    );
    let page = json!({"data": [{"user_id": 17, "added_at": "2024-01-02T03:04:05Z"},
                               {"user_id": 18, "added_at": "2024-01-02T03:04:05Z"}],
                      "meta": {"page": 1, "per_page": 100, "total": 2}});
    assert_eq!(list.members(&page).unwrap(), ["17", "18"]);
    assert_eq!(list.pages.total(&page, &HeaderMap::new()), Some(2));
    assert_eq!(list.pages.pagination.max_page_size(), 100);
    assert_eq!(
        list.pages
            .endpoint
            .target(Some("5"), &[("page".into(), "1".into())]),
        "/api/v1/teams/5/members?page=1"
    );
    let user_groups = user_groups.as_ref().expect("acme-hr lists a user's teams");
    assert_eq!(
        user_groups.endpoint.target(Some("17"), &[]),
        "/api/v1/users/17/teams"
    );
    assert_eq!(
        user_groups
            .groups(&json!({"data": [{"id": 5, "name": "Engineering"}, {"id": 9, "name": "Ops"}]}))
            .unwrap(),
        ["5", "9"]
    );

    // /Schemas: groups with members of users; users with their groups.
    let core = &teams.schema.core;
    assert!(core.attribute("displayName").unwrap().required);
    assert!(core.attribute("members").is_some());
    let user_groups_attr = m.users.schema.core.attribute("groups").unwrap();
    assert!(user_groups_attr.sub_attribute("value").is_some());
}

/// Crewbase teams: membership is the person's `team_ids`, written with its version.
#[test]
fn crewbase_groups_are_teams_held_on_the_person() {
    let m = load("crewbase.yaml");
    let groups = m.groups.as_ref().expect("crewbase maps groups");
    let teams = &groups.resource;
    assert_eq!(teams.on_delete, OnDelete::Delete);
    let team = json!({"tid": "t_01", "title": "Field", "slug": "field",
                      "meta": {"created": "2024-01-02T03:04:05Z", "modified": "2024-02-03T04:05:06Z"}});
    let scim = teams.to_scim(&team).unwrap();
    assert_eq!(scim["id"], "t_01");
    assert_eq!(scim["displayName"], "Field");
    assert_eq!(scim["meta"]["lastModified"], "2024-02-03T04:05:06Z");
    assert!(scim.get("members").is_none());
    assert_eq!(
        teams
            .to_legacy(&json!({"displayName": "Ops"}), None)
            .unwrap(),
        json!({"title": "Ops"})
    );
    let filter = Filter::parse(r#"displayName eq "Ops""#).unwrap();
    let pushed = teams.pushdown(&filter);
    assert_eq!(
        teams.endpoints.list.endpoint.target(None, &pushed.params),
        "/v2/teams?title=Ops"
    );
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from_static("3"));
    assert_eq!(
        teams.endpoints.list.total(&json!({"teams": []}), &headers),
        Some(3)
    );
    let taken = teams.map_error(409, br#"{"message": "title already exists", "code": 409}"#);
    assert_eq!(
        (taken.status, taken.detail.as_str()),
        (409, "legacy API: title already exists")
    );

    let Membership::UserAttribute(field) = &groups.membership else {
        panic!("crewbase holds membership on the person");
    };
    assert!(!field.single);
    let person = json!({"uid": "p_0001", "username": "ada", "team_ids": ["t_01"],
                        "meta": {"created": "2024-01-02T03:04:05Z", "version": 4}});
    assert_eq!(field.groups_of_user(&person), ["t_01"]);
    let added = field
        .with_groups(&person, &["t_01".into(), "t_02".into()])
        .unwrap();
    // Crewbase updates are partial: only the field is sent, with the person's version.
    assert_eq!(
        m.users.update_body(&person, &added).to_value(),
        json!({"team_ids": ["t_01", "t_02"]})
    );
    assert_eq!(field.if_match(&person).as_deref(), Some("\"4\""));
    // A team's members: the people list with ?team=.
    let param = field.members_query_param().unwrap();
    assert_eq!(
        m.users
            .endpoints
            .list
            .endpoint
            .target(None, &[(param.into(), "t_01".into())]),
        "/v2/people?team=t_01"
    );
    // The person's SCIM user is unchanged by its teams.
    let user = m.users.to_scim(&person).unwrap();
    assert!(user.get("team_ids").is_none() && user.get("groups").is_none());
}

// --- docs/mapping.md -------------------------------------------------------------------------

/// Where each documentation example's fragment goes: the rest of a valid mapping.
const SKELETON: &str = r#"
name: docs
backend: { base_url: "http://127.0.0.1:8081" }
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.data, pagination: { style: page, page_param: page, size_param: per_page } }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.login }
"#;

/// Where a `groups:` example's fragment goes: the rest of a valid groups section.
const GROUPS_SKELETON: &str = r#"
id: $.id
endpoints:
  create: { method: POST, path: /groups }
  get: { method: GET, path: "/groups/{id}" }
  update: { method: PATCH, path: "/groups/{id}" }
  delete: { method: DELETE, path: "/groups/{id}" }
  list: { method: GET, path: /groups, items: $.data, pagination: { style: page, page_param: page, size_param: per_page } }
attributes:
  - { scim: displayName, legacy: $.name }
membership:
  endpoints:
    add: { method: POST, path: "/groups/{id}/members/{member}" }
    remove: { method: DELETE, path: "/groups/{id}/members/{member}" }
    list: { method: GET, path: "/groups/{id}/members", items: $.data, member: $.id, pagination: { style: page, page_param: page, size_param: per_page } }
"#;

#[derive(Debug)]
struct Fence {
    info: String,
    body: String,
    line: usize,
}

fn fences(markdown: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut current: Option<Fence> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                current = Some(Fence {
                    info: info.trim().to_string(),
                    body: String::new(),
                    line: i + 1,
                })
            }
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(f), None) => {
                f.body.push_str(line);
                f.body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// `fragment` merged into `base`: sections key by key; an endpoint, the auth, or anything that
/// is not an object is replaced whole.
fn merge(base: &mut Value, fragment: &Value) {
    const WHOLE: [&str; 9] = [
        "create",
        "get",
        "update",
        "delete",
        "deactivate",
        "reactivate",
        "list",
        "auth",
        "membership",
    ];
    match (base, fragment) {
        (Value::Object(b), Value::Object(f)) => {
            for (k, v) in f {
                match b.get_mut(k) {
                    Some(existing) if !WHOLE.contains(&k.as_str()) => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, f) => *b = f.clone(),
    }
}

/// Whether `actual` has everything `expected` has (objects may have more keys).
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|x| contains(x, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| contains(x, y))
        }
        _ => actual == expected,
    }
}

fn example_mapping(fragment: &str, line: usize) -> Mapping {
    let fragment: Value = serde_saphyr::from_str(fragment)
        .unwrap_or_else(|e| panic!("docs/mapping.md:{line}: the example is not YAML: {e}"));
    let mut doc: Value = serde_saphyr::from_str(SKELETON).unwrap();
    // Groups held by the gateway have no legacy keys to complete.
    let held = fragment
        .get("groups")
        .is_some_and(|g| g.get("held_by").is_some());
    if fragment.get("groups").is_some() && !held {
        doc["groups"] = serde_saphyr::from_str(GROUPS_SKELETON).unwrap();
    }
    let top_level = ["name", "backend", "users", "groups"];
    if fragment
        .as_object()
        .is_some_and(|o| o.keys().any(|k| top_level.contains(&k.as_str())))
    {
        merge(&mut doc, &fragment);
    } else {
        merge(&mut doc["users"], &fragment);
    }
    // JSON is YAML: load the merged document through the real loader.
    let text = serde_json::to_string_pretty(&doc).unwrap();
    load_str(&format!("docs/mapping.md:{line}"), &text)
        .unwrap_or_else(|e| panic!("docs/mapping.md:{line}: the example does not load:\n{e}"))
}

#[test]
fn documentation_examples_hold() {
    let markdown = std::fs::read_to_string(root().join("docs/mapping.md")).unwrap();
    let all = fences(&markdown);
    let mut checked = 0;
    let mut i = 0;
    while i < all.len() {
        let f = &all[i];
        let words: Vec<&str> = f.info.split_whitespace().collect();
        match words.as_slice() {
            ["yaml", "example", rest @ ..] => {
                let m = example_mapping(&f.body, f.line);
                // A `groups:` example is about the group resource, else about users (groups
                // held by the gateway have no legacy resource: theirs are about users).
                let about_groups = f.body.lines().any(|l| l.starts_with("groups:"))
                    && !f.body.lines().any(|l| l.starts_with("users:"))
                    && m.held_groups.is_none();
                let resource = if about_groups {
                    &m.groups
                        .as_ref()
                        .expect("a groups example has groups")
                        .resource
                } else {
                    &m.users
                };
                let check = rest.first().copied().unwrap_or("check=both");
                let mut legacy = None;
                let mut scim = None;
                let mut deleted = None;
                let mut schema = Vec::new();
                let mut refused = None;
                let mut refusal = None;
                let mut user = None;
                let mut calls = None;
                let mut tenant_calls = None;
                let mut changed = None;
                let mut sent = None;
                let mut ids = None;
                let mut carried = None;
                let mut answer = None;
                let mut body = None;
                let mut listed = None;
                let mut pages = Vec::new();
                let mut nexts = Vec::new();
                let mut errors = Vec::new();
                let mut details = Vec::new();
                let mut headers = None;
                while let Some(next) = all.get(i + 1) {
                    let value = |b: &str| -> Value {
                        serde_json::from_str(b).unwrap_or_else(|e| {
                            panic!("docs/mapping.md:{}: bad JSON: {e}", next.line)
                        })
                    };
                    match next.info.as_str() {
                        "json legacy" => legacy = Some(value(&next.body)),
                        "json scim" => scim = Some(value(&next.body)),
                        "json deleted" => deleted = Some(value(&next.body)),
                        "json schema" => schema.push((next.line, value(&next.body))),
                        "json refused" => refused = Some((next.line, value(&next.body))),
                        "text refused" => refusal = Some(next.body.trim_end().to_string()),
                        "json user" => user = Some(value(&next.body)),
                        "text calls" => calls = Some((next.line, next.body.clone())),
                        "text tenant" => tenant_calls = Some((next.line, next.body.clone())),
                        "json changed" => changed = Some((next.line, value(&next.body))),
                        "json sent" => sent = Some(value(&next.body)),
                        "text ids" => ids = Some((next.line, next.body.clone())),
                        "text carries" => carried = Some((next.line, next.body.clone())),
                        "json answer" => answer = Some((next.line, value(&next.body))),
                        "json body" => body = Some((next.line, value(&next.body))),
                        "json list" => listed = Some((next.line, value(&next.body))),
                        "json page" => pages.push((next.line, value(&next.body))),
                        "text next" => nexts.push(next.body.trim_end().to_string()),
                        "json error" => errors.push((next.line, next.body.clone())),
                        "text detail" => details.push(next.body.trim_end().to_string()),
                        "text headers" => headers = Some((next.line, next.body.clone())),
                        _ => break,
                    }
                    i += 1;
                }
                if let (Some(legacy), Some(scim)) = (&legacy, &scim) {
                    if check != "check=write" {
                        let read = resource.to_scim(legacy).unwrap();
                        assert!(
                            contains(&read, scim),
                            "docs/mapping.md:{}: the legacy record reads as\n{read:#}",
                            f.line
                        );
                    }
                    if check != "check=read" {
                        let written = resource.to_legacy(scim, None).unwrap();
                        let mut expected = legacy.clone();
                        if let Some(o) = expected.as_object_mut() {
                            o.remove("id");
                        }
                        assert!(
                            contains(&written, &expected),
                            "docs/mapping.md:{}: the SCIM resource writes as\n{written:#}",
                            f.line
                        );
                    }
                }
                if let Some(deleted) = &deleted {
                    check_deleted(resource, legacy.as_ref(), deleted, f.line);
                }
                for (line, expected) in &schema {
                    check_schema(resource, expected, *line);
                }
                if let Some((line, user)) = &refused {
                    // A full update of the example's legacy user (a create without one).
                    let err = resource
                        .to_legacy(user, legacy.as_ref())
                        .err()
                        .unwrap_or_else(|| {
                            panic!("docs/mapping.md:{line}: the update is accepted")
                        });
                    let expected = refusal.as_deref().unwrap_or_else(|| {
                        panic!("docs/mapping.md:{line}: no `text refused` block")
                    });
                    assert_eq!(err.to_string(), expected, "docs/mapping.md:{line}");
                }
                if let Some((line, calls)) = &calls {
                    check_calls(&m, user.as_ref().or(legacy.as_ref()), calls, *line);
                }
                if let Some((line, calls)) = &tenant_calls {
                    check_tenant_calls(&m, calls, *line);
                }
                if let Some((line, changed)) = &changed {
                    check_update(resource, legacy.as_ref(), changed, sent.as_ref(), *line);
                }
                if let Some((line, ids)) = &ids {
                    check_ids(resource, ids, *line);
                }
                if let Some((line, carried)) = &carried {
                    check_carried(resource, carried, *line);
                }
                if let Some((line, headers)) = &headers {
                    check_headers(&m, headers, *line);
                }
                check_next_cursors(resource, &pages, &nexts);
                check_error_details(resource, &errors, &details);
                check_envelopes(
                    resource,
                    legacy.as_ref(),
                    scim.as_ref(),
                    [answer, body, listed],
                );
                checked += 1;
            }
            ["yaml", "broken"] => {
                let expected = all
                    .get(i + 1)
                    .filter(|n| n.info == "text check")
                    .unwrap_or_else(|| panic!("docs/mapping.md:{}: no `text check` block", f.line));
                let err = load_str("mappings/broken.yaml", &f.body)
                    .err()
                    .unwrap_or_else(|| {
                        panic!("docs/mapping.md:{}: the broken example loads", f.line)
                    });
                assert_eq!(
                    err.to_string(),
                    expected.body.trim_end(),
                    "docs/mapping.md:{}",
                    f.line
                );
                i += 1;
                checked += 1;
            }
            _ => {}
        }
        i += 1;
    }
    assert!(checked >= 20, "only {checked} documentation examples found");
}

/// A `text headers` block: the static headers of a `GET /Users/{id}`, one `Name: value` a line.
fn check_headers(m: &Mapping, expected: &str, line: usize) {
    let sent: Vec<String> = m
        .backend
        .headers_of(&m.users.endpoints.get)
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let expected: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(sent, expected, "docs/mapping.md:{line}");
}

/// `json page` blocks, each followed by a `text next` block: the cursor of the next page the
/// list endpoint reads from that response, or "the end of the list".
fn check_next_cursors(m: &ResourceMapping, pages: &[(usize, Value)], nexts: &[String]) {
    for (i, (line, page)) in pages.iter().enumerate() {
        let expected = nexts
            .get(i)
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `text next` block"));
        let next = m
            .endpoints
            .list
            .next_cursor(page, &HeaderMap::new())
            .unwrap_or_else(|| "the end of the list".to_string());
        assert_eq!(&next, expected, "docs/mapping.md:{line}");
    }
}

/// `json error` blocks (a legacy error body answered with 400), each followed by a
/// `text detail` block: the SCIM error's detail.
fn check_error_details(m: &ResourceMapping, errors: &[(usize, String)], details: &[String]) {
    for (i, (line, body)) in errors.iter().enumerate() {
        let expected = details
            .get(i)
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `text detail` block"));
        let e = m.map_error(400, body.as_bytes());
        assert_eq!(&e.detail, expected, "docs/mapping.md:{line}");
    }
}

/// A `json deleted` block: that legacy user carries the marker, the example's legacy user does
/// not, and marking it gives exactly the block.
fn check_deleted(m: &ResourceMapping, legacy: Option<&Value>, deleted: &Value, line: usize) {
    assert!(
        m.is_deleted(deleted),
        "docs/mapping.md:{line}: the `json deleted` user is not deleted"
    );
    if let Some(legacy) = legacy {
        assert!(
            !m.is_deleted(legacy),
            "docs/mapping.md:{line}: the `json legacy` user is already deleted"
        );
        assert_eq!(
            m.mark_deleted(legacy).as_ref(),
            Some(deleted),
            "docs/mapping.md:{line}: marking the legacy user deleted"
        );
    }
}

/// A `json changed` block (SCIM attributes set on the example's legacy record as read) and
/// the `json sent` block after it: the body of the legacy update must be exactly that.
fn check_update(
    m: &ResourceMapping,
    legacy: Option<&Value>,
    changed: &Value,
    sent: Option<&Value>,
    line: usize,
) {
    let legacy = legacy.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json legacy` block"));
    let sent = sent.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json sent` block"));
    let mut user = m.to_scim(legacy).unwrap();
    merge(&mut user, changed);
    let new = m
        .to_legacy(&user, Some(legacy))
        .unwrap_or_else(|e| panic!("docs/mapping.md:{line}: the change is refused: {e}"));
    assert_eq!(
        &m.update_body(legacy, &new).to_value(),
        sent,
        "docs/mapping.md:{line}: the update sends"
    );
}

/// `json answer`, `json body` and `json list` blocks, in that order (each optional): the record
/// the `get` endpoint's answer holds (inside its envelope) is the example's legacy record; the
/// create's body for the example's SCIM resource holds at least the body block; the first item
/// of the list answer is the legacy record.
fn check_envelopes(
    m: &ResourceMapping,
    legacy: Option<&Value>,
    scim: Option<&Value>,
    [answer, body, listed]: [Option<(usize, Value)>; 3],
) {
    if let Some((line, answer)) = answer {
        let legacy = legacy.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json legacy`"));
        assert_eq!(
            &m.endpoints.get.record_of(answer),
            legacy,
            "docs/mapping.md:{line}: the answer holds"
        );
    }
    if let Some((line, body)) = body {
        let scim = scim.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json scim`"));
        let record = m.to_legacy(scim, None).unwrap();
        let sent = m
            .endpoints
            .create
            .as_ref()
            .expect("a create endpoint")
            .body_with(&record);
        assert!(
            contains(&sent, &body),
            "docs/mapping.md:{line}: the create sends\n{sent:#}"
        );
    }
    if let Some((line, list)) = listed {
        let legacy = legacy.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json legacy`"));
        let items = m
            .endpoints
            .list
            .items(&list)
            .unwrap_or_else(|e| panic!("docs/mapping.md:{line}: {e}"));
        assert_eq!(
            items.first(),
            Some(legacy),
            "docs/mapping.md:{line}: the first list item holds"
        );
    }
}

/// A `text ids` block: each line `<id> → names a user` (or `a group`), or `names no user`.
fn check_ids(m: &ResourceMapping, ids: &str, line: usize) {
    for text in ids.lines().filter(|l| !l.trim().is_empty()) {
        let (id, says) = text
            .split_once(" → ")
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no → in {text:?}"));
        let accepted = !says.starts_with("names no ");
        assert_eq!(m.accepts_id(id), accepted, "docs/mapping.md:{line}: {text}");
    }
}

/// A `text carries` block: each line `<SCIM attribute> → carried` or `→ not carried` by the
/// list items.
fn check_carried(m: &ResourceMapping, carried: &str, line: usize) {
    for text in carried.lines().filter(|l| !l.trim().is_empty()) {
        let (path, says) = text
            .split_once(" → ")
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no → in {text:?}"));
        let path = scim_gateway::scim::path::AttrPath::parse(path).unwrap();
        let expected = says == "carried";
        assert_eq!(
            m.endpoints.list.carries(&path),
            expected,
            "docs/mapping.md:{line}: {text}"
        );
    }
}

/// A `json schema` block: an attribute definition that `/Schemas` serves (with at least these
/// characteristics, and exactly these sub-attributes when it lists them).
fn check_schema(m: &ResourceMapping, expected: &Value, line: usize) {
    let docs = m.schema.schemas_json("https://example.com/scim/v2");
    let name = expected["name"].as_str().unwrap_or_default();
    let actual = docs
        .iter()
        .flat_map(|d| d["attributes"].as_array().cloned().unwrap_or_default())
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("docs/mapping.md:{line}: /Schemas has no {name}"));
    assert!(
        contains(&actual, expected),
        "docs/mapping.md:{line}: /Schemas serves {name} as\n{actual:#}"
    );
}

/// A `text calls` block: each line `<what> → <call or result>` must be what the mapping gives.
/// With member endpoints: `add M to G`, `remove M from G`, `members of G`, `groups of user U`
/// (a method and a target, then the body if any). With a user attribute, for the `json user`
/// before it: `groups of the user` (the ids), `add the user to G` and `remove the user from G`
/// (the users update: method, target, `If-Match`, body), `members of G` (the users list). With
/// a list on the group, for the `json legacy` group before it: `members of the group` (the
/// ids), `add M` and `remove M` (the write of the list: method, target, `If-Match`, body),
/// `groups of user U`.
fn check_calls(m: &Mapping, user: Option<&Value>, calls: &str, line: usize) {
    let groups = m
        .groups
        .as_ref()
        .unwrap_or_else(|| panic!("docs/mapping.md:{line}: calls without groups"));
    let call = |ep: &scim_gateway::mapping::Endpoint, id: &str, member: Option<&str>| {
        format!("{} {}", ep.method, ep.target_with(Some(id), member, &[]))
    };
    for text in calls.lines().filter(|l| !l.trim().is_empty()) {
        let (what, expected) = text
            .split_once(" → ")
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no → in {text:?}"));
        let words: Vec<&str> = what.split_whitespace().collect();
        let actual = match (&groups.membership, words.as_slice()) {
            (Membership::Endpoints { add, .. }, ["add", member, "to", group]) => {
                let mut out = call(&add.endpoint, group, Some(member));
                let body = add.add_request_body(member).unwrap().or_else(|| {
                    m.template_body(&add.endpoint, "default", Some(group), Some(member))
                });
                if let Some(body) = body {
                    out.push_str(&format!(" {body}"));
                }
                out
            }
            (Membership::Endpoints { remove, .. }, ["remove", member, "from", group]) => {
                let mut out = call(remove, group, Some(member));
                if let Some(body) = m.template_body(remove, "default", Some(group), Some(member)) {
                    out.push_str(&format!(" {body}"));
                }
                out
            }
            (Membership::Endpoints { list, .. }, ["members", "of", group]) => {
                call(&list.pages.endpoint, group, None)
            }
            (
                Membership::Endpoints {
                    user_groups: Some(u),
                    ..
                },
                ["groups", "of", "user", id],
            ) => call(&u.endpoint, id, None),
            (Membership::GroupAttribute(a), rest) => {
                let group = user.unwrap_or_else(|| {
                    panic!("docs/mapping.md:{line}: no `json legacy` group block")
                });
                let mut current = a.members_of(group).unwrap();
                let r = &groups.resource;
                let write = |members: &[String]| {
                    let new = a.with_members(group, members).unwrap();
                    let update = a
                        .update
                        .as_ref()
                        .or(r.endpoints.update.as_ref())
                        .expect("an update endpoint");
                    let id = r.legacy_id(group).unwrap();
                    let mut out = format!("{} {}", update.method, update.target(Some(&id), &[]));
                    if let Some(tag) = a.if_match(group) {
                        out.push_str(&format!(" If-Match: {tag}"));
                    }
                    format!("{out} {}", r.update_body(group, &new).to_value())
                };
                match rest {
                    ["members", "of", "the", "group"] => current.join(", "),
                    ["add", member] => {
                        current.push(member.to_string());
                        write(&current)
                    }
                    ["remove", member] => {
                        current.retain(|m| m != member);
                        write(&current)
                    }
                    ["groups", "of", "user", id] => {
                        let u = a
                            .user_groups
                            .as_ref()
                            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no user_groups"));
                        call(&u.endpoint, id, None)
                    }
                    _ => panic!("docs/mapping.md:{line}: unknown call {what:?}"),
                }
            }
            (Membership::UserAttribute(a), rest) => {
                let user =
                    user.unwrap_or_else(|| panic!("docs/mapping.md:{line}: no `json user` block"));
                let mut current = a.groups_of_user(user);
                let write = |groups: &[String]| {
                    let new = a.with_groups(user, groups).unwrap();
                    let update = m
                        .users
                        .endpoints
                        .update
                        .as_ref()
                        .expect("an update endpoint");
                    let id = m.users.legacy_id(user).unwrap();
                    let mut out = format!("{} {}", update.method, update.target(Some(&id), &[]));
                    if let Some(tag) = a.if_match(user) {
                        out.push_str(&format!(" If-Match: {tag}"));
                    }
                    format!("{out} {}", m.users.update_body(user, &new).to_value())
                };
                match rest {
                    ["groups", "of", "the", "user"] => current.join(", "),
                    ["add", "the", "user", "to", group] => {
                        current.push(group.to_string());
                        write(&current)
                    }
                    ["remove", "the", "user", "from", group] => {
                        current.retain(|g| g != group);
                        write(&current)
                    }
                    ["members", "of", group] => {
                        let list = &m.users.endpoints.list.endpoint;
                        let param = a
                            .members_query_param()
                            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no members_query"));
                        let params = [(param.into(), group.to_string().into())];
                        format!("{} {}", list.method, list.target(None, &params))
                    }
                    _ => panic!("docs/mapping.md:{line}: unknown call {what:?}"),
                }
            }
            _ => panic!("docs/mapping.md:{line}: unknown call {what:?}"),
        };
        assert_eq!(actual, expected, "docs/mapping.md:{line}: {what}");
    }
}

/// A `text tenant` block: each line `<op> [<id>] for <tenant> → <method> <target>[ <header>:
/// <value>][ <body>]` (op: create, get, update, delete, deactivate, reactivate or list of users;
/// the body of a `body:` template, filled) must be the call the mapping makes for that tenant's
/// legacy id.
fn check_tenant_calls(m: &Mapping, calls: &str, line: usize) {
    for text in calls.lines().filter(|l| !l.trim().is_empty()) {
        let (what, expected) = text
            .split_once(" → ")
            .unwrap_or_else(|| panic!("docs/mapping.md:{line}: no → in {text:?}"));
        let words: Vec<&str> = what.split_whitespace().collect();
        let (op, id, tenant) = match words.as_slice() {
            [op, "for", tenant] => (*op, None, *tenant),
            [op, id, "for", tenant] => (*op, Some(*id), *tenant),
            _ => panic!("docs/mapping.md:{line}: cannot read {what:?}"),
        };
        let e = &m.users.endpoints;
        let endpoint = match op {
            "create" => e.create.as_ref().expect("a create endpoint"),
            "get" => &e.get,
            "update" => e.update.as_ref().expect("an update endpoint"),
            "delete" => e.delete.as_ref().expect("a delete endpoint"),
            "deactivate" => e.deactivate.as_ref().expect("a deactivate endpoint"),
            "reactivate" => e.reactivate.as_ref().expect("a reactivate endpoint"),
            "list" => &e.list.endpoint,
            _ => panic!("docs/mapping.md:{line}: unknown operation {op:?}"),
        };
        let mut actual = format!(
            "{} {}",
            endpoint.method,
            m.backend.target(endpoint, tenant, id, None, &[])
        );
        if let Some((name, value)) = m.backend.tenant_header(tenant) {
            actual.push_str(&format!(" {name}: {value}"));
        }
        // The `body:` template, filled, of a call that sends no record.
        if let Some(body) = m.template_body(endpoint, tenant, id, None) {
            actual.push_str(&format!(" {body}"));
        }
        assert_eq!(actual, expected, "docs/mapping.md:{line}: {what}");
    }
}

#[test]
fn the_example_check_output_names_a_real_file() {
    // `check` is given paths; make sure the loader names them as given.
    let e = load_file(Path::new("mappings/nope.yaml")).unwrap_err();
    assert!(e.to_string().starts_with("mappings/nope.yaml: "), "{e}");
}
