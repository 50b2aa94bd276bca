//! The look-ups of what the mapping names by name and the legacy API stores by id: the legacy
//! roles (`groups.roles.lookup`, docs/mapping.md "Roles by name", for legacy groups and for
//! groups held by the gateway alike), one call listing the legacy
//! API's roles, and the group a user in no other group is in
//! (`groups.membership.user_attribute.otherwise: { name: … }`, "One group per user"), found
//! in the groups list; and what their outcome means for the gateway. Both are done once, at
//! start and at each reload, for every tenant (neither names one), by `server::lookups`; the
//! role call itself is here. A wrong mapping (a name no role has, or two roles have; an answer that is not
//! the list the mapping describes) is a configuration error: it stops the start and refuses a
//! reload. A legacy API that cannot answer yet (unreachable, too slow, 5xx, its token endpoint
//! failing) or that refuses the gateway's credentials is not: the gateway starts with the roles
//! pending, and `server::role_retry` looks them up again in the background. Not here: building
//! or installing a generation (`gateway`, `reload`).

use std::sync::Mutex;

use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::backend::{
    BackendClient, BackendError, BackendRequest, CallObserver, TokenFetch, TokenProblem,
};
use crate::mapping::Mapping;
use crate::metrics::Metrics;
use crate::scim::ScimError;

/// How many seconds an identity provider is told to wait (`Retry-After`) before sending again
/// a request that needs the role ids while they are pending.
pub(crate) const PENDING_RETRY_AFTER_SECONDS: u64 = 5;

/// Why the look-up gave no role ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupFailure {
    /// The legacy API could not answer: unreachable, too slow, a 5xx or 429, its token endpoint
    /// failing. Tried again later.
    Unavailable(String),
    /// The legacy API (or its token endpoint) refused the gateway's credentials (401, 403).
    /// Tried again later too (credentials are often provisioned after the gateway starts), and
    /// logged as an error each time.
    Refused(String),
    /// The mapping does not fit the legacy API: a role name unknown or ambiguous, an answer
    /// without the list the mapping describes, another 4xx. A configuration error.
    Invalid(String),
}

impl LookupFailure {
    /// Whether trying again later may succeed without changing the configuration.
    pub(crate) fn is_transient(&self) -> bool {
        !matches!(self, LookupFailure::Invalid(_))
    }

    /// The reason, for a log line, `/readyz` and a refused start (no secret: built from
    /// statuses and the backend's own error messages, which carry none).
    pub(crate) fn reason(&self) -> &str {
        match self {
            LookupFailure::Unavailable(r)
            | LookupFailure::Refused(r)
            | LookupFailure::Invalid(r) => r,
        }
    }
}

/// Shared by every generation: why the last look-up failed, and the wake-up of the task that
/// looks the roles up again (a reload may install a generation whose roles are pending).
#[derive(Debug, Default)]
pub struct RoleLookupStatus {
    last_failure: Mutex<Option<String>>,
    wake: tokio::sync::Notify,
}

impl RoleLookupStatus {
    /// Records why the last look-up failed.
    pub(crate) fn failed(&self, failure: LookupFailure) {
        let why = match failure {
            LookupFailure::Unavailable(r)
            | LookupFailure::Refused(r)
            | LookupFailure::Invalid(r) => r,
        };
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// Why the last look-up failed (`None` before any failure).
    pub(crate) fn last_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wakes the task that looks the roles up (a generation with pending roles was installed).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Until [`RoleLookupStatus::wake`] is called (at once when it was called meanwhile).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Logs a failed look-up: a warning while the legacy API cannot answer, an error when it
/// refuses the credentials or the mapping does not fit it. One line per attempt; the attempts
/// are at least [`crate::server::role_retry`]'s back-off apart.
pub(crate) fn log_failure(mapping: &Mapping, failure: &LookupFailure, at_start: bool) {
    let lookup = described(mapping).unwrap_or_default();
    let when = if at_start { "at start" } else { "again" };
    match failure {
        LookupFailure::Unavailable(why) => tracing::warn!(
            lookup,
            error = %why,
            "the legacy ids the mapping names by name could not be looked up {when}; requests \
             that need them answer 503 and /readyz 503 until they are (retried in the \
             background)"
        ),
        LookupFailure::Refused(why) => tracing::error!(
            lookup,
            error = %why,
            "the legacy API refused the gateway's credentials for the look-up {when}; \
             requests that need the legacy ids answer 503 and /readyz 503 until it accepts \
             them (retried in the background): check backend.auth"
        ),
        LookupFailure::Invalid(why) => tracing::error!(
            lookup,
            error = %why,
            "the legacy roles or groups do not fit the names of the mapping; requests that \
             need their ids answer 503 and /readyz 503: fix the mapping and reload (retried in \
             the background)"
        ),
    }
}

/// What is looked up, as messages name it: `groups.roles.lookup: GET <url>`, and/or
/// `groups.membership.user_attribute.otherwise: group "<name>"`. `None` when nothing is.
pub(crate) fn described(mapping: &Mapping) -> Option<String> {
    let roles = mapping.group_rules()?.role_lookup().map(|lookup| {
        format!(
            "groups.roles.lookup: {} {}{}",
            lookup.endpoint.method,
            mapping.backend.base_url,
            mapping
                .backend
                .target(&lookup.endpoint, "", None, None, &[])
        )
    });
    let otherwise = mapping
        .groups
        .as_ref()
        .and_then(|g| g.membership.otherwise_name())
        .map(|name| format!("groups.membership.user_attribute.otherwise: group {name:?}"));
    match (roles, otherwise) {
        (Some(r), Some(o)) => Some(format!("{r}; {o}")),
        (r, o) => r.or(o),
    }
}

/// Whether `mapping` names roles (of legacy groups or of groups held by the gateway), or the
/// `otherwise:` group, still to be resolved to the legacy ids.
pub(crate) fn pending(mapping: &Mapping) -> bool {
    mapping.group_rules().is_some_and(|r| r.roles_pending())
        || mapping
            .groups
            .as_ref()
            .is_some_and(|g| g.membership.otherwise_name().is_some())
}

/// The SCIM answer to a request that needs the role ids while they are pending: 503 with
/// `Retry-After`.
pub(crate) fn pending_error(what: &str) -> ScimError {
    pending_ids_error(what, "the legacy role ids", "groups.roles.lookup")
}

/// The SCIM answer to a request that needs the legacy id of the `otherwise:` group while it is
/// pending: 503 with `Retry-After`.
pub(crate) fn otherwise_pending_error(what: &str) -> ScimError {
    pending_ids_error(
        what,
        "the legacy id of the group a user in no other group is in",
        "groups.membership.user_attribute.otherwise",
    )
}

fn pending_ids_error(what: &str, ids: &str, key: &str) -> ScimError {
    ScimError::new(
        503,
        None,
        format!(
            "{what} needs {ids}, and the gateway has not been able to look it up from the \
             legacy API yet ({key}; it keeps trying): send it again later"
        ),
    )
    .with_retry_after(PENDING_RETRY_AFTER_SECONDS)
}

/// Counts the look-ups' own access-token fetches (`backend_token_fetches_total`).
pub(crate) struct TokenFetches<'m>(&'m Metrics);

impl CallObserver for TokenFetches<'_> {
    fn token_fetch(&self, outcome: TokenFetch) {
        self.0.record_token_fetch(outcome.label());
    }
}

/// `mapping` with its role names resolved to the legacy ids: calls the look-up with `client`
/// (its token fetches counted in `metrics`), then replaces every name. `mapping` itself when it
/// names no roles to look up.
pub(crate) async fn with_role_ids(
    client: &BackendClient,
    mapping: &Mapping,
    metrics: &Metrics,
) -> Result<Mapping, LookupFailure> {
    let Some(rules) = mapping.group_rules() else {
        return Ok(mapping.clone());
    };
    let Some(lookup) = rules.role_lookup() else {
        return Ok(mapping.clone());
    };
    let invalid = |why: String| LookupFailure::Invalid(why);
    let mut headers = Vec::new();
    // The backend's headers, the look-up's own winning a clash, as on every legacy call.
    for (name, value) in mapping.backend.headers_of(&lookup.endpoint) {
        let n = HeaderName::try_from(name).map_err(|e| invalid(e.to_string()))?;
        let v = HeaderValue::try_from(value).map_err(|e| invalid(e.to_string()))?;
        headers.push((n, v));
    }
    let request = BackendRequest {
        method: lookup.endpoint.method.clone(),
        path_and_query: mapping
            .backend
            .target(&lookup.endpoint, "", None, None, &[]),
        shared_headers: headers,
        headers: Vec::new(),
        body: None,
    };
    let answer = client
        .send_protected(request, &TokenFetches(metrics))
        .await
        .map_err(not_answered)?;
    match answer.status {
        200..=299 => {}
        401 | 403 => {
            return Err(LookupFailure::Refused(format!(
                "the legacy API answered {}: it refused the backend's credentials, with which \
                 the roles are looked up",
                answer.status
            )))
        }
        408 | 429 | 500..=599 => {
            return Err(LookupFailure::Unavailable(format!(
                "the legacy API answered {}",
                answer.status
            )))
        }
        status => {
            return Err(invalid(format!(
                "the legacy API answered {status}; check the look-up's method and path"
            )))
        }
    }
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|_| invalid("the answer is not JSON".into()))?;
    let roles = lookup.roles(&body).map_err(invalid)?;
    let resolved = rules
        .with_role_ids(&roles)
        .map_err(|e| invalid(format!("groups.roles: {e}")))?;
    let mut mapping = mapping.clone();
    if let Some(rules) = mapping.group_rules_mut() {
        *rules = resolved;
    }
    Ok(mapping)
}

/// A look-up call that got no answer: the token endpoint refusing the credentials is
/// [`LookupFailure::Refused`], anything else [`LookupFailure::Unavailable`].
fn not_answered(e: BackendError) -> LookupFailure {
    match &e {
        BackendError::Token {
            problem: TokenProblem::Refused { .. },
            ..
        } => LookupFailure::Refused(e.to_string()),
        BackendError::InvalidRequest(_) => LookupFailure::Invalid(e.to_string()),
        _ => LookupFailure::Unavailable(format!("the legacy API could not be read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users, then groups held by the gateway whose roles are named by name.
    const HELD: &str = r#"name: held
backend: { base_url: "http://127.0.0.1:9/" }
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.data, pagination: { style: page, page_param: page, size_param: per_page } }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.login }
groups:
  held_by: gateway
  roles:
    legacy: $.role_id
    lookup: { method: GET, path: /roles, items: $.data, id: $.id, name: $.name }
    default: Member
    ranking: [Manager, Member]
    from_groups:
      - { group: Managers, role: Manager }
"#;

    #[test]
    fn roles_of_groups_held_by_the_gateway_are_looked_up_and_pending_until_then() {
        let m = crate::mapping::load_str("held.yaml", HELD).unwrap();
        assert!(pending(&m), "the names wait for their ids");
        assert_eq!(
            described(&m).as_deref(),
            Some("groups.roles.lookup: GET http://127.0.0.1:9/roles")
        );
        let mut resolved = m.clone();
        let ids = m
            .group_rules()
            .unwrap()
            .with_role_ids(&[
                ("r-1".into(), "member".into()),
                ("r-2".into(), "manager".into()),
            ])
            .unwrap();
        if let Some(rules) = resolved.group_rules_mut() {
            *rules = ids;
        }
        assert!(!pending(&resolved));
        // Without roles by name there is nothing to look up.
        let plain = crate::mapping::load_str(
            "held.yaml",
            &HELD.replace(
                "    lookup: { method: GET, path: /roles, items: $.data, id: $.id, name: $.name }\n",
                "",
            ),
        )
        .unwrap();
        assert!(!pending(&plain));
        assert_eq!(described(&plain), None);
    }
}
