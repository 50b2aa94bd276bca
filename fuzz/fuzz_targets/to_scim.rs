//! Fuzzes the mapping engine's translations with the shipped mappings (`mappings/acme-hr.yaml`,
//! `mappings/crewbase.yaml`): arbitrary JSON as a legacy record (users and groups →
//! `to_scim`, and the SCIM result back through `to_legacy` and `update_body`), as a SCIM body
//! (`to_legacy` for a create and an update), as a legacy list page (items, total), as a
//! member list or a user's groups, and the raw bytes as a legacy error body (`map_error`).
//! Errors are fine; a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_gateway_fuzz::to_scim::check(data));
