//! SCIM Groups over real HTTP, for every shipped mapping: the life cycles Entra ID, Okta and
//! JumpCloud drive (the "on the wire" sections of `docs/idp/*.md`), and each user's `groups`.

mod common;

use common::scim::{create_group, member_ids, patch_op, sorted};
use common::Env;
use scim_gateway_example_apis::crewbase::PEOPLE;
use serde_json::json;

fn group_ids_of_user(env: &Env, user: &str) -> Vec<String> {
    let r = env.get(&format!("/Users/{user}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut ids: Vec<String> = r.body["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn entra_lifecycle(env: &Env) {
    let users = env.seed_users(4);
    // Probe: no such group yet.
    let probe = env.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22");
    assert_eq!(probe.status, 200, "{:?}", probe.body);
    assert_eq!(probe.body["totalResults"], 0);

    // Create without members, with Entra's extra schema URI.
    let created = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "8aa1a0c0-1", "displayName": "Sales",
                "meta": {"resourceType": "Group"}}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(created
        .location
        .as_deref()
        .unwrap()
        .ends_with(&format!("/Groups/{id}")));
    assert_eq!(created.body["displayName"], "Sales");

    // Now the probe finds it.
    let probe = env.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22");
    assert_eq!(probe.body["totalResults"], 1, "{:?}", probe.body);
    assert_eq!(probe.body["Resources"][0]["id"], id.as_str());
    assert!(probe.body["Resources"][0].get("members").is_none());

    // Add members with $ref: null, several in one request.
    let add = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": users[0]}, {"$ref": null, "value": users[1]},
            {"$ref": null, "value": users[2]}]}])),
    );
    assert_eq!(add.status, 204, "{:?}", add.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(
        member_ids(&got.body),
        sorted(&[&users[0], &users[1], &users[2]])
    );

    // Membership check filter.
    let check = env.get(&format!(
        "/Groups?excludedAttributes=members&filter=id+eq+%22{id}%22+and+members%5Bvalue+eq+%22{}%22%5D",
        users[1]
    ));
    assert_eq!(check.status, 200, "{:?}", check.body);
    assert_eq!(check.body["totalResults"], 1, "{:?}", check.body);
    let check = env.get(&format!(
        "/Groups?excludedAttributes=members&filter=id+eq+%22{id}%22+and+members%5Bvalue+eq+%22{}%22%5D",
        users[3]
    ));
    assert_eq!(check.body["totalResults"], 0, "{:?}", check.body);

    // Entra's legacy Remove with a value list.
    let rm = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Remove", "path": "members",
                           "value": [{"$ref": null, "value": users[0]}]}])),
    );
    assert_eq!(rm.status, 204, "{:?}", rm.body);
    // The members[value eq] form.
    let rm = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])}])),
    );
    assert_eq!(rm.status, 204, "{:?}", rm.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), vec![users[2].clone()]);

    // Rename with Replace.
    let rename = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}])),
    );
    assert_eq!(rename.status, 204, "{:?}", rename.body);
    let got = env.get(&format!("/Groups/{id}?excludedAttributes=members"));
    assert_eq!(got.body["displayName"], "Sales EMEA");
    assert!(got.body.get("members").is_none());

    // Delete.
    assert_eq!(env.delete(&format!("/Groups/{id}")).status, 204);
    assert_eq!(env.get(&format!("/Groups/{id}")).status, 404);
}

all_mappings!(entra_group_lifecycle, entra_lifecycle);

fn okta_group_push(env: &Env) {
    let users = env.seed_users(4);
    let created = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Test SCIMv2", "members": []}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();

    // Add two, then remove one and add another in one request.
    let add = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "add", "path": "members",
                          "value": [{"value": users[0]}, {"value": users[1]}]}])),
    );
    assert_eq!(add.status, 204, "{:?}", add.body);
    let both = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])},
            {"op": "add", "path": "members", "value": [{"value": users[2], "display": "x"}]}
        ])),
    );
    assert_eq!(both.status, 204, "{:?}", both.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), sorted(&[&users[1], &users[2]]));

    // Full push replaces all the members.
    let full = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "replace", "path": "members",
                          "value": [{"value": users[3]}, {"value": users[1]}]}])),
    );
    assert_eq!(full.status, 204, "{:?}", full.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), sorted(&[&users[1], &users[3]]));

    // Rename with the id echoed.
    let rename = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "replace", "value": {"id": id, "displayName": "Renamed"}}])),
    );
    assert_eq!(rename.status, 204, "{:?}", rename.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(got.body["displayName"], "Renamed");
    assert_eq!(member_ids(&got.body), sorted(&[&users[1], &users[3]]));

    // PUT with members replaces them too.
    let put = env.put(
        &format!("/Groups/{id}"),
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Renamed", "members": [{"value": users[0]}]}),
    );
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(member_ids(&put.body), vec![users[0].clone()]);

    // A PATCH asking for attributes answers 200 with the group.
    let asked = env.patch(
        &format!("/Groups/{id}?attributes=displayName"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[2]}]}])),
    );
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    assert_eq!(asked.body["displayName"], "Renamed");

    assert_eq!(env.delete(&format!("/Groups/{id}")).status, 204);
}

all_mappings!(okta_group_push_flow, okta_group_push);

fn jumpcloud_repeated_add_and_unknown_members(env: &Env) {
    let users = env.seed_users(2);
    let created = env.post("/Groups", &json!({"displayName": "JC"}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]));
    for _ in 0..3 {
        let r = env.patch(&format!("/Groups/{id}"), &add);
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    // An unknown member is skipped, the rest applied.
    let r = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "add", "path": "members",
                          "value": [{"value": "999999"}, {"value": users[1]}]}])),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Removing a non-member is not an error.
    let r = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "remove", "path": "members[value eq \"999999\"]"}])),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), sorted(&[&users[0], &users[1]]));
    // A membership change on a group that does not exist is a 404.
    let r = env.patch("/Groups/424242", &add);
    assert_eq!(r.status, 404, "{:?}", r.body);
}

all_mappings!(
    jumpcloud_group_adds,
    jumpcloud_repeated_add_and_unknown_members
);

fn user_groups_are_fresh(env: &Env) {
    let users = env.seed_users(1);
    let u = &users[0];
    assert!(group_ids_of_user(env, u).is_empty());
    let a = env.post("/Groups", &json!({"displayName": "A"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = env
        .post(
            "/Groups",
            &json!({"displayName": "B", "members": [{"value": u}]}),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(group_ids_of_user(env, u), vec![b.clone()]);
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
    assert_eq!(env.patch(&format!("/Groups/{a}"), &add).status, 204);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(group_ids_of_user(env, u), both);
    // Lists show them too.
    let listed = env.get(&format!(
        "/Users?filter=id+eq+%22{u}%22&attributes=userName,groups"
    ));
    let mut shown: Vec<String> = listed.body["Resources"][0]["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    shown.sort();
    assert_eq!(shown, both, "{:?}", listed.body);
    let rm = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]));
    assert_eq!(env.patch(&format!("/Groups/{b}"), &rm).status, 204);
    assert_eq!(group_ids_of_user(env, u), vec![a.clone()]);
    // members[value eq] alone lists the user's groups.
    let found = env.get(&format!(
        "/Groups?excludedAttributes=members&filter=members%5Bvalue+eq+%22{u}%22%5D"
    ));
    assert_eq!(found.body["totalResults"], 1, "{:?}", found.body);
    assert_eq!(found.body["Resources"][0]["id"], a.as_str());
}

all_mappings!(user_groups_fresh, user_groups_are_fresh);

fn discovery_lists_groups(env: &Env) {
    let types = env.get("/ResourceTypes");
    assert_eq!(types.body["totalResults"], 2, "{:?}", types.body);
    assert_eq!(env.get("/ResourceTypes/Group").status, 200);
    let schema = env.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group");
    assert_eq!(schema.status, 200, "{:?}", schema.body);
}

all_mappings!(discovery_has_groups, discovery_lists_groups);

#[test]
fn concurrent_adds_of_one_crewbase_person_keep_every_team() {
    // Membership is a read-modify-write of the person's team_ids: concurrent changes must not
    // overwrite each other.
    let env = Env::start(common::Legacy::Crewbase);
    let users = env.seed_users(1);
    let u = users[0].clone();
    let groups: Vec<String> = (0..6)
        .map(|i| {
            env.post("/Groups", &json!({"displayName": format!("T{i}")}))
                .body["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    std::thread::scope(|s| {
        for g in &groups {
            let (env, u) = (&env, &u);
            s.spawn(move || {
                let add =
                    patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
                assert_eq!(env.patch(&format!("/Groups/{g}"), &add).status, 204);
            });
        }
    });
    let mut expected = groups.clone();
    expected.sort();
    assert_eq!(group_ids_of_user(&env, &u), expected);
}

#[test]
fn without_a_members_query_a_crewbase_team_is_read_from_every_person() {
    // A legacy API that cannot list a team's people: the gateway reads every person, a page
    // (50) at a time, and keeps the team's members.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(root.join("mappings/crewbase.yaml")).unwrap();
    let without = yaml.replace("      members_query: { param: team }\n", "");
    assert_ne!(without, yaml, "the shipped mapping has a members_query");
    let no_query = scim_gateway::mapping::load_str("crewbase.yaml", &without).unwrap();
    let env = Env::start_tweaked(
        common::Legacy::Crewbase,
        |m| m.groups = no_query.groups,
        |_| {},
    );
    let users = env.seed_users(120);
    let team = create_group(&env, "Scanned");
    let members = [&users[5], &users[70], &users[119]];
    let add = patch_op(json!([{"op": "add", "path": "members",
        "value": members.iter().map(|u| json!({"value": u})).collect::<Vec<_>>()}]));
    assert_eq!(env.patch(&format!("/Groups/{team}"), &add).status, 204);
    let before = env.crewbase().requests().get("GET", PEOPLE);
    let got = env.get(&format!("/Groups/{team}"));
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(member_ids(&got.body), sorted(&members));
    assert_eq!(
        env.crewbase().requests().get("GET", PEOPLE) - before,
        3,
        "120 people in pages of 50"
    );
}
