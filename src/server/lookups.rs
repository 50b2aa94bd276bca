//! A generation with the legacy ids of what its mapping names by name (`server::roles`): the
//! legacy roles of `groups.roles.lookup`, then the group of
//! `groups.membership.user_attribute.otherwise: { name: … }`, read from the groups list the way
//! a SCIM request reads it. [`Gateway::new`] and [`Gateway::reloaded`] build a generation
//! (`server::gateway`), then look the names up with it; the role retry task looks them up
//! again while they are pending ([`resolve`]). Above `gateway` and `context`: the look-up of a
//! group is a request of the gateway's own.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::mapping::Mapping;
use crate::scim::filter::Filter;
use crate::scim::list::ListQuery;
use crate::server::context::Ctx;
use crate::server::gateway::{backend_client, Gateway, StartupError};
use crate::server::groups;
use crate::server::record::RequestRecord;
use crate::server::roles::{self, LookupFailure};
use crate::server::select;
use crate::server::tenant::Tenant;

impl Gateway {
    /// Builds the gateway from a loaded configuration and mapping (`Gateway::build`), then
    /// looks up the legacy ids of what the mapping names by name.
    ///
    /// When the legacy API cannot answer the look-up yet, the gateway is built all the same,
    /// with the ids pending (see `server::roles`): a background task looks them up again.
    pub fn new(config: Config, mapping: Mapping) -> Result<Gateway, StartupError> {
        let (gw, failure) = with_legacy_ids(Gateway::build(config, mapping)?)?;
        if let Some(failure) = failure {
            roles::log_failure(&gw.mapping, &failure, true);
            gw.role_lookup.failed(failure);
        }
        Ok(gw)
    }

    /// The next generation with a new configuration and mapping (a reload,
    /// `Gateway::rebuilt`), the names its mapping gives looked up again; the membership cache
    /// emptied (the mapping may read groups differently now).
    ///
    /// When the legacy API cannot answer the look-up, the reload is refused while this
    /// generation has its ids (it keeps them); a generation still waiting for them is replaced
    /// by one that waits too.
    pub fn reloaded(&self, config: Config, mapping: Mapping) -> Result<Gateway, StartupError> {
        let (next, failure) = with_legacy_ids(self.rebuilt(config, mapping)?)?;
        if let Some(failure) = failure {
            if !roles::pending(&self.mapping) {
                let what = roles::described(&next.mapping).unwrap_or_default();
                return Err(StartupError::Mapping(format!(
                    "{what}: {}; the running configuration keeps its legacy ids",
                    failure.reason()
                )));
            }
            self.role_lookup.failed(failure);
        }
        self.membership.invalidate_all();
        Ok(next)
    }
}

/// `gw` with the legacy role names of `groups.roles` (when it says `roles.lookup`; legacy groups
/// or groups held by the gateway, [`Mapping::group_rules`]) and the
/// `otherwise:` group named by name resolved to the legacy API's ids (`server::roles`): looked
/// up at start and at each reload (a generation keeps the ids it started with), once for every
/// tenant, with a client of its own on a thread of its own, as no server runs yet. A
/// configuration error (a name no role or group has, or several have; an answer that is not the
/// list the mapping describes) stops the start (or refuses the reload) saying why. A legacy API
/// that cannot answer yet, or refuses the credentials, gives `gw` as it is (the ids pending)
/// and why.
fn with_legacy_ids(gw: Gateway) -> Result<(Gateway, Option<LookupFailure>), StartupError> {
    let Some(what) = roles::described(&gw.mapping) else {
        return Ok((gw, None));
    };
    let outcome = std::thread::scope(|s| {
        s.spawn(|| -> Result<Mapping, LookupFailure> {
            let unavailable = |e: String| LookupFailure::Unavailable(e);
            let client = backend_client(&gw.mapping).map_err(|e| unavailable(e.to_string()))?;
            let probe = Gateway {
                backend: Arc::new(client),
                ..gw.clone()
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| unavailable(e.to_string()))?;
            runtime.block_on(resolve(&probe))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(LookupFailure::Unavailable(
                "the look-up stopped unexpectedly".into(),
            ))
        })
    });
    match outcome {
        Ok(resolved) => Ok((gw.with_mapping(resolved), None)),
        Err(failure) if failure.is_transient() => Ok((gw, Some(failure))),
        Err(failure) => Err(StartupError::Mapping(format!(
            "{what}: {}",
            failure.reason()
        ))),
    }
}

/// The mapping of `gw` with its role names and its `otherwise:` group name resolved to the
/// legacy ids, each looked up with `gw`'s backend client (the roles first). The mapping as it
/// is when it names nothing to look up.
pub(crate) async fn resolve(gw: &Gateway) -> Result<Mapping, LookupFailure> {
    let mapping = roles::with_role_ids(&gw.backend, &gw.mapping, &gw.metrics).await?;
    let Some(groups) = &mapping.groups else {
        return Ok(mapping);
    };
    let Some(name) = groups.membership.otherwise_name() else {
        return Ok(mapping);
    };
    let id = otherwise_id(gw, name).await?;
    let mut resolved = mapping.clone();
    if let Some(g) = resolved.groups.as_mut() {
        g.membership = g.membership.with_otherwise_id(&id);
    }
    Ok(resolved)
}

/// The legacy id of the group named `name` (trimmed, case-insensitively): read from the groups
/// list the way `GET /Groups?filter=displayName eq "<name>"` reads it (hidden and protected
/// groups included), for the default tenant. None by that name, or several, is a configuration
/// error.
async fn otherwise_id(gw: &Gateway, name: &str) -> Result<String, LookupFailure> {
    let Some(groups) = &gw.mapping.groups else {
        return Err(LookupFailure::Invalid("the mapping has no groups".into()));
    };
    let invalid = |why: String| LookupFailure::Invalid(why);
    if lists_per_tenant(&gw.mapping) {
        return Err(invalid(format!(
            "the groups list names the tenant, and the group is looked up once for every \
             tenant\n  fix: write the legacy id of {name:?} (otherwise: {{ id: … }}), the same \
             for every tenant"
        )));
    }
    let quoted = Value::String(name.to_string()).to_string();
    let filter =
        Filter::parse(&format!("displayName eq {quoted}")).map_err(|e| invalid(e.to_string()))?;
    let query = ListQuery::from_query_string("", 10).map_err(|e| invalid(e.detail.clone()))?;
    let tenant = Tenant::default_tenant();
    let record = RequestRecord::default();
    let cx = Ctx {
        gw,
        tenant: &tenant,
        request_id: "otherwise-lookup",
        record: &record,
    };
    let schema = groups::schema();
    let found = select::select(&cx, &groups.resource, schema, Some(&filter), &query, false)
        .await
        .map_err(|e| {
            let why = format!("the groups list could not be read: {}", e.detail);
            match e.status {
                401 | 403 => LookupFailure::Refused(why),
                500..=599 | 408 | 429 => LookupFailure::Unavailable(why),
                _ => LookupFailure::Invalid(why),
            }
        })?
        .into_resources();
    let ids: Vec<&str> = found
        .iter()
        .filter(|group| {
            group
                .get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|d| d.trim().eq_ignore_ascii_case(name.trim()))
        })
        .filter_map(|group| group.get("id").and_then(Value::as_str))
        .collect();
    match ids.as_slice() {
        [id] => Ok((*id).to_string()),
        [] => Err(invalid(format!(
            "the legacy API has no group named {name:?}\n  fix: name a group of GET /Groups, or \
             write the group's legacy id (otherwise: {{ id: … }})"
        ))),
        _ => Err(invalid(format!(
            "several legacy groups are named {name:?} (ids {})\n  fix: write the group's legacy \
             id (otherwise: {{ id: … }})",
            ids.join(", ")
        ))),
    }
}

/// Whether the legacy groups list differs per tenant: the tenant in its path or query, or sent
/// with every call (`backend.tenant`).
fn lists_per_tenant(mapping: &Mapping) -> bool {
    let Some(groups) = &mapping.groups else {
        return false;
    };
    let list = &groups.resource.endpoints.list.endpoint;
    let target = |tenant: &str| mapping.backend.target(list, tenant, None, None, &[]);
    mapping.backend.tenant_header("t").is_some() || target("t1") != target("t2")
}
