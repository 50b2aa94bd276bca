//! List and query handling (RFC 7644 §3.4.2): query parameters, ListResponse, sorting, and the
//! `attributes` / `excludedAttributes` projection.
