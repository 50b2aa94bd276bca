//! What actually reaches each legacy API: the SCIM requests are checked against the records the
//! example APIs store, in their own shapes, and against the number of legacy calls each SCIM
//! operation costs.

mod common;

use common::{Env, Legacy};
use scim_gateway_example_apis::{acme_hr, crewbase};
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Every example legacy API, each with its shipped mapping.
const EVERY_API: [Legacy; 6] = [
    Legacy::AcmeHr,
    Legacy::Crewbase,
    Legacy::Keystone,
    Legacy::Orbit,
    Legacy::OrbitRoles,
    Legacy::Tallybook,
];

fn full_user() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "mary.smith@example.com",
        "externalId": "ext-77",
        "name": {"givenName": "Mary Ann", "familyName": "Smith"},
        "title": "Engineer",
        "active": true,
        "emails": [{"type": "work", "value": "mary.smith@example.com", "primary": true}],
        "phoneNumbers": [
            {"type": "mobile", "value": "+1 555 0100"},
            {"type": "work", "value": "+1 555 0199"}
        ],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "62701", "country": "US"}],
        ENTERPRISE: {"employeeNumber": "4711", "department": "R&D"}
    })
}

#[test]
fn acme_hr_receives_its_own_field_names() {
    let env = Env::start(Legacy::AcmeHr);
    let created = env.post("/Users", &full_user());
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id: u64 = created.body["id"].as_str().unwrap().parse().unwrap();
    let stored = env.acme().user(id).unwrap();
    assert_eq!(stored["login"], "mary.smith@example.com");
    assert_eq!(stored["first_name"], "Mary Ann");
    assert_eq!(stored["last_name"], "Smith");
    assert_eq!(stored["status"], "enabled");
    assert_eq!(stored["email"], "mary.smith@example.com");
    assert_eq!(stored["mobile_phone"], "+1 555 0100");
    assert_eq!(stored["work_phone"], "+1 555 0199");
    assert_eq!(stored["address"]["street"], "1 Main St");
    assert_eq!(stored["address"]["city"], "Springfield");
    assert_eq!(stored["employee_no"], "4711");
    assert_eq!(stored["department"], "R&D");
    assert_eq!(stored["external_ref"], "ext-77");
    assert_eq!(
        stored["source"], "scim",
        "the mapping's constant is written"
    );

    // Deactivation is a field update: status "disabled".
    let off = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(env.patch(&format!("/Users/{id}"), &off).status, 200);
    assert_eq!(env.acme().user(id).unwrap()["status"], "disabled");

    // A PATCH that changes nothing the legacy API stores costs only the read.
    let before = env.backend_requests();
    let same = json!({"Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]});
    assert_eq!(env.patch(&format!("/Users/{id}"), &same).status, 200);
    assert_eq!(
        env.backend_requests() - before,
        1,
        "no legacy update for a no-op PATCH"
    );
}

#[test]
fn crewbase_receives_its_own_shapes_and_endpoints() {
    let env = Env::start(Legacy::Crewbase);
    let created = env.post("/Users", &full_user());
    assert_eq!(created.status, 201, "{:?}", created.body);
    let uid = created.body["id"].as_str().unwrap().to_string();
    let stored = env.crewbase().person(&uid).unwrap();
    assert_eq!(stored["username"], "mary.smith@example.com");
    assert_eq!(
        stored["full_name"], "Mary Ann Smith",
        "given and family names joined"
    );
    assert_eq!(stored["work_email"], "mary.smith@example.com");
    let phones = stored["phones"].as_array().unwrap();
    assert!(
        phones.contains(&json!({"kind": "cell", "number": "+1 555 0100"})),
        "{phones:?}"
    );
    assert!(
        phones.contains(&json!({"kind": "desk", "number": "+1 555 0199"})),
        "{phones:?}"
    );
    assert_eq!(
        stored["hr"]["badge"], 4711,
        "employeeNumber converted to the legacy integer"
    );
    assert_eq!(stored["is_active"], true);

    // The split on read gives the names back.
    let got = env.get(&format!("/Users/{uid}"));
    assert_eq!(got.body["name"]["givenName"], "Mary Ann");
    assert_eq!(got.body["name"]["familyName"], "Smith");
    assert_eq!(got.body[ENTERPRISE]["employeeNumber"], "4711");

    // Deactivation goes through the dedicated endpoint, not a field update.
    let off = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let r = env.patch(&format!("/Users/{uid}"), &off);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        env.crewbase().requests().get("POST", crewbase::DEACTIVATE),
        1
    );
    assert_eq!(env.crewbase().person(&uid).unwrap()["is_active"], false);
    let on = json!({"Operations": [{"op": "replace", "path": "active", "value": true}]});
    assert_eq!(
        env.patch(&format!("/Users/{uid}"), &on).body["active"],
        true
    );
    assert_eq!(env.crewbase().requests().get("POST", crewbase::ACTIVATE), 1);

    // Partial updates: only the changed field is sent with PATCH.
    let title = json!({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]});
    assert_eq!(
        env.patch(&format!("/Users/{uid}"), &title).body["title"],
        "Lead"
    );
    assert_eq!(env.crewbase().person(&uid).unwrap()["position"], "Lead");
}

#[test]
fn entra_match_by_user_name_costs_one_legacy_call() {
    for legacy in [Legacy::AcmeHr, Legacy::Crewbase] {
        let env = Env::start(legacy);
        let created = env.post("/Users", &full_user());
        assert_eq!(created.status, 201);
        let before = env.backend_requests();
        let r = env.get("/Users?filter=userName+eq+%22mary.smith%40example.com%22");
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(
            env.backend_requests() - before,
            1,
            "{legacy:?}: the filter is pushed down"
        );
        let before = env.backend_requests();
        assert_eq!(
            env.get(&format!("/Users/{}", created.body["id"].as_str().unwrap()))
                .status,
            200
        );
        assert_eq!(
            env.backend_requests() - before,
            1,
            "{legacy:?}: GET by id is one call"
        );
    }
}

#[test]
fn pages_larger_than_the_legacy_page_are_assembled() {
    // Crewbase serves at most 50 people per page: a SCIM page of 120 needs three calls.
    let env = Env::start(Legacy::Crewbase);
    env.crewbase().seed(130);
    let r = env.get("/Users?startIndex=1&count=120");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 130);
    assert_eq!(r.body["itemsPerPage"], 120);
    let second = env.get("/Users?startIndex=121&count=120");
    assert_eq!(second.body["itemsPerPage"], 10);
    // Acme HR pages: startIndex 101, count 100 is page 2 of 100.
    let env = Env::start(Legacy::AcmeHr);
    env.acme().seed(150);
    let before = env.backend_requests();
    let r = env.get("/Users?startIndex=101&count=100");
    assert_eq!(r.body["itemsPerPage"], 50);
    assert_eq!(r.body["Resources"][0]["id"], "101");
    assert_eq!(env.backend_requests() - before, 1);
    assert_eq!(env.acme().requests().get("GET", acme_hr::USERS), 1);
}

#[test]
fn a_filter_the_legacy_api_cannot_answer_is_evaluated_by_the_gateway() {
    let env = Env::start(Legacy::AcmeHr);
    env.acme().seed(20);
    let r = env.get("/Users?filter=title+eq+%22Analyst%22+and+userName+sw+%22seed.user1%22");
    assert_eq!(r.status, 200, "{:?}", r.body);
    // seed.user1 and seed.user10..19
    assert_eq!(r.body["totalResults"], 11, "{:?}", r.body["totalResults"]);
    let sorted = env.get("/Users?sortBy=userName&sortOrder=descending&count=3");
    let names: Vec<&str> = sorted.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["seed.user9", "seed.user8", "seed.user7"]);
}

#[test]
fn a_gateway_evaluated_filter_reads_every_page_up_to_the_scan_limit_and_no_further() {
    // `userName sw` is not pushed down: the gateway scans the list itself, a legacy page at a
    // time (Acme HR: pages of 100; Crewbase: offsets, 50 at a time).
    let products = [
        (Legacy::AcmeHr, "seed.user44", acme_hr::USERS, 5),
        (Legacy::Crewbase, "seed.person44", crewbase::PEOPLE, 9),
    ];
    for (legacy, prefix, list, pages) in products {
        let filter = format!("/Users?filter=userName+sw+%22{prefix}%22");
        let within = Env::start_tweaked(legacy, |m| m.users.scan_limit = 500, |_| {});
        within.seed_users(450);
        let r = within.get(&filter);
        assert_eq!(r.status, 200, "{legacy:?}: {:?}", r.body);
        // 44 and 440..449
        assert_eq!(r.body["totalResults"], 11, "{legacy:?}: {:?}", r.body);
        let calls = |env: &Env| match legacy {
            Legacy::AcmeHr => env.acme().requests().get("GET", list),
            Legacy::Crewbase => env.crewbase().requests().get("GET", list),
            Legacy::Keystone => env.keystone().requests().get("GET", list),
            Legacy::Orbit | Legacy::OrbitRoles => env.orbit().requests().get("GET", list),
            Legacy::Tallybook => env.tallybook().requests().get("GET", list),
        };
        assert_eq!(calls(&within), pages, "{legacy:?}: every page, once");

        // Past the limit, the first page's total says so: no further page is read.
        let beyond = Env::start_tweaked(legacy, |m| m.users.scan_limit = 250, |_| {});
        beyond.seed_users(450);
        let r = beyond.get(&filter);
        assert_eq!(r.status, 400, "{legacy:?}: {:?}", r.body);
        assert_eq!(r.body["scimType"], "tooMany", "{legacy:?}: {:?}", r.body);
        assert_eq!(calls(&beyond), 1, "{legacy:?}: one page, then tooMany");
    }
}

#[test]
fn a_deleted_user_is_kept_archived_in_acme_hr_and_gone_for_scim() {
    let env = Env::start(Legacy::AcmeHr);
    let created = env.post("/Users", &full_user());
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.delete(&format!("/Users/{id}")).status, 204);
    // Kept in the legacy API, with its history, marked archived.
    let stored = env.acme().user(id.parse().unwrap()).unwrap();
    assert_eq!(stored["status"], "archived");
    assert_eq!(stored["login"], "mary.smith@example.com");
    // Gone for SCIM (RFC 7644 §3.6): 404 everywhere, absent from lists and filters.
    assert_eq!(env.get(&format!("/Users/{id}")).status, 404);
    assert_eq!(env.delete(&format!("/Users/{id}")).status, 404);
    let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    assert_eq!(env.patch(&format!("/Users/{id}"), &patch).status, 404);
    assert_eq!(
        env.get("/Users?filter=userName+eq+%22mary.smith%40example.com%22")
            .body["totalResults"],
        0
    );
    let all = env.get("/Users");
    assert!(all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["id"] != id.as_str()));

    // Provisioned again (Entra re-assigns the user): the archived record is restored, not a 409.
    let mut again = full_user();
    again["title"] = json!("Returning Engineer");
    let restored = env.post("/Users", &again);
    assert_eq!(restored.status, 201, "{:?}", restored.body);
    assert_eq!(
        restored.body["id"],
        id.as_str(),
        "the same legacy record comes back"
    );
    assert_eq!(restored.body["active"], true);
    assert_eq!(restored.body["title"], "Returning Engineer");
    assert_eq!(
        env.acme().user(id.parse().unwrap()).unwrap()["status"],
        "enabled"
    );
    // A real duplicate is still a conflict.
    assert_eq!(env.post("/Users", &again).status, 409);
}

#[test]
fn without_a_deleted_marker_delete_deactivates_and_the_user_stays_readable() {
    let env = Env::start(Legacy::Crewbase);
    let created = env.post("/Users", &full_user());
    let uid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.delete(&format!("/Users/{uid}")).status, 204);
    assert_eq!(env.crewbase().person(&uid).unwrap()["is_active"], false);
    let got = env.get(&format!("/Users/{uid}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body["active"], false);
}

#[test]
fn users_created_outside_the_gateway_show_their_groups() {
    // Users seeded in the legacy API (not created through the gateway): their groups are
    // loaded on the first read, then served from the cache.
    let env = Env::start(Legacy::AcmeHr);
    let ids = env.acme().seed(3);
    let team = env.acme().seed_team("Night Shift", &ids[..2]).unwrap();
    let before = env.backend_requests();
    let got = env.get(&format!("/Users/{}", ids[0]));
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["groups"][0]["value"], team.to_string());
    assert_eq!(got.body["groups"][0]["display"], "Night Shift");
    assert_eq!(
        env.backend_requests() - before,
        2,
        "the user, then its teams"
    );
    let before = env.backend_requests();
    assert_eq!(env.get(&format!("/Users/{}", ids[0])).status, 200);
    assert_eq!(
        env.backend_requests() - before,
        1,
        "the teams come from the cache"
    );
    let none = env.get(&format!("/Users/{}", ids[2]));
    assert!(
        none.body
            .get("groups")
            .is_none_or(|g| g.as_array().is_some_and(Vec::is_empty)),
        "{:?}",
        none.body
    );
}

#[test]
fn entra_match_get_patch_cycle_costs_one_legacy_call_per_operation() {
    for legacy in [Legacy::AcmeHr, Legacy::Crewbase] {
        let env = Env::start(legacy);
        let created = env.post("/Users", &full_user());
        assert_eq!(created.status, 201);
        let id = created.body["id"].as_str().unwrap().to_string();
        let before = env.backend_requests();
        let found = env.get("/Users?filter=userName+eq+%22mary.smith%40example.com%22");
        assert_eq!(found.body["totalResults"], 1);
        assert_eq!(env.get(&format!("/Users/{id}")).status, 200);
        let patched = env.patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "title", "value": "Lead"}]}),
        );
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.body["title"], "Lead");
        assert_eq!(
            env.backend_requests() - before,
            3,
            "{legacy:?}: match, GET and PATCH are one legacy call each (the PATCH writes the \
             record the GET read, guarded by its version)"
        );
    }
}

#[test]
fn a_change_made_in_the_legacy_product_between_read_and_patch_is_kept() {
    for legacy in [Legacy::AcmeHr, Legacy::Crewbase] {
        let env = Env::start(legacy);
        let created = env.post("/Users", &full_user());
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(env.get(&format!("/Users/{id}")).status, 200);
        // An admin changes the department in the product itself, after the gateway read the
        // user and before the IdP's PATCH arrives.
        let stored_department = |env: &Env| match legacy {
            Legacy::AcmeHr => env.acme().user(id.parse().unwrap()).unwrap()["department"].clone(),
            _ => env.crewbase().person(&id).unwrap()["hr"]["team"].clone(),
        };
        let edited = match legacy {
            Legacy::AcmeHr => env.acme().edit_user(
                id.parse().unwrap(),
                json!({"department": "Finance"}).as_object().unwrap(),
            ),
            _ => env
                .crewbase()
                .edit_person(&id, json!({"hr": {"team": "Finance"}}).as_object().unwrap()),
        };
        assert!(edited);
        assert_eq!(stored_department(&env), "Finance");
        let patched = env.patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "title", "value": "Lead"}]}),
        );
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.body["title"], "Lead");
        assert_eq!(
            patched.body[ENTERPRISE]["department"], "Finance",
            "{legacy:?}: the PATCH answer shows the product's change"
        );
        assert_eq!(
            stored_department(&env),
            "Finance",
            "{legacy:?}: the write did not put back the department it had read before"
        );

        // The product changes the title the IdP just set; the IdP sets it again: the gateway
        // must not take the write for a no-op because of what it saw a moment ago.
        let stored_title = |env: &Env| match legacy {
            Legacy::AcmeHr => env.acme().user(id.parse().unwrap()).unwrap()["job_title"].clone(),
            _ => env.crewbase().person(&id).unwrap()["position"].clone(),
        };
        let field = if legacy == Legacy::AcmeHr {
            "job_title"
        } else {
            "position"
        };
        let changes = json!({ field: "Boss" });
        assert!(match legacy {
            Legacy::AcmeHr => env
                .acme()
                .edit_user(id.parse().unwrap(), changes.as_object().unwrap()),
            _ => env
                .crewbase()
                .edit_person(&id, changes.as_object().unwrap()),
        });
        assert_eq!(stored_title(&env), "Boss");
        let again = env.patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}),
        );
        assert_eq!(again.status, 200, "{:?}", again.body);
        assert_eq!(stored_title(&env), "Lead", "{legacy:?}");
    }
}

/// A user read by id (translated straight from the legacy record's bytes) is the very user the
/// create answered and the filter lists (both translated from the record as a JSON value), on
/// every example API: the same attributes, the same `meta`, the same `ETag`. (A create's answer
/// leaves out `groups`: Orbit's roles give a new user its default role's group at once.)
#[test]
fn a_user_reads_the_same_by_id_as_created_and_as_listed_on_every_api() {
    for legacy in EVERY_API {
        let env = Env::start(legacy);
        let created = env.post("/Users", &full_user());
        assert_eq!(created.status, 201, "{legacy:?}: {:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        let got = env.get(&format!("/Users/{id}"));
        assert_eq!(got.status, 200, "{legacy:?}: {:?}", got.body);
        let mut without_groups = got.body.clone();
        without_groups.as_object_mut().unwrap().remove("groups");
        assert_eq!(
            without_groups, created.body,
            "{legacy:?}: by id and as created"
        );
        assert_eq!(got.header("etag"), created.header("etag"), "{legacy:?}");
        assert_eq!(
            got.content_type.as_deref(),
            Some("application/scim+json"),
            "{legacy:?}"
        );
        let listed = env.get("/Users?filter=userName+eq+%22mary.smith%40example.com%22");
        assert_eq!(listed.status, 200, "{legacy:?}: {:?}", listed.body);
        assert_eq!(
            listed.body["Resources"][0], got.body,
            "{legacy:?}: by id and as listed"
        );
        let missing = env.get("/Users/999999");
        assert_eq!(missing.status, 404, "{legacy:?}: {:?}", missing.body);
    }
}

#[test]
fn a_create_or_a_write_answers_the_user_as_a_get_then_shows_it_on_every_api() {
    for legacy in EVERY_API {
        let env = Env::start(legacy);
        let mut user = full_user();
        user["name"]["familyName"] = json!("D\"Angelo-Ünal");
        let created = env.post("/Users", &user);
        assert_eq!(created.status, 201, "{legacy:?}: {:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        let path = format!("/Users/{id}");
        let same_as_get = |written: &common::Answer, status: u16, what: &str| {
            assert_eq!(
                written.status, status,
                "{legacy:?} {what}: {:?}",
                written.body
            );
            let got = env.get(&format!("/Users/{}", written.body["id"].as_str().unwrap()));
            // A write's answer may leave the user's groups out.
            let without_groups = |user: &serde_json::Value| {
                let mut user = user.clone();
                user.as_object_mut().unwrap().remove("groups");
                user
            };
            assert_eq!(
                without_groups(&written.body),
                without_groups(&got.body),
                "{legacy:?}: {what} and GET"
            );
            assert_eq!(
                written.header("etag"),
                got.header("etag"),
                "{legacy:?} {what}"
            );
            assert_eq!(
                written.content_type.as_deref(),
                Some("application/scim+json"),
                "{legacy:?} {what}"
            );
        };
        same_as_get(&created, 201, "POST");
        assert_eq!(
            created.header("location"),
            created.body["meta"]["location"].as_str(),
            "{legacy:?}: the Location of a create is its meta.location"
        );
        assert!(
            created
                .header("location")
                .is_some_and(|l| l.ends_with(&path)),
            "{legacy:?}: {:?}",
            created.header("location")
        );
        // Created inactive: on the APIs with a deactivation endpoint, answered after it.
        let mut inactive = full_user();
        inactive["userName"] = json!("off.user@example.com");
        inactive["emails"][0]["value"] = json!("off.user@example.com");
        inactive["externalId"] = json!("ext-78");
        inactive["active"] = json!(false);
        let off = env.post("/Users", &inactive);
        assert_eq!(off.body["active"], false, "{legacy:?}: {:?}", off.body);
        same_as_get(&off, 201, "POST inactive");
        // Shaped by `attributes`: only what was asked, and what is always returned.
        let mut shaped_user = full_user();
        shaped_user["userName"] = json!("shaped.user@example.com");
        shaped_user["emails"][0]["value"] = json!("shaped.user@example.com");
        shaped_user["externalId"] = json!("ext-79");
        let shaped = env.post("/Users?attributes=userName", &shaped_user);
        assert_eq!(shaped.status, 201, "{legacy:?}: {:?}", shaped.body);
        assert!(
            shaped.body.get("name").is_none(),
            "{legacy:?}: {:?}",
            shaped.body
        );
        assert_eq!(shaped.body["userName"], "shaped.user@example.com");
        assert!(shaped.header("location").is_some(), "{legacy:?}");
        let renamed = json!({"Operations": [
            {"op": "replace", "path": "name.familyName", "value": "O\"Brien-Ünal"}
        ]});
        let patched = env.patch(&path, &renamed);
        assert_eq!(
            patched.body["name"]["familyName"], "O\"Brien-Ünal",
            "{legacy:?}"
        );
        assert!(
            patched.body["meta"]["location"]
                .as_str()
                .is_some_and(|l| l.ends_with(&path)),
            "{legacy:?}: {:?}",
            patched.body["meta"]
        );
        same_as_get(&patched, 200, "PATCH");
        let mut replaced = full_user();
        replaced["name"]["familyName"] = json!("Smith-Jones");
        same_as_get(&env.put(&path, &replaced), 200, "PUT");
        // Shaped by `attributes`: only what was asked, and what is always returned.
        let shaped = env.patch(&format!("{path}?attributes=userName"), &renamed);
        assert_eq!(shaped.status, 200, "{legacy:?}: {:?}", shaped.body);
        assert_eq!(
            shaped.body["userName"], "mary.smith@example.com",
            "{legacy:?}"
        );
        assert!(
            shaped.body.get("name").is_none(),
            "{legacy:?}: {:?}",
            shaped.body
        );
        assert_eq!(shaped.body["id"], id.as_str(), "{legacy:?}");
    }
}
