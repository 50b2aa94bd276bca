//! Legacy error responses → SCIM errors: the endpoint's own `errors:` rules, then the section's
//! `errors.rules` (status, plus an optional code at a JSONPath or a text in the body), then
//! defaults that keep the IdP's view honest — the gateway's own credentials being refused is a
//! 502, never a 401 the IdP would blame on its token. Not here: `Retry-After` (the server copies it from the response).

use serde_json::Value;

use super::legacy_path::LegacyPath;
use super::plan::{Endpoint, ErrorRule, ResourceMapping};
use super::values::scalar_string;
use crate::scim::ScimError;

/// Longest legacy message quoted in a SCIM error detail, in characters.
const MAX_MESSAGE: usize = 300;

impl ResourceMapping {
    /// The SCIM error for a legacy error response.
    pub fn map_error(&self, status: u16, body: &[u8]) -> ScimError {
        self.map_error_of(None, status, body)
    }

    /// The SCIM error for a legacy error response of `endpoint` (when known): its own `errors:`
    /// rules first, then the section's `errors.rules`, then the defaults.
    pub(crate) fn map_error_of(
        &self,
        endpoint: Option<&Endpoint>,
        status: u16,
        body: &[u8],
    ) -> ScimError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let text = String::from_utf8_lossy(body);
        let legacy_message = json
            .as_ref()
            .and_then(|j| message(&self.plan.errors.message, j))
            .map(|m| format!("legacy API: {}", truncate(&m, MAX_MESSAGE)));
        let generic = || format!("the legacy API answered {status}");

        let own = endpoint.map_or(&[][..], |e| e.record.errors.as_slice());
        if let Some(rule) = own
            .iter()
            .chain(&self.plan.errors.rules)
            .find(|r| rule_matches(r, status, json.as_ref(), &text))
        {
            let detail = rule
                .detail
                .clone()
                .or(legacy_message)
                .unwrap_or_else(generic);
            return ScimError::new(rule.scim_status, rule.scim_type, detail);
        }

        let detail = legacy_message.unwrap_or_else(generic);
        match status {
            404 | 410 => ScimError::not_found(detail),
            409 => ScimError::uniqueness(detail),
            400 | 422 => ScimError::invalid_value(detail),
            401 | 403 => {
                ScimError::bad_gateway("the gateway's credentials for the legacy API were refused")
            }
            429 => ScimError::new(429, None, detail),
            _ => ScimError::bad_gateway(detail),
        }
    }
}

/// The message of a legacy error body: the first of `paths` that reads one. A string (or
/// number) is the message as it is; an object or a list of them, as validation errors often
/// are (`{"email": ["has already been taken"]}`), is written compactly
/// (`email: has already been taken`).
fn message(paths: &[LegacyPath], body: &Value) -> Option<String> {
    paths
        .iter()
        .filter_map(|p| p.read(body))
        .map(compact)
        .map(|m| m.trim().to_string())
        .find(|m| !m.is_empty())
}

/// A JSON value as one line of text: `key: value; key: a, b`.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k, compact(v)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Array(items) => items
            .iter()
            .map(compact)
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar_string(other).unwrap_or_default(),
    }
}

fn rule_matches(rule: &ErrorRule, status: u16, json: Option<&Value>, text: &str) -> bool {
    if rule.status != status {
        return false;
    }
    if let Some((path, expected)) = &rule.code {
        let found = json.and_then(|j| path.read(j));
        let equal = match (found, expected) {
            (Some(f), e) => f == e || scalar_string(f).is_some_and(|s| Some(s) == scalar_string(e)),
            (None, _) => false,
        };
        if !equal {
            return false;
        }
    }
    if let Some(needle) = &rule.body_contains {
        if !text.contains(needle.as_str()) {
            return false;
        }
    }
    true
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_path_that_reads_a_message_gives_it() {
        let paths = [
            LegacyPath::compile("$.message").unwrap(),
            LegacyPath::compile("$.error").unwrap(),
        ];
        let read = |body: Value| message(&paths, &body);
        assert_eq!(
            read(json!({"message": "404 Not found"})).as_deref(),
            Some("404 Not found")
        );
        assert_eq!(
            read(json!({"error": "invalid_token"})).as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            read(json!({"message": "", "error": "the second"})).as_deref(),
            Some("the second")
        );
        assert_eq!(
            read(json!({"message": {"email": ["has already been taken"]}})).as_deref(),
            Some("email: has already been taken")
        );
        assert_eq!(
            read(json!({"message": {"email": ["is invalid"], "username": ["is too short", "is taken"]}}))
                .as_deref(),
            Some("email: is invalid; username: is too short, is taken")
        );
        assert_eq!(read(json!({"message": null, "other": "x"})), None);
        assert_eq!(read(json!({"message": {}})), None);
    }

    #[test]
    fn truncates_long_messages_on_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééééé", 2), "éé…");
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::mapping::fixture::fixture;
    use crate::scim::ScimType;

    fn map(status: u16, body: &str) -> crate::scim::ScimError {
        fixture().users.map_error(status, body.as_bytes())
    }

    #[test]
    fn rules_match_on_status_and_code() {
        let e = map(
            422,
            r#"{"error": {"code": "login_taken", "message": "login ada is taken"}}"#,
        );
        assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Uniqueness)));
        assert_eq!(e.detail, "legacy API: login ada is taken");
    }

    #[test]
    fn rules_match_on_body_text_and_use_their_detail() {
        let e = map(
            422,
            r#"{"error": {"code": "bad", "message": "email is invalid"}}"#,
        );
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(e.detail, "the e-mail address was refused");
        let e = map(418, "I'm a teapot");
        assert_eq!((e.status, e.scim_type), (503, None));
        assert_eq!(e.detail, "the legacy API answered 418");
    }

    #[test]
    fn defaults_apply_when_no_rule_matches() {
        let cases = [
            (404, 404, None),
            (410, 404, None),
            (409, 409, Some(ScimType::Uniqueness)),
            (400, 400, Some(ScimType::InvalidValue)),
            (422, 400, Some(ScimType::InvalidValue)),
            (429, 429, None),
            (500, 502, None),
            (503, 502, None),
            (405, 502, None),
        ];
        for (legacy, scim, t) in cases {
            let e = map(legacy, r#"{"error": {"message": "nope"}}"#);
            assert_eq!((e.status, e.scim_type), (scim, t), "legacy {legacy}");
            assert_eq!(e.detail, "legacy API: nope", "legacy {legacy}");
        }
    }

    #[test]
    fn refused_gateway_credentials_are_never_the_idps_problem() {
        for status in [401, 403] {
            let e = map(
                status,
                r#"{"error": {"message": "bad api key sk_live_123"}}"#,
            );
            assert_eq!(e.status, 502);
            assert_eq!(
                e.detail,
                "the gateway's credentials for the legacy API were refused"
            );
        }
    }

    #[test]
    fn long_or_missing_messages() {
        let long = "x".repeat(1000);
        let e = map(500, &format!(r#"{{"error": {{"message": "{long}"}}}}"#));
        assert_eq!(e.detail.chars().count(), "legacy API: ".len() + 300 + 1);
        let e = map(500, "<html>oops</html>");
        assert_eq!(e.detail, "the legacy API answered 500");
    }
}
