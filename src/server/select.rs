//! Selecting a page of legacy records for a SCIM list or search, the same way for every
//! resource type, with a `totalResults` an IdP can rely on: the number of resources it sees
//! when it walks the pages, the same on every page and for `count=0`, and no page short before
//! the last.
//!
//! The legacy API pages, and its total is taken for SCIM's, only when all of this holds
//! ([`legacy_total_is_exact`]): the filter went to it whole ([`Pushdown::complete`]) and as
//! exact comparisons ([`Pushdown::exact`], no `match: loose` entry); no sort is asked; its list
//! leaves out the records marked deleted ([`ResourceMapping::lists_deleted`]); the list is
//! paged and reports a total; its items carry every attribute the filter names
//! ([`ListEndpoint::carries`]). Even then each record of the page is re-checked, and a page
//! holding one that SCIM does not show (the legacy API was looser than the mapping says) is
//! answered by the walk below, unless the page held the whole result and was counted as it is.
//!
//! Otherwise the gateway walks the list itself (the pass-down parameters still sent), leaves
//! out deleted records, re-checks every record against the filter, counts, sorts and pages: at
//! most `scan_limit` legacy records, else 400 `tooMany` as soon as the legacy total or the
//! records seen pass it. An unpaged list (`pagination: none`) is one call.
//!
//! When the list items lack an attribute the filter or the sort names, each candidate is read
//! through the `get` endpoint and checked on its full record (at most `scan_limit` of them);
//! when they lack one the response shows, the resources of the page are read in full (at most
//! `count`). Where the legacy list holds records marked deleted, an item that does not hold the
//! marker's field at all cannot tell whether it was deleted: its record is read in full in the
//! walk before it is shown or counted (at most `scan_limit`, like the reads above).

use std::borrow::Cow;
use std::ops::ControlFlow;

use serde_json::Value;

use crate::mapping::legacy_path::{Captured, LegacyItem, LegacyRecord};
use crate::mapping::{
    Draft, DraftNode, ListEndpoint, Mapping, Membership, Pagination, Pushdown, QueryParam,
    ResourceMapping,
};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListQuery, SortBy, SortKey, Sorted};
use crate::scim::path::AttrPath;
use crate::scim::schema::{ResourceSchema, Returned};
use crate::scim::{urn, ScimError};
use crate::server::context::Ctx;
use crate::server::legacy::{self, LegacyAnswer, ListCall, Walked};

/// A page of SCIM resources, each beside the legacy record it came from, and the total.
pub(crate) struct Selection<'p> {
    pub(crate) page: Vec<Selected<'p>>,
    pub(crate) total: usize,
}

/// One resource of a [`Selection`]: as the translation drafted it (written out or made a value
/// by the caller), and its legacy record.
pub(crate) struct Selected<'p> {
    pub(crate) resource: Draft<'p>,
    pub(crate) legacy: LegacyItem,
}

impl Selection<'_> {
    /// The page's resources as values.
    pub(crate) fn into_resources(self) -> Vec<Value> {
        self.page
            .into_iter()
            .map(|s| s.resource.into_value())
            .collect()
    }
}

impl Sorted for Selected<'_> {
    fn sort_key(&self, by: &SortBy) -> Option<SortKey> {
        by.key(DraftNode::of(&self.resource))
    }
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

/// The page `query` asks for of `resource`'s records that `filter` selects (see the module
/// documentation). `schema` is the full SCIM schema of the resource type. With `whole_records`
/// each legacy record is kept whole ([`LegacyItem::Whole`]: the caller reads more from it than
/// the translation does), else as the mapping's readers allow.
pub(crate) async fn select<'p>(
    cx: &Ctx<'_>,
    resource: &'p ResourceMapping,
    schema: &ResourceSchema,
    filter: Option<&Filter>,
    query: &ListQuery,
    whole_records: bool,
) -> Result<Selection<'p>, ScimError> {
    if let Some(f) = filter {
        refuse_server_filled(f, schema)?;
    }
    let shown = || record_paths(&cx.mapping, resource);
    let plan = ListPlan::of(resource, schema, filter, query, shown);
    let look = Look {
        cx,
        resource,
        schema,
        filter,
        whole_records,
    };
    let from_legacy_pages = if plan.exact {
        look.legacy_page(&plan.pushdown.params, query).await?
    } else {
        None
    };
    let (mut selection, in_full) = match from_legacy_pages {
        Some(selection) => (selection, false),
        None => {
            let each_in_full = !(plan.filter_carried && plan.sort_carried);
            look.walk(&plan.pushdown, query, each_in_full).await?
        }
    };
    if !in_full && !plan.shown_carried {
        look.page_in_full(&mut selection).await?;
    }
    Ok(selection)
}

/// How [`select`] reads a list, decided from the mapping and the query before any legacy call
/// (also what `explain` reports).
pub(crate) struct ListPlan<'a> {
    /// The filter's part passed down as query parameters.
    pub(crate) pushdown: Pushdown<'a>,
    /// The list items carry every attribute the filter names (else each candidate is read).
    pub(crate) filter_carried: bool,
    /// The list items carry the attribute sorted by.
    pub(crate) sort_carried: bool,
    /// The list items carry every attribute the answer shows (else the page is read in full).
    pub(crate) shown_carried: bool,
    /// The legacy API's own page and total answer the list exactly.
    pub(crate) exact: bool,
}

impl<'a> ListPlan<'a> {
    /// The plan of a list of `resource` selected by `filter` and shaped by `query`; `shown`
    /// gives the attributes a record of it has ([`record_paths`]), asked only when the list
    /// items do not carry everything.
    pub(crate) fn of(
        resource: &'a ResourceMapping,
        schema: &ResourceSchema,
        filter: Option<&'a Filter>,
        query: &ListQuery,
        shown: impl FnOnce() -> Vec<AttrPath>,
    ) -> ListPlan<'a> {
        let pushdown = match filter {
            Some(f) => resource.pushdown(f),
            None => Pushdown {
                params: Vec::new(),
                complete: true,
                exact: true,
            },
        };
        let list = &resource.endpoints.list;
        // Every item has its id; the rest is as `carries:` says.
        let carried = |p: &AttrPath| carries(list, schema, p);
        let filter_carried = filter.is_none_or(|f| all_named_paths(f, &mut |p| carried(p)));
        let sort_carried = query.sort_by.as_ref().is_none_or(carried);
        let shown_carried = list.carries_everything()
            || shown()
                .iter()
                .all(|p| list.carries(p) || !shows(query, p, schema));
        let exact = legacy_total_is_exact(resource, &pushdown, query, filter_carried);
        ListPlan {
            pushdown,
            filter_carried,
            sort_carried,
            shown_carried,
            exact,
        }
    }
}

/// Whether the items of `list` carry `path` (every item has its id).
pub(crate) fn carries(list: &ListEndpoint, schema: &ResourceSchema, path: &AttrPath) -> bool {
    let p = canonical(path, schema);
    (p.schema.is_none() && p.name == "id") || list.carries(&p)
}

/// Whether the legacy API's own paging and total answer a list exactly (see the module
/// documentation); `filter_carried`: the list items carry every attribute the filter names.
pub(crate) fn legacy_total_is_exact(
    resource: &ResourceMapping,
    pushdown: &Pushdown,
    query: &ListQuery,
    filter_carried: bool,
) -> bool {
    let list = &resource.endpoints.list;
    pushdown.complete
        && pushdown.exact
        && query.sort_by.is_none()
        && !resource.lists_deleted()
        && list.pagination != Pagination::None
        && list.total.is_some()
        && filter_carried
}

/// What one selection looks at: the resource, its full SCIM schema and the filter.
struct Look<'a, 'c, 'p> {
    cx: &'a Ctx<'c>,
    resource: &'p ResourceMapping,
    schema: &'a ResourceSchema,
    filter: Option<&'a Filter>,
    /// Legacy records are kept whole (see [`select`]).
    whole_records: bool,
}

impl<'p> Look<'_, '_, 'p> {
    /// The record and its SCIM resource when SCIM shows it and the filter selects it.
    fn keep<R>(&self, mut item: R) -> Result<Option<Selected<'p>>, ScimError>
    where
        R: LegacyRecord + Into<LegacyItem>,
    {
        if self.resource.record_deleted(&item) {
            return Ok(None);
        }
        // Kept beside its resource only for its id (read again in full) and, whole, for
        // groups read from the legacy user: its values may move into the draft.
        let resource = self.resource.draft_taking(&mut item)?;
        if self
            .filter
            .is_some_and(|f| !filter::matches_in(f, DraftNode::of(&resource), self.schema))
        {
            return Ok(None);
        }
        Ok(Some(Selected {
            resource,
            legacy: item.into(),
        }))
    }

    /// Whether the records of a legacy page can be read as captured ones: the resource has
    /// the compiled readers, and the caller does not need the whole records.
    fn reads_captured(&self) -> bool {
        !self.whole_records && legacy::reads_pages_captured(self.resource)
    }

    /// The page as the legacy API pages it, with its total; `None` when that answer cannot
    /// be taken for SCIM's (it has no total, or its page holds a record SCIM does not show)
    /// and the list must be walked instead.
    async fn legacy_page(
        &self,
        params: &[QueryParam<'_>],
        query: &ListQuery,
    ) -> Result<Option<Selection<'p>>, ScimError> {
        let offset = (query.start_index.max(1) - 1) as u64;
        let count = query.count as u64;
        let list = &self.resource.endpoints.list;
        // `count=0` still reads a page, in one call, so that its records are checked too.
        let window = if count == 0 {
            legacy::max_page_size(list)
        } else {
            count
        };
        let call = ListCall::of(list, params);
        let limit = self.resource.scan_limit as u64;
        let (cx, resource) = (self.cx, self.resource);
        if self.reads_captured() {
            let (items, total) =
                legacy::fetch_window::<Captured>(cx, resource, &call, offset, window, limit)
                    .await?;
            self.legacy_page_of(items, total, offset, query)
        } else {
            let (items, total) =
                legacy::fetch_window::<Value>(cx, resource, &call, offset, window, limit).await?;
            self.legacy_page_of(items, total, offset, query)
        }
    }

    /// [`Look::legacy_page`] of the `items` the legacy API answered from `offset`, and the
    /// `total` it reported.
    fn legacy_page_of<R>(
        &self,
        items: Vec<R>,
        total: Option<u64>,
        offset: u64,
        query: &ListQuery,
    ) -> Result<Option<Selection<'p>>, ScimError>
    where
        R: LegacyRecord + Into<LegacyItem>,
    {
        // Without a total in the answer, none is invented: the gateway counts.
        let Some(total) = total else {
            return Ok(None);
        };
        let fetched = items.len();
        let mut kept = Vec::with_capacity(fetched);
        for item in items {
            kept.extend(self.keep(item)?);
        }
        let total = if kept.len() == fetched {
            usize::try_from(total).unwrap_or(usize::MAX)
        } else if offset == 0 && fetched as u64 >= total {
            // The page held the whole result: what it shows is the total.
            kept.len()
        } else {
            return Ok(None);
        };
        kept.truncate(query.count);
        Ok(Some(Selection { page: kept, total }))
    }

    /// The page of the list walked by the gateway (see the module documentation), and whether
    /// each of its records was read in full. With `each_in_full`, every candidate is read
    /// through the `get` endpoint and checked on its full record; without, only those whose
    /// item cannot tell whether the record was deleted ([`ResourceMapping::deletion_unknown`]).
    async fn walk(
        &self,
        pushdown: &Pushdown<'_>,
        query: &ListQuery,
        each_in_full: bool,
    ) -> Result<(Selection<'p>, bool), ScimError> {
        let resource = self.resource;
        let list = &resource.endpoints.list;
        let limit = resource.scan_limit as u64;
        // In list order: the records decided on their item, and the items to read first.
        let mut seen: Vec<Seen<'p>> = Vec::new();
        let walked = legacy::walk(
            self.cx,
            resource,
            &ListCall::of(list, &pushdown.params),
            limit,
            |item| {
                if each_in_full || resource.deletion_unknown(&item) {
                    if !resource.is_deleted(&item) {
                        seen.push(Seen::ToRead(item));
                    }
                } else {
                    seen.extend(self.keep(item)?.map(Seen::Kept));
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        if walked == Walked::TooMany {
            return Err(too_many(list, limit, each_in_full));
        }
        let mut all_in_full = true;
        let mut kept: Vec<Selected<'p>> = Vec::with_capacity(seen.len());
        for one in seen {
            match one {
                Seen::Kept(selected) => {
                    all_in_full = false;
                    kept.push(selected);
                }
                Seen::ToRead(item) => {
                    if let Some(full) = self.in_full(&item).await? {
                        kept.extend(self.keep(full)?);
                    }
                }
            }
        }
        let total = kept.len();
        if let Some(by) = &query.sort_by {
            list::sort(&mut kept, by, query.descending, self.schema);
        }
        let page = kept
            .into_iter()
            .skip(query.start_index.max(1) - 1)
            .take(query.count)
            .collect();
        Ok((Selection { page, total }, all_in_full))
    }

    /// Replaces each resource of the page by the one its full record makes (read through the
    /// `get` endpoint); a record gone in the meantime leaves the page.
    async fn page_in_full(&self, selection: &mut Selection<'p>) -> Result<(), ScimError> {
        let mut page = Vec::with_capacity(selection.page.len());
        for listed in std::mem::take(&mut selection.page) {
            if let Some(full) = self.in_full(&listed.legacy).await? {
                if !self.resource.is_deleted(&full) {
                    page.push(Selected {
                        resource: self.resource.draft_whole(&full)?,
                        legacy: LegacyItem::Whole(full),
                    });
                }
            }
        }
        selection.page = page;
        Ok(())
    }

    /// The full record of list item `item`, read through the `get` endpoint; `None` when it is
    /// gone (or the legacy API answers another record for its id).
    async fn in_full(&self, item: &impl LegacyRecord) -> Result<Option<Value>, ScimError> {
        let resource = self.resource;
        let Some(id) = resource.read_id(item) else {
            return Ok(None);
        };
        let call = legacy::Call {
            id: Some(&id),
            ..legacy::Call::new(&resource.endpoints.get)
        };
        match legacy::call_with(self.cx, resource, &call).await {
            Ok(got) if resource.legacy_id(&got.body).as_deref() == Some(id.as_str()) => {
                Ok(Some(got.body))
            }
            Ok(_) => Ok(None),
            Err(e) if e.answer() == LegacyAnswer::NotFound => Ok(None),
            Err(e) => Err(e.error),
        }
    }
}

/// A list item met by [`Look::walk`]: its record decided on the item (the legacy record and
/// its SCIM resource), or to be read in full before it is decided.
enum Seen<'p> {
    Kept(Selected<'p>),
    ToRead(Value),
}

/// The 400 `tooMany` of a walk that would read more than `limit` records of `list`.
fn too_many(list: &ListEndpoint, limit: u64, each_in_full: bool) -> ScimError {
    let section = legacy::section(list);
    let why = if each_in_full {
        "each record read on its own, as the legacy list's items lack an attribute the filter \
         or the sort names"
    } else {
        "the legacy API cannot answer this query exactly itself"
    };
    ScimError::too_many(format!(
        "answering this query needs the gateway to go through more than {limit} legacy records \
         ({why}), past its limit ({section}.scan_limit in the mapping); narrow the filter with \
         an attribute the legacy API searches exactly (e.g. userName eq \"…\"), or raise \
         {section}.scan_limit"
    ))
}

/// Refuses a filter on an attribute the server fills itself and the legacy records do not
/// hold: a user's `groups` (asked of /Groups with `members[value eq "<user id>"]` instead).
/// A group's `members` are answered by the groups' list before it comes here.
fn refuse_server_filled(f: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    if !schema.core.id.eq_ignore_ascii_case(urn::USER) {
        return Ok(());
    }
    // The core schema's `groups` (or a sub-attribute of it), however it is spelt.
    let names_groups = |p: &AttrPath| match schema.find(p) {
        Some(found) => !found.is_extension(schema) && found.attr.name == "groups",
        None => p.schema.is_none() && p.name == "groups",
    };
    if !all_named_paths(f, &mut |p| !names_groups(p)) {
        return Err(ScimError::invalid_filter(
            "users cannot be filtered on their groups; list the groups of a user with \
             GET /Groups?filter=members[value eq \"<user id>\"]",
        ));
    }
    Ok(())
}

/// The attribute paths a filter names, a value path's attributes as sub-attributes of it
/// (`emails[type eq "work"]` names `emails.type`).
pub(crate) fn named_paths(f: &Filter) -> Vec<AttrPath> {
    let mut out = Vec::new();
    all_named_paths(f, &mut |p| {
        out.push(p.clone());
        true
    });
    out
}

/// Whether `test` holds for every path of [`named_paths`] (asked in order, until one fails),
/// without making the list.
pub(crate) fn all_named_paths(f: &Filter, test: &mut impl FnMut(&AttrPath) -> bool) -> bool {
    all_paths_within(f, None, test)
}

fn all_paths_within(
    f: &Filter,
    within: Option<&AttrPath>,
    test: &mut impl FnMut(&AttrPath) -> bool,
) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => match within {
            Some(parent) => test(&parent.parent().with_sub(path.name.clone())),
            None => test(path),
        },
        Filter::ValuePath { attr, filter } => all_paths_within(filter, Some(attr), test),
        Filter::And(a, b) | Filter::Or(a, b) => {
            all_paths_within(a, within, test) && all_paths_within(b, within, test)
        }
        Filter::Not(a) => all_paths_within(a, within, test),
    }
}

/// `path` as the mapping names attributes: unqualified in the core schema, qualified with its
/// URN in an extension, with the schema's spelling of the names. A path the schema does not
/// know is kept as written.
pub(crate) fn canonical<'a>(path: &'a AttrPath, schema: &ResourceSchema) -> Cow<'a, AttrPath> {
    let Some(found) = schema.find(path) else {
        return Cow::Borrowed(path);
    };
    let urn = found
        .is_extension(schema)
        .then_some(found.schema.id.as_str());
    let sub = found.sub.map(|s| s.name.as_str());
    if path.schema.as_deref() == urn && path.name == found.attr.name && path.sub.as_deref() == sub {
        return Cow::Borrowed(path);
    }
    Cow::Owned(AttrPath {
        schema: urn.map(str::to_owned),
        name: found.attr.name.clone(),
        sub: sub.map(str::to_owned),
    })
}

/// The SCIM attributes a resource takes from its legacy record: the mapped ones, and a user's
/// `groups` when membership is a field of the legacy user.
pub(crate) fn record_paths(mapping: &Mapping, resource: &ResourceMapping) -> Vec<AttrPath> {
    let mut paths = resource.attribute_paths();
    let is_users = std::ptr::eq(resource, &mapping.users);
    if is_users
        && mapping
            .groups
            .as_ref()
            .is_some_and(|g| matches!(g.membership, Membership::UserAttribute(_)))
    {
        paths.push(AttrPath::new("groups"));
    }
    paths
}

/// Whether a response shaped by `query` shows `path` (RFC 7644 §3.9): unless excluded, when
/// `attributes` names it (or its attribute, or one of its sub-attributes), or, without
/// `attributes`, when it is returned by default.
pub(crate) fn shows(query: &ListQuery, path: &AttrPath, schema: &ResourceSchema) -> bool {
    let Some(target) = schema.find(path) else {
        return query.attributes.is_empty();
    };
    let same_sub = |q: Option<&crate::scim::schema::AttributeDef>| match (q, target.sub) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => false,
    };
    let excluded = query.excluded_attributes.iter().any(|q| {
        schema.find(q).is_some_and(|r| {
            std::ptr::eq(r.attr, target.attr) && (r.sub.is_none() || same_sub(r.sub))
        })
    });
    if excluded {
        return false;
    }
    if query.attributes.is_empty() {
        return !matches!(target.leaf().returned, Returned::Never | Returned::Request);
    }
    query.attributes.iter().any(|q| {
        schema.find(q).is_some_and(|r| {
            std::ptr::eq(r.attr, target.attr)
                && (r.sub.is_none() || target.sub.is_none() || same_sub(r.sub))
        })
    })
}

/// How many legacy records [`find_equal`] reads when the pass-down is exact: an exact legacy
/// search selects only equal records, and a name is held by few.
pub(crate) const FIND_WINDOW: u64 = 50;

/// The records of `resource` whose `attr` equals `value` (by `schema`'s case rule), deleted
/// ones included, as (legacy record, SCIM resource) pairs, asked of the legacy API through the
/// mapping's filter pushdown. Creates look their unique name up with it first: a legacy API
/// that cannot search by that name (no filter entry, or one that compares by case) may well not
/// refuse a duplicate either, so the whole list is read instead. A loose legacy search, or the
/// whole list, is walked to its end (at most `scan_limit` records, else `tooMany`); records
/// whose list items lack `attr` are read in full.
pub async fn find_equal(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    schema: &ResourceSchema,
    attr: &str,
    value: &str,
) -> Result<Vec<(Value, Value)>, ScimError> {
    let path = AttrPath::new(attr);
    let equal = Filter::Compare {
        path: path.clone(),
        op: CompareOp::Eq,
        value: CompValue::Str(value.to_string()),
    };
    let pushdown = resource.pushdown(&equal);
    let list = &resource.endpoints.list;
    let call = ListCall::of(list, &pushdown.params);
    let items = if pushdown.exact && !pushdown.params.is_empty() {
        legacy::fetch_window(cx, resource, &call, 0, FIND_WINDOW, FIND_WINDOW)
            .await?
            .0
    } else {
        legacy::fetch_all(
            cx,
            resource,
            list,
            &pushdown.params,
            resource.scan_limit as u64,
            Ok,
        )
        .await?
    };
    let look = Look {
        cx,
        resource,
        schema,
        filter: Some(&equal),
        whole_records: true,
    };
    let thin = !list.carries(&canonical(&path, schema));
    let mut found = Vec::new();
    for item in items {
        let item = match thin {
            true => match look.in_full(&item).await? {
                Some(full) => full,
                None => continue,
            },
            false => item,
        };
        let scim = resource.to_scim(&item)?;
        if filter::matches(&equal, &scim, schema) {
            found.push((item, scim));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::load_str;
    use serde_json::json;

    const YAML: &str = r#"
name: t
backend: { base_url: "http://127.0.0.1:9" }
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    list:
      method: GET
      path: /users
      items: $.data
      total: { body: $.meta.total }
      pagination: { style: page, page_param: page, size_param: per_page, first_page: 1, max_page_size: 100 }
  on_delete: deactivate
  deleted: { legacy: $.status, value: archived }
  attributes:
    - { scim: userName, legacy: $.login }
    - { scim: title, legacy: $.title }
    - { scim: name.givenName, legacy: $.first }
    - { scim: 'emails[type eq "work"].value', legacy: $.email }
    - scim: active
      legacy: $.status
      values:
        - { scim: true, legacy: enabled }
        - { scim: false, legacy: disabled }
  filters:
    - { scim: userName, op: eq, param: login }
    - { scim: 'emails[type eq "work"].value', op: eq, param: email }
"#;

    fn users() -> ResourceMapping {
        let mut r = load_str("t.yaml", YAML).unwrap().users;
        if let Some(m) = r.plan.deleted.as_mut() {
            m.listed = false;
        }
        r
    }

    fn q(s: &str) -> ListQuery {
        ListQuery::from_query_string(s, 100).unwrap()
    }

    fn exact(r: &ResourceMapping, filter: &str, query: &str) -> bool {
        let f = Filter::parse(filter).unwrap();
        let carried = named_paths(&f).iter().all(|p| {
            r.endpoints
                .list
                .carries(&canonical(p, ResourceSchema::user()))
        });
        legacy_total_is_exact(r, &r.pushdown(&f), &q(query), carried)
    }

    #[test]
    fn the_legacy_total_is_taken_only_for_an_exact_complete_pass_down() {
        let r = users();
        assert!(exact(&r, r#"userName eq "ada""#, ""));
        assert!(exact(
            &r,
            r#"userName eq "ada" and emails[type eq "work"].value eq "a@b""#,
            ""
        ));
        // Part of the filter is the gateway's, or the gateway sorts.
        assert!(!exact(&r, r#"userName eq "ada" and title eq "x""#, ""));
        assert!(!exact(&r, r#"userName sw "a""#, ""));
        assert!(!exact(&r, r#"userName eq "ada""#, "sortBy=title"));
    }

    #[test]
    fn a_loose_filter_deleted_records_in_the_list_or_an_unpaged_list_are_counted_by_the_gateway() {
        let mut loose = users();
        loose.plan.filters[0].exact = false;
        assert!(!exact(&loose, r#"userName eq "ada""#, ""));
        assert!(exact(
            &loose,
            r#"emails[type eq "work"].value eq "a@b""#,
            ""
        ));

        let mut listed = users();
        if let Some(m) = listed.plan.deleted.as_mut() {
            m.listed = true;
        }
        assert!(!exact(&listed, r#"userName eq "ada""#, ""));

        let mut unpaged = users();
        unpaged.endpoints.list.pagination = Pagination::None;
        assert!(!exact(&unpaged, r#"userName eq "ada""#, ""));

        let mut no_total = users();
        no_total.endpoints.list.total = None;
        assert!(!exact(&no_total, r#"userName eq "ada""#, ""));
    }

    #[test]
    fn items_that_lack_a_filtered_attribute_are_not_counted_by_the_legacy_api() {
        let mut thin = users();
        thin.endpoints.list.carries = Some(vec![AttrPath::new("userName"), AttrPath::new("name")]);
        assert!(exact(&thin, r#"userName eq "ada""#, ""));
        assert!(!exact(
            &thin,
            r#"emails[type eq "work"].value eq "a@b""#,
            ""
        ));
        assert!(!exact(
            &thin,
            r#"USERNAME eq "ada" and emails.value eq "a@b""#,
            ""
        ));
    }

    #[test]
    fn a_thin_item_without_the_deleted_marker_is_read_before_it_is_shown_where_deleted_are_listed()
    {
        let mut listed = users();
        if let Some(m) = listed.plan.deleted.as_mut() {
            m.listed = true;
        }
        let thin = json!({"id": 4, "login": "ada"});
        assert!(&listed.deletion_unknown(&thin), "no status: it cannot tell");
        for holds in [
            json!({"id": 4, "status": "archived"}),
            json!({"id": 4, "status": "enabled"}),
            json!({"id": 4, "status": null}),
        ] {
            assert!(!&listed.deletion_unknown(&holds), "{holds}");
        }
        // The list leaves deleted records out, or nothing is marked deleted: nothing to tell.
        assert!(!&users().deletion_unknown(&thin));
        let mut unmarked = users();
        unmarked.plan.deleted = None;
        assert!(!&unmarked.deletion_unknown(&thin));
    }

    #[test]
    fn keystones_list_items_cannot_tell_its_users_deleted_through_scim() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let keystone = crate::mapping::load_file(&root.join("mappings/keystone.yaml")).unwrap();
        let r = &keystone.users;
        assert!(r.lists_deleted());
        // The items as Keystone lists them, each record in its `user` envelope.
        let answer = json!({"users": [
            {"user": {"id": 6, "login": "ada", "email": "ada@example.com"}},
            {"user": {"id": 7, "login": "bob", "state": "deleted"}}
        ]});
        let items = r.endpoints.list.items(&answer).unwrap();
        let (item, deleted) = (&items[0], &items[1]);
        assert!(r.deletion_unknown(item));
        assert!(!r.deletion_unknown(deleted));
        assert!(r.is_deleted(deleted));
    }

    #[test]
    fn the_shipped_acme_hr_mapping_pages_its_user_lists_through_acme_hr() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let acme = crate::mapping::load_file(&root.join("mappings/acme-hr.yaml")).unwrap();
        assert!(!acme.users.lists_deleted(), "archived users are left out");
        let all = Pushdown {
            params: Vec::new(),
            complete: true,
            exact: true,
        };
        assert!(legacy_total_is_exact(&acme.users, &all, &q(""), true));
        assert!(exact(&acme.users, r#"userName eq "ada""#, ""));
    }

    #[test]
    fn a_filter_names_its_attributes_with_value_paths_as_sub_attributes() {
        let f = Filter::parse(
            r#"emails[type eq "work" and value co "@x"] or not (name.givenName pr) and urn:ietf:params:scim:schemas:core:2.0:User:title eq "t""#,
        )
        .unwrap();
        let names: Vec<String> = named_paths(&f)
            .iter()
            .map(|p| canonical(p, ResourceSchema::user()).to_string())
            .collect();
        assert_eq!(
            names,
            ["emails.type", "emails.value", "name.givenName", "title"]
        );
        let ext = Filter::parse(r#"employeeNumber eq "1""#).unwrap();
        assert_eq!(
            canonical(&named_paths(&ext)[0], ResourceSchema::user())
                .schema
                .as_deref(),
            Some(urn::ENTERPRISE_USER)
        );
    }

    #[test]
    fn what_a_response_shows_follows_attributes_and_excluded_attributes() {
        let s = ResourceSchema::user();
        let p = |x: &str| AttrPath::parse(x).unwrap();
        assert!(shows(&q(""), &p("emails.value"), s));
        assert!(!shows(&q(""), &p("password"), s), "never returned");
        assert!(!shows(&q("attributes=userName"), &p("emails.value"), s));
        assert!(shows(&q("attributes=emails"), &p("emails.value"), s));
        assert!(shows(&q("attributes=emails.value"), &p("emails.value"), s));
        assert!(!shows(&q("attributes=emails.type"), &p("emails.value"), s));
        assert!(shows(&q("attributes=name.givenName"), &p("name"), s));
        assert!(!shows(
            &q("excludedAttributes=emails"),
            &p("emails.value"),
            s
        ));
        assert!(shows(
            &q("excludedAttributes=emails.type"),
            &p("emails.value"),
            s
        ));
        assert!(!shows(
            &q("excludedAttributes=emails.value"),
            &p("emails.value"),
            s
        ));
    }

    #[test]
    fn users_are_not_filtered_on_the_groups_the_server_fills() {
        let f = Filter::parse(r#"groups[value eq "5"]"#).unwrap();
        let e = refuse_server_filled(&f, ResourceSchema::user()).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidFilter));
        assert!(e.detail.contains("members[value eq"), "{}", e.detail);
        let f = Filter::parse(r#"userName eq "x" and groups.display eq "Sales""#).unwrap();
        assert!(refuse_server_filled(&f, ResourceSchema::user()).is_err());
        // However it is spelt.
        for text in [
            r#"GROUPS.value eq "5""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:groups.value eq "5""#,
        ] {
            let f = Filter::parse(text).unwrap();
            assert!(
                refuse_server_filled(&f, ResourceSchema::user()).is_err(),
                "{text}"
            );
        }
        let f = Filter::parse(r#"userName eq "groups""#).unwrap();
        assert!(refuse_server_filled(&f, ResourceSchema::user()).is_ok());
        let f = Filter::parse(r#"displayName eq "x""#).unwrap();
        assert!(refuse_server_filled(&f, ResourceSchema::group()).is_ok());
    }
}
