//! Validation and compilation of endpoints: `users.endpoints` and `groups.endpoints` (methods,
//! path templates and their placeholders, static query parameters and headers, the update's
//! mode and `replaces_whole`, the list endpoint's items, total and pagination; how each holds
//! the record is compiled by `load/records.rs`), and the pieces
//! that member endpoints reuse (`load/membership.rs`).

use serde_json::{Map, Value};
use serde_saphyr::{Location, Spanned};

use super::records::{self, Own, Role, SectionEnvelope};
use super::{loc, need, one_place, read_path, suggest_word, Cx, Kind};
use crate::mapping::legacy_path::LegacyPath;
use crate::mapping::model::*;
use crate::mapping::placeholders::{BodyTemplate, Placeholder, PlaceholderProblem, Text};
use crate::mapping::plan::*;
use crate::mapping::template::{PathTemplate, TemplateProblem};

// --- endpoints -------------------------------------------------------------------------------

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Whether a path template must, may or must not hold a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hole {
    Required,
    Optional,
    Forbidden,
}

/// What one endpoint's path must hold, and the words its messages use: `noun` is what `{id}`
/// names ("user", "group"), `example` a path for fixes (`/users`, `/teams/{id}/members`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape<'a> {
    pub(crate) id: Hole,
    pub(crate) member: Hole,
    pub(crate) noun: &'a str,
    pub(crate) example: &'a str,
}

/// The keys every endpoint has, borrowed from whichever model struct holds them.
pub(super) struct Fields<'a> {
    pub(crate) method: &'a Option<Spanned<String>>,
    pub(crate) path: &'a Option<Spanned<String>>,
    pub(crate) query: &'a Option<Spanned<Map<String, Value>>>,
    pub(crate) headers: &'a Option<Spanned<Map<String, Value>>>,
    /// `body:`, a template, for the calls that send no record of their own (`None`: the
    /// struct has no such key, or its `body` means something else).
    pub(crate) body: Option<&'a Option<Spanned<Value>>>,
}

/// `Fields` of a model struct with `method`, `path`, `query` and `headers` (and, with
/// `fields!(v, body)`, a `body:` template).
macro_rules! fields {
    ($v:expr) => {
        $crate::mapping::load::endpoints::Fields {
            method: &$v.method,
            path: &$v.path,
            query: &$v.query,
            headers: &$v.headers,
            body: None,
        }
    };
    ($v:expr, body) => {
        $crate::mapping::load::endpoints::Fields {
            method: &$v.method,
            path: &$v.path,
            query: &$v.query,
            headers: &$v.headers,
            body: Some(&$v.body),
        }
    };
}
pub(super) use fields;

/// A list endpoint's keys: the endpoint, the items, the total and the pagination.
pub(super) struct ListFields<'a> {
    pub(crate) fields: Fields<'a>,
    pub(crate) items: &'a Option<Spanned<String>>,
    pub(crate) total: &'a Option<Spanned<TotalFile>>,
    pub(crate) pagination: &'a Option<Spanned<PaginationFile>>,
}

/// `creates`: false when the resource says `create: false` (groups only): then the create
/// endpoint is left out, and `Endpoints::create` is `None`.
pub(super) fn endpoints(
    cx: &mut Cx<'_>,
    kind: Kind,
    e: &Spanned<Box<EndpointsFile>>,
    creates: bool,
    envelope: &SectionEnvelope,
) -> Option<Endpoints> {
    let f = &e.value;
    let key = kind.key();
    let base = kind.example_path();
    let one = |cx: &mut Cx<'_>, ep: &Spanned<EndpointFile>, name: &str, id: bool| {
        let at = format!("{key}.endpoints.{name}");
        if name != "update" {
            update_only(cx, ep, &at);
        }
        if name != "create" || kind != Kind::Users {
            unique_only_on_users_create(cx, ep, &at);
        }
        let shape = Shape {
            id: if id { Hole::Required } else { Hole::Forbidden },
            member: Hole::Forbidden,
            noun: kind.noun(),
            example: base,
        };
        if name == "create" || name == "update" {
            if let Some(b) = &ep.value.body {
                cx.report(
                    loc(b),
                    &format!("{at}.body"),
                    format!(
                        "the gateway sends the {noun} record as the body of this call",
                        noun = kind.noun()
                    ),
                    Some(
                        "remove `body`; to send a fixed field with every write, add an \
                         attribute { legacy: $.field, constant: value }"
                            .into(),
                    ),
                );
                return None;
            }
        }
        let endpoint = endpoint(cx, &at, loc(ep), fields!(ep.value, body), shape);
        let own = Own {
            envelope: ep.value.envelope.as_ref(),
            errors: ep.value.errors.as_ref(),
            exists: ep.value.exists.as_ref(),
        };
        let method = endpoint.as_ref().map(|e| &e.method);
        let record = records::rules(cx, &at, Role::of(name), method, own, envelope);
        let mut endpoint = endpoint?;
        endpoint.record = record?;
        Some(endpoint)
    };
    let at = format!("{key}.endpoints");
    let at = at.as_str();
    // `Some(None)`: no create endpoint, as `create: false` allows; `None`: in error.
    let create = match (&f.create, creates) {
        (Some(x), _) => one(cx, x, "create", false).map(Some),
        (None, true) => {
            need(
                cx,
                &f.create,
                loc(e),
                at,
                "create",
                &format!("create: {{ method: POST, path: {base} }}"),
            );
            None
        }
        (None, false) => Some(None),
    };
    let get = need(
        cx,
        &f.get,
        loc(e),
        at,
        "get",
        &format!("get: {{ method: GET, path: \"{base}/{{id}}\" }}"),
    )
    .and_then(|x| one(cx, x, "get", true));
    // Users are always written; groups may be read-only (no update endpoint: a rename or a
    // change of their attributes is refused, their members still change where membership is
    // not the group's own record).
    let update_s = match (&f.update, kind) {
        (None, Kind::Groups) => None,
        _ => need(
            cx,
            &f.update,
            loc(e),
            at,
            "update",
            &format!("update: {{ method: PUT, path: \"{base}/{{id}}\", mode: full }}"),
        ),
    };
    // `Some(None)`: no update endpoint (groups only); `None`: in error.
    let update = match (&f.update, kind) {
        (None, Kind::Groups) => Some(None),
        _ => update_s.and_then(|x| one(cx, x, "update", true)).map(Some),
    };
    let delete = f.delete.as_ref().map(|x| one(cx, x, "delete", true));
    let deactivate = f
        .deactivate
        .as_ref()
        .map(|x| one(cx, x, "deactivate", true));
    let reactivate = f
        .reactivate
        .as_ref()
        .map(|x| one(cx, x, "reactivate", true));
    let update_mode = match update_s.and_then(|u| u.value.mode.as_ref()) {
        Some(m) => match m.value.trim() {
            "full" => Some(UpdateMode::Full),
            "partial" => Some(UpdateMode::Partial),
            other => {
                cx.report(
                    loc(m),
                    &format!("{at}.update.mode"),
                    format!("{other:?} is not full or partial"),
                    Some(format!(
                        "write mode: full (the legacy API replaces the {noun}, usually PUT) or \
                         mode: partial (it changes the fields sent, usually PATCH)",
                        noun = kind.noun()
                    )),
                );
                None
            }
        },
        None if update_s
            .and_then(|u| u.value.method.as_ref())
            .is_some_and(|m| m.value.trim().eq_ignore_ascii_case("PATCH")) =>
        {
            Some(UpdateMode::Partial)
        }
        None => Some(UpdateMode::Full),
    };
    let update_replaces_whole = match update_s.and_then(|u| u.value.replaces_whole.as_ref()) {
        None => Some(Vec::new()),
        Some(list) => replaces_whole(
            cx,
            &format!("{at}.update.replaces_whole"),
            list,
            update_mode,
        ),
    };
    let list = need(cx, &f.list, loc(e), at, "list", "a list: endpoint").and_then(|l| {
        let v = &l.value;
        let shape = Shape {
            id: Hole::Forbidden,
            member: Hole::Forbidden,
            noun: kind.noun(),
            example: base,
        };
        let parts = ListFields {
            fields: fields!(v, body),
            items: &v.items,
            total: &v.total,
            pagination: &v.pagination,
        };
        let at = format!("{at}.list");
        let list = list(cx, &at, loc(l), parts, shape, key);
        let own = Own {
            envelope: v.envelope.as_ref(),
            errors: v.errors.as_ref(),
            exists: None,
        };
        let method = list.as_ref().map(|l| &l.endpoint.method);
        let record = records::rules(cx, &at, Role::List, method, own, envelope);
        let mut list = list?;
        list.endpoint.record = record?;
        Some(list)
    });
    // `unique:` on the users' create endpoint (refused elsewhere, above).
    let create_unique = match f.create.as_ref().and_then(|c| c.value.unique.as_ref()) {
        Some(u) if kind == Kind::Users => create_unique(cx, &format!("{at}.create.unique"), u),
        _ => Some(false),
    };
    let update_after_empty = match update_s {
        Some(u) => records::after_empty(cx, &format!("{at}.update"), &u.value),
        None => Some(AfterEmpty::Read),
    };
    Some(Endpoints {
        create: create?,
        get: get?,
        update: update?,
        update_mode: update_mode?,
        update_if_match: update_s
            .and_then(|u| u.value.if_match.as_ref())
            .is_some_and(|b| b.value),
        update_replaces_whole: update_replaces_whole?,
        update_after_empty: update_after_empty?,
        create_unique: create_unique?,
        delete: delete.transpose_opt()?,
        deactivate: deactivate.transpose_opt()?,
        reactivate: reactivate.transpose_opt()?,
        list: list?,
    })
}

/// `mode`, `if_match`, `replaces_whole` and `after_empty_answer` belong to the update endpoint
/// only.
pub(super) fn update_only(cx: &mut Cx<'_>, ep: &Spanned<EndpointFile>, at: &str) {
    let v = &ep.value;
    let keys = [
        ("mode", v.mode.as_ref().map(loc)),
        ("if_match", v.if_match.as_ref().map(loc)),
        ("replaces_whole", v.replaces_whole.as_ref().map(loc)),
        ("after_empty_answer", v.after_empty_answer.as_ref().map(loc)),
    ];
    for (key, l) in keys {
        if let Some(l) = l {
            cx.report(
                l,
                &format!("{at}.{key}"),
                format!("`{key}` only applies to the update endpoint"),
                Some("remove it".into()),
            );
        }
    }
}

/// `unique:` belongs to `users.endpoints.create` only.
pub(super) fn unique_only_on_users_create(cx: &mut Cx<'_>, ep: &Spanned<EndpointFile>, at: &str) {
    if let Some(u) = &ep.value.unique {
        cx.report(
            loc(u),
            &format!("{at}.unique"),
            "`unique` only applies to users.endpoints.create (a legacy API that refuses a \
             taken userName itself)"
                .into(),
            Some("remove it".into()),
        );
    }
}

/// `unique: userName` on the users' create endpoint: the legacy API refuses a create whose
/// userName is taken. That an error rule recognises the refusal is checked with the section's
/// `errors:` ([`check_create_unique`](super::check_create_unique)).
fn create_unique(cx: &mut Cx<'_>, at: &str, u: &Spanned<String>) -> Option<bool> {
    if u.value.trim() == "userName" {
        return Some(true);
    }
    cx.report(
        loc(u),
        at,
        format!(
            "{:?} is not an attribute the gateway can leave to the legacy API's own uniqueness \
             check",
            u.value
        ),
        Some(
            "write unique: userName (the legacy API refuses a create whose userName is taken), \
             or remove it"
                .into(),
        ),
    );
    None
}

/// `replaces_whole:` of a partial update: objects named by field names (`$.address`). That
/// some entry writes into each is checked with the attributes (`writers`).
fn replaces_whole(
    cx: &mut Cx<'_>,
    at: &str,
    list: &Spanned<Vec<Spanned<String>>>,
    mode: Option<UpdateMode>,
) -> Option<Vec<LegacyPath>> {
    if mode == Some(UpdateMode::Full) {
        cx.report(
            loc(list),
            at,
            "replaces_whole is for a partial update; a full update sends the whole record".into(),
            Some(
                "remove it, or write mode: partial if the legacy API changes only the fields \
                 it is sent"
                    .into(),
            ),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, s) in list.value.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(p) = read_path(cx, s, &at) else {
            ok = false;
            continue;
        };
        if p.field_names().is_none() {
            cx.report(
                loc(s),
                &at,
                format!(
                    "{:?} does not name one object by its field names",
                    p.as_str()
                ),
                Some("write the object's path with names only, e.g. $.address".into()),
            );
            ok = false;
            continue;
        }
        out.push(p);
    }
    ok.then_some(out)
}

/// `Option<Option<T>>` where the inner `None` means "failed": `Some(None)` for absent.
trait TransposeOpt<T> {
    fn transpose_opt(self) -> Option<Option<T>>;
}
impl<T> TransposeOpt<T> for Option<Option<T>> {
    fn transpose_opt(self) -> Option<Option<T>> {
        match self {
            None => Some(None),
            Some(None) => None,
            Some(Some(x)) => Some(Some(x)),
        }
    }
}

/// One endpoint: method, path template (with the placeholders `shape` asks for), static
/// query parameters and headers.
pub(super) fn endpoint(
    cx: &mut Cx<'_>,
    at: &str,
    parent: &Location,
    fields: Fields<'_>,
    shape: Shape<'_>,
) -> Option<Endpoint> {
    let method = need(cx, fields.method, parent, at, "method", "method: GET");
    let example = match (shape.id, shape.member) {
        (Hole::Forbidden, _) => format!("path: {}", shape.example),
        (_, Hole::Required) => format!("path: \"{}/{{member}}\"", shape.example),
        _ if shape.example.contains("{id}") => format!("path: \"{}\"", shape.example),
        _ => format!("path: \"{}/{{id}}\"", shape.example),
    };
    let path = need(cx, fields.path, parent, at, "path", &example);
    let (method, path) = (method?, path?);
    let m = method.value.trim().to_ascii_uppercase();
    let method_ok = if METHODS.contains(&m.as_str()) {
        http::Method::from_bytes(m.as_bytes()).ok()
    } else {
        cx.report(
            loc(method),
            &format!("{at}.method"),
            format!("{:?} is not an HTTP method the gateway calls", method.value),
            Some(suggest_word(&m, &METHODS)),
        );
        None
    };
    let query = match fields.query {
        None => Some(Vec::new()),
        Some(map) => params(cx, fields.query, &format!("{at}.query"), false)
            .and_then(|q| query_values(cx, map, &format!("{at}.query"), q, shape)),
    };
    let body = match fields.body {
        Some(Some(b)) => body_template(cx, &format!("{at}.body"), b, shape).map(Some),
        _ => Some(None),
    };
    // An `{id}` or `{member}` in a query value or the body names the record or member as well
    // as one in the path does.
    let elsewhere = |p: Placeholder| {
        query
            .as_ref()
            .is_some_and(|q| q.iter().any(|(_, v)| v.placeholders().any(|x| x == p)))
            || body
                .as_ref()
                .and_then(Option::as_ref)
                .is_some_and(|b| b.placeholders().contains(&p))
    };
    let placed = (elsewhere(Placeholder::Id), elsewhere(Placeholder::Member));
    let template = match PathTemplate::parse(path.value.trim()) {
        Ok(t) => check_holes(cx, &format!("{at}.path"), path, t, shape, placed),
        Err(problem) => {
            let text = path.value.trim();
            let fix = match &problem {
                TemplateProblem::NotAbsolute => format!("write /{}", text.trim_start_matches('/')),
                TemplateProblem::QueryInPath => {
                    "move the query to `query:`, e.g. query: { active: \"true\" }".to_string()
                }
                TemplateProblem::UnknownPlaceholder(_) | TemplateProblem::UnclosedBrace => {
                    if shape.member == Hole::Forbidden {
                        format!(
                            "write {{id}} where the legacy {} id goes, e.g. {}/{{id}}",
                            shape.noun, shape.example
                        )
                    } else {
                        "write {id} where the legacy group id goes and {member} where the \
                         member's legacy user id goes, e.g. /teams/{id}/members/{member}"
                            .to_string()
                    }
                }
                TemplateProblem::BadCharacter(_) => {
                    "percent-encode it (e.g. %20 for a space)".to_string()
                }
            };
            cx.report(
                loc(path),
                &format!("{at}.path"),
                format!("{text:?} {problem}"),
                Some(fix),
            );
            None
        }
    };
    let headers = params(cx, fields.headers, &format!("{at}.headers"), true);
    Some(Endpoint {
        name: endpoint_name(at),
        method: method_ok?,
        path: template?,
        query: query?,
        headers: headers?,
        body: body?,
        record: RecordRules::default(),
    })
}

/// Whether a call shaped `shape` can fill placeholder `p`; else the problem and its fix.
fn fillable(p: Placeholder, shape: Shape<'_>) -> Result<(), (String, String)> {
    match p {
        Placeholder::Id if shape.id == Hole::Forbidden => Err((
            format!(
                "{{id}} cannot be filled here: this call is not about one {}",
                shape.noun
            ),
            format!(
                "remove {{id}}; only the calls about one {} have one (get, update, delete, \
                 deactivate, reactivate)",
                shape.noun
            ),
        )),
        Placeholder::Member if shape.member == Hole::Forbidden => Err((
            "{member} cannot be filled here: only the add and remove member calls have a \
             member"
                .to_string(),
            "remove {member}; write {id} for the id of the record the call is about".to_string(),
        )),
        _ => Ok(()),
    }
}

/// Whether a call shaped `shape` can fill every placeholder of `placeholders` (of a query value
/// or a body at `l`); reports each one it cannot, once.
fn all_fillable(
    cx: &mut Cx<'_>,
    l: &Location,
    at: &str,
    placeholders: impl IntoIterator<Item = Placeholder>,
    shape: Shape<'_>,
) -> bool {
    let mut ok = true;
    let mut seen = Vec::new();
    for p in placeholders {
        if seen.contains(&p) {
            continue;
        }
        seen.push(p);
        if let Err((message, fix)) = fillable(p, shape) {
            cx.report(l, at, message, Some(fix));
            ok = false;
        }
    }
    ok
}

/// The query values as templates: `{id}`, `{member}` and `{tenant}` filled per call, each
/// where the call has it.
fn query_values(
    cx: &mut Cx<'_>,
    map: &Spanned<Map<String, Value>>,
    at: &str,
    pairs: Vec<(String, String)>,
    shape: Shape<'_>,
) -> Option<Vec<(String, Text)>> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut ok = true;
    let l = loc(map);
    for (k, v) in pairs {
        let at = format!("{at}.{k}");
        match Text::parse(&v) {
            Err(problem) => {
                cx.report(
                    l,
                    &at,
                    format!("{v:?} {problem}"),
                    Some("write {id}, {member} or {tenant}, or remove the braces".into()),
                );
                ok = false;
            }
            Ok(t) => {
                ok &= all_fillable(cx, l, &at, t.placeholders(), shape);
                out.push((k, t));
            }
        }
    }
    ok.then_some(out)
}

/// `body:`: a JSON template whose string values may hold the placeholders the call fills.
fn body_template(
    cx: &mut Cx<'_>,
    at: &str,
    b: &Spanned<Value>,
    shape: Shape<'_>,
) -> Option<BodyTemplate> {
    let mut t = match BodyTemplate::parse(&b.value) {
        Ok(t) => t,
        Err((path, problem)) => {
            let fix = match problem {
                PlaceholderProblem::Unknown(_) => {
                    "write {id}, {member} or {tenant}, or remove the braces"
                }
                PlaceholderProblem::InKey(_) => "write the key as the legacy API names it",
            };
            cx.report(
                loc(b),
                at,
                format!("{path} {problem}"),
                Some(fix.to_string()),
            );
            return None;
        }
    };
    let ok = all_fillable(cx, loc(b), at, t.placeholders(), shape);
    t.id_is_user = shape.noun == Kind::Users.noun();
    ok.then_some(t)
}

/// The template's `{id}` and `{member}` against what the endpoint needs.
fn check_holes(
    cx: &mut Cx<'_>,
    at: &str,
    path: &Spanned<String>,
    t: PathTemplate,
    shape: Shape<'_>,
    (id_elsewhere, member_elsewhere): (bool, bool),
) -> Option<PathTemplate> {
    let text = t.as_str().trim_end_matches('/');
    let problem = if shape.id == Hole::Required && !t.has_id() && !id_elsewhere {
        Some((
            format!(
                "{:?} has no {{id}}, so it cannot name one {}",
                t.as_str(),
                shape.noun
            ),
            format!("write e.g. {text}/{{id}}"),
        ))
    } else if shape.id == Hole::Forbidden && t.has_id() {
        Some((
            format!(
                "{:?} has {{id}}, but this call is not about one {}",
                t.as_str(),
                shape.noun
            ),
            "remove {id}".to_string(),
        ))
    } else if shape.member == Hole::Required && !t.has_member() && !member_elsewhere {
        Some((
            format!(
                "{:?} has no {{member}}, so it cannot name the member",
                t.as_str()
            ),
            format!("write e.g. {text}/{{member}}"),
        ))
    } else if shape.member == Hole::Forbidden && t.has_member() {
        Some((
            format!(
                "{:?} has {{member}}, which only the add and remove member calls fill",
                t.as_str()
            ),
            "remove {member}".to_string(),
        ))
    } else {
        None
    };
    match problem {
        Some((message, fix)) => {
            cx.report(loc(path), at, message, Some(fix));
            None
        }
        None => Some(t),
    }
}

/// A YAML map of static query parameters or headers, as ordered string pairs.
pub(super) fn params(
    cx: &mut Cx<'_>,
    map: &Option<Spanned<Map<String, Value>>>,
    at: &str,
    headers: bool,
) -> Option<Vec<(String, String)>> {
    let Some(map) = map else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in &map.value {
        let value = match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let Some(value) = value else {
            cx.report(
                loc(map),
                &format!("{at}.{k}"),
                "must be a single value".into(),
                Some(format!("write {k}: \"value\"")),
            );
            ok = false;
            continue;
        };
        if headers
            && (http::HeaderName::from_bytes(k.as_bytes()).is_err()
                || http::HeaderValue::from_str(&value).is_err())
        {
            cx.report(
                loc(map),
                &format!("{at}.{k}"),
                "is not a valid HTTP header".into(),
                Some("write a header like X-Client: scim-gateway".into()),
            );
            ok = false;
            continue;
        }
        if k.is_empty() {
            cx.report(loc(map), at, "a parameter has no name".into(), None);
            ok = false;
            continue;
        }
        out.push((k.clone(), value));
    }
    ok.then_some(out)
}

/// A list endpoint at `at`: the endpoint (with the placeholders `shape` asks for), where the
/// items are (`what` names them in messages: "users", "members"), the total and the pagination.
pub(super) fn list(
    cx: &mut Cx<'_>,
    at: &str,
    parent: &Location,
    parts: ListFields<'_>,
    shape: Shape<'_>,
    what: &str,
) -> Option<ListEndpoint> {
    let endpoint = endpoint(cx, at, parent, parts.fields, shape);
    let items = items(cx, at, parent, parts.items, what);
    let total = match parts.total {
        None => Some(None),
        Some(t) => total(cx, &format!("{at}.total"), t).map(Some),
    };
    let pagination = need(
        cx,
        parts.pagination,
        parent,
        at,
        "pagination",
        "pagination: { style: page, page_param: page, size_param: per_page }",
    )
    .and_then(|p| pagination(cx, &format!("{at}.pagination"), p));
    Some(ListEndpoint {
        endpoint: endpoint?,
        pagination: pagination?,
        items: items?,
        total: total?,
        carries: None,
        reader: None,
    })
}

/// `items:`: the path of the array of `what` in a list response; it must name one place.
pub(super) fn items(
    cx: &mut Cx<'_>,
    at: &str,
    parent: &Location,
    items: &Option<Spanned<String>>,
    what: &str,
) -> Option<LegacyPath> {
    let items_s = need(
        cx,
        items,
        parent,
        at,
        "items",
        &format!("items: $.data (where the list of {what} is)"),
    )?;
    let p = read_path(cx, items_s, &format!("{at}.items"))?;
    if !p.is_singular() {
        cx.report(
            loc(items_s),
            &format!("{at}.items"),
            format!(
                "{:?} selects several places; it must name the list itself",
                p.as_str()
            ),
            Some("write the path of the array, e.g. items: $.data (or $ for a bare array)".into()),
        );
        return None;
    }
    Some(p)
}

fn total(cx: &mut Cx<'_>, at: &str, t: &Spanned<TotalFile>) -> Option<TotalSource> {
    match (&t.value.body, &t.value.header) {
        (Some(b), None) => read_path(cx, b, &format!("{at}.body")).map(TotalSource::Body),
        (None, Some(h)) => match http::HeaderName::from_bytes(h.value.trim().as_bytes()) {
            Ok(name) => Some(TotalSource::Header(name)),
            Err(_) => {
                cx.report(
                    loc(h),
                    &format!("{at}.header"),
                    format!("{:?} is not a valid header name", h.value),
                    Some("write e.g. header: X-Total-Count".into()),
                );
                None
            }
        },
        _ => {
            cx.report(
                loc(t),
                at,
                "give exactly one of `body` and `header`".into(),
                Some(
                    "write total: { body: $.meta.total } or total: { header: X-Total-Count }"
                        .into(),
                ),
            );
            None
        }
    }
}

fn pagination(cx: &mut Cx<'_>, at: &str, p: &Spanned<PaginationFile>) -> Option<Pagination> {
    let f = &p.value;
    let style_s = need(
        cx,
        &f.style,
        loc(p),
        at,
        "style",
        "style: page (or offset, cursor, or none for a list answered whole)",
    )?;
    let style = style_s.value.trim();
    let keys: [(&str, Option<&Location>); 8] = [
        ("page_param", f.page_param.as_ref().map(loc)),
        ("size_param", f.size_param.as_ref().map(loc)),
        ("first_page", f.first_page.as_ref().map(loc)),
        ("offset_param", f.offset_param.as_ref().map(loc)),
        ("limit_param", f.limit_param.as_ref().map(loc)),
        ("cursor_param", f.cursor_param.as_ref().map(loc)),
        ("next", f.next.as_ref().map(loc)),
        ("max_page_size", f.max_page_size.as_ref().map(loc)),
    ];
    let allowed: &[&str] = match style {
        "page" => &["page_param", "size_param", "first_page", "max_page_size"],
        "offset" => &["offset_param", "limit_param", "max_page_size"],
        "cursor" => &["cursor_param", "size_param", "next", "max_page_size"],
        "none" => &[],
        other => {
            cx.report(
                loc(style_s),
                &format!("{at}.style"),
                format!("{other:?} is not a pagination style"),
                Some(suggest_word(other, &["page", "offset", "cursor", "none"])),
            );
            return None;
        }
    };
    let mut ok = true;
    for (key, l) in keys {
        if let Some(l) = l {
            if !allowed.contains(&key) {
                cx.report(
                    l,
                    &format!("{at}.{key}"),
                    format!("`{key}` is not used with style: {style}"),
                    Some(if allowed.is_empty() {
                        format!(
                            "remove it; style {style} means the legacy API answers the whole \
                             list at once"
                        )
                    } else {
                        format!("remove it; style {style} uses {}", allowed.join(", "))
                    }),
                );
                ok = false;
            }
        }
    }
    let mut required =
        |cx: &mut Cx<'_>, v: &Option<Spanned<String>>, key: &str, example: &str| match v {
            Some(s) if !s.value.trim().is_empty() => Some(s.value.trim().to_string()),
            _ => {
                cx.report(
                    v.as_ref().map_or(loc(p), loc),
                    &format!("{at}.{key}"),
                    format!("style: {style} needs `{key}`, the query parameter's name"),
                    Some(format!("add {key}: {example}")),
                );
                ok = false;
                None
            }
        };
    let max_page_size = match &f.max_page_size {
        None => Some(100),
        Some(m) if (1..=10_000).contains(&m.value) => Some(m.value),
        Some(m) => {
            cx.report(
                loc(m),
                &format!("{at}.max_page_size"),
                format!("{} is not between 1 and 10000", m.value),
                Some("write the legacy API's largest page size, e.g. max_page_size: 100".into()),
            );
            None
        }
    };
    let out = match style {
        "none" => Pagination::None,
        "page" => {
            let page_param = required(cx, &f.page_param, "page_param", "page");
            let size_param = required(cx, &f.size_param, "size_param", "per_page");
            let first_page = match &f.first_page {
                None => Some(1),
                Some(v) if v.value <= 1 => Some(v.value),
                Some(v) => {
                    cx.report(
                        loc(v),
                        &format!("{at}.first_page"),
                        format!("{} is not 0 or 1", v.value),
                        Some("write first_page: 1 (or 0 if pages count from zero)".into()),
                    );
                    None
                }
            };
            Pagination::Page {
                page_param: page_param?,
                size_param: size_param?,
                first_page: first_page?,
                max_page_size: max_page_size?,
            }
        }
        "offset" => {
            let offset_param = required(cx, &f.offset_param, "offset_param", "offset");
            let limit_param = required(cx, &f.limit_param, "limit_param", "limit");
            Pagination::Offset {
                offset_param: offset_param?,
                limit_param: limit_param?,
                max_page_size: max_page_size?,
            }
        }
        _ => {
            let cursor_param = required(cx, &f.cursor_param, "cursor_param", "cursor");
            let size_param = required(cx, &f.size_param, "size_param", "limit");
            let more = match f.next.as_ref().and_then(|n| n.value.more.as_ref()) {
                None => Some(None),
                Some(m) => one_place(cx, m, &format!("{at}.next.more")).map(|p| Some(MoreFlag(p))),
            };
            let next = match &f.next {
                Some(n) => next_source(cx, &format!("{at}.next"), n),
                None => {
                    cx.report(
                        loc(p),
                        &format!("{at}.next"),
                        "style: cursor needs `next`, where the response says what comes next"
                            .into(),
                        Some(
                            "add next: { cursor: $.next_cursor }, next: { url: $.links.next } or \
                             next: { link_header: true }"
                                .into(),
                        ),
                    );
                    None
                }
            };
            Pagination::Cursor {
                cursor_param: cursor_param?,
                size_param: size_param?,
                next: next?,
                more: more?,
                max_page_size: max_page_size?,
            }
        }
    };
    ok.then_some(out)
}

fn next_source(cx: &mut Cx<'_>, at: &str, n: &Spanned<NextFile>) -> Option<NextSource> {
    match (&n.value.cursor, &n.value.url, &n.value.link_header) {
        (Some(c), None, None) => read_path(cx, c, &format!("{at}.cursor")).map(NextSource::Cursor),
        (None, Some(u), None) => read_path(cx, u, &format!("{at}.url")).map(NextSource::Url),
        (None, None, Some(l)) if l.value => Some(NextSource::LinkHeader),
        (None, None, None) if n.value.more.is_some() => {
            cx.report(
                loc(n),
                at,
                "`more` says whether another page follows, but not how to ask for it".into(),
                Some(
                    "add where the next cursor is beside it, e.g. next: { cursor: \
                     $.meta.after_cursor, more: $.meta.has_more }"
                        .into(),
                ),
            );
            None
        }
        _ => {
            cx.report(
                loc(n),
                at,
                "give exactly one of `cursor`, `url` and `link_header: true`".into(),
                Some(
                    "write next: { cursor: $.next_cursor }, next: { url: $.links.next } or \
                     next: { link_header: true }"
                        .into(),
                ),
            );
            None
        }
    }
}
