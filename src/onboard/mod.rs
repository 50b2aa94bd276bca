//! The onboarding commands, for whoever writes a mapping for a legacy API: `probe` (takes a
//! throw-away user, and group, through what identity providers do against the real legacy API,
//! and says what in the mapping does not fit what the API answers, with the fix) and `explain`
//! (the legacy calls one SCIM request would make, without sending a write). Both make SCIM
//! requests in process ([`driver`]), through the same operations the listener runs, with every
//! legacy call recorded. Not used by `serve`.

pub mod driver;
pub mod explain;
pub mod probe;
