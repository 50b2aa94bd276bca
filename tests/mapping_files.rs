//! Loads every mapping shipped in `mappings/` and checks a few translations of each, and runs the
//! worked examples of `docs/mapping.md`, so that neither the shipped files nor the documentation
//! can rot.

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue};
use scim_gateway::mapping::{load_file, load_str, Mapping, OnDelete, Pagination, UpdateMode};
use scim_gateway::scim::filter::Filter;
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

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

    let filter = Filter::parse(r#"userName eq "x&role=owner""#).unwrap();
    let pushed = users.pushdown(&filter);
    assert!(pushed.complete);
    assert_eq!(
        users.endpoints.list.endpoint.target(None, &pushed.params),
        "/api/v1/users?login=x%26role%3Downer"
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
    assert!(!users.has_version());
    assert!(!users.has_deleted_marker());
    assert_eq!(users.mark_deleted(&json!({"uid": "p_1"})), None);
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
    let body = users.update_body(&legacy, &new_legacy);
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
    const WHOLE: [&str; 8] = [
        "create",
        "get",
        "update",
        "delete",
        "deactivate",
        "reactivate",
        "list",
        "auth",
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
    let top_level = ["name", "backend", "users"];
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
                let check = rest.first().copied().unwrap_or("check=both");
                let mut legacy = None;
                let mut scim = None;
                let mut deleted = None;
                let mut schema = Vec::new();
                let mut refused = None;
                let mut refusal = None;
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
                        _ => break,
                    }
                    i += 1;
                }
                if let (Some(legacy), Some(scim)) = (&legacy, &scim) {
                    if check != "check=write" {
                        let read = m.users.to_scim(legacy).unwrap();
                        assert!(
                            contains(&read, scim),
                            "docs/mapping.md:{}: the legacy user reads as\n{read:#}",
                            f.line
                        );
                    }
                    if check != "check=read" {
                        let written = m.users.to_legacy(scim, None).unwrap();
                        let mut expected = legacy.clone();
                        if let Some(o) = expected.as_object_mut() {
                            o.remove("id");
                        }
                        assert!(
                            contains(&written, &expected),
                            "docs/mapping.md:{}: the SCIM user writes as\n{written:#}",
                            f.line
                        );
                    }
                }
                if let Some(deleted) = &deleted {
                    check_deleted(&m, legacy.as_ref(), deleted, f.line);
                }
                for (line, expected) in &schema {
                    check_schema(&m, expected, *line);
                }
                if let Some((line, user)) = &refused {
                    // A full update of the example's legacy user (a create without one).
                    let err = m
                        .users
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
    assert!(checked >= 15, "only {checked} documentation examples found");
}

/// A `json deleted` block: that legacy user carries the marker, the example's legacy user does
/// not, and marking it gives exactly the block.
fn check_deleted(m: &Mapping, legacy: Option<&Value>, deleted: &Value, line: usize) {
    assert!(
        m.users.is_deleted(deleted),
        "docs/mapping.md:{line}: the `json deleted` user is not deleted"
    );
    if let Some(legacy) = legacy {
        assert!(
            !m.users.is_deleted(legacy),
            "docs/mapping.md:{line}: the `json legacy` user is already deleted"
        );
        assert_eq!(
            m.users.mark_deleted(legacy).as_ref(),
            Some(deleted),
            "docs/mapping.md:{line}: marking the legacy user deleted"
        );
    }
}

/// A `json schema` block: an attribute definition that `/Schemas` serves (with at least these
/// characteristics, and exactly these sub-attributes when it lists them).
fn check_schema(m: &Mapping, expected: &Value, line: usize) {
    let docs = m.users.schema.schemas_json("https://example.com/scim/v2");
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

#[test]
fn the_example_check_output_names_a_real_file() {
    // `check` is given paths; make sure the loader names them as given.
    let e = load_file(Path::new("mappings/nope.yaml")).unwrap_err();
    assert!(e.to_string().starts_with("mappings/nope.yaml: "), "{e}");
}
