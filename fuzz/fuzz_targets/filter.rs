//! Fuzzes the SCIM filter parser (`scim::filter`) on arbitrary UTF-8: a filter that parses must
//! print (canonical `Display`) to a text that parses back to the same filter and prints the
//! same again; validating it, matching it against a full user and a group, and pushing it down
//! to the shipped mappings must not panic. The same text as a list query string
//! (`ListQuery::from_query_string`) must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::filter::{self, Filter};
use scim_gateway::scim::list::ListQuery;
use scim_gateway::scim::schema::ResourceSchema;
use scim_gateway_fuzz::{FULL_USER, GROUP, MAPPINGS};

fuzz_target!(|data: &[u8]| {
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
});
