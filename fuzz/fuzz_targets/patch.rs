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

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_gateway_fuzz::patch::check(data));
