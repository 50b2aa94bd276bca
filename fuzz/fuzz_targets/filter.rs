//! Fuzzes the SCIM filter parser (`scim::filter`) on arbitrary UTF-8: a filter that parses must
//! print (canonical `Display`) to a text that parses back to the same filter and prints the
//! same again; validating it, matching it against a full user and a group, and pushing it down
//! to the shipped mappings must not panic. The same text as a list query string
//! (`ListQuery::from_query_string`) must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_gateway_fuzz::filter::check(data));
