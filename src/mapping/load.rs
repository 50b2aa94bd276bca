//! Loading a mapping: parse the YAML once (serde-saphyr, with line/column spans), validate
//! every construct, and compile it into the internal plan (`plan`). Every problem found is
//! reported, in file order, as `file:line:column: where: what` plus a `fix:` line; YAML syntax
//! errors and unknown keys (with the closest known key) are reported the same way. Not here:
//! using the plan (see `translate`, `list`, `pushdown`, `legacy_errors`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use serde_saphyr::{Location, Spanned};

use super::error::{MappingError, Problem};
use super::legacy_path::LegacyPath;
use super::model::*;
use super::plan::*;
use super::slot::ScimSlot;
use super::suggest::closest;
use super::template::{PathTemplate, TemplateProblem};
use super::values::{to_scim_type, Conversion, ConvertError, LegacyType};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::schema::{AttrType, Mutability, ResourceSchema};
use crate::scim::ScimType;

/// Reads and loads a mapping file. The file name in messages is `path` as given.
pub fn load_file(path: &Path) -> Result<Mapping, MappingError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| MappingError::Read {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    load_str(&name, &text)
}

/// Loads a mapping from text; `source_name` is the file name used in messages.
pub fn load_str(source_name: &str, yaml: &str) -> Result<Mapping, MappingError> {
    let file: MappingFile = serde_saphyr::from_str(yaml)
        .map_err(|e| MappingError::Invalid(vec![yaml_problem(source_name, &e)]))?;
    let mut cx = Cx {
        source: source_name,
        problems: Vec::new(),
    };
    let mapping = compile(&mut cx, &file);
    let mut problems = cx.problems;
    match mapping {
        Some(m) if problems.is_empty() => Ok(m),
        _ => {
            if problems.is_empty() {
                problems.push(Problem {
                    source: source_name.to_string(),
                    line: 0,
                    column: 0,
                    at: String::new(),
                    message: "the mapping could not be compiled".into(),
                    fix: None,
                });
            }
            problems.sort_by_key(|p| (p.line, p.column));
            Err(MappingError::Invalid(problems))
        }
    }
}

/// The problem collector: the file name and everything found so far.
struct Cx<'s> {
    source: &'s str,
    problems: Vec<Problem>,
}

impl Cx<'_> {
    fn report(&mut self, loc: &Location, at: &str, message: String, fix: Option<String>) {
        self.problems.push(Problem {
            source: self.source.to_string(),
            line: loc.line() as u32,
            column: loc.column() as u32,
            at: at.to_string(),
            message,
            fix,
        });
    }
}

fn loc<T>(s: &Spanned<T>) -> &Location {
    &s.referenced
}

fn yaml_problem(source: &str, e: &serde_saphyr::Error) -> Problem {
    let location = e.location();
    let mut message = e.without_snippet().to_string();
    if let Some(l) = &location {
        let suffix = format!(" at line {}, column {}", l.line(), l.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    let fix = yaml_fix(&message);
    Problem {
        source: source.to_string(),
        line: location.map_or(0, |l| l.line() as u32),
        column: location.map_or(0, |l| l.column() as u32),
        at: String::new(),
        message,
        fix: Some(fix),
    }
}

/// A fix for serde/YAML messages: the closest known key for an unknown one, and so on.
fn yaml_fix(message: &str) -> String {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let unknown = quoted(rest).unwrap_or_default();
        let known: Vec<String> = rest
            .split_once("expected ")
            .map(|(_, list)| {
                list.trim_start_matches("one of ")
                    .split(", ")
                    .flat_map(|s| s.split(" or "))
                    .map(|s| s.trim().trim_matches('`').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        return match closest(&unknown, known.iter().map(String::as_str)) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!(
                "remove `{unknown}`; the keys allowed here are: {}",
                known.join(", ")
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let key = quoted(rest).unwrap_or_default();
        return format!("add `{key}:` here (see docs/mapping.md)");
    }
    if message.starts_with("duplicate mapping key") {
        return "remove one of the two entries".into();
    }
    if message.starts_with("invalid u") {
        return "write a whole number".into();
    }
    "check the YAML here: indentation, and quotes around values that contain ': ', ' #', \
     brackets, braces or quotes (e.g. scim: 'emails[type eq \"work\"].value')"
        .into()
}

// ---------------------------------------------------------------------------------------------

fn compile(cx: &mut Cx<'_>, file: &MappingFile) -> Option<Mapping> {
    let name = file.name.value.trim().to_string();
    if name.is_empty() {
        cx.report(
            loc(&file.name),
            "name",
            "the mapping has no name".into(),
            Some("write a short name, e.g. name: acme-hr".into()),
        );
    }
    let backend = backend(cx, &file.backend.value);
    let users = users(cx, &file.users);
    Some(Mapping {
        name,
        backend: backend?,
        users: users?,
    })
}

// --- backend ---------------------------------------------------------------------------------

fn backend(cx: &mut Cx<'_>, b: &BackendFile) -> Option<BackendSpec> {
    let base_url = base_url(cx, &b.base_url);
    let auth = match &b.auth {
        None => Some(None),
        Some(a) => auth(cx, a).map(Some),
    };
    let timeout = match &b.timeout_ms {
        None => Some(Duration::from_secs(10)),
        Some(t) if (1..=600_000).contains(&t.value) => Some(Duration::from_millis(t.value)),
        Some(t) => {
            cx.report(
                loc(t),
                "backend.timeout_ms",
                format!("{} ms is not a usable timeout", t.value),
                Some("write a value between 1 and 600000, e.g. timeout_ms: 5000".into()),
            );
            None
        }
    };
    Some(BackendSpec {
        base_url: base_url?,
        auth: auth?,
        timeout: timeout?,
    })
}

fn base_url(cx: &mut Cx<'_>, s: &Spanned<String>) -> Option<String> {
    let text = s.value.trim();
    let fix = Some("write a URL like http://127.0.0.1:8081 or https://api.example.com/v1".into());
    let uri = match text.parse::<http::Uri>() {
        Ok(u) => u,
        Err(e) => {
            cx.report(
                loc(s),
                "backend.base_url",
                format!("{text:?} is not a URL ({e})"),
                fix,
            );
            return None;
        }
    };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.authority().is_none() {
        cx.report(
            loc(s),
            "backend.base_url",
            format!("{text:?} needs http:// or https:// and a host"),
            fix,
        );
        return None;
    }
    if uri.query().is_some() || text.contains('#') {
        cx.report(
            loc(s),
            "backend.base_url",
            format!("{text:?} has a query or fragment"),
            Some("put static query parameters in each endpoint's `query:`".into()),
        );
        return None;
    }
    Some(text.trim_end_matches('/').to_string())
}

fn auth(cx: &mut Cx<'_>, a: &Spanned<AuthFile>) -> Option<BackendAuth> {
    let at = "backend.auth";
    let f = &a.value;
    let forms = "write {header: X-Api-Key, from_env: VAR}, {header: …, from_file: PATH}, \
                 {bearer_from_env: VAR} or {bearer_from_file: PATH}";
    let secret = |cx: &mut Cx<'_>,
                  env: &Option<Spanned<String>>,
                  file: &Option<Spanned<String>>| match (env, file) {
        (Some(e), None) => env_var(cx, e).map(SecretSource::Env),
        (None, Some(p)) if !p.value.trim().is_empty() => {
            Some(SecretSource::File(PathBuf::from(p.value.trim())))
        }
        (None, Some(p)) => {
            cx.report(
                loc(p),
                at,
                "the secret file path is empty".into(),
                Some(forms.into()),
            );
            None
        }
        _ => {
            cx.report(
                loc(a),
                at,
                "give exactly one source for the secret".into(),
                Some(forms.into()),
            );
            None
        }
    };
    match &f.header {
        Some(h) => {
            if let Some(b) = f.bearer_from_env.as_ref().or(f.bearer_from_file.as_ref()) {
                cx.report(
                    loc(b),
                    at,
                    "a header credential and a bearer token cannot both be set".into(),
                    Some(forms.into()),
                );
                return None;
            }
            let name = match http::HeaderName::from_bytes(h.value.trim().as_bytes()) {
                Ok(_) => Some(h.value.trim().to_string()),
                Err(_) => {
                    cx.report(
                        loc(h),
                        &format!("{at}.header"),
                        format!("{:?} is not a valid header name", h.value),
                        Some("write a header name like X-Api-Key".into()),
                    );
                    None
                }
            };
            let secret = secret(cx, &f.from_env, &f.from_file);
            Some(BackendAuth::Header {
                name: name?,
                secret: secret?,
            })
        }
        None => {
            if let Some(x) = f.from_env.as_ref().or(f.from_file.as_ref()) {
                cx.report(
                    loc(x),
                    at,
                    "from_env/from_file need `header:`, the header to send the secret in".into(),
                    Some(
                        "add header: X-Api-Key, or for a bearer token write bearer_from_env: VAR"
                            .into(),
                    ),
                );
                return None;
            }
            if f.bearer_from_env.is_none() && f.bearer_from_file.is_none() {
                cx.report(
                    loc(a),
                    at,
                    "no credential is given".into(),
                    Some(forms.into()),
                );
                return None;
            }
            secret(cx, &f.bearer_from_env, &f.bearer_from_file).map(BackendAuth::Bearer)
        }
    }
}

fn env_var(cx: &mut Cx<'_>, e: &Spanned<String>) -> Option<String> {
    let v = e.value.trim();
    let valid = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Some(v.to_string())
    } else {
        cx.report(
            loc(e),
            "backend.auth",
            format!("{v:?} is not an environment variable name"),
            Some(
                "write a name like ACME_API_KEY (the secret itself never goes in the mapping)"
                    .into(),
            ),
        );
        None
    }
}

// --- users -----------------------------------------------------------------------------------

fn users(cx: &mut Cx<'_>, u: &Spanned<UsersFile>) -> Option<ResourceMapping> {
    let f = &u.value;
    let id = read_path(cx, &f.id, "users.id");
    let created = opt_read_path(cx, &f.created, "users.created");
    let last_modified = opt_read_path(cx, &f.last_modified, "users.last_modified");
    let version = opt_read_path(cx, &f.version, "users.version");
    let endpoints = endpoints(cx, &f.endpoints);
    let on_delete = match &f.on_delete {
        None => Some(OnDelete::Deactivate),
        Some(s) => match s.value.trim() {
            "deactivate" => Some(OnDelete::Deactivate),
            "delete" => Some(OnDelete::Delete),
            other => {
                cx.report(
                    loc(s),
                    "users.on_delete",
                    format!("{other:?} is not deactivate or delete"),
                    Some(suggest_word(other, &["deactivate", "delete"])),
                );
                None
            }
        },
    };

    let schema = ResourceSchema::user();
    let attrs: Vec<(Attr, &Location)> = f
        .attributes
        .value
        .iter()
        .enumerate()
        .filter_map(|(i, a)| attribute(cx, schema, i, a).map(|x| (x, loc(a))))
        .collect();
    check_duplicates(cx, &attrs);
    let attr_list: Vec<Attr> = attrs.iter().map(|(a, _)| a.clone()).collect();

    let filters: Vec<FilterRule> = f
        .filters
        .iter()
        .enumerate()
        .filter_map(|(i, fl)| filter_rule(cx, schema, &attr_list, i, fl))
        .collect();
    let scan_limit = match &f.scan_limit {
        None => Some(1000),
        Some(s) if (1..=1_000_000).contains(&s.value) => Some(s.value as usize),
        Some(s) => {
            cx.report(
                loc(s),
                "users.scan_limit",
                format!("{} is not between 1 and 1000000", s.value),
                Some("write e.g. scan_limit: 1000".into()),
            );
            None
        }
    };
    let errors = match &f.errors {
        None => Some(ErrorPlan::default()),
        Some(e) => error_plan(cx, e),
    };

    let (endpoints, on_delete) = (endpoints?, on_delete?);
    check_lifecycle(cx, u, &endpoints, on_delete, &attr_list);

    let plan = Plan {
        id: id?,
        created: created?,
        last_modified: last_modified?,
        version: version?,
        attrs: attr_list,
        filters,
        errors: errors?,
    };
    let mut mapping = ResourceMapping {
        endpoints,
        on_delete,
        scan_limit: scan_limit?,
        schema: schema.clone(),
        plan,
    };
    mapping.schema = schema.restricted_to(&mapping.attribute_paths());
    Some(mapping)
}

/// on_delete and the (de)activation endpoints must fit the `active` attribute.
fn check_lifecycle(
    cx: &mut Cx<'_>,
    u: &Spanned<UsersFile>,
    e: &Endpoints,
    on_delete: OnDelete,
    attrs: &[Attr],
) {
    let f = &u.value;
    let at_on_delete = f.on_delete.as_ref().map_or(loc(&f.endpoints), loc);
    let writes_active = writes_active(attrs);
    match (&f.endpoints.value.deactivate, &f.endpoints.value.reactivate) {
        (Some(d), None) => cx.report(
            loc(d),
            "users.endpoints.deactivate",
            "a deactivate endpoint needs a reactivate endpoint (restoring a user in the IdP \
             must undo it)"
                .into(),
            Some("add reactivate: { method: POST, path: \"/users/{id}/activate\" }".into()),
        ),
        (None, Some(r)) => cx.report(
            loc(r),
            "users.endpoints.reactivate",
            "a reactivate endpoint needs a deactivate endpoint".into(),
            Some("add deactivate: { method: POST, path: \"/users/{id}/deactivate\" }".into()),
        ),
        _ => {}
    }
    match on_delete {
        OnDelete::Delete if e.delete.is_none() => cx.report(
            at_on_delete,
            "users.on_delete",
            "on_delete: delete needs a delete endpoint".into(),
            Some(
                "add endpoints.delete: { method: DELETE, path: \"/users/{id}\" }, or write \
                 on_delete: deactivate"
                    .into(),
            ),
        ),
        OnDelete::Deactivate
            if !writes_active && (e.deactivate.is_none() || e.reactivate.is_none()) =>
        {
            cx.report(
                at_on_delete,
                "users.on_delete",
                "on_delete: deactivate needs a writable `active` attribute or \
                 deactivate + reactivate endpoints"
                    .into(),
                Some(
                    "map active to a legacy field (e.g. { scim: active, legacy: $.enabled }), \
                     add deactivate/reactivate endpoints, or write on_delete: delete"
                        .into(),
                ),
            )
        }
        _ => {}
    }
}

pub(crate) fn writes_active(attrs: &[Attr]) -> bool {
    attrs.iter().any(|a| {
        matches!(a, Attr::Field { slot, write: true, .. }
            if slot.container.is_none() && slot.sub.is_none() && slot.attr == "active")
    })
}

// --- legacy paths ----------------------------------------------------------------------------

fn read_path(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str) -> Option<LegacyPath> {
    let text = s.value.trim();
    match LegacyPath::compile(text) {
        Ok(p) => Some(p),
        Err(e) => {
            let fix = if !text.starts_with('$') {
                format!(
                    "legacy paths start at the root $: write $.{}",
                    text.trim_start_matches('.')
                )
            } else {
                "write a path like $.login, $.address.street or $.phones[?(@.kind == 'cell')].number"
                    .to_string()
            };
            cx.report(
                loc(s),
                at,
                format!("{text:?} is not a valid JSONPath ({e})"),
                Some(fix),
            );
            None
        }
    }
}

fn opt_read_path(
    cx: &mut Cx<'_>,
    s: &Option<Spanned<String>>,
    at: &str,
) -> Option<Option<LegacyPath>> {
    match s {
        None => Some(None),
        Some(s) => read_path(cx, s, at).map(Some),
    }
}

/// A path that the writer can set.
fn write_path(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str) -> Option<LegacyPath> {
    let p = read_path(cx, s, at)?;
    if let Err(why) = p.writable() {
        cx.report(
            loc(s),
            at,
            format!("{:?} cannot be written: {why}", p.as_str()),
            Some(
                "a written path uses only .name, ['name'], [n] and [?(@.key == 'value')].name \
                 steps, like $.address.street; or add `direction: read`"
                    .into(),
            ),
        );
        return None;
    }
    Some(p)
}

// --- endpoints -------------------------------------------------------------------------------

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn endpoints(cx: &mut Cx<'_>, e: &Spanned<EndpointsFile>) -> Option<Endpoints> {
    let f = &e.value;
    let one = |cx: &mut Cx<'_>, ep: &Spanned<EndpointFile>, name: &str, id: bool| {
        let at = format!("users.endpoints.{name}");
        if name != "update" {
            if let Some(m) = &ep.value.mode {
                cx.report(
                    loc(m),
                    &format!("{at}.mode"),
                    "`mode` only applies to the update endpoint".into(),
                    Some("remove it".into()),
                );
            }
        }
        let v = &ep.value;
        endpoint(cx, &at, &v.method, &v.path, &v.query, &v.headers, id)
    };
    let create = one(cx, &f.create, "create", false);
    let get = one(cx, &f.get, "get", true);
    let update = one(cx, &f.update, "update", true);
    let delete = f.delete.as_ref().map(|x| one(cx, x, "delete", true));
    let deactivate = f
        .deactivate
        .as_ref()
        .map(|x| one(cx, x, "deactivate", true));
    let reactivate = f
        .reactivate
        .as_ref()
        .map(|x| one(cx, x, "reactivate", true));
    let update_mode = match &f.update.value.mode {
        Some(m) => match m.value.trim() {
            "full" => Some(UpdateMode::Full),
            "partial" => Some(UpdateMode::Partial),
            other => {
                cx.report(
                    loc(m),
                    "users.endpoints.update.mode",
                    format!("{other:?} is not full or partial"),
                    Some(
                        "write mode: full (the legacy API replaces the user, usually PUT) or \
                         mode: partial (it changes the fields sent, usually PATCH)"
                            .into(),
                    ),
                );
                None
            }
        },
        None if f
            .update
            .value
            .method
            .value
            .trim()
            .eq_ignore_ascii_case("PATCH") =>
        {
            Some(UpdateMode::Partial)
        }
        None => Some(UpdateMode::Full),
    };
    let list = list(cx, &f.list);
    Some(Endpoints {
        create: create?,
        get: get?,
        update: update?,
        update_mode: update_mode?,
        delete: delete.transpose_opt()?,
        deactivate: deactivate.transpose_opt()?,
        reactivate: reactivate.transpose_opt()?,
        list: list?,
    })
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

fn endpoint(
    cx: &mut Cx<'_>,
    at: &str,
    method: &Spanned<String>,
    path: &Spanned<String>,
    query: &Option<Spanned<Map<String, Value>>>,
    headers: &Option<Spanned<Map<String, Value>>>,
    needs_id: bool,
) -> Option<Endpoint> {
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
    let template = match PathTemplate::parse(path.value.trim()) {
        Ok(t) => {
            if needs_id && !t.has_id() {
                cx.report(
                    loc(path),
                    &format!("{at}.path"),
                    format!("{:?} has no {{id}}, so it cannot name one user", t.as_str()),
                    Some(format!(
                        "write e.g. {}/{{id}}",
                        t.as_str().trim_end_matches('/')
                    )),
                );
                None
            } else if !needs_id && t.has_id() {
                cx.report(
                    loc(path),
                    &format!("{at}.path"),
                    format!(
                        "{:?} has {{id}}, but this call is not about one user",
                        t.as_str()
                    ),
                    Some("remove {id}".into()),
                );
                None
            } else {
                Some(t)
            }
        }
        Err(problem) => {
            let text = path.value.trim();
            let fix = match &problem {
                TemplateProblem::NotAbsolute => format!("write /{}", text.trim_start_matches('/')),
                TemplateProblem::QueryInPath => {
                    "move the query to `query:`, e.g. query: { active: \"true\" }".to_string()
                }
                TemplateProblem::UnknownPlaceholder(_) | TemplateProblem::UnclosedBrace => {
                    "write {id} where the legacy user id goes, e.g. /users/{id}".to_string()
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
    let query = params(cx, query, &format!("{at}.query"), false);
    let headers = params(cx, headers, &format!("{at}.headers"), true);
    Some(Endpoint {
        method: method_ok?,
        path: template?,
        query: query?,
        headers: headers?,
    })
}

/// A YAML map of static query parameters or headers, as ordered string pairs.
fn params(
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

fn list(cx: &mut Cx<'_>, l: &Spanned<ListFile>) -> Option<ListEndpoint> {
    let f = &l.value;
    let at = "users.endpoints.list";
    let endpoint = endpoint(cx, at, &f.method, &f.path, &f.query, &f.headers, false);
    let items = read_path(cx, &f.items, &format!("{at}.items")).filter(|p| {
        let singular = p.is_singular();
        if !singular {
            cx.report(
                loc(&f.items),
                &format!("{at}.items"),
                format!(
                    "{:?} selects several places; it must name the list itself",
                    p.as_str()
                ),
                Some(
                    "write the path of the array, e.g. items: $.data (or $ for a bare array)"
                        .into(),
                ),
            );
        }
        singular
    });
    let total = match &f.total {
        None => Some(None),
        Some(t) => total(cx, t).map(Some),
    };
    let pagination = pagination(cx, &f.pagination);
    Some(ListEndpoint {
        endpoint: endpoint?,
        pagination: pagination?,
        items: items?,
        total: total?,
    })
}

fn total(cx: &mut Cx<'_>, t: &Spanned<TotalFile>) -> Option<TotalSource> {
    let at = "users.endpoints.list.total";
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

fn pagination(cx: &mut Cx<'_>, p: &Spanned<PaginationFile>) -> Option<Pagination> {
    let at = "users.endpoints.list.pagination";
    let f = &p.value;
    let style = f.style.value.trim();
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
        other => {
            cx.report(
                loc(&f.style),
                &format!("{at}.style"),
                format!("{other:?} is not a pagination style"),
                Some(suggest_word(other, &["page", "offset", "cursor"])),
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
                    Some(format!(
                        "remove it; style {style} uses {}",
                        allowed.join(", ")
                    )),
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
            let next = match &f.next {
                Some(n) => next_source(cx, n),
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
                max_page_size: max_page_size?,
            }
        }
    };
    ok.then_some(out)
}

fn next_source(cx: &mut Cx<'_>, n: &Spanned<NextFile>) -> Option<NextSource> {
    let at = "users.endpoints.list.pagination.next";
    match (&n.value.cursor, &n.value.url, &n.value.link_header) {
        (Some(c), None, None) => read_path(cx, c, &format!("{at}.cursor")).map(NextSource::Cursor),
        (None, Some(u), None) => read_path(cx, u, &format!("{at}.url")).map(NextSource::Url),
        (None, None, Some(l)) if l.value => Some(NextSource::LinkHeader),
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

// --- attributes ------------------------------------------------------------------------------

/// The keys an attribute entry has, for "not allowed here" checks.
fn present_keys(a: &AttributeFile) -> Vec<(&'static str, &Location)> {
    [
        ("scim", a.scim.as_ref().map(loc)),
        ("legacy", a.legacy.as_ref().map(loc)),
        ("direction", a.direction.as_ref().map(loc)),
        ("constant", a.constant.as_ref().map(loc)),
        ("default", a.default.as_ref().map(loc)),
        ("values", a.values.as_ref().map(loc)),
        ("legacy_type", a.legacy_type.as_ref().map(loc)),
        ("join", a.join.as_ref().map(loc)),
    ]
    .into_iter()
    .filter_map(|(k, l)| l.map(|l| (k, l)))
    .collect()
}

fn attribute(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    i: usize,
    a: &Spanned<AttributeFile>,
) -> Option<Attr> {
    let at = format!("users.attributes[{i}]");
    let f = &a.value;
    let form = if f.join.is_some() {
        ("a join", &["legacy", "join", "direction"][..])
    } else if f.scim.is_some() && f.legacy.is_some() {
        (
            "a mapped attribute",
            &[
                "scim",
                "legacy",
                "direction",
                "default",
                "values",
                "legacy_type",
            ][..],
        )
    } else if f.scim.is_some() {
        ("a SCIM constant", &["scim", "constant", "direction"][..])
    } else if f.legacy.is_some() {
        (
            "a legacy constant or default",
            &["legacy", "constant", "default", "direction"][..],
        )
    } else {
        cx.report(
            loc(a),
            &at,
            "an attribute needs `scim:`, `legacy:` or both".into(),
            Some("write e.g. { scim: userName, legacy: $.login }".into()),
        );
        return None;
    };
    let mut ok = true;
    for (key, l) in present_keys(f) {
        if !form.1.contains(&key) {
            let fix = match (form.0, key) {
                ("a mapped attribute", "constant") => {
                    "a constant has only one side: remove `legacy` to report a SCIM value, or \
                     `scim` to always write a legacy value"
                }
                ("a join", "scim") => "a join's SCIM attributes are its `parts`: remove `scim`",
                ("a SCIM constant", _) => {
                    "add `legacy:` to map the attribute to a legacy field, or remove this key"
                }
                _ => "remove it",
            };
            cx.report(
                l,
                &format!("{at}.{key}"),
                format!("`{key}` does not apply to {}", form.0),
                Some(fix.into()),
            );
            ok = false;
        }
    }
    let (read, write) = direction(cx, f, &at)?;
    let attr = if let Some(join) = &f.join {
        let legacy = f.legacy.as_ref().or_else(|| {
            cx.report(
                loc(join),
                &at,
                "a join needs `legacy:`, the one legacy field".into(),
                Some("add legacy: $.full_name".into()),
            );
            None
        })?;
        join_attr(cx, schema, &at, legacy, join, read, write)
    } else if let (Some(scim), Some(legacy)) = (&f.scim, &f.legacy) {
        field_attr(cx, schema, &at, scim, legacy, f, read, write)
    } else if let Some(scim) = &f.scim {
        if write {
            cx.report(
                f.direction.as_ref().map_or(loc(a), loc),
                &format!("{at}.direction"),
                "a SCIM constant is only ever read".into(),
                Some("remove `direction`, or add `legacy:` to write the attribute".into()),
            );
            return None;
        }
        let Some(c) = &f.constant else {
            cx.report(
                loc(scim),
                &at,
                "this attribute has no `legacy:` field and no `constant:`".into(),
                Some(format!(
                    "write {{ scim: '{}', legacy: $.field }} or {{ scim: '{}', constant: value }}",
                    scim.value, scim.value
                )),
            );
            return None;
        };
        let slot = scim_slot(cx, schema, scim, &format!("{at}.scim"))?;
        let value = typed(cx, &slot, c, &format!("{at}.constant"))?;
        Some(Attr::ScimConstant { slot, value })
    } else {
        let legacy_s = f.legacy.as_ref()?;
        if read {
            cx.report(
                f.direction.as_ref().map_or(loc(a), loc),
                &format!("{at}.direction"),
                "an entry without `scim:` is only ever written".into(),
                Some("remove `direction`, or add `scim:` to read the field".into()),
            );
            return None;
        }
        let legacy = write_path(cx, legacy_s, &format!("{at}.legacy"));
        match (&f.constant, &f.default) {
            (Some(c), None) => Some(Attr::LegacyConstant {
                legacy: legacy?,
                value: c.value.clone(),
            }),
            (None, Some(d)) => Some(Attr::LegacyDefault {
                legacy: legacy?,
                value: d.value.clone(),
            }),
            _ => {
                cx.report(
                    loc(legacy_s),
                    &at,
                    "an entry without `scim:` needs exactly one of `constant:` (always written) \
                     and `default:` (written on create)"
                        .into(),
                    Some(format!(
                        "write {{ legacy: {}, constant: value }}, or add `scim:` to map an attribute",
                        legacy_s.value
                    )),
                );
                None
            }
        }
    };
    if ok {
        attr
    } else {
        None
    }
}

/// `direction:` → (read, write). Defaults: both for mapped attributes and joins.
fn direction(cx: &mut Cx<'_>, f: &AttributeFile, at: &str) -> Option<(bool, bool)> {
    let Some(d) = &f.direction else {
        return Some(match (&f.scim, &f.legacy, &f.join) {
            (_, _, Some(_)) | (Some(_), Some(_), _) => (true, true),
            (Some(_), None, _) => (true, false),
            _ => (false, true),
        });
    };
    match d.value.trim() {
        "both" => Some((true, true)),
        "read" => Some((true, false)),
        "write" => Some((false, true)),
        other => {
            cx.report(
                loc(d),
                &format!("{at}.direction"),
                format!("{other:?} is not both, read or write"),
                Some(suggest_word(other, &["both", "read", "write"])),
            );
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn field_attr(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    at: &str,
    scim: &Spanned<String>,
    legacy_s: &Spanned<String>,
    f: &AttributeFile,
    read: bool,
    write: bool,
) -> Option<Attr> {
    let slot = scim_slot(cx, schema, scim, &format!("{at}.scim"));
    let legacy = if write {
        write_path(cx, legacy_s, &format!("{at}.legacy"))
    } else {
        read_path(cx, legacy_s, &format!("{at}.legacy"))
    };
    let slot = slot?;
    if write && slot_read_only(schema, &slot) {
        cx.report(
            loc(scim),
            &format!("{at}.scim"),
            format!(
                "{} is read-only in SCIM, so it cannot be written",
                slot.label()
            ),
            Some("add `direction: read`".into()),
        );
        return None;
    }
    let legacy_type = match &f.legacy_type {
        None => Some(None),
        Some(t) => match LegacyType::parse(t.value.trim()) {
            None => {
                cx.report(
                    loc(t),
                    &format!("{at}.legacy_type"),
                    format!("{:?} is not a legacy type", t.value),
                    Some(suggest_word(t.value.trim(), &LegacyType::NAMES)),
                );
                None
            }
            Some(lt) if !type_compatible(slot.scim_type, lt) => {
                cx.report(
                    loc(t),
                    &format!("{at}.legacy_type"),
                    format!(
                        "{} is a SCIM {:?}, which cannot be converted to a legacy {}",
                        slot.label(),
                        slot.scim_type,
                        t.value.trim()
                    ),
                    Some(
                        "use a value map instead, e.g. values: [{ scim: true, legacy: 1 }, \
                         { scim: false, legacy: 0 }]"
                            .into(),
                    ),
                );
                None
            }
            Some(lt) => Some(Some(lt)),
        },
    };
    let mut values = Vec::new();
    if let Some(list) = &f.values {
        if list.value.is_empty() {
            cx.report(
                loc(list),
                &format!("{at}.values"),
                "the value map is empty".into(),
                Some(
                    "list pairs like - { scim: true, legacy: enabled }, or remove `values`".into(),
                ),
            );
            return None;
        }
        for (j, pair) in list.value.iter().enumerate() {
            let pat = format!("{at}.values[{j}]");
            let s = typed(cx, &slot, &pair.value.scim, &format!("{pat}.scim"));
            let l = &pair.value.legacy;
            if matches!(l.value, Value::Null | Value::Array(_) | Value::Object(_)) {
                cx.report(
                    loc(l),
                    &format!("{pat}.legacy"),
                    "a legacy value must be a string, number or boolean".into(),
                    Some("write e.g. legacy: enabled".into()),
                );
                continue;
            }
            if let Some(s) = s {
                values.push((s, l.value.clone()));
            }
        }
        if values.len() != list.value.len() {
            return None;
        }
        if let Some(t) = &f.legacy_type {
            cx.report(
                loc(t),
                &format!("{at}.legacy_type"),
                "a value map already gives the legacy values".into(),
                Some("remove `legacy_type` and write the legacy values with their type".into()),
            );
            return None;
        }
    }
    let conv = Conversion {
        scim_type: slot.scim_type,
        case_exact: slot.case_exact,
        legacy_type: legacy_type?,
        values,
    };
    let default = match &f.default {
        None => None,
        Some(d) if !write => {
            cx.report(
                loc(d),
                &format!("{at}.default"),
                "a read-only attribute is never written, so its default is never used".into(),
                Some("remove `default` or `direction: read`".into()),
            );
            return None;
        }
        Some(d) => {
            let v = typed(cx, &slot, d, &format!("{at}.default"))?;
            if let Err(ConvertError::Unmapped { allowed, .. }) = conv.to_legacy(&v) {
                cx.report(
                    loc(d),
                    &format!("{at}.default"),
                    format!("{v} is not in the value map"),
                    Some(format!("use one of {}", allowed.join(", "))),
                );
                return None;
            }
            Some(v)
        }
    };
    Some(Attr::Field {
        slot,
        legacy: legacy?,
        read,
        write,
        conv,
        default,
    })
}

fn type_compatible(scim: AttrType, legacy: LegacyType) -> bool {
    match scim {
        AttrType::Boolean => matches!(legacy, LegacyType::Boolean | LegacyType::String),
        AttrType::Integer | AttrType::Decimal => legacy != LegacyType::Boolean,
        _ => true,
    }
}

fn slot_read_only(schema: &ResourceSchema, slot: &ScimSlot) -> bool {
    let path = AttrPath {
        schema: slot.container.clone(),
        name: slot.attr.clone(),
        sub: slot.sub.clone(),
    };
    schema.find(&path).is_some_and(|r| {
        r.attr.mutability == Mutability::ReadOnly || r.leaf().mutability == Mutability::ReadOnly
    })
}

/// A YAML value converted to the slot's SCIM type.
fn typed(cx: &mut Cx<'_>, slot: &ScimSlot, v: &Spanned<Value>, at: &str) -> Option<Value> {
    match to_scim_type(&v.value, slot.scim_type) {
        Ok(x) => Some(x),
        Err(why) => {
            cx.report(
                loc(v),
                at,
                format!("{} is a SCIM {:?}: {why}", slot.label(), slot.scim_type),
                Some(match slot.scim_type {
                    AttrType::Boolean => "write true or false".into(),
                    AttrType::Integer => "write a whole number".into(),
                    AttrType::Decimal => "write a number".into(),
                    _ => "write a string".into(),
                }),
            );
            None
        }
    }
}

fn join_attr(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    at: &str,
    legacy_s: &Spanned<String>,
    join: &Spanned<JoinFile>,
    read: bool,
    write: bool,
) -> Option<Attr> {
    let legacy = if write {
        write_path(cx, legacy_s, &format!("{at}.legacy"))
    } else {
        read_path(cx, legacy_s, &format!("{at}.legacy"))
    };
    let parts_s = &join.value.parts;
    if parts_s.value.len() < 2 {
        cx.report(
            loc(parts_s),
            &format!("{at}.join.parts"),
            "a join needs at least two parts".into(),
            Some(
                "list the SCIM attributes, e.g. parts: [name.givenName, name.familyName]; \
                 for one attribute write { scim: …, legacy: … } instead"
                    .into(),
            ),
        );
        return None;
    }
    let mut parts = Vec::new();
    for (j, p) in parts_s.value.iter().enumerate() {
        let pat = format!("{at}.join.parts[{j}]");
        let Some(slot) = scim_slot(cx, schema, p, &pat) else {
            continue;
        };
        if slot.scim_type != AttrType::String {
            cx.report(
                loc(p),
                &pat,
                format!(
                    "{} is not a string, so it cannot be part of a join",
                    slot.label()
                ),
                Some("join only string attributes, like name.givenName".into()),
            );
            continue;
        }
        if write && slot_read_only(schema, &slot) {
            cx.report(
                loc(p),
                &pat,
                format!("{} is read-only in SCIM", slot.label()),
                Some("add `direction: read` to the join".into()),
            );
            continue;
        }
        parts.push(slot);
    }
    let separator = &join.value.separator;
    if separator.value.is_empty() {
        cx.report(
            loc(separator),
            &format!("{at}.join.separator"),
            "the separator is empty, so the parts could not be told apart".into(),
            Some("write e.g. separator: \" \"".into()),
        );
        return None;
    }
    if parts.len() != parts_s.value.len() {
        return None;
    }
    Some(Attr::Join {
        legacy: legacy?,
        parts,
        separator: separator.value.clone(),
        read,
        write,
    })
}

/// Compiles a mapping's `scim:` path against the User schema.
fn scim_slot(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    s: &Spanned<String>,
    at: &str,
) -> Option<ScimSlot> {
    let text = s.value.trim();
    let example = "write a path like userName, name.givenName, emails[type eq \"work\"].value or \
                   urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    let parsed = match PatchPath::parse(text) {
        Ok(p) => p,
        Err(e) => {
            cx.report(
                loc(s),
                at,
                format!("{text:?} is not a SCIM attribute path ({e})"),
                Some(example.into()),
            );
            return None;
        }
    };
    let (attr_path, element_type, sub) = match &parsed {
        PatchPath::Attr(a) => (a.clone(), None, a.sub.clone()),
        PatchPath::Value { attr, filter, sub } => {
            let t = match filter {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::Str(t),
                } if path.schema.is_none()
                    && path.sub.is_none()
                    && path.name.eq_ignore_ascii_case("type") =>
                {
                    t.clone()
                }
                _ => {
                    cx.report(
                        loc(s),
                        at,
                        format!("{text:?}: only an element selected by type can be mapped"),
                        Some(format!("write {}[type eq \"work\"].value", attr.name)),
                    );
                    return None;
                }
            };
            let Some(sub) = sub else {
                cx.report(
                    loc(s),
                    at,
                    format!("{text:?} selects a whole element; map its sub-attributes one by one"),
                    Some(format!("write {text}.value")),
                );
                return None;
            };
            (attr.clone(), Some(t), Some(sub.clone()))
        }
    };
    let lookup = AttrPath {
        sub: sub.clone(),
        ..attr_path.clone()
    };
    let Some(resolved) = schema.find(&lookup) else {
        let fix = match closest_attribute(schema, &lookup.to_string()) {
            Some(c) => format!("did you mean {c}?"),
            None => example.to_string(),
        };
        cx.report(
            loc(s),
            at,
            format!(
                "{:?} is not an attribute of the SCIM User",
                lookup.to_string()
            ),
            Some(fix),
        );
        return None;
    };
    let attr = resolved.attr;
    let name = attr.name.as_str();
    if ["id", "meta", "schemas"]
        .iter()
        .any(|x| name.eq_ignore_ascii_case(x))
    {
        cx.report(
            loc(s),
            at,
            format!("{name} is set by the gateway, not mapped"),
            Some(
                "the id comes from users.id; meta from users.created, last_modified and version"
                    .into(),
            ),
        );
        return None;
    }
    let leaf = resolved.leaf();
    if attr.multi_valued && element_type.is_none() {
        let example_sub = attr
            .sub_attributes
            .iter()
            .find(|x| x.name == "value")
            .map_or("value", |x| x.name.as_str());
        cx.report(
            loc(s),
            at,
            format!("{name} is multi-valued; map one element, selected by its type"),
            Some(format!("write {name}[type eq \"work\"].{example_sub}")),
        );
        return None;
    }
    if element_type.is_some() {
        if attr.sub_attribute("type").is_none() {
            cx.report(
                loc(s),
                at,
                format!("{name} elements have no `type` to select them by"),
                None,
            );
            return None;
        }
        if sub
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case("type"))
        {
            cx.report(
                loc(s),
                at,
                "the element's type is set by the selector itself".into(),
                Some(format!(
                    "map another sub-attribute, e.g. {name}[type eq \"work\"].value"
                )),
            );
            return None;
        }
    }
    if leaf.attr_type == AttrType::Complex {
        let first = leaf
            .sub_attributes
            .first()
            .map_or("value", |x| x.name.as_str());
        cx.report(
            loc(s),
            at,
            format!("{name} is complex; map its sub-attributes one by one"),
            Some(format!("write {name}.{first}")),
        );
        return None;
    }
    Some(ScimSlot {
        container: resolved
            .is_extension(schema)
            .then(|| resolved.schema.id.clone()),
        attr: attr.name.clone(),
        sub: resolved.sub.map(|x| x.name.clone()),
        element_type,
        scim_type: leaf.attr_type,
        case_exact: leaf.case_exact,
    })
}

/// The closest known attribute path (`name.givenName`, `urn:…:User:department`) to `text`.
fn closest_attribute(schema: &ResourceSchema, text: &str) -> Option<String> {
    let mut names = Vec::new();
    for s in schema.schemas() {
        let ext = s.id != schema.core.id;
        for a in &s.attributes {
            let base = if ext {
                format!("{}:{}", s.id, a.name)
            } else {
                a.name.clone()
            };
            names.push(base.clone());
            for sub in &a.sub_attributes {
                names.push(format!("{base}.{}", sub.name));
                if ext {
                    names.push(format!("{}.{}", a.name, sub.name));
                }
            }
            if ext {
                names.push(a.name.clone());
            }
        }
    }
    names.push("externalId".into());
    closest(text, names.iter().map(String::as_str)).map(str::to_string)
}

/// Two readable entries for one SCIM attribute, or two written entries for one legacy field.
fn check_duplicates(cx: &mut Cx<'_>, attrs: &[(Attr, &Location)]) {
    let mut read_slots: HashMap<String, u32> = HashMap::new();
    let mut written: Vec<(&LegacyPath, u32)> = Vec::new();
    for (attr, l) in attrs {
        let line = l.line() as u32;
        let mut slots: Vec<&ScimSlot> = Vec::new();
        let mut writes: Option<&LegacyPath> = None;
        match attr {
            Attr::Field {
                slot,
                legacy,
                read,
                write,
                ..
            } => {
                if *read {
                    slots.push(slot);
                }
                if *write {
                    writes = Some(legacy);
                }
            }
            Attr::ScimConstant { slot, .. } => slots.push(slot),
            Attr::LegacyConstant { legacy, .. } | Attr::LegacyDefault { legacy, .. } => {
                writes = Some(legacy)
            }
            Attr::Join {
                legacy,
                parts,
                read,
                write,
                ..
            } => {
                if *read {
                    slots.extend(parts);
                }
                if *write {
                    writes = Some(legacy);
                }
            }
        }
        for slot in slots {
            if let Some(first) = read_slots.insert(slot.key(), line) {
                cx.report(
                    l,
                    "users.attributes",
                    format!(
                        "{} is already read by the entry on line {first}",
                        slot.label()
                    ),
                    Some("keep one entry that reads it; make the others `direction: write`".into()),
                );
            }
        }
        if let Some(w) = writes {
            if let Some((other, first)) = written.iter().find(|(o, _)| o.overlaps(w)) {
                cx.report(
                    l,
                    "users.attributes",
                    format!(
                        "{} is already written by the entry on line {first} ({})",
                        w.as_str(),
                        other.as_str()
                    ),
                    Some("keep one entry that writes it; make the others `direction: read`".into()),
                );
            }
            written.push((w, line));
        }
    }
}

// --- filters and errors ----------------------------------------------------------------------

fn filter_rule(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    attrs: &[Attr],
    i: usize,
    f: &Spanned<FilterFile>,
) -> Option<FilterRule> {
    let at = format!("users.filters[{i}]");
    let v = &f.value;
    if let Some(op) = &v.op {
        if !op.value.trim().eq_ignore_ascii_case("eq") {
            cx.report(
                loc(op),
                &format!("{at}.op"),
                format!(
                    "{:?} cannot be passed to the legacy API; only eq can",
                    op.value
                ),
                Some(
                    "write op: eq; the gateway evaluates other operators itself over the \
                     fetched users"
                        .into(),
                ),
            );
            return None;
        }
    }
    let param = v.param.value.trim();
    if param.is_empty() {
        cx.report(
            loc(&v.param),
            &format!("{at}.param"),
            "the query parameter has no name".into(),
            Some("write e.g. param: login".into()),
        );
        return None;
    }
    let slot = scim_slot(cx, schema, &v.scim, &format!("{at}.scim"))?;
    let mapped = attrs.iter().find_map(|a| match a {
        Attr::Field {
            slot: s,
            read: true,
            conv,
            ..
        } if s.key() == slot.key() => Some(Some(conv)),
        Attr::Join {
            parts, read: true, ..
        } if parts.iter().any(|p| p.key() == slot.key()) => Some(None),
        _ => None,
    });
    let Some(conv) = mapped else {
        cx.report(
            loc(&v.scim),
            &format!("{at}.scim"),
            format!(
                "{} is not read from the legacy API by any attribute, so the gateway could \
                 not check the results",
                slot.label()
            ),
            Some("add an attributes entry that reads it, or remove this filter".into()),
        );
        return None;
    };
    let conv = conv
        .filter(|c| !c.values.is_empty() || c.legacy_type.is_some())
        .cloned();
    Some(FilterRule {
        slot,
        param: param.to_string(),
        conv,
    })
}

fn error_plan(cx: &mut Cx<'_>, e: &Spanned<ErrorsFile>) -> Option<ErrorPlan> {
    let message = opt_read_path(cx, &e.value.message, "users.errors.message");
    let mut rules = Vec::new();
    let mut ok = true;
    for (i, r) in e.value.rules.iter().enumerate() {
        match error_rule(cx, i, r) {
            Some(rule) => rules.push(rule),
            None => ok = false,
        }
    }
    let message = message?;
    ok.then_some(ErrorPlan { message, rules })
}

fn error_rule(cx: &mut Cx<'_>, i: usize, r: &Spanned<ErrorRuleFile>) -> Option<ErrorRule> {
    let at = format!("users.errors.rules[{i}]");
    let f = &r.value;
    let mut ok = true;
    if !(100..=599).contains(&f.status.value) {
        cx.report(
            loc(&f.status),
            &format!("{at}.status"),
            format!("{} is not an HTTP status", f.status.value),
            Some("write the legacy API's status, e.g. status: 422".into()),
        );
        ok = false;
    }
    if !(400..=599).contains(&f.scim_status.value) {
        cx.report(
            loc(&f.scim_status),
            &format!("{at}.scim_status"),
            format!("{} is not an error status", f.scim_status.value),
            Some("write a status between 400 and 599, e.g. scim_status: 409".into()),
        );
        ok = false;
    }
    let scim_type = match &f.scim_type {
        None => None,
        Some(t) => match ScimType::parse(t.value.trim()) {
            Some(x) => Some(x),
            None => {
                let names = [
                    "invalidFilter",
                    "tooMany",
                    "uniqueness",
                    "mutability",
                    "invalidSyntax",
                    "invalidPath",
                    "noTarget",
                    "invalidValue",
                    "invalidVers",
                    "sensitive",
                ];
                cx.report(
                    loc(t),
                    &format!("{at}.scim_type"),
                    format!("{:?} is not a SCIM error type", t.value),
                    Some(suggest_word(t.value.trim(), &names)),
                );
                ok = false;
                None
            }
        },
    };
    let code = match (&f.code_path, &f.equals) {
        (None, None) => None,
        (Some(p), Some(v)) => {
            let path = read_path(cx, p, &format!("{at}.code_path"));
            match path {
                Some(path) => Some((path, v.value.clone())),
                None => {
                    ok = false;
                    None
                }
            }
        }
        (Some(p), None) => {
            cx.report(
                loc(p),
                &format!("{at}.code_path"),
                "code_path needs `equals:`, the code to match".into(),
                Some("add e.g. equals: login_taken".into()),
            );
            ok = false;
            None
        }
        (None, Some(v)) => {
            cx.report(
                loc(v),
                &format!("{at}.equals"),
                "equals needs `code_path:`, where the code is in the body".into(),
                Some("add e.g. code_path: $.error.code".into()),
            );
            ok = false;
            None
        }
    };
    if let Some(b) = &f.body_contains {
        if b.value.is_empty() {
            cx.report(
                loc(b),
                &format!("{at}.body_contains"),
                "an empty text matches every body".into(),
                Some("write the text to look for, or remove body_contains".into()),
            );
            ok = false;
        }
    }
    ok.then(|| ErrorRule {
        status: f.status.value,
        code,
        body_contains: f.body_contains.as_ref().map(|b| b.value.clone()),
        scim_status: f.scim_status.value,
        scim_type,
        detail: f.detail.as_ref().map(|d| d.value.clone()),
    })
}

fn suggest_word(word: &str, known: &[&str]) -> String {
    match closest(word, known.iter().copied()) {
        Some(k) => format!("did you mean {k}? (one of {})", known.join(", ")),
        None => format!("write one of {}", known.join(", ")),
    }
}
