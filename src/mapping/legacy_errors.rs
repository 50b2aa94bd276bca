//! Legacy error responses → SCIM errors: the mapping's `errors.rules` first (status, plus an
//! optional code at a JSONPath or a text in the body), then defaults that keep the IdP's view
//! honest — the gateway's own credentials being refused is a 502, never a 401 the IdP would
//! blame on its token. Not here: `Retry-After` (the server copies it from the response).

use serde_json::Value;

use super::plan::{ErrorRule, ResourceMapping};
use super::values::scalar_string;
use crate::scim::ScimError;

/// Longest legacy message quoted in a SCIM error detail, in characters.
const MAX_MESSAGE: usize = 300;

impl ResourceMapping {
    /// The SCIM error for a legacy error response.
    pub fn map_error(&self, status: u16, body: &[u8]) -> ScimError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let text = String::from_utf8_lossy(body);
        let legacy_message = self
            .plan
            .errors
            .message
            .as_ref()
            .zip(json.as_ref())
            .and_then(|(p, j)| p.read(j))
            .and_then(scalar_string)
            .filter(|m| !m.trim().is_empty())
            .map(|m| format!("legacy API: {}", truncate(m.trim(), MAX_MESSAGE)));
        let generic = || format!("the legacy API answered {status}");

        if let Some(rule) = self
            .plan
            .errors
            .rules
            .iter()
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

    #[test]
    fn truncates_long_messages_on_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééééé", 2), "éé…");
    }
}
