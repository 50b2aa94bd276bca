//! Selecting a page of legacy records for a SCIM list or search, the same way for every
//! resource type: the filter goes to the legacy API as far as the mapping allows; when that
//! covers all of it and no sort is asked, the legacy API pages too, else the gateway fetches at
//! most `scan_limit` candidates, filters, sorts and pages them itself. Every record is re-checked
//! against the filter (legacy searches may be looser than SCIM's) and records carrying the
//! mapping's deleted marker are left out.

use std::collections::HashMap;

use serde_json::Value;

use crate::mapping::{Pushdown, ResourceMapping};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListQuery};
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;
use crate::scim::ScimError;
use crate::server::context::Ctx;
use crate::server::legacy;

/// A page of SCIM resources, the legacy record each came from (by SCIM id), and the total.
pub struct Selection {
    pub resources: Vec<Value>,
    pub legacy_by_id: HashMap<String, Value>,
    pub total: usize,
}

/// The query's filter, parsed and checked against `schema`; `None` when there is none.
pub fn parse_filter(
    query: &ListQuery,
    schema: &ResourceSchema,
) -> Result<Option<Filter>, ScimError> {
    match query.filter.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => {
            let parsed = Filter::parse(f)?;
            filter::validate(&parsed, schema)?;
            Ok(Some(parsed))
        }
        _ => Ok(None),
    }
}

/// The page `query` asks for of `resource`'s records that `filter` selects.
pub async fn select(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    schema: &ResourceSchema,
    filter: Option<&Filter>,
    query: &ListQuery,
) -> Result<Selection, ScimError> {
    let pushdown = match filter {
        Some(f) => resource.pushdown(f),
        None => Pushdown {
            params: Vec::new(),
            complete: true,
            exact: true,
        },
    };
    let offset = (query.start_index.max(1) - 1) as u64;
    let count = query.count as u64;
    let list_endpoint = &resource.endpoints.list;
    let scan_limit = resource.scan_limit as u64;
    let legacy_pages = pushdown.complete && query.sort_by.is_none();
    // A record SCIM shows and the filter selects, with the SCIM resource made of it.
    let keep = |item: Value| -> Result<Option<(Value, Value)>, ScimError> {
        if resource.is_deleted(&item) {
            return Ok(None);
        }
        let scim = resource.to_scim(&item)?;
        if filter.is_some_and(|f| !filter::matches(f, &scim, schema)) {
            return Ok(None);
        }
        Ok(Some((item, scim)))
    };
    let (kept, legacy_total) = if legacy_pages {
        let (items, total) = legacy::fetch_window(
            cx,
            resource,
            list_endpoint,
            &pushdown.params,
            offset,
            count,
            scan_limit,
        )
        .await?;
        let kept = items.into_iter().map(keep).collect::<Result<Vec<_>, _>>()?;
        (kept, total)
    } else {
        // A scan keeps only what the filter selects, a legacy page of JSON at a time.
        let kept = legacy::fetch_all(
            cx,
            resource,
            list_endpoint,
            &pushdown.params,
            scan_limit,
            keep,
        )
        .await?;
        (kept, None)
    };
    let fetched = kept.len();
    let mut resources = Vec::new();
    let mut legacy_by_id = HashMap::new();
    for (item, scim) in kept.into_iter().flatten() {
        if let Some(id) = scim.get("id").and_then(Value::as_str) {
            legacy_by_id.insert(id.to_string(), item);
        }
        resources.push(scim);
    }
    if legacy_pages {
        // What the legacy API counted but SCIM does not show (deleted records, looser matches)
        // comes off its total; beyond this page the total stays the legacy API's estimate.
        let hidden = fetched - resources.len();
        let total = legacy_total
            .map(|t| (t as usize).saturating_sub(hidden))
            .unwrap_or(offset as usize + resources.len());
        return Ok(Selection {
            resources,
            legacy_by_id,
            total,
        });
    }
    if let Some(by) = &query.sort_by {
        list::sort(&mut resources, by, query.descending, schema);
    }
    let total = resources.len();
    let resources: Vec<Value> = resources
        .into_iter()
        .skip(offset as usize)
        .take(count as usize)
        .collect();
    Ok(Selection {
        resources,
        legacy_by_id,
        total,
    })
}

/// How many legacy records [`find_equal`] reads: a legacy search may be looser than SCIM's
/// equality (it is re-checked), but not by more than this.
const FIND_WINDOW: u64 = 50;

/// The records of `resource` whose `attr` equals `value` (by `schema`'s case rule), deleted
/// ones included, as (legacy record, SCIM resource) pairs, asked of the legacy API through the
/// mapping's filter pushdown; `None` when the mapping cannot ask it that. Creates look their
/// unique name up with it first.
pub async fn find_equal(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    schema: &ResourceSchema,
    attr: &str,
    value: &str,
) -> Result<Option<Vec<(Value, Value)>>, ScimError> {
    let equal = Filter::Compare {
        path: AttrPath::new(attr),
        op: CompareOp::Eq,
        value: CompValue::Str(value.to_string()),
    };
    let pushdown = resource.pushdown(&equal);
    if pushdown.params.is_empty() {
        return Ok(None);
    }
    let (items, _) = legacy::fetch_window(
        cx,
        resource,
        &resource.endpoints.list,
        &pushdown.params,
        0,
        FIND_WINDOW,
        FIND_WINDOW,
    )
    .await?;
    let mut found = Vec::new();
    for item in items {
        let scim = resource.to_scim(&item)?;
        if filter::matches(&equal, &scim, schema) {
            found.push((item, scim));
        }
    }
    Ok(Some(found))
}
