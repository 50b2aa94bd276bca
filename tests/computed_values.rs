//! Computed and cleaned values, and placeholders in query values and bodies, end to end over
//! real sockets: a displayName computed from Acme HR's separate given and family names; an
//! empty phone number read as no phone, and no phone written as ""; and Keystone (de)activated
//! through its update call, with a `body:` template and a query value filled per call. Each
//! test runs the shipped mapping with the entries under test changed in its YAML.

mod common;

use common::scim::{entra_user, patch_op};
use common::{Env, Legacy};
use scim_gateway::mapping::{self, Mapping};
use scim_gateway_example_apis::keystone;
use serde_json::{json, Map, Value};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The shipped mapping `file` with each `(from, to)` replaced (each `from` must be there), as
/// the users and groups of `m` (the harness keeps its backend).
fn changed(file: &str, edits: &[(&str, &str)]) -> impl FnOnce(&mut Mapping) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut text = std::fs::read_to_string(format!("{root}/mappings/{file}")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{file} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let loaded =
        mapping::load_str(file, &text).unwrap_or_else(|e| panic!("the changed {file}:\n{e}"));
    move |m: &mut Mapping| {
        m.users = loaded.users;
        m.groups = loaded.groups;
    }
}

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn filtered(env: &Env, filter: &str) -> Value {
    let encoded: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    let r = env.get(&format!("/Users?filter={encoded}"));
    assert_eq!(r.status, 200, "{filter}: {:?}", r.body);
    r.body
}

fn ids_of(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

// --- a computed displayName (Acme HR) ----------------------------------------------------------

const DISPLAY_NAME: &str = "- { scim: displayName, legacy: $.display_name }";
const COMPUTED: &str = r#"- { scim: displayName, template: "{first_name} {last_name}" }"#;

#[test]
fn a_display_name_is_computed_from_the_given_and_family_names() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        changed("acme-hr.yaml", &[(DISPLAY_NAME, COMPUTED)]),
        |_| {},
    );
    let id = env.seed_users(1).remove(0);
    let n: u64 = id.parse().unwrap();
    // Acme HR stores "Seed User 1" as the display name; the template reads the names.
    let stored = env.acme().user(n).unwrap();
    assert_eq!(stored["first_name"], "Seed");
    let r = env.get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], format!("Seed User{n}"));

    // A name changed in the product shows at once; an empty or missing one is left out with
    // its separator; no name at all, no displayName.
    assert!(env
        .acme()
        .edit_user(n, &fields(json!({"first_name": "", "last_name": "Hopper"}))));
    assert_eq!(
        env.get(&format!("/Users/{id}")).body["displayName"],
        "Hopper"
    );
    assert!(env.acme().edit_user(
        n,
        &fields(json!({"first_name": "Grace", "last_name": null}))
    ));
    assert_eq!(
        env.get(&format!("/Users/{id}")).body["displayName"],
        "Grace"
    );
    assert!(env
        .acme()
        .edit_user(n, &fields(json!({"first_name": null, "last_name": "  "}))));
    let r = env.get(&format!("/Users/{id}"));
    assert!(r.body.get("displayName").is_none(), "{:?}", r.body);
}

#[test]
fn a_computed_display_name_is_never_written() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        changed("acme-hr.yaml", &[(DISPLAY_NAME, COMPUTED)]),
        |_| {},
    );
    let mut user = entra_user("ada@example.com");
    user["displayName"] = json!("The Countess");
    let r = env.post("/Users", &user);
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Ada Lovelace");
    let id = r.body["id"].as_str().unwrap().to_string();
    let n: u64 = id.parse().unwrap();
    assert_eq!(env.acme().user(n).unwrap()["display_name"], Value::Null);

    // A PATCH of displayName changes nothing the IdP can see: the value is computed.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada King"}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(env.acme().user(n).unwrap()["display_name"], Value::Null);
    assert_eq!(
        env.get(&format!("/Users/{id}")).body["displayName"],
        "Ada Lovelace"
    );
    // Changing the names it comes from changes it.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "name.familyName", "value": "King"}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(
        env.get(&format!("/Users/{id}")).body["displayName"],
        "Ada King"
    );
}

#[test]
fn filters_over_a_computed_display_name_work_and_schemas_say_read_only() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        changed("acme-hr.yaml", &[(DISPLAY_NAME, COMPUTED)]),
        |_| {},
    );
    env.seed_users(3);
    let r = env.post("/Users", &entra_user("ada@example.com"));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_string();

    let found = filtered(&env, r#"displayName eq "Ada Lovelace""#);
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(ids_of(&found), std::slice::from_ref(&ada));
    let found = filtered(&env, r#"displayName sw "ada" and displayName co "love""#);
    assert_eq!(ids_of(&found), [ada]);
    let found = filtered(&env, r#"displayName sw "Seed User""#);
    assert_eq!(found["totalResults"], 3, "{found}");
    // The value Acme HR stores is not what the gateway compares.
    let found = filtered(&env, r#"displayName eq "Seed User 1""#);
    assert_eq!(found["totalResults"], 0, "{found}");

    let schemas = env.get("/Schemas");
    assert_eq!(schemas.status, 200);
    let user = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == USER_SCHEMA)
        .expect("the User schema");
    let display = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "displayName")
        .expect("displayName is advertised");
    assert_eq!(display["mutability"], "readOnly");
}

// --- an empty phone number (Acme HR) ---------------------------------------------------------

const WORK_PHONE: &str =
    r#"- { scim: 'phoneNumbers[type eq "work"].value', legacy: $.work_phone }"#;
const WORK_PHONE_EMPTY_ABSENT: &str =
    r#"- { scim: 'phoneNumbers[type eq "work"].value', legacy: $.work_phone, empty: absent }"#;

fn work_phone(user: &Value) -> Option<Value> {
    user["phoneNumbers"]
        .as_array()?
        .iter()
        .find(|p| p["type"] == "work")
        .map(|p| p["value"].clone())
}

#[test]
fn an_empty_phone_is_no_phone() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        changed("acme-hr.yaml", &[(WORK_PHONE, WORK_PHONE_EMPTY_ABSENT)]),
        |_| {},
    );
    let ids = env.seed_users(2);
    let n: u64 = ids[0].parse().unwrap();
    let login = env.acme().user(n).unwrap()["login"].clone();
    let login = login.as_str().unwrap();
    for stored in ["", "   "] {
        assert!(env
            .acme()
            .edit_user(n, &fields(json!({"work_phone": stored}))));
        let r = env.get(&format!("/Users/{}", ids[0]));
        assert_eq!(work_phone(&r.body), None, "{:?}", r.body);
        let found = filtered(
            &env,
            &format!(r#"userName eq "{login}" and phoneNumbers[type eq "work" and value pr]"#),
        );
        assert_eq!(found["totalResults"], 0, "{found}");
        let found = filtered(
            &env,
            &format!(r#"userName eq "{login}" and phoneNumbers[type eq "work" and value eq ""]"#),
        );
        assert_eq!(found["totalResults"], 0, "{found}");
    }
    assert!(env
        .acme()
        .edit_user(n, &fields(json!({"work_phone": "+1 555 0100"}))));
    let r = env.get(&format!("/Users/{}", ids[0]));
    assert_eq!(work_phone(&r.body), Some(json!("+1 555 0100")));
}

#[test]
fn without_empty_absent_an_empty_phone_is_shown_empty() {
    let env = Env::start(Legacy::AcmeHr);
    let ids = env.seed_users(1);
    let n: u64 = ids[0].parse().unwrap();
    assert!(env.acme().edit_user(n, &fields(json!({"work_phone": ""}))));
    let r = env.get(&format!("/Users/{}", ids[0]));
    assert_eq!(work_phone(&r.body), Some(json!("")), "{:?}", r.body);
}

#[test]
fn no_phone_is_written_as_an_empty_string_never_null() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        changed("acme-hr.yaml", &[(WORK_PHONE, WORK_PHONE_EMPTY_ABSENT)]),
        |_| {},
    );
    let mut user = entra_user("grace@example.com");
    user["phoneNumbers"] = json!([{"type": "work", "value": "+1 555 0100"}]);
    let r = env.post("/Users", &user);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let n: u64 = id.parse().unwrap();
    assert_eq!(env.acme().user(n).unwrap()["work_phone"], "+1 555 0100");

    // PATCH remove: "" is written.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(env.acme().user(n).unwrap()["work_phone"], "");
    assert_eq!(work_phone(&env.get(&format!("/Users/{id}")).body), None);

    // A PUT without the phone: "" again, and the other fields as sent.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": "+1 555 0199"}]}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(env.acme().user(n).unwrap()["work_phone"], "+1 555 0199");
    let mut put = env.get(&format!("/Users/{id}")).body;
    put.as_object_mut().unwrap().remove("phoneNumbers");
    let r = env.put(&format!("/Users/{id}"), &put);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = env.acme().user(n).unwrap();
    assert_eq!(stored["work_phone"], "");
    assert_eq!(stored["login"], "grace@example.com");
}

// --- a body template and a query placeholder (Keystone) --------------------------------------

/// Keystone's `active` read from `state` only, and set through the update call used as
/// deactivate and reactivate endpoints, each with a body template.
fn keystone_lock_calls() -> impl FnOnce(&mut Mapping) {
    changed(
        "keystone.yaml",
        &[
            (
                "    - scim: active\n      legacy: $.state\n      required: true\n      default: true\n",
                "    - scim: active\n      legacy: $.state\n      direction: read\n",
            ),
            (
                "    delete: { method: DELETE, path: \"/api/users/{id}\" }\n",
                concat!(
                    "    delete: { method: DELETE, path: \"/api/users/{id}\" }\n",
                    "    deactivate: { method: PATCH, path: \"/api/users/{id}\", query: { reason: \"scim-{tenant}\" }, ",
                    "body: { user: { state: locked }, audit: { user_id: \"{id}\", by: \"{tenant}\", note: \"user {id} locked\" } } }\n",
                    "    reactivate: { method: PATCH, path: \"/api/users/{id}\", body: { user: { state: active } } }\n",
                ),
            ),
        ],
    )
}

#[test]
fn deactivation_sends_the_body_template_with_the_id_and_tenant_filled() {
    let env = Env::start_tweaked(Legacy::Keystone, keystone_lock_calls(), |_| {});
    let id = env.seed_users(1).remove(0);
    let n: u64 = id.parse().unwrap();
    env.keystone().requests().reset();

    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(env.keystone().user(n).unwrap()["state"], "locked");
    let sent = env.keystone().bodies("PATCH", keystone::USER);
    // Keystone's ids are integers (`id_format: integer`): "{id}" alone is sent as a number, and
    // within text as text.
    assert_eq!(
        sent.last().unwrap(),
        &json!({"user": {"state": "locked"},
                "audit": {"user_id": n, "by": "default", "note": format!("user {n} locked")}})
    );
    let target = format!("PATCH /api/users/{n}?reason=scim-default");
    assert!(
        env.keystone().requests().targets().contains(&target),
        "{:?}",
        env.keystone().requests().targets()
    );
    assert_eq!(env.get(&format!("/Users/{id}")).body["active"], false);

    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    assert_eq!(env.keystone().user(n).unwrap()["state"], "active");
    let sent = env.keystone().bodies("PATCH", keystone::USER);
    assert_eq!(sent.last().unwrap(), &json!({"user": {"state": "active"}}));
    assert_eq!(env.get(&format!("/Users/{id}")).body["active"], true);
}

#[test]
fn a_hostile_tenant_name_stays_one_query_value_and_one_string() {
    // The tenant's legacy id is data: in the query one form-encoded value, in the body one
    // JSON string, whatever it holds.
    let env = Env::start_tweaked(Legacy::Keystone, keystone_lock_calls(), |config| {
        let tenant = config.tenants.entry("default".into()).or_default();
        tenant.legacy_id = Some("a&b=\"c\"}".into());
    });
    let id = env.seed_users(1).remove(0);
    let n: u64 = id.parse().unwrap();
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    let sent = env.keystone().bodies("PATCH", keystone::USER);
    assert_eq!(sent.last().unwrap()["audit"]["by"], "a&b=\"c\"}");
    let target = format!("PATCH /api/users/{n}?reason=scim-a%26b%3D%22c%22%7D");
    assert!(
        env.keystone().requests().targets().contains(&target),
        "{:?}",
        env.keystone().requests().targets()
    );
}

// --- what `check` says -------------------------------------------------------------------------

#[test]
fn check_refuses_misplaced_placeholders_and_computed_writes_with_file_line_and_fix() {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/mappings/acme-hr.yaml")).unwrap();
    let edits = [
        (
            "    list:\n      method: GET\n      path: /api/v1/users\n",
            "    list:\n      method: GET\n      path: /api/v1/users\n      body: { owner: \"{member}\" }\n",
        ),
        (DISPLAY_NAME, r#"- { scim: displayName, template: "{first_name} {last_name}", direction: both }"#),
        (WORK_PHONE, r#"- { scim: 'phoneNumbers[type eq "work"].value', legacy: $.work_phone, empty: blank }"#),
    ];
    let mut broken = text.clone();
    for (from, to) in edits {
        assert!(broken.contains(from), "acme-hr.yaml has no {from:?}");
        broken = broken.replacen(from, to, 1);
    }
    let line = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let dir = std::env::temp_dir().join(format!("scim-gw-values-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("acme-hr.yaml");
    std::fs::write(&file, &broken).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    for (needle, message, fix) in [
        (
            "body: { owner:",
            "users.endpoints.list.body: {member} cannot be filled here",
            "fix: remove {member}",
        ),
        (
            "template:",
            "a computed value is only ever read",
            "fix: remove `direction`",
        ),
        (
            "empty: blank",
            "\"blank\" is not what an empty string can mean here",
            "fix: write empty: absent",
        ),
    ] {
        let at = format!("{f}:{}:", line(needle));
        let problem = err
            .lines()
            .position(|l| l.starts_with(&at) && l.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} at {at} in:\n{err}"));
        let next = err.lines().nth(problem + 1).unwrap_or_default();
        assert!(next.contains(fix), "{next:?} lacks {fix:?} in:\n{err}");
    }
    // The shipped file itself is fine.
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["check", &format!("{root}/mappings/acme-hr.yaml")])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
