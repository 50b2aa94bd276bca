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
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mappings")
        .join(name);
    match mapping::load_file(&file) {
        Ok(m) => m,
        Err(e) => panic!("the shipped mapping {name} does not load: {e}"),
    }
}
