//! What a SCIM list, search or look-up costs the legacy API: whether its filter is passed down
//! whole (the legacy API's page and total are used), passed down and re-checked, or scanned
//! (the gateway walks the list), and how many calls that may take. Decided by the gateway's own
//! plan of a list (`select::ListPlan`), so that `explain` cannot disagree with what the gateway
//! does.

use serde::Serialize;

use crate::mapping::{Mapping, Pagination, Pushdown, ResourceMapping};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::list::ListQuery;
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;
use crate::server::select;

/// How one list or look-up reaches the legacy list.
#[derive(Debug, Clone, Serialize)]
pub struct FilterPlan {
    /// `list` (the request's own list or search) or `look-up` (the search a create or a
    /// rename makes first, for the name it is to hold).
    pub purpose: &'static str,
    /// `users` or `groups`.
    pub section: &'static str,
    /// The SCIM filter (`None`: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `exact` (passed down whole: the legacy API's page and total are used), `rechecked`
    /// (passed down, every record re-checked and counted by the gateway) or `scanned` (nothing
    /// passed down: the gateway reads the list itself).
    pub mode: &'static str,
    /// The query parameters the filter becomes.
    pub params: Vec<Param>,
    /// Why the legacy API's answer is not taken as it is (empty for `exact`).
    pub reasons: Vec<String>,
    /// The legacy page size asked for (`None`: the list is not paged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The most list calls it may take.
    pub max_calls: u64,
    /// The most legacy records the gateway reads (`scan_limit`).
    pub scan_limit: usize,
    /// Each candidate record is read in full, one `get` each (the list items lack an
    /// attribute the filter or the sort names).
    pub reads_each_in_full: bool,
    /// The resources of the page are read in full, one `get` each (the list items lack an
    /// attribute the answer shows).
    pub reads_page_in_full: bool,
    /// What it costs, as printed.
    pub cost: String,
}

/// One query parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    pub value: String,
}

fn params_of(p: &Pushdown<'_>) -> Vec<Param> {
    p.params
        .iter()
        .map(|(name, value)| Param {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// The resource mapping and full SCIM schema of `section`.
fn resource_of<'m>(
    mapping: &'m Mapping,
    section: &str,
) -> Option<(&'m ResourceMapping, &'static ResourceSchema)> {
    match section {
        "users" => Some((&mapping.users, ResourceSchema::user())),
        "groups" => mapping
            .groups
            .as_ref()
            .map(|g| (&g.resource, ResourceSchema::group())),
        _ => None,
    }
}

fn ceil_div(a: u64, b: u64) -> u64 {
    if b == 0 {
        return 1;
    }
    a.div_ceil(b).max(1)
}

/// The page size the gateway asks for, `None` for an unpaged list.
fn page_size(resource: &ResourceMapping) -> Option<u64> {
    match resource.endpoints.list.pagination {
        Pagination::None => None,
        ref p => Some(p.max_page_size().max(1)),
    }
}

/// The cost of a walk of the list (at most `scan_limit` records, page by page).
fn walk_cost(resource: &ResourceMapping, params: &[Param]) -> (u64, String) {
    let limit = resource.scan_limit as u64;
    let with = if params.is_empty() {
        String::new()
    } else {
        format!(
            " with {}",
            params
                .iter()
                .map(|p| format!("{}={}", p.name, p.value))
                .collect::<Vec<_>>()
                .join("&")
        )
    };
    match page_size(resource) {
        None => (
            1,
            format!(
                "the gateway reads the whole list{with} in one call (the list is not paged) and \
                 checks each record itself; more than {limit} records (scan_limit) is a 400 \
                 tooMany"
            ),
        ),
        Some(size) => {
            let calls = ceil_div(limit, size);
            (
                calls,
                format!(
                    "the gateway reads the list{with} a page of {size} at a time, at most \
                     {calls} calls (scan_limit {limit} / page size {size}), re-checks every \
                     record and counts totalResults itself; more than {limit} records is a 400 \
                     tooMany"
                ),
            )
        }
    }
}

/// The plan of the SCIM list or search `query` of `section`. `None` when the filter does not
/// parse (the gateway answers 400 without a legacy call).
pub(crate) fn list_plan(
    mapping: &Mapping,
    section: &'static str,
    query: &ListQuery,
) -> Option<FilterPlan> {
    let (resource, schema) = resource_of(mapping, section)?;
    let filter = select::parse_filter(query, schema).ok()?;
    let shown = || select::record_paths(mapping, resource);
    let plan = select::ListPlan::of(resource, schema, filter.as_ref(), query, shown);
    let list = &resource.endpoints.list;
    let uncarried: Vec<String> = filter
        .as_ref()
        .map(|f| {
            select::named_paths(f)
                .iter()
                .filter(|p| !select::carries(list, schema, p))
                .map(path_text)
                .collect()
        })
        .unwrap_or_default();
    let select::ListPlan {
        pushdown,
        filter_carried,
        sort_carried,
        shown_carried,
        exact,
    } = plan;
    let params = params_of(&pushdown);
    let mut reasons = Vec::new();
    if filter.is_some() {
        if pushdown.params.is_empty() {
            reasons.push(
                "no `filters:` entry answers any part of the filter (only `eq` on a listed \
                 attribute, alone or in an `and`, is passed down)"
                    .to_string(),
            );
        } else if !pushdown.complete {
            reasons.push(
                "only part of the filter has a `filters:` entry: the rest is the gateway's to \
                 check"
                    .to_string(),
            );
        }
        if !pushdown.exact {
            reasons.push(
                "a `match: loose` entry is used: the legacy API may return more than SCIM's \
                 `eq` selects"
                    .to_string(),
            );
        }
        if !filter_carried {
            reasons.push(format!(
                "the list items do not carry {} (`list.carries`)",
                uncarried.join(", ")
            ));
        }
    }
    if query.sort_by.is_some() {
        reasons.push("sortBy is asked: the gateway sorts".to_string());
    }
    if resource.lists_deleted() {
        reasons.push(
            "the legacy list holds records deleted through SCIM (`deleted:` without \
             `listed: false`): the gateway leaves them out and counts itself"
                .to_string(),
        );
    }
    if list.pagination == Pagination::None {
        reasons.push("the list is not paged (`pagination: none`)".to_string());
    }
    if list.total.is_none() {
        reasons.push("the list reports no total (`list.total`)".to_string());
    }
    let reads_each_in_full = !(exact || filter_carried && sort_carried);
    let reads_page_in_full = !reads_each_in_full && !shown_carried;
    let count = query.count as u64;
    let (mode, max_calls, mut cost) = if exact {
        let size = page_size(resource).unwrap_or(1);
        let calls = ceil_div(count.max(1), size);
        (
            "exact",
            calls,
            format!(
                "the legacy API's page and total are used: one call per page of up to {size} \
                 ({calls} call(s) for count={count}); each record is still re-checked, and a page \
                 holding one SCIM does not show is answered by a walk of the list instead"
            ),
        )
    } else {
        let (calls, cost) = walk_cost(resource, &params);
        let mode = if params.is_empty() {
            "scanned"
        } else {
            "rechecked"
        };
        (mode, calls, cost)
    };
    if reads_each_in_full {
        cost.push_str(&format!(
            "; the list items lack an attribute the filter or the sort names, so each candidate \
             is read in full, one `get` each (at most {})",
            resource.scan_limit
        ));
    } else if resource.lists_deleted() && !list.carries_everything() && !exact {
        cost.push_str(
            "; an item without the deleted marker's field is read in full, one `get` each",
        );
    }
    if reads_page_in_full {
        cost.push_str(&format!(
            "; the list items lack an attribute the answer shows, so each resource of the page \
             is read in full, one `get` each (at most count = {count})"
        ));
    }
    Some(FilterPlan {
        purpose: "list",
        section,
        filter: query.filter.clone().filter(|f| !f.trim().is_empty()),
        mode,
        params,
        reasons,
        page_size: page_size(resource),
        max_calls,
        scan_limit: resource.scan_limit,
        reads_each_in_full,
        reads_page_in_full,
        cost,
    })
}

/// The plan of the look-up of `attr eq value` a create (or rename) of `section` makes first
/// (`select::find_equal`).
pub(crate) fn lookup_plan(
    mapping: &Mapping,
    section: &'static str,
    attr: &str,
    value: &str,
) -> Option<FilterPlan> {
    let (resource, schema) = resource_of(mapping, section)?;
    let path = AttrPath::new(attr);
    let equal = Filter::Compare {
        path: path.clone(),
        op: CompareOp::Eq,
        value: CompValue::Str(value.to_string()),
    };
    let pushdown = resource.pushdown(&equal);
    let list = &resource.endpoints.list;
    let params = params_of(&pushdown);
    let thin = !list.carries(&select::canonical(&path, schema));
    let mut reasons = Vec::new();
    let (mode, max_calls, mut cost) = if pushdown.exact && !pushdown.params.is_empty() {
        let window = select::FIND_WINDOW;
        let calls = page_size(resource).map_or(1, |s| ceil_div(window, s));
        (
            "exact",
            calls,
            format!(
                "the legacy API searches it exactly: {calls} call(s) reading up to {window} \
                 records with that {attr}, each re-checked"
            ),
        )
    } else {
        if pushdown.params.is_empty() {
            reasons.push(format!(
                "no `filters:` entry for {attr}: the gateway reads the whole list to find it"
            ));
        } else {
            reasons.push(format!(
                "the `filters:` entry for {attr} is `match: loose`: every record it returns is \
                 re-checked"
            ));
        }
        let (calls, cost) = walk_cost(resource, &params);
        let mode = if params.is_empty() {
            "scanned"
        } else {
            "rechecked"
        };
        (mode, calls, cost)
    };
    if thin {
        cost.push_str(&format!(
            "; the list items do not carry {attr}, so each record found is read in full, one \
             `get` each"
        ));
    }
    Some(FilterPlan {
        purpose: "look-up",
        section,
        filter: Some(format!("{attr} eq {}", serde_json::Value::from(value))),
        mode,
        params,
        reasons,
        page_size: page_size(resource),
        max_calls,
        scan_limit: resource.scan_limit,
        reads_each_in_full: thin,
        reads_page_in_full: false,
        cost,
    })
}

/// `name.sub`, with the schema URN when qualified.
fn path_text(p: &AttrPath) -> String {
    let mut s = match &p.schema {
        Some(urn) => format!("{urn}:{}", p.name),
        None => p.name.clone(),
    };
    if let Some(sub) = &p.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

impl FilterPlan {
    /// The plan as printed (several lines).
    pub fn text(&self) -> String {
        let what = match self.purpose {
            "look-up" => format!("Look-up in {} first", self.section),
            _ => format!("List of {}", self.section),
        };
        let filter = match &self.filter {
            Some(f) => format!(" with filter `{f}`"),
            None => " without a filter".to_string(),
        };
        let params = if self.params.is_empty() {
            String::new()
        } else {
            format!(
                " as ?{}",
                self.params
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.value))
                    .collect::<Vec<_>>()
                    .join("&")
            )
        };
        let mode = match (self.mode, self.filter.is_some()) {
            ("exact", true) => format!("the filter is passed down whole (exact){params}"),
            ("exact", false) => "the legacy list is paged and counted as it is (exact)".to_string(),
            ("rechecked", _) => {
                format!("the filter is passed down{params} and re-checked by the gateway")
            }
            (_, true) => "the filter is not passed down: the list is scanned".to_string(),
            (_, false) => "the gateway reads the list itself (scanned)".to_string(),
        };
        let mut out = format!("{what}{filter}: {mode}.\n");
        for r in &self.reasons {
            out.push_str(&format!("  - because {r}\n"));
        }
        out.push_str(&format!("  Cost: {}.\n", self.cost));
        out
    }
}
