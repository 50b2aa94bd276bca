//! Example legacy APIs: stand-ins for a customer's product, used by `scim-gateway demo`, the
//! integration tests and the benchmarks. They are not part of the gateway; they behave like real
//! products' user APIs (their own field names, pagination, status strings, errors, auth), not
//! like SCIM.
