//! The PATCH engine (RFC 7644 §3.5.2), with the deviations of Entra ID and Okta (IDP.md §1.5).
