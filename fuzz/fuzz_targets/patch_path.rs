//! Fuzzes the attribute path and PATCH path parsers (`scim::path`) on arbitrary UTF-8: a path
//! that parses must print to a text that parses back to the same path; resolving it against
//! the User and Group schemas must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::path::{AttrPath, PatchPath};
use scim_gateway::scim::schema::ResourceSchema;

fuzz_target!(|data: &[u8]| {
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
});
