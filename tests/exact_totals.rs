//! `totalResults` an IdP can rely on, over real sockets: the number of resources it sees when it
//! walks the pages, the same on every page and for `count=0`, with no page short before the
//! last — whether the legacy API counts (an exact pass-down) or the gateway does (deleted users
//! in the legacy list, a loose pass-down, a filter the legacy API cannot answer, an unpaged
//! list, a list that ignores paging, an answer without a total) — and `tooMany`, naming the
//! limit, rather than a wrong number past `scan_limit`. Keystone as it ships is several of
//! these at once: users deleted through SCIM in its list (and its thin items without the
//! `state` that says so), a loose search, and teams listed in one unpaged answer.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{Env, Legacy};
use scim_gateway::mapping::{self, Mapping, Pagination};
use scim_gateway_example_apis::{acme_hr, crewbase, keystone, orbit, tallybook};
use serde_json::{json, Map, Value};

/// The example legacy APIs the tests here run against, unless they say otherwise.
const LEGACIES: [Legacy; 3] = [Legacy::AcmeHr, Legacy::Crewbase, Legacy::Keystone];

/// What an IdP sees walking `/Users?{query}` in pages of `count` (startIndex 1, 1 + count, …),
/// each page checked: `totalResults` the same as on the first page, `itemsPerPage` the number of
/// resources, and a full page unless it is the last. Returns the total and the ids in order.
fn walk_pages(env: &Env, query: &str, count: usize) -> (usize, Vec<String>) {
    walk_pages_of(env, "/Users", query, count)
}

/// [`walk_pages`] over `collection` (`/Users`, `/Groups`).
fn walk_pages_of(env: &Env, collection: &str, query: &str, count: usize) -> (usize, Vec<String>) {
    let sep = if query.is_empty() { "" } else { "&" };
    let mut ids = Vec::new();
    let mut total: Option<usize> = None;
    let mut start = 1;
    loop {
        let r = env.get(&format!(
            "{collection}?{query}{sep}startIndex={start}&count={count}"
        ));
        assert_eq!(r.status, 200, "{query} from {start}: {:?}", r.body);
        let t = r.body["totalResults"].as_u64().unwrap() as usize;
        let total = *total.get_or_insert(t);
        assert_eq!(t, total, "{query}: the same total on the page from {start}");
        let page = r.body["Resources"].as_array().unwrap();
        assert_eq!(r.body["itemsPerPage"], page.len());
        assert_eq!(
            page.len(),
            total.saturating_sub(start - 1).min(count),
            "{query}: the page from {start} of {total} in pages of {count}"
        );
        ids.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        if page.is_empty() || start - 1 + page.len() >= total {
            return (total, ids);
        }
        start += count;
    }
}

/// The total `{collection}?{query}` answers for `count=0`, with no resource.
fn total_for_count_0(env: &Env, collection: &str, query: &str) -> usize {
    let sep = if query.is_empty() { "" } else { "&" };
    let r = env.get(&format!("{collection}?{query}{sep}count=0"));
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    assert_eq!(r.body["Resources"], json!([]), "{query}");
    r.body["totalResults"].as_u64().unwrap() as usize
}

/// Checks that `query` answers `expected` users, whatever the page size and for `count=0`, each
/// user once; returns them.
fn same_total_every_way(env: &Env, query: &str, expected: usize) -> Vec<String> {
    same_total_every_way_of(env, "/Users", query, expected)
}

/// [`same_total_every_way`] over `collection` (`/Users`, `/Groups`).
fn same_total_every_way_of(
    env: &Env,
    collection: &str,
    query: &str,
    expected: usize,
) -> Vec<String> {
    let (total, ids) = walk_pages_of(env, collection, query, 100);
    assert_eq!(total, expected, "{:?} {query}", env.legacy);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{query}: each user once");
    for count in [7, 50] {
        let (t, in_pages) = walk_pages_of(env, collection, query, count);
        assert_eq!(t, expected, "{query} in pages of {count}");
        assert_eq!(
            in_pages, ids,
            "{query} in pages of {count}: the same users, in order"
        );
    }
    assert_eq!(
        total_for_count_0(env, collection, query),
        expected,
        "{query}, count=0"
    );
    ids
}

/// Sets the title of legacy user `id` in the legacy API itself.
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

/// How many list calls the legacy API received.
fn list_calls(env: &Env) -> u64 {
    match env.legacy {
        Legacy::AcmeHr => env.acme().requests().get("GET", acme_hr::USERS),
        Legacy::Crewbase => env.crewbase().requests().get("GET", crewbase::PEOPLE),
        Legacy::Keystone => env.keystone().requests().get("GET", keystone::USERS),
        Legacy::Orbit | Legacy::OrbitRoles => env.orbit().requests().get("GET", orbit::USERS),
        Legacy::Tallybook => env.tallybook().requests().get("GET", tallybook::USERS),
    }
}

/// The shipped mapping of `legacy`, its text changed by `edit` (each `(from, to)` must occur).
fn edited_mapping(legacy: Legacy, edits: &[(&str, &str)]) -> Mapping {
    let file = legacy.mapping_file();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut yaml = std::fs::read_to_string(root.join(file)).unwrap();
    for (from, to) in edits {
        assert!(yaml.contains(from), "{file} has {from:?}");
        yaml = yaml.replacen(from, to, 1);
    }
    mapping::load_str(file, &yaml).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn deleted_users_in_the_legacy_list_are_neither_shown_nor_counted_on_any_page() {
    for legacy in LEGACIES {
        let env = Env::start(legacy);
        let ids = env.seed_users(130);
        // Every ninth user is deleted through SCIM: Acme HR keeps it archived and Keystone in
        // state "deleted" (gone for SCIM; Keystone lists it all the same, its list item without
        // the state), Crewbase deactivated (still a SCIM user, inactive).
        let deleted: Vec<&String> = ids.iter().step_by(9).collect();
        for id in &deleted {
            let r = env.delete(&format!("/Users/{id}"));
            assert_eq!(r.status, 204, "{legacy:?}: {:?}", r.body);
        }
        let expected = match legacy {
            Legacy::AcmeHr
            | Legacy::Keystone
            | Legacy::Orbit
            | Legacy::OrbitRoles
            | Legacy::Tallybook => ids.len() - deleted.len(),
            Legacy::Crewbase => ids.len(),
        };
        let seen = same_total_every_way(&env, "", expected);
        if legacy != Legacy::Crewbase {
            assert!(
                deleted.iter().all(|d| !seen.contains(d)),
                "{legacy:?}: users deleted through SCIM are not shown"
            );
        }
        // A filter the gateway evaluates: the same rules.
        let (total, _) = walk_pages(&env, "filter=userName+sw+%22seed.%22", 3);
        assert_eq!(total, expected, "{legacy:?}");
    }
}

#[test]
fn an_exact_pass_down_is_counted_by_the_legacy_api_in_one_call() {
    // Keystone's search is loose: see the next test.
    for (legacy, name) in [
        (Legacy::AcmeHr, "seed.user7"),
        (Legacy::Crewbase, "seed.person7"),
    ] {
        let env = Env::start(legacy);
        let ids = env.seed_users(30);
        let filter = format!("filter=userName+eq+%22{name}%22");
        for count in ["count=0", "count=100", "startIndex=1&count=1"] {
            let before = list_calls(&env);
            let r = env.get(&format!("/Users?{filter}&{count}"));
            assert_eq!(r.status, 200, "{:?}", r.body);
            assert_eq!(
                r.body["totalResults"], 1,
                "{legacy:?} {count}: {:?}",
                r.body
            );
            assert_eq!(
                list_calls(&env) - before,
                1,
                "{legacy:?} {count}: one legacy call"
            );
        }
        // The user deleted through SCIM is found by no filter, whatever the page size.
        assert_eq!(env.delete(&format!("/Users/{}", ids[6])).status, 204);
        let expected = usize::from(legacy == Legacy::Crewbase);
        same_total_every_way(&env, &filter, expected);
    }
}

#[test]
fn a_loose_pass_down_is_re_checked_and_counted_by_the_gateway() {
    // Crewbase ignores query parameters it does not know, as loose legacy APIs do: `?position=`
    // returns everybody. Declared `match: loose`, the entry still goes to the legacy API, and
    // the gateway re-checks and counts.
    let loose = edited_mapping(
        Legacy::Crewbase,
        &[(
            "    - { scim: userName, op: eq, param: username }\n",
            "    - { scim: userName, op: eq, param: username }\n    - { scim: title, op: eq, param: position, match: loose }\n",
        )],
    );
    let env = Env::start_tweaked(Legacy::Crewbase, |m| m.users = loose.users, |_| {});
    let ids = env.seed_users(120);
    for id in ids.iter().skip(3).step_by(10) {
        set_title(&env, id, "Lead");
    }
    let leads = same_total_every_way(&env, "filter=title+eq+%22Lead%22", 12);
    assert!(leads
        .iter()
        .all(|id| ids.iter().skip(3).step_by(10).any(|l| l == id)));
    let before = env.crewbase().requests().get("GET", crewbase::PEOPLE);
    assert_eq!(
        env.get("/Users?filter=title+eq+%22Lead%22&count=0").body["totalResults"],
        12
    );
    assert_eq!(
        env.crewbase().requests().get("GET", crewbase::PEOPLE) - before,
        3,
        "the whole list, 50 at a time"
    );
}

#[test]
fn keystones_search_is_a_loose_pass_down_re_checked_and_counted_by_the_gateway() {
    // `q=seed.user3` finds seed.user3 and seed.user30 to seed.user39, ignoring case, and users
    // deleted through SCIM too: the gateway keeps the one whose userName is equal.
    let env = Env::start(Legacy::Keystone);
    env.seed_users(40);
    let filter = "filter=userName+eq+%22seed.user3%22";
    same_total_every_way(&env, filter, 1);
    same_total_every_way(&env, "filter=userName+eq+%22SEED.USER35%22", 1);
    let before = list_calls(&env);
    assert_eq!(
        env.get(&format!("/Users?{filter}&count=0")).body["totalResults"],
        1
    );
    assert_eq!(list_calls(&env) - before, 1, "the 11 found, in one call");
    assert_eq!(env.delete("/Users/3").status, 204);
    same_total_every_way(&env, filter, 0);
    same_total_every_way(&env, "filter=userName+sw+%22seed.user3%22", 10);
}

#[test]
fn keystone_teams_listed_in_one_unpaged_answer_are_counted_by_the_gateway() {
    let env = Env::start(Legacy::Keystone);
    for i in 1..=30 {
        env.keystone().seed_team(&format!("Team {i}"), &[]).unwrap();
    }
    let teams_listed = || env.keystone().requests().get("GET", keystone::TEAMS);
    let before = teams_listed();
    let r = env.get("/Groups?excludedAttributes=members&startIndex=21&count=5");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 30);
    assert_eq!(r.body["itemsPerPage"], 5);
    assert_eq!(r.body["Resources"][0]["displayName"], "Team 21");
    assert_eq!(teams_listed() - before, 1, "one call for a page");
    same_total_every_way_of(&env, "/Groups", "excludedAttributes=members", 30);
    // Keystone's `?name=` compares case included, SCIM ignoring case: the gateway filters.
    let team_7 = "excludedAttributes=members&filter=displayName+eq+%22team+7%22";
    same_total_every_way_of(&env, "/Groups", team_7, 1);
}

#[test]
fn an_unpaged_list_is_one_call_counted_by_the_gateway() {
    // A legacy list that answers everything at once (here: Acme HR asked for 100 per page by the
    // list's static query, and no paging parameter).
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            let list = &mut m.users.endpoints.list;
            list.pagination = Pagination::None;
            list.endpoint.query.push(("per_page".into(), "100".into()));
        },
        |_| {},
    );
    let ids = env.seed_users(60);
    for id in ids.iter().step_by(6) {
        assert_eq!(env.delete(&format!("/Users/{id}")).status, 204);
    }
    let before = list_calls(&env);
    let r = env.get("/Users?startIndex=41&count=10");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 50);
    assert_eq!(r.body["itemsPerPage"], 10);
    assert_eq!(list_calls(&env) - before, 1, "one call for a page");
    same_total_every_way(&env, "", 50);
    same_total_every_way(&env, "filter=userName+eq+%22seed.user8%22", 1);
    // Past scan_limit, the one answer is refused rather than counted.
    let small = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            let list = &mut m.users.endpoints.list;
            list.pagination = Pagination::None;
            list.endpoint.query.push(("per_page".into(), "100".into()));
            m.users.scan_limit = 40;
        },
        |_| {},
    );
    small.seed_users(60);
    let r = small.get("/Users?count=5");
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "tooMany");
}

#[test]
fn a_legacy_api_that_ignores_paging_is_read_as_the_whole_list_it_answers() {
    // The mapping says `?pg=&sz=`, which Acme HR does not know: every page asked is the same
    // whole list (100 per page by the static query), with its total.
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            let list = &mut m.users.endpoints.list;
            list.pagination = Pagination::Page {
                page_param: "pg".into(),
                size_param: "sz".into(),
                first_page: 1,
                max_page_size: 10,
            };
            list.endpoint.query.push(("per_page".into(), "100".into()));
        },
        |_| {},
    );
    env.seed_users(45);
    let ids = same_total_every_way(&env, "", 45);
    let expected: Vec<String> = (1..=45).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "no user twice, none skipped");
    same_total_every_way(&env, "filter=title+eq+%22Analyst%22", 45);
}

#[test]
fn an_answer_without_the_total_the_mapping_expects_is_counted_not_guessed() {
    // The mapping reads the total from a header Crewbase... never sends.
    let no_total = edited_mapping(
        Legacy::Crewbase,
        &[(
            "      total: { header: X-Total-Count }\n",
            "      total: { header: X-Count }\n",
        )],
    );
    let env = Env::start_tweaked(Legacy::Crewbase, |m| m.users = no_total.users, |_| {});
    env.seed_users(75);
    same_total_every_way(&env, "", 75);
    same_total_every_way(&env, "filter=userName+eq+%22seed.person70%22", 1);
}

#[test]
fn past_scan_limit_the_answer_is_too_many_naming_the_limit() {
    for legacy in LEGACIES {
        let env = Env::start_tweaked(legacy, |m| m.users.scan_limit = 60, |_| {});
        let ids = env.seed_users(80);
        set_title(&env, &ids[3], "Lead");
        let before = list_calls(&env);
        for query in [
            "filter=title+eq+%22Lead%22",
            "filter=title+eq+%22Lead%22&count=0",
        ] {
            let r = env.get(&format!("/Users?{query}"));
            assert_eq!(r.status, 400, "{legacy:?} {query}: {:?}", r.body);
            assert_eq!(r.body["scimType"], "tooMany");
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains("60") && detail.contains("users.scan_limit"),
                "{detail}"
            );
        }
        assert_eq!(
            list_calls(&env) - before,
            2,
            "{legacy:?}: the first page's total tells, nothing more is read"
        );
        // Sorting is the gateway's too.
        let r = env.get("/Users?sortBy=userName");
        assert_eq!(r.body["scimType"], "tooMany", "{legacy:?}: {:?}", r.body);
    }
}

#[test]
fn deleted_users_found_by_a_lookup_never_make_a_page_short_or_a_total_wrong() {
    // Acme HR's lookup by login answers the login's holder even when it is archived: the record
    // is re-checked, and the total is what SCIM shows, for every page size.
    let env = Env::start(Legacy::AcmeHr);
    let ids = env.seed_users(5);
    assert_eq!(env.delete(&format!("/Users/{}", ids[2])).status, 204);
    let stored = env.acme().user(ids[2].parse().unwrap()).unwrap();
    assert_eq!(stored["status"], "archived");
    same_total_every_way(&env, "filter=userName+eq+%22seed.user3%22", 0);
    let mut archived = Map::new();
    archived.insert("status".into(), Value::from("archived"));
    assert!(env.acme().edit_user(ids[4].parse().unwrap(), &archived));
    same_total_every_way(&env, "", 3);
}
