//! Fixtures shared by the fuzz targets in `fuzz_targets/`: a SCIM user with every attribute
//! the gateway knows filled in, a group with members, and the mappings shipped in `mappings/`
//! (loaded once per process). Nothing here is fuzzed itself.

use std::path::Path;
use std::sync::LazyLock;

use scim_gateway::mapping::{self, Mapping};
use serde_json::{json, Value};

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A SCIM enterprise user with every attribute filled in (as in `benches/protocol.rs`).
pub static FULL_USER: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "givenName": "Barbara",
                 "familyName": "Jensen", "middleName": "Jane", "honorificPrefix": "Ms.",
                 "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"},
            {"value": "555-555-3333", "type": "fax"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F",
                    "type": "photo"}],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "USA",
             "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
            {"type": "other", "formatted": "Building 4, room 210"}
        ],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides",
                    "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"}],
        "entitlements": [{"value": "Access to Tour Guides calendar"}],
        "roles": [{"value": "Tour Guide", "primary": true}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                        "displayName": "John Smith"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3\""}
    })
});

/// A group with three members.
pub static GROUP: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"},
            {"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z"}
    })
});

/// The mappings shipped in `mappings/`: Acme HR and Crewbase.
pub static MAPPINGS: LazyLock<Vec<Mapping>> =
    LazyLock::new(|| ["acme-hr.yaml", "crewbase.yaml"].map(load).into());

fn load(name: &str) -> Mapping {
    // From the fuzz crate (fuzz/) or from the main crate's tests, which include this file.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = if root.join("mappings").is_dir() {
        root.join("mappings")
    } else {
        root.join("../mappings")
    };
    let file = dir.join(name);
    match mapping::load_file(&file) {
        Ok(m) => m,
        Err(e) => panic!("the shipped mapping {name} does not load: {e}"),
    }
}

/// Fuzzes the SCIM filter parser (`scim::filter`) on arbitrary UTF-8: a filter that parses must
/// print (canonical `Display`) to a text that parses back to the same filter and prints the
/// same again; validating it, matching it against a full user and a group, and pushing it down
/// to the shipped mappings must not panic. The same text as a list query string
/// (`ListQuery::from_query_string`) must not panic either.
pub mod filter {
    use super::{FULL_USER, GROUP, MAPPINGS};
    use scim_gateway::scim::filter::{self, Filter};
    use scim_gateway::scim::list::ListQuery;
    use scim_gateway::scim::schema::ResourceSchema;

    /// One input: panics on a finding.
    pub fn check(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let _ = ListQuery::from_query_string(text, 200);
        let Ok(parsed) = Filter::parse(text) else {
            return;
        };
        let printed = parsed.to_string();
        let reparsed = match Filter::parse(&printed) {
            Ok(f) => f,
            Err(e) => panic!("{text:?} parses but its canonical form {printed:?} does not: {e}"),
        };
        assert_eq!(
            parsed, reparsed,
            "{text:?} and its canonical form {printed:?} parse differently"
        );
        assert_eq!(
            printed,
            reparsed.to_string(),
            "the canonical form of {text:?} is not stable"
        );

        let user_schema = ResourceSchema::user();
        let group_schema = ResourceSchema::group();
        let _ = filter::validate(&parsed, user_schema);
        let _ = filter::validate(&parsed, group_schema);
        let _ = filter::matches(&parsed, &FULL_USER, user_schema);
        let _ = filter::matches(&parsed, &GROUP, group_schema);
        for m in MAPPINGS.iter() {
            let _ = filter::validate(&parsed, &m.users.schema);
            let _ = m.users.pushdown(&parsed);
            if let Some(g) = &m.groups {
                let _ = g.resource.pushdown(&parsed);
            }
        }
    }
}

/// Fuzzes the attribute path and PATCH path parsers (`scim::path`) on arbitrary UTF-8: a path
/// that parses must print to a text that parses back to the same path; resolving it against
/// the User and Group schemas must not panic.
pub mod patch_path {
    use scim_gateway::scim::path::{AttrPath, PatchPath};
    use scim_gateway::scim::schema::ResourceSchema;

    /// One input: panics on a finding.
    pub fn check(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let schemas = [ResourceSchema::user(), ResourceSchema::group()];
        if let Ok(path) = AttrPath::parse(text) {
            let printed = path.to_string();
            match AttrPath::parse(&printed) {
                Ok(again) => assert_eq!(path, again, "{text:?} prints as {printed:?}"),
                Err(e) => panic!("{text:?} parses but its printed form {printed:?} does not: {e}"),
            }
            let _ = path.parent();
            for schema in schemas {
                let _ = schema.find(&path);
            }
        }
        if let Ok(path) = PatchPath::parse(text) {
            let printed = path.to_string();
            match PatchPath::parse(&printed) {
                Ok(again) => assert_eq!(path, again, "{text:?} prints as {printed:?}"),
                Err(e) => panic!("{text:?} parses but its printed form {printed:?} does not: {e}"),
            }
            for schema in schemas {
                let _ = schema.find(path.attr());
            }
        }
    }
}

/// Fuzzes the PATCH engine (`scim::patch`): arbitrary bytes as a PATCH request body, applied to
/// a full enterprise user and to a group with members. Errors are fine; a panic is not, and a
/// refused PATCH must leave the resource as it was (all or nothing). For a group, a request
/// that `member_changes` reads as a membership delta must, when `apply` accepts it too, leave
/// exactly the members the delta says (the gateway takes the delta path for large groups and
/// `apply` for the rest, so the two must agree). Member ids are compared case-insensitively
/// here: `apply` matches `members[value eq "…"]` without case, as the Group schema says
/// (`members.value` is not `caseExact`), while `member_changes` passes the id on as written for
/// the legacy API to match. The object values of the operations are also read as POST/PUT
/// bodies (`apply_attributes`).
pub mod patch {
    use super::{FULL_USER, GROUP};
    use scim_gateway::scim::patch::{self, PatchRequest};
    use scim_gateway::scim::schema::ResourceSchema;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// One input: panics on a finding.
    pub fn check(data: &[u8]) {
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
                // Member ids are case-exact (the Group schema's members.value).
                for id in &delta.remove {
                    expected.remove(id);
                }
                expected.extend(delta.add.iter().cloned());
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
    }

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
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Fuzzes the mapping engine's translations with the shipped mappings (`mappings/acme-hr.yaml`,
/// `mappings/crewbase.yaml`): arbitrary JSON as a legacy record (users and groups →
/// `to_scim`, and the SCIM result back through `to_legacy` and `update_body`), as a SCIM body
/// (`to_legacy` for a create and an update), as a legacy list page (items, total), as a
/// member list or a user's groups, and the raw bytes as a legacy error body (`map_error`).
/// Errors are fine; a panic is not.
pub mod to_scim {
    use super::MAPPINGS;
    use http::{HeaderMap, HeaderValue};
    use scim_gateway::mapping::{Membership, ResourceMapping, UserGroup};
    use serde_json::Value;

    /// One input: panics on a finding.
    pub fn check(data: &[u8]) {
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
                Membership::GroupAttribute(ga) => {
                    if let Ok(members) = ga.members_of(&v) {
                        let _ = ga.with_members(&v, &members);
                    }
                    let _ = ga.with_members(&v, std::slice::from_ref(&text));
                    let _ = ga.can_hold(&text);
                    let _ = ga.if_match(&v);
                    if let Some(ug) = &ga.user_groups {
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
            let _ = g.rules.apply(&mut v.clone(), &[group]);
        }
    }

    fn resource(r: &ResourceMapping, data: &[u8], v: &Value, headers: &HeaderMap) {
        let _ = r.legacy_id(v);
        let _ = r.is_deleted(v);
        if let Some(marked) = r.mark_deleted(v) {
            let _ = r.update_body(v, &marked).to_value();
        }
        if let Ok(scim) = r.to_scim(v) {
            let _ = r.to_legacy(&scim, None);
            if let Ok(new) = r.to_legacy(&scim, Some(v)) {
                let _ = r.update_body(v, &new).to_value();
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
}
