//! Roles and licence flags derived from group membership (`docs/mapping.md`, "Roles and flags";
//! "Roles and licences from groups" in `docs/idp/*.md`), over real HTTP with Acme HR's shipped
//! mapping: its `groups.roles` and `groups.flags`; and Orbit's roles looked up by name for
//! groups held by the gateway.

mod common;

use common::scim::{create_group, patch_op};
use common::{Env, Legacy};
use serde_json::{json, Value};

fn legacy_user(env: &Env, id: &str) -> Value {
    env.acme()
        .user(id.parse().unwrap())
        .expect("the legacy user")
}

/// Writes fields of a legacy user directly, as an Acme HR admin would.
fn set_legacy(env: &Env, id: &str, fields: Value) {
    let request = http::Request::builder()
        .method("PATCH")
        .uri(format!("{}/api/v1/users/{id}", env.backend_url))
        .header("X-Acme-Api-Key", &env.backend_secret)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&fields).unwrap())
        .unwrap();
    let answer = ureq::Agent::new_with_defaults().run(request).unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

fn create_user(env: &Env, name: &str) -> String {
    let r = env.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn add(env: &Env, group: &str, user: &str) {
    let r = env.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": user}]}])),
    );
    assert!(matches!(r.status, 200 | 204), "{:?}", r.body);
}

fn remove(env: &Env, group: &str, user: &str) {
    let r = env.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])),
    );
    assert!(matches!(r.status, 200 | 204), "{:?}", r.body);
}

#[test]
fn roles_and_licences_follow_the_groups_a_user_is_put_in() {
    let env = Env::start(Legacy::AcmeHr);
    let ann = create_user(&env, "ann");
    // Created through the gateway: the default role, unlicensed.
    assert_eq!(legacy_user(&env, &ann)["role"], "member");
    assert_eq!(legacy_user(&env, &ann)["licensed"], false);

    let managers = create_group(&env, "Managers");
    let advisers = create_group(&env, "Advisers");
    let pro = create_group(&env, "Pro");

    add(&env, &managers, &ann);
    assert_eq!(legacy_user(&env, &ann)["role"], "manager");
    // A lower role's group does not lower the highest.
    add(&env, &advisers, &ann);
    assert_eq!(legacy_user(&env, &ann)["role"], "manager");
    // Out of Managers, the Advisers group decides.
    remove(&env, &managers, &ann);
    assert_eq!(legacy_user(&env, &ann)["role"], "adviser");
    // In no listed group: the role stays.
    remove(&env, &advisers, &ann);
    assert_eq!(legacy_user(&env, &ann)["role"], "adviser");

    add(&env, &pro, &ann);
    assert_eq!(legacy_user(&env, &ann)["licensed"], true);
    remove(&env, &pro, &ann);
    assert_eq!(legacy_user(&env, &ann)["licensed"], false);

    // Members given when a group is created (POST) and by PUT count too.
    let bob = create_user(&env, "bob");
    let r = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Assistants", "members": [{"value": bob}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(legacy_user(&env, &bob)["role"], "assistant");
    let r = env.put(
        &format!("/Groups/{pro}"),
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Pro", "members": [{"value": bob}]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(legacy_user(&env, &bob)["licensed"], true);
    env.stop();
}

#[test]
fn an_owner_is_never_lowered_by_its_groups() {
    let env = Env::start(Legacy::AcmeHr);
    let olga = create_user(&env, "olga");
    set_legacy(&env, &olga, json!({"role": "owner"}));
    let managers = create_group(&env, "Managers");
    add(&env, &managers, &olga);
    assert_eq!(legacy_user(&env, &olga)["role"], "owner");
    env.stop();
}

#[test]
fn each_write_of_a_user_is_a_sync_of_its_role_and_flags() {
    let env = Env::start(Legacy::AcmeHr);
    let cy = create_user(&env, "cy");
    let managers = create_group(&env, "Managers");
    add(&env, &managers, &cy);
    // Changed behind the gateway's back (or by an older table): the next sync puts it right.
    set_legacy(&env, &cy, json!({"role": "member", "licensed": true}));
    let r = env.patch(
        &format!("/Users/{cy}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Cy"}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let now = legacy_user(&env, &cy);
    assert_eq!(
        (&now["role"], &now["licensed"]),
        (&json!("manager"), &json!(false))
    );
    assert_eq!(now["display_name"], "Cy");

    // A PUT too, and a sync with nothing to change writes nothing.
    set_legacy(&env, &cy, json!({"role": "assistant"}));
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "userName": "cy", "displayName": "Cy"});
    assert_eq!(env.put(&format!("/Users/{cy}"), &put).status, 200);
    assert_eq!(legacy_user(&env, &cy)["role"], "manager");
    let version = legacy_user(&env, &cy)["version"].clone();
    assert_eq!(env.put(&format!("/Users/{cy}"), &put).status, 200);
    assert_eq!(legacy_user(&env, &cy)["version"], version);
    env.stop();
}

/// Orbit's users (its shipped mapping up to `groups:`), then groups held by the gateway whose
/// rules name Orbit's roles as its screens do.
fn orbit_held(ranking: &str) -> String {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/orbit.yaml"),
    )
    .unwrap();
    let users = &shipped[..shipped.find("\ngroups:\n").unwrap() + 1];
    format!(
        "{users}groups:
  held_by: gateway
  roles:
    legacy: $.role_id
    lookup: {{ method: GET, path: /api/v2/roles, items: $.data, id: $.id, name: $.name }}
    default: Member
    ranking: [{ranking}]
    from_groups:
      - {{ group: \"Orbit Editors\", role: Editor }}
"
    )
}

#[test]
fn roles_of_groups_held_by_the_gateway_are_looked_up_by_name() {
    use scim_gateway::config::Config;
    use scim_gateway::mapping::{self, BackendAuth, SecretSource, UserGroup};
    use scim_gateway::server::gateway::Gateway;
    use scim_gateway_example_apis::orbit::Orbit;
    use scim_gateway_hosting::free_loopback_addr;

    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let addr = free_loopback_addr().unwrap();
    let _server = orbit.serve(addr).unwrap();
    let gateway = |yaml: &str| {
        let mut m = mapping::load_str("orbit-held.yaml", yaml).unwrap();
        m.backend.base_url = format!("http://{addr}");
        m.backend.auth = Some(BackendAuth::Bearer(SecretSource::Value(
            orbit.issue_token(),
        )));
        let mut config = Config::default();
        config.store.url = format!("sqlite:{}", common::temp_store_file().display());
        Gateway::new(config, m)
    };
    let gw = gateway(&orbit_held("Administrator, Editor, Member, Viewer")).unwrap();
    let rules = &gw.mapping.held_groups.as_ref().unwrap().rules;
    assert!(!rules.roles_pending(), "looked up at start");
    assert_eq!(
        rules.with_default_role(&json!({})).unwrap()["role_id"],
        json!(orbit.role_id("Member"))
    );
    let editors = UserGroup {
        id: "0b7c6a52-5d1e-4c36-9d55-0e6f3f0b2a11",
        display: Some("orbit editors"),
    };
    let mut member = json!({ "role_id": orbit.role_id("Member") });
    assert!(
        rules.apply(&mut member, &[editors]).unwrap(),
        "the role changed"
    );
    assert_eq!(member["role_id"], json!(orbit.role_id("Editor")));
    // A name Orbit has no role for stops the start, as for legacy groups.
    let e = gateway(
        &orbit_held("Administrator, Editors, Member, Viewer")
            .replace("role: Editor }", "role: Editors }"),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        e.contains("role \"Editors\": no legacy role has this name"),
        "{e}"
    );
}
