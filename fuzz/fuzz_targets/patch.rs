//! Fuzzes the PATCH engine (`scim::patch`): arbitrary bytes as a PATCH request body, applied to
//! a full enterprise user and to a group with members. Errors are fine; a panic is not, and a
//! refused PATCH must leave the resource as it was (all or nothing). For a group, a request
//! that `member_changes` reads as a membership delta must, when `apply` accepts it too, leave
//! exactly the members the delta says (the gateway takes the delta path for large groups and
//! `apply` for the rest, so the two must agree). Member ids are compared case-insensitively
//! here: `apply` matches `members[value eq "…"]` without case, as the Group schema says
//! (`members.value` is not `caseExact`), while `member_changes` passes the id on as written for
//! the legacy API to match. The object values of the operations are also read as POST/PUT
//! bodies (`apply_attributes`).

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::patch::{self, PatchRequest};
use scim_gateway::scim::schema::ResourceSchema;
use scim_gateway_fuzz::{FULL_USER, GROUP};
use serde_json::Value;

fn apply_all_or_nothing(
    resource: &Value,
    request: &PatchRequest,
    schema: &ResourceSchema,
) -> Option<Value> {
    let mut patched = resource.clone();
    match patch::apply(&mut patched, request, schema) {
        Ok(()) => Some(patched),
        Err(_) => {
            assert_eq!(&patched, resource, "a refused PATCH changed the resource");
            None
        }
    }
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["value"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let user_schema = ResourceSchema::user();
    let group_schema = ResourceSchema::group();
    if let Ok(request) = PatchRequest::parse(&body) {
        let _ = apply_all_or_nothing(&FULL_USER, &request, user_schema);
        let patched = apply_all_or_nothing(&GROUP, &request, group_schema);
        if let (Some(delta), Some(patched)) = (patch::member_changes(&request), patched) {
            let mut expected = member_ids(&GROUP);
            for id in &delta.remove {
                expected.remove(&id.to_lowercase());
            }
            expected.extend(delta.add.iter().map(|id| id.to_lowercase()));
            assert_eq!(
                member_ids(&patched),
                expected,
                "apply and member_changes disagree ({delta:?})"
            );
        }
    }
    // The operations' values as the attributes of a POST or PUT body.
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for attrs in std::iter::once(&body)
        .chain(ops.iter().filter_map(|op| op.get("value")))
        .filter_map(Value::as_object)
    {
        let mut user = FULL_USER.clone();
        let _ = patch::apply_attributes(&mut user, attrs, user_schema);
        let mut group = GROUP.clone();
        let _ = patch::apply_attributes(&mut group, attrs, group_schema);
    }
});
