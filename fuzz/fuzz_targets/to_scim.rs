//! Fuzzes the mapping engine's translations with the shipped mappings (`mappings/acme-hr.yaml`,
//! `mappings/crewbase.yaml`): arbitrary JSON as a legacy record (users and groups →
//! `to_scim`, and the SCIM result back through `to_legacy` and `update_body`), as a SCIM body
//! (`to_legacy` for a create and an update), as a legacy list page (items, total), as a
//! member list or a user's groups, and the raw bytes as a legacy error body (`map_error`).
//! Errors are fine; a panic is not.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use scim_gateway::mapping::{Membership, ResourceMapping, UserGroup};
use scim_gateway_fuzz::MAPPINGS;
use serde_json::Value;

fn resource(r: &ResourceMapping, data: &[u8], v: &Value, headers: &HeaderMap) {
    let _ = r.legacy_id(v);
    let _ = r.is_deleted(v);
    if let Some(marked) = r.mark_deleted(v) {
        let _ = r.update_body(v, &marked);
    }
    if let Ok(scim) = r.to_scim(v) {
        let _ = r.to_legacy(&scim, None);
        if let Ok(new) = r.to_legacy(&scim, Some(v)) {
            let _ = r.update_body(v, &new);
        }
    }
    // The value as the SCIM body of a create, and of an update of itself.
    let _ = r.to_legacy(v, None);
    let _ = r.to_legacy(v, Some(v));
    let list = &r.endpoints.list;
    if let Ok(items) = list.items(v) {
        for item in items.iter().take(8) {
            let _ = r.to_scim(item);
        }
    }
    let _ = list.total(v, headers);
    let _ = list.next_cursor(v, headers);
    for status in [400, 404, 409, 422, 500] {
        let _ = r.map_error(status, data);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A string is also tried as the value of the list headers.
    let mut headers = HeaderMap::new();
    if let Some(h) = v.as_str().and_then(|s| HeaderValue::from_str(s).ok()) {
        for name in ["x-total-count", "content-range", "link"] {
            headers.insert(name, h.clone());
        }
    }
    let text = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    for m in MAPPINGS.iter() {
        resource(&m.users, data, &v, &headers);
        let Some(g) = &m.groups else {
            continue;
        };
        resource(&g.resource, data, &v, &headers);
        match &g.membership {
            Membership::Endpoints {
                add,
                list,
                user_groups,
                ..
            } => {
                let _ = add.add_request_body(&text);
                let _ = list.members(&v);
                let _ = list.member_of_item(&v);
                if let Some(ug) = user_groups {
                    let _ = ug.groups(&v);
                }
            }
            Membership::UserAttribute(ua) => {
                let groups = ua.groups_of_user(&v);
                let _ = ua.with_groups(&v, &groups);
                let _ = ua.with_groups(&v, std::slice::from_ref(&text));
                let _ = ua.version_of(&v);
                let _ = ua.if_match(&v);
            }
        }
        let _ = g.rules.with_default_role(&v);
        let group = UserGroup {
            id: &text,
            display: Some(&text),
        };
        let _ = g.rules.apply(&v, &[group]);
    }
});
