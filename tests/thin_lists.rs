//! Lists that lack what a query needs, over real sockets. List items that carry only some
//! attributes (`carries:`): a filter or a sort on another attribute reads each candidate in
//! full (at most `scan_limit`, else `tooMany`), and the resources shown are read in full when
//! the response shows an attribute the items lack — never an empty or half answer. Member
//! endpoints without a user's-groups call: `members[value eq "<user>"]` on /Groups reads the
//! groups' member lists (bounded), and a user's `groups` is neither advertised nor shown.
//! Keystone's list items are thin as it ships, and lack the `state` that marks a user deleted
//! through SCIM, which Keystone still lists: each user listed is read in full before it is
//! shown or counted.

mod common;

use std::path::Path;

use common::scim::{create_group, patch_op};
use common::{Env, Legacy};
use scim_gateway::mapping::{self, Mapping};
use scim_gateway_example_apis::{acme_hr, crewbase, keystone, orbit, tallybook};
use serde_json::{json, Value};

/// The example legacy APIs the `carries:` tests run against.
const LEGACIES: [Legacy; 3] = [Legacy::AcmeHr, Legacy::Crewbase, Legacy::Keystone];

/// The shipped mapping of `legacy` whose users list items carry only the user name, the name,
/// the e-mails and the external id; Keystone's as it ships (the user name, the name and the
/// e-mails).
fn thin_users(legacy: Legacy) -> Mapping {
    let file = legacy.mapping_file();
    let items = match legacy {
        Legacy::AcmeHr | Legacy::Orbit | Legacy::OrbitRoles => "      items: $.data\n",
        Legacy::Crewbase => "      items: $.people\n",
        Legacy::Keystone | Legacy::Tallybook => "      items: $.users\n",
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(root.join(file)).unwrap();
    assert!(yaml.contains(items));
    if legacy == Legacy::Keystone {
        assert!(yaml.contains("      carries: [userName, emails, name]\n"));
        return mapping::load_str(file, &yaml).unwrap_or_else(|e| panic!("{e}"));
    }
    let thin = yaml.replacen(
        items,
        &format!("{items}      carries: [userName, name, emails, externalId]\n"),
        1,
    );
    mapping::load_str(file, &thin).unwrap_or_else(|e| panic!("{e}"))
}

fn start_thin(legacy: Legacy, scan_limit: usize) -> Env {
    let thin = thin_users(legacy);
    Env::start_tweaked(
        legacy,
        |m| {
            m.users = thin.users;
            m.users.scan_limit = scan_limit;
        },
        |_| {},
    )
}

/// How many single-user reads the legacy API received.
fn user_reads(env: &Env) -> u64 {
    match env.legacy {
        Legacy::AcmeHr => env.acme().requests().get("GET", acme_hr::USER),
        Legacy::Crewbase => env.crewbase().requests().get("GET", crewbase::PERSON),
        Legacy::Keystone => env.keystone().requests().get("GET", keystone::USER),
        Legacy::Orbit | Legacy::OrbitRoles => env.orbit().requests().get("GET", orbit::USER),
        Legacy::Tallybook => env.tallybook().requests().get("GET", tallybook::USER),
    }
}

fn set_title(env: &Env, id: &str, title: &str) {
    let edited = match env.legacy {
        Legacy::AcmeHr => env.acme().edit_user(
            id.parse().unwrap(),
            json!({ "job_title": title }).as_object().unwrap(),
        ),
        Legacy::Crewbase => env
            .crewbase()
            .edit_person(id, json!({ "position": title }).as_object().unwrap()),
        Legacy::Keystone => env.keystone().edit_user(
            id.parse().unwrap(),
            json!({ "title": title }).as_object().unwrap(),
        ),
        Legacy::Orbit | Legacy::OrbitRoles => env
            .orbit()
            .edit_user(id, json!({ "title": title }).as_object().unwrap()),
        Legacy::Tallybook => unreachable!("Tallybook users have no title"),
    };
    assert!(edited);
}

fn ids_of(answer: &Value) -> Vec<String> {
    answer["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_filter_on_an_attribute_list_items_lack_is_checked_on_each_full_record() {
    for legacy in LEGACIES {
        let env = start_thin(legacy, 1000);
        let ids = env.seed_users(60);
        let leads: Vec<String> = ids.iter().skip(2).step_by(10).cloned().collect();
        for id in &leads {
            set_title(&env, id, "Lead");
        }
        let before = user_reads(&env);
        let r = env.get("/Users?filter=title+eq+%22Lead%22&attributes=userName,title");
        assert_eq!(r.status, 200, "{legacy:?}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 6, "{legacy:?}: {:?}", r.body);
        assert_eq!(ids_of(&r.body), leads, "{legacy:?}");
        assert!(r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["title"] == "Lead"));
        assert_eq!(
            user_reads(&env) - before,
            60,
            "{legacy:?}: each candidate, once"
        );
        // Pages agree, the total is the same on each.
        let second = env.get("/Users?filter=title+eq+%22Lead%22&startIndex=5&count=4");
        assert_eq!(second.body["totalResults"], 6, "{legacy:?}");
        assert_eq!(ids_of(&second.body), leads[4..].to_vec(), "{legacy:?}");
        // What the legacy API can search narrows the candidates first. Keystone's `q` is a
        // search: seed.user3 and seed.user30 to seed.user39 are its candidates.
        let before = user_reads(&env);
        let (name, candidates) = match legacy {
            Legacy::AcmeHr => ("seed.user3", 1),
            Legacy::Crewbase => ("seed.person3", 1),
            Legacy::Keystone => ("seed.user3", 11),
            Legacy::Orbit | Legacy::OrbitRoles => unreachable!("Orbit is not among LEGACIES yet"),
            Legacy::Tallybook => unreachable!("Tallybook is not among LEGACIES"),
        };
        let r = env.get(&format!(
            "/Users?filter=userName+eq+%22{name}%22+and+title+eq+%22Lead%22&attributes=title"
        ));
        assert_eq!(r.body["totalResults"], 1, "{legacy:?}: {:?}", r.body);
        assert_eq!(
            user_reads(&env) - before,
            candidates,
            "{legacy:?}: the candidates, once"
        );
        // A sort on it too.
        let sorted = env.get("/Users?filter=title+eq+%22Lead%22&sortBy=title&attributes=title");
        assert_eq!(sorted.body["totalResults"], 6, "{legacy:?}");
    }
}

#[test]
fn the_resources_shown_are_read_in_full_when_the_response_shows_what_items_lack() {
    for legacy in LEGACIES {
        let env = start_thin(legacy, 1000);
        let ids = env.seed_users(12);
        set_title(&env, &ids[1], "Lead");
        // Keystone lists its deleted users, and its items lack the `state` that tells them:
        // each user is read once to be shown or counted, and never a second time for the page.
        let (page_reads, names_reads) = match legacy {
            Legacy::Keystone => (12, 12),
            Legacy::Orbit | Legacy::OrbitRoles => unreachable!("Orbit is not among LEGACIES yet"),
            Legacy::Tallybook => unreachable!("Tallybook is not among LEGACIES"),
            Legacy::AcmeHr | Legacy::Crewbase => (5, 0),
        };
        let before = user_reads(&env);
        let page = env.get("/Users?startIndex=1&count=5");
        assert_eq!(page.status, 200, "{legacy:?}: {:?}", page.body);
        assert_eq!(page.body["totalResults"], 12);
        assert_eq!(page.body["Resources"][1]["title"], "Lead", "{legacy:?}");
        assert_eq!(page.body["Resources"][1]["active"], true, "{legacy:?}");
        assert_eq!(
            user_reads(&env) - before,
            page_reads,
            "{legacy:?}: the page's users"
        );
        // Only what the items carry: no read but to tell the deleted users.
        let before = user_reads(&env);
        let names = env.get("/Users?count=5&attributes=userName,name.familyName");
        assert_eq!(names.body["Resources"].as_array().unwrap().len(), 5);
        assert_eq!(user_reads(&env) - before, names_reads, "{legacy:?}");
    }
}

#[test]
fn keystone_users_deleted_through_scim_are_told_from_their_full_records() {
    // Keystone keeps a user deleted through SCIM, in state "deleted", and lists it among the
    // others with no `state`: it is shown by no list, found by no filter, counted by no total.
    let env = Env::start(Legacy::Keystone);
    let ids = env.seed_users(12);
    for id in [&ids[2], &ids[7]] {
        assert_eq!(env.delete(&format!("/Users/{id}")).status, 204);
        let stored = env.keystone().user(id.parse().unwrap()).unwrap();
        assert_eq!(stored["state"], "deleted", "kept, marked");
    }
    let listed = env.get("/Users?startIndex=1&count=100");
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 10);
    let shown = ids_of(&listed.body);
    assert!(
        !shown.contains(&ids[2]) && !shown.contains(&ids[7]),
        "{shown:?}"
    );
    assert_eq!(env.get("/Users?count=0").body["totalResults"], 10);
    // The page from 3 starts after the first deleted user: none is short, none is skipped.
    let page = env.get("/Users?startIndex=3&count=3");
    assert_eq!(ids_of(&page.body), ids[3..6].to_vec());
    // `q` finds the deleted user; the gateway does not.
    let name = format!("seed.user{}", ids[7]);
    for count in ["count=0", "count=10"] {
        let r = env.get(&format!("/Users?filter=userName+eq+%22{name}%22&{count}"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["totalResults"], 0, "{count}: {:?}", r.body);
    }
}

#[test]
fn thin_candidates_past_scan_limit_are_too_many_before_any_is_read() {
    for legacy in LEGACIES {
        let env = start_thin(legacy, 40);
        env.seed_users(60);
        let before = user_reads(&env);
        let r = env.get("/Users?filter=title+eq+%22Lead%22");
        assert_eq!(r.status, 400, "{legacy:?}: {:?}", r.body);
        assert_eq!(r.body["scimType"], "tooMany");
        assert!(r.body["detail"]
            .as_str()
            .unwrap()
            .contains("users.scan_limit"));
        assert_eq!(user_reads(&env) - before, 0, "{legacy:?}");
    }
}

/// Acme HR's mapping without its user's-teams call (and so without the roles and flags that
/// need it): membership is only member endpoints.
fn acme_without_user_groups() -> Mapping {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(root.join("mappings/acme-hr.yaml")).unwrap();
    let user_groups = "      user_groups: { method: GET, path: \"/api/v1/users/{id}/teams\", items: $.data, group: $.id }\n";
    assert!(yaml.contains(user_groups));
    let cut = yaml.find("  # Each user's role and licence").unwrap();
    let yaml = yaml[..cut].replacen(user_groups, "", 1);
    mapping::load_str("acme-hr.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn start_without_user_groups(group_scan_limit: usize) -> Env {
    let m = acme_without_user_groups();
    Env::start_tweaked(
        Legacy::AcmeHr,
        |shipped| {
            shipped.users = m.users;
            shipped.groups = m.groups.map(|mut g| {
                g.resource.scan_limit = group_scan_limit;
                g
            });
        },
        |_| {},
    )
}

fn user_schema_attributes(env: &Env) -> Vec<String> {
    let s = env.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(s.status, 200, "{:?}", s.body);
    s.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn members_value_eq_reads_the_member_lists_when_no_call_lists_a_users_groups() {
    let env = start_without_user_groups(1000);
    let users = env.seed_users(4);
    let (a, b) = (
        create_group(&env, "Night Shift"),
        create_group(&env, "Day Shift"),
    );
    create_group(&env, "Empty");
    let add = |group: &str, members: &[&String]| {
        let value: Vec<Value> = members.iter().map(|u| json!({ "value": u })).collect();
        let r = env.patch(
            &format!("/Groups/{group}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": value}])),
        );
        assert_eq!(r.status, 204, "{:?}", r.body);
    };
    add(&a, &[&users[0], &users[1]]);
    add(&b, &[&users[1], &users[2]]);

    let groups_of = |user: &String| {
        let r = env.get(&format!(
            "/Groups?filter=members%5Bvalue+eq+%22{user}%22%5D&excludedAttributes=members"
        ));
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body["totalResults"],
            r.body["Resources"].as_array().unwrap().len()
        );
        let mut ids = ids_of(&r.body);
        ids.sort();
        ids
    };
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(groups_of(&users[1]), both);
    assert_eq!(groups_of(&users[0]), vec![a.clone()]);
    assert_eq!(groups_of(&users[3]), Vec::<String>::new());

    // Entra's membership check names the group: one read of it and of its member list.
    let check = |group: &str, user: &str| {
        let before = env.backend_requests();
        let r = env.get(&format!(
            "/Groups?excludedAttributes=members&filter=id+eq+%22{group}%22+and+members%5Bvalue+eq+%22{user}%22%5D"
        ));
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            env.backend_requests() - before,
            2,
            "the team, then its members"
        );
        r.body["totalResults"].as_u64().unwrap()
    };
    assert_eq!(check(&a, &users[0]), 1);
    assert_eq!(check(&a, &users[2]), 0);
    // With a name the legacy API searches.
    let r = env.get(&format!(
        "/Groups?filter=displayName+eq+%22Day+Shift%22+and+members%5Bvalue+eq+%22{}%22%5D",
        users[2]
    ));
    assert_eq!(ids_of(&r.body), vec![b.clone()], "{:?}", r.body);

    // A user's groups cannot be told: not advertised, not shown, not filtered on.
    assert!(!user_schema_attributes(&env).contains(&"groups".to_string()));
    let before = env.backend_requests();
    let got = env.get(&format!("/Users/{}", users[1]));
    assert_eq!(got.status, 200);
    assert!(got.body.get("groups").is_none(), "{:?}", got.body);
    assert_eq!(env.backend_requests() - before, 1, "the user only");
    let listed = env.get("/Users?attributes=userName,groups");
    assert!(listed.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u.get("groups").is_none()));
    let r = env.get(&format!("/Users?filter=groups%5Bvalue+eq+%22{a}%22%5D"));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "invalidFilter");
}

#[test]
fn members_value_eq_over_more_groups_than_scan_limit_is_too_many() {
    let env = start_without_user_groups(2);
    let users = env.seed_users(1);
    for name in ["One", "Two", "Three"] {
        create_group(&env, name);
    }
    let r = env.get(&format!(
        "/Groups?filter=members%5Bvalue+eq+%22{}%22%5D",
        users[0]
    ));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "tooMany");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("groups.scan_limit"));
}

#[test]
fn with_a_users_groups_call_a_user_still_shows_and_advertises_its_groups() {
    let env = Env::start(Legacy::AcmeHr);
    assert!(user_schema_attributes(&env).contains(&"groups".to_string()));
    let ids = env.acme().seed(2);
    let team = env.acme().seed_team("Night Shift", &ids[..1]).unwrap();
    let got = env.get(&format!("/Users/{}", ids[0]));
    assert_eq!(got.body["groups"][0]["value"], team.to_string());
    let r = env.get(&format!(
        "/Groups?filter=members%5Bvalue+eq+%22{}%22%5D",
        ids[0]
    ));
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
}
