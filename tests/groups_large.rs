//! A 100,000-member Acme HR team through SCIM: membership changes are deltas (one legacy call
//! each), and `excludedAttributes=members` never reads the member list.

mod common;

use common::scim::patch_op;
use common::{Env, Legacy};
use scim_gateway::mapping::plan::IdFormat;
use scim_gateway_example_apis::acme_hr;
use serde_json::json;

#[test]
fn one_member_of_a_100000_member_team_costs_one_call() {
    // Acme HR's ids are integers: declared, the form guarantees that the legacy API resolves
    // exactly the ids sent, so no member or team is read before its member call.
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            m.users.id_format = Some(IdFormat::Integer);
            if let Some(g) = m.groups.as_mut() {
                g.resource.id_format = Some(IdFormat::Integer);
            }
        },
        |_| {},
    );
    let ids = env.acme().seed(100_001);
    let (outsider, members) = ids.split_last().unwrap();
    let team = env.acme().seed_team("Everyone", members).unwrap();
    let path = format!("/Groups/{team}");

    let before = env.backend_requests();
    let r = env.get(&format!("{path}?excludedAttributes=members"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Everyone");
    assert!(r.body.get("members").is_none());
    assert_eq!(env.backend_requests() - before, 1, "one GET of the team");

    env.acme().requests().reset();
    let add = env.patch(
        &path,
        &patch_op(
            json!([{"op": "Add", "path": "members", "value": [{"value": outsider.to_string()}]}]),
        ),
    );
    assert_eq!(add.status, 204, "{:?}", add.body);
    // The member call, and one read of the team: its name tells that no role or flag of the
    // mapping depends on it, so the member's own record is not read.
    assert_eq!(
        env.acme().requests().total(),
        2,
        "{:?}",
        env.acme().requests().snapshot()
    );
    assert_eq!(env.acme().requests().get("POST", acme_hr::TEAM_MEMBERS), 1);

    env.acme().requests().reset();
    let remove = env.patch(
        &path,
        &patch_op(
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", members[0])}]),
        ),
    );
    assert_eq!(remove.status, 204, "{:?}", remove.body);
    assert_eq!(
        env.acme().requests().total(),
        2,
        "{:?}",
        env.acme().requests().snapshot()
    );
    assert_eq!(env.acme().requests().get("DELETE", acme_hr::TEAM_MEMBER), 1);

    let now = env.acme().member_ids(team).unwrap();
    assert_eq!(now.len(), 100_000);
    assert!(now.contains(outsider));
    assert!(!now.contains(&members[0]));

    // A GET with members shows a bounded number of them.
    let full = env.get(&path);
    assert_eq!(full.status, 200);
    assert_eq!(full.body["members"].as_array().unwrap().len(), 10_000);
}
