//! Fuzzes the attribute path and PATCH path parsers (`scim::path`) on arbitrary UTF-8: a path
//! that parses must print to a text that parses back to the same path; resolving it against
//! the User and Group schemas must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_gateway_fuzz::patch_path::check(data));
