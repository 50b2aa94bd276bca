//! The probe's steps, in the order identity providers make them (`docs/onboarding.md` lists
//! them): the tenant, the user's life (create, Entra's test connection, read, filters, list,
//! updates, deactivation, a duplicate create), the group's (create, members, delete), then the
//! user's delete. Each step makes one or a few SCIM requests and turns what the legacy API
//! answered into findings.

use http::Method;
use serde_json::{json, Map, Value};

use super::diagnose::{
    common_wrapping_key, excerpt, other_id_like, paths_of, paths_of_key, shown, swap_case,
    wrapping_key,
};
use super::{finding, segment, Finding, Probe, ProbeOptions, Verdict};
use crate::mapping::MappedField;
use crate::mapping::{OnDelete, ResourceMapping};
use crate::onboard::driver::{Exchange, Outcome};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The steps after a user exists, skipped together when it could not be created.
const USER_STEPS: &[&str] = &[
    "users.test-connection",
    "users.read",
    "users.read-unknown",
    "users.filter-userName",
    "users.filter-userName-case",
    "users.filter-externalId",
    "users.filter-email",
    "users.list",
    "users.update-patch",
    "users.update-put",
    "users.deactivate",
    "users.reactivate",
    "users.duplicate",
    "groups.create",
    "users.delete",
    "users.read-deleted",
    "users.list-after-delete",
];

/// Runs every step; `Err` says why the probe stopped early (the legacy API unreachable, the
/// credentials refused, a tenant with users).
pub(super) async fn run(p: &mut Probe<'_>, options: &ProbeOptions) -> Result<(), String> {
    let baseline = empty_tenant(p, options).await?;
    let Some(uid) = create_user(p).await else {
        for id in USER_STEPS {
            p.skip(id, "needs the user users.create did not make");
        }
        return Ok(());
    };
    // Entra's test connection, made once a user exists: a legacy API that ignores the filter
    // answers that user, which an empty tenant would hide.
    test_connection(p).await;
    read_user(p, &uid).await;
    read_unknown(p, &uid).await;
    user_filters(p, &uid).await;
    list(p, &uid, baseline).await;
    update_patch(p, &uid).await;
    update_put(p, &uid).await;
    activity(p, &uid).await;
    duplicate(p).await;
    groups(p, &uid).await;
    delete_user(p, &uid, baseline).await;
    Ok(())
}

// --- The tenant ------------------------------------------------------------------------------

async fn empty_tenant(p: &mut Probe<'_>, options: &ProbeOptions) -> Result<u64, String> {
    let (at, out) = p
        .step("users.empty-tenant", Method::GET, "/Users?count=0", None)
        .await;
    if let Some(f) = unreachable(&out) {
        let why = f.message.clone();
        p.find(at, f);
        return Err(why);
    }
    if out.status != 200 {
        let f = list_failed(&p.driver.mapping().users, &out);
        p.find(at, f);
        return Err("the user list cannot be read, so nothing else can be checked".into());
    }
    let total = total_of(&out).unwrap_or(0);
    if total > 0 && !options.allow_existing_users {
        p.find(
            at,
            finding(
                "tenant-has-users",
                Verdict::Fail,
                format!("the tenant already has {total} users; the probe runs against an empty test tenant"),
                Some("point the mapping at a test tenant, or pass --allow-existing-users (the probe only ever changes and deletes the records it creates)".into()),
            ),
        );
        return Err(format!("the tenant has {total} users"));
    }
    Ok(total)
}

/// The finding when a call could not reach the legacy API or its credentials were refused.
fn unreachable(out: &Outcome) -> Option<Finding> {
    if let Some(c) = out.calls.iter().find(|c| c.failure.is_some()) {
        return Some(finding(
            "legacy-unreachable",
            Verdict::Fail,
            format!(
                "{} could not be answered: {}",
                c.line(),
                c.failure.as_deref().unwrap_or_default()
            ),
            Some("check backend.base_url (or mapping.backend_url in --config) and that the legacy API is up and reachable from here".into()),
        ));
    }
    let refused = out
        .calls
        .iter()
        .find(|c| matches!(c.status, Some(401)) || (out.status == 502 && c.status == Some(403)))?;
    Some(finding(
        "credentials-refused",
        Verdict::Fail,
        format!(
            "the legacy API refused the gateway's credentials: {} answered {} {}",
            refused.line(),
            refused.status.unwrap_or_default(),
            excerpt(&refused.answer, 200)
        ),
        Some("check backend.auth and the environment variable or file it reads the credential from (the probe reads them exactly as serve does)".into()),
    ))
}

/// The finding of a list that failed.
fn list_failed(users: &ResourceMapping, out: &Outcome) -> Finding {
    let list = out.calls.iter().rev().find(|c| c.endpoint == "list");
    let fix = match list {
        Some(c) if c.status.is_some_and(|s| s < 300) => {
            let items = items_hint(&c.answer);
            format!(
                "the list answered {}; check users.endpoints.list: `items:` (where the records are{items}), `total:` and `pagination:`",
                excerpt(&c.answer, 160)
            )
        }
        Some(c) => format!(
            "the legacy API answered {} {}: check the list's path and query in users.endpoints.list",
            c.status.unwrap_or_default(),
            excerpt(&c.answer, 160)
        ),
        None => "see the gateway's message above".into(),
    };
    let _ = users;
    finding(
        "step-failed",
        Verdict::Fail,
        format!(
            "the user list failed: {}",
            out.detail().unwrap_or("no detail")
        ),
        Some(fix),
    )
}

/// ", e.g. `$.data`" when the answer has one list at its top level.
fn items_hint(answer: &Value) -> String {
    let Some(obj) = answer.as_object() else {
        return if answer.is_array() {
            ", here the answer itself: `$`".into()
        } else {
            String::new()
        };
    };
    obj.iter()
        .find(|(_, v)| v.is_array())
        .map(|(k, _)| format!(", here `$.{k}`"))
        .unwrap_or_default()
}

async fn test_connection(p: &mut Probe<'_>) {
    let nobody = p.user.nobody.clone();
    let path = filter_path("/Users", &format!("userName eq {}", quoted(&nobody)));
    let (at, out) = p
        .step("users.test-connection", Method::GET, &path, None)
        .await;
    if out.status != 200 {
        p.find(
            at,
            answered(
                "Entra's \"Test connection\" (this request) must answer 200 with no user; it",
                &out,
                None,
            ),
        );
        return;
    }
    let total = total_of(&out).unwrap_or(0);
    let shown = resources(&out).len();
    // What the legacy API selected for a name nobody has, before the gateway's re-check.
    let list_endpoint = &p.driver.mapping().users.endpoints.list;
    let list = out
        .calls
        .iter()
        .find(|c| c.endpoint == "list" && !only_paging(&c.target));
    let selected = list.map_or(0, |c| list_endpoint.item_count(&c.answer));
    if total > 0 || shown > 0 || selected > 0 {
        let line = list.map(Exchange::line).unwrap_or_default();
        // Counted by the gateway, the answer is still right, at the cost of reading every
        // record the API answers; taken from the API, the total is wrong.
        let (severity, consequence) = if total > 0 || shown > 0 {
            (Verdict::Fail, format!("the gateway answered totalResults {total} ({shown} shown), so its total is not SCIM's"))
        } else {
            (Verdict::Warn, "the gateway's re-check still answers no user, but every look-up reads all that the API answers".to_string())
        };
        p.find(
            at,
            finding(
                "filter-ignored",
                severity,
                format!(
                    "the legacy call `{line}` selected {selected} record(s) for a userName nobody has: the legacy API ignores that parameter (or searches loosely); {consequence}"
                ),
                Some("check the `param` of the userName entry in users.filters against the API's docs; if the API searches loosely (substring, full text), add `match: loose` to the entry so the gateway re-checks and counts".into()),
            ),
        );
    }
}

// --- The user --------------------------------------------------------------------------------

/// The SCIM attributes the probe sends, each only when the mapping writes it.
fn user_values(p: &Probe<'_>) -> Vec<(String, Value)> {
    let fields = p.driver.mapping().users.mapped_fields();
    let email_label = fields
        .iter()
        .find(|f| f.write && f.scim.starts_with("emails[type eq ") && f.scim.ends_with("].value"))
        .map(|f| f.scim.clone());
    let department = format!("{ENTERPRISE_URN}:department");
    let wanted: Vec<(String, Value)> = [
        ("userName".to_string(), json!(p.user.user_name)),
        ("externalId".to_string(), json!(p.user.external_id)),
        ("name.givenName".to_string(), json!("Probe")),
        ("name.familyName".to_string(), json!("Tester")),
        ("displayName".to_string(), json!("Probe Tester")),
        ("title".to_string(), json!("Onboarding probe")),
        (department, json!("Onboarding")),
        ("active".to_string(), json!(true)),
    ]
    .into_iter()
    .chain(email_label.map(|l| (l, json!(p.user.email))))
    .collect();
    wanted
        .into_iter()
        .filter(|(label, _)| writes(&fields, label))
        .collect()
}

fn writes(fields: &[MappedField], label: &str) -> bool {
    fields
        .iter()
        .any(|f| f.write && f.scim.eq_ignore_ascii_case(label))
}

/// A SCIM resource holding `values`, in the form Entra sends.
fn resource_of(urn: &str, values: &[(String, Value)]) -> Value {
    let mut schemas = vec![json!(urn)];
    let mut body = json!({});
    for (label, value) in values {
        if label.starts_with(ENTERPRISE_URN) && !schemas.contains(&json!(ENTERPRISE_URN)) {
            schemas.push(json!(ENTERPRISE_URN));
        }
        set_at(&mut body, label, value.clone());
    }
    body["schemas"] = Value::Array(schemas);
    body
}

async fn create_user(p: &mut Probe<'_>) -> Option<String> {
    let values = user_values(p);
    let body = resource_of(USER_URN, &values);
    let (at, out) = p
        .step("users.create", Method::POST, "/Users", Some(&body))
        .await;
    if out.status == 201 {
        let id = out.body.get("id").and_then(Value::as_str)?.to_string();
        p.users.push((id.clone(), false));
        // An id the mapping refuses makes every later step a 404: they are not tried.
        if let Some(f) = id_form(&p.driver.mapping().users, "users", &id) {
            p.find(at, f);
            return None;
        }
        return Some(id);
    }
    let findings = create_failed(&p.driver.mapping().users, "users", &out);
    for f in findings {
        p.find(at, f);
    }
    // A user the failed create left behind is the probe's own: found by its unique userName.
    let name = p.user.user_name.clone();
    let path = filter_path("/Users", &format!("userName eq {}", quoted(&name)));
    let found = p.driver.send(Method::GET, &path, None).await;
    let ids: Vec<String> = resources(&found)
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let accepted = out
        .calls
        .iter()
        .any(|c| c.endpoint == "create" && c.status.is_some_and(|s| s < 300));
    if ids.is_empty() && accepted {
        p.lost.push(format!("user {name}"));
    }
    p.users.extend(ids.into_iter().map(|id| (id, false)));
    None
}

/// The finding when the id a create gave is not of the form the mapping declares: every later
/// request for that record would answer 404 without asking the legacy API.
fn id_form(resource: &ResourceMapping, section: &str, id: &str) -> Option<Finding> {
    if resource.accepts_id(id) {
        return None;
    }
    Some(finding(
        "id-format",
        Verdict::Fail,
        format!("the legacy API gave the new record the id `{id}`, which the mapping's `id_format` refuses: every request for it will answer 404"),
        Some(format!("set {section}.id_format to the form the API's ids have (`integer`, `uuid`, or a `pattern`), or remove it; see \"Ids: what form they have\" in docs/mapping.md")),
    ))
}

/// What went wrong with a create that did not answer 201, from its legacy calls.
fn create_failed(resource: &ResourceMapping, section: &str, out: &Outcome) -> Vec<Finding> {
    if let Some(f) = unreachable(out) {
        return vec![f];
    }
    let detail = out.detail().unwrap_or("no detail").to_string();
    let Some(create) = out
        .calls
        .iter()
        .find(|c| c.endpoint == "create" && c.section == section)
    else {
        return vec![finding(
            "step-failed",
            Verdict::Fail,
            format!("the create was not sent: {} {detail}", out.status),
            None,
        )];
    };
    let status = create.status.unwrap_or_default();
    if status >= 300 {
        return vec![finding(
            "step-failed",
            Verdict::Fail,
            format!(
                "the legacy API refused the create: {status} {}",
                excerpt(&create.answer, 300)
            ),
            Some(format!(
                "compare the body sent (above) with what the API expects: a required field the mapping does not send (`default:` or `constant:` in {section}.attributes), a field under another name (the attribute's `legacy:` path), a value in another form (`values:`, `type:`), or an envelope the API wants around the body (`envelope: {{ body: … }}`)"
            )),
        )];
    }
    // Answered 2xx, yet the gateway could not use the answer: where is the id?
    let mapped = resource.id_path();
    let key = mapped.rsplit('.').next().unwrap_or("id");
    let candidates = paths_of_key(&create.answer, key);
    let envelope = resource
        .endpoints
        .create
        .as_ref()
        .and_then(|e| e.answer_envelope())
        .map(|k| format!(" inside `{k}`"))
        .unwrap_or_default();
    let (message, fix) = match candidates.first() {
        Some(found) => match wrapping_key(found, mapped) {
            Some(k) => (
                format!("the create answer has no id at `{mapped}`{envelope}; it is at `{found}`: the API wraps the record in `{{\"{k}\": …}}`"),
                format!("add `envelope: {{ answer: {k} }}` to {section} (if every endpoint answers that way) or to {section}.endpoints.create (only creates do); see \"Envelopes: where the record is\" in docs/mapping.md"),
            ),
            None => (
                format!("the create answer has no id at `{mapped}`{envelope}; an id is at `{found}`"),
                format!("write `id: {found}` in {section} (relative to the record), or declare the envelope the record is in"),
            ),
        },
        None if create.location.is_some() => (
            format!(
                "the create answered {status} with the id only in Location ({}), and the gateway could not read the record by it",
                create.location.as_deref().unwrap_or_default()
            ),
            format!("check {section}.endpoints.get: the record is read with it by the id in Location"),
        ),
        None => (
            format!(
                "the create answered {status} {} — no id anywhere (the mapping reads it at `{mapped}`{envelope})",
                excerpt(&create.answer, 200)
            ),
            "an API that answers a create without the id must send a Location header; if the id is in the answer under another name, write `id:` with its path".into(),
        ),
    };
    let _ = detail;
    vec![finding("id-path", Verdict::Fail, message, Some(fix))]
}

async fn read_user(p: &mut Probe<'_>, uid: &str) {
    let path = format!("/Users/{}", segment(uid));
    let (at, out) = p.step("users.read", Method::GET, &path, None).await;
    let sent = user_values(p);
    let fields = p.driver.mapping().users.mapped_fields();
    let raw = last_answer(&out.calls, "users", "get");
    if out.status != 200 && raw.is_none() {
        let detail = out.detail().unwrap_or("no detail").to_string();
        p.find(
            at,
            finding(
                "step-failed",
                Verdict::Fail,
                format!(
                    "the user just created could not be read: {} {detail}",
                    out.status
                ),
                Some("check users.endpoints.get (its path with {id}) and users.id".into()),
            ),
        );
        return;
    }
    let scim = if out.status == 200 {
        out.body.clone()
    } else {
        Value::Null
    };
    let raw = raw.unwrap_or(Value::Null);
    for f in compare(&fields, &sent, &scim, &raw, "users", "get", "value-lost") {
        p.find(at, f);
    }
    if out.status != 200 {
        p.find(at, answered("the read", &out, None));
    }
}

/// The findings of a read-back: each attribute sent that the SCIM resource does not show as
/// sent, placed by where the value is in the raw legacy answer.
fn compare(
    fields: &[MappedField],
    sent: &[(String, Value)],
    scim: &Value,
    raw: &Value,
    section: &str,
    endpoint: &str,
    lost_code: &'static str,
) -> Vec<Finding> {
    let mut misplaced: Vec<(String, String, String)> = Vec::new();
    let mut lost: Vec<(String, String, Value)> = Vec::new();
    let mut changed: Vec<(String, Value, Value)> = Vec::new();
    for (label, want) in sent {
        let got = value_at(scim, label);
        if got.as_ref().is_some_and(|g| same(g, want)) {
            continue;
        }
        let mapped = fields
            .iter()
            .find(|f| f.scim.eq_ignore_ascii_case(label))
            .map(|f| f.legacy.clone())
            .unwrap_or_default();
        match got {
            Some(g) if !g.is_null() => changed.push((label.clone(), want.clone(), g)),
            _ => {
                let found = match want {
                    Value::String(s) => paths_of(raw, s),
                    _ => Vec::new(),
                };
                match found.into_iter().next() {
                    Some(f) => misplaced.push((label.clone(), f, mapped)),
                    None => lost.push((label.clone(), mapped, want.clone())),
                }
            }
        }
    }
    let mut out = Vec::new();
    let pairs = misplaced.iter().map(|(_, f, m)| (f.as_str(), m.as_str()));
    if let Some((key, n)) = common_wrapping_key(pairs) {
        if n * 2 >= misplaced.len() {
            let example = misplaced
                .iter()
                .find(|(_, f, m)| wrapping_key(f, m).as_deref() == Some(key.as_str()))
                .map(|(l, f, m)| format!("{l} is at `{f}`, read at `{m}`"))
                .unwrap_or_default();
            out.push(finding(
                "answer-envelope",
                Verdict::Fail,
                format!("the legacy API answers the record inside `{{\"{key}\": …}}`, which the mapping does not declare: {n} attribute(s) sent are there ({example})"),
                Some(format!("add `envelope: {{ answer: {key} }}` to {section} (or to {section}.endpoints.{endpoint} if only that endpoint wraps its answers); see \"Envelopes: where the record is\" in docs/mapping.md")),
            ));
            misplaced.retain(|(_, f, m)| wrapping_key(f, m).as_deref() != Some(key.as_str()));
        }
    }
    for (label, found, mapped) in misplaced {
        out.push(finding(
            "value-path",
            Verdict::Fail,
            format!("{label} was sent, and the legacy record has it at `{found}`, but the mapping reads it at `{mapped}`"),
            Some(format!("write `legacy: {found}` (relative to the record) for {label} in {section}.attributes")),
        ));
    }
    for (label, mapped, want) in lost {
        out.push(finding(
            lost_code,
            Verdict::Fail,
            format!("{label} was sent as {want} and is nowhere in the legacy record read back (the mapping writes and reads it at `{mapped}`)"),
            Some(format!("check the field's name in the API's docs: the API dropped what was written at `{mapped}`; if it keeps the value but never returns it, mark the {label} entry `direction: write`")),
        ));
    }
    for (label, want, got) in changed {
        out.push(finding(
            lost_code,
            Verdict::Warn,
            format!("{label} was sent as {want} and reads back as {got}"),
            Some(format!("if the API stores it in another form, the {label} entry needs a value map (`values:`) or a conversion (`type:`)")),
        ));
    }
    out
}

/// Whether a value read back is the value sent (strings ignoring case and surrounding blanks).
fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(a), Value::String(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (a, b) => a == b,
    }
}

async fn read_unknown(p: &mut Probe<'_>, uid: &str) {
    let other = if !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()) {
        format!("{uid}9999")
    } else {
        other_id_like(uid)
    };
    let path = format!("/Users/{}", segment(&other));
    let (at, out) = p.step("users.read-unknown", Method::GET, &path, None).await;
    if out.status == 404 {
        return;
    }
    let get = out.calls.iter().rev().find(|c| c.endpoint == "get");
    let legacy = get.and_then(|c| c.status);
    let line = get.map(Exchange::line).unwrap_or_default();
    let f = match legacy {
        Some(s) if s >= 400 => finding(
            "unknown-id-status",
            Verdict::Fail,
            format!("a read of an id the legacy API does not have (`{line}`) answered {s}, which the gateway took as {} — identity providers need 404 to know a user is gone", out.status),
            Some(format!("add `errors: [{{ status: {s}, scim_status: 404 }}]` to users.endpoints.get (\"Rules of one endpoint\" in docs/mapping.md): it then means \"no such user\" wherever a user is read")),
        ),
        Some(s) => finding(
            "unknown-id-status",
            Verdict::Fail,
            format!("a read of an id the legacy API does not have (`{line}`) answered {s} with {}, and the gateway answered {}", excerpt(get.map_or(&Value::Null, |c| &c.answer), 160), out.status),
            Some("declare the form of the ids (`id_format:` in users) so that other ids are never sent, and check users.id".into()),
        ),
        None => finding(
            "step-failed",
            Verdict::Fail,
            format!("expected 404, the gateway answered {}: {}", out.status, out.detail().unwrap_or("")),
            None,
        ),
    };
    p.find(at, f);
}

async fn user_filters(p: &mut Probe<'_>, uid: &str) {
    let name = p.user.user_name.clone();
    let exact = format!("userName eq {}", quoted(&name));
    filter_step(
        p,
        "users.filter-userName",
        "/Users",
        &exact,
        uid,
        Case::Same,
    )
    .await;
    let other_case = format!("userName eq {}", quoted(&swap_case(&name)));
    filter_step(
        p,
        "users.filter-userName-case",
        "/Users",
        &other_case,
        uid,
        Case::Other,
    )
    .await;
    let fields = p.driver.mapping().users.mapped_fields();
    if writes(&fields, "externalId") {
        let ext = format!("externalId eq {}", quoted(&p.user.external_id.clone()));
        filter_step(
            p,
            "users.filter-externalId",
            "/Users",
            &ext,
            uid,
            Case::Same,
        )
        .await;
    } else {
        p.skip(
            "users.filter-externalId",
            "the mapping does not write externalId",
        );
    }
    // The e-mail the user has: the one sent, or, where the mapping only reads e-mails (one
    // field holding the login and the e-mail), the one it reads back with.
    let sent = user_values(p)
        .into_iter()
        .find(|(l, _)| l.starts_with("emails["))
        .map(|(label, _)| (label, p.user.email.clone()));
    let email = match sent {
        Some(e) => Some(e),
        None => read_email(p, &fields, uid).await,
    };
    match email {
        Some((label, value)) => {
            let ty = label.split('"').nth(1).unwrap_or("work").to_string();
            let f = format!(
                "emails[type eq {}].value eq {}",
                quoted(&ty),
                quoted(&swap_case(&value))
            );
            let case = Case::OtherOptional;
            filter_step(p, "users.filter-email", "/Users", &f, uid, case).await;
        }
        None => p.skip("users.filter-email", "the mapping has no e-mail of a type"),
    }
}

/// The label and value of the e-mail the user reads back with, when the mapping reads one.
async fn read_email(
    p: &mut Probe<'_>,
    fields: &[MappedField],
    uid: &str,
) -> Option<(String, String)> {
    let label = fields
        .iter()
        .find(|f| f.read && f.scim.starts_with("emails[type eq ") && f.scim.ends_with("].value"))?
        .scim
        .clone();
    let read = p
        .driver
        .send(Method::GET, &format!("/Users/{}", segment(uid)), None)
        .await;
    let value = value_at(&read.body, &label)?.as_str()?.to_string();
    Some((label, value))
}

/// What a filter step's value is, against the value stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    /// As sent.
    Same,
    /// In another letter case, on an attribute SCIM compares case-insensitively: a miss fails.
    Other,
    /// The same, on an attribute identity providers rarely filter on: a miss warns.
    OtherOptional,
}

async fn filter_step(
    p: &mut Probe<'_>,
    id: &'static str,
    collection: &str,
    filter: &str,
    want: &str,
    case: Case,
) {
    let path = filter_path(collection, filter);
    let (at, out) = p.step(id, Method::GET, &path, None).await;
    let ids: Vec<String> = resources(&out)
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if out.status == 200 && ids.len() == 1 && ids[0] == want {
        if total_of(&out) != Some(1) {
            let total = total_of(&out).unwrap_or_default();
            p.find(
                at,
                finding(
                    "total-wrong",
                    Verdict::Fail,
                    format!("the filter found the one record but totalResults says {total}"),
                    Some("the legacy list's total counts more than the filter selects: mark the filter entry `match: loose` so the gateway counts (see \"Totals\" in docs/mapping.md)".into()),
                ),
            );
        }
        return;
    }
    if out.status != 200 {
        p.find(at, answered("the filter", &out, None));
        return;
    }
    let list = out.calls.iter().find(|c| c.endpoint == "list");
    let line = list
        .map(Exchange::line)
        .unwrap_or_else(|| "(no legacy list call)".into());
    let passed_down = list.is_some_and(|c| c.target.contains('?') && !only_paging(&c.target));
    let attr = filter.rsplit_once(" eq ").map_or(filter, |(a, _)| a);
    let f = if ids.is_empty() && case != Case::Same && passed_down {
        let severity = if case == Case::Other {
            Verdict::Fail
        } else {
            Verdict::Warn
        };
        finding(
            "filter-case-sensitive",
            severity,
            format!("`{filter}` (another letter case than stored) found nothing: the legacy call `{line}` compares case-sensitively, where SCIM compares {attr} case-insensitively — an identity provider will miss a user whose case differs, and a create will not see that it exists"),
            Some(format!("remove the {attr} entry from the section's filters: the gateway then reads the list (up to scan_limit) and compares itself (see \"Creates look first\" in docs/mapping.md); keep an entry only for a legacy filter that ignores case")),
        )
    } else if ids.is_empty() {
        finding(
            "filter-misses",
            Verdict::Fail,
            format!("`{filter}` did not find the record just created: the legacy call `{line}` answered {}", list.map(|c| excerpt(&c.answer, 200)).unwrap_or_default()),
            Some(format!("check the filters entry for {attr}: its `param` must be the API's exact-match filter on the field {attr} is written to")),
        )
    } else {
        finding(
            "filter-misses",
            Verdict::Fail,
            format!(
                "`{filter}` found {} record(s) ({}), not just the one created ({want})",
                ids.len(),
                ids.join(", ")
            ),
            None,
        )
    };
    p.find(at, f);
}

/// The finding of a step whose SCIM request (`what`) did not answer what identity providers
/// need: its status and the gateway's detail, with the place to look.
fn answered(what: &str, out: &Outcome, fix: Option<&str>) -> Finding {
    finding(
        "step-failed",
        Verdict::Fail,
        format!(
            "{what} answered {}: {}",
            out.status,
            out.detail().unwrap_or("no detail")
        ),
        fix.map(str::to_owned),
    )
}

/// Whether a legacy list target's query holds only paging parameters (nothing passed down).
fn only_paging(target: &str) -> bool {
    let Some((_, query)) = target.split_once('?') else {
        return true;
    };
    query.split('&').all(|kv| {
        let k = kv.split('=').next().unwrap_or("").to_ascii_lowercase();
        [
            "page",
            "per_page",
            "page_size",
            "pagesize",
            "limit",
            "offset",
            "size",
            "cursor",
            "start",
            "count",
            "page[number]",
            "page%5bnumber%5d",
            "page%5bsize%5d",
            "page[size]",
        ]
        .contains(&k.as_str())
    })
}

/// How many more throw-away users `users.list` creates, so that its pages of one go past the
/// first legacy page.
const LIST_EXTRAS: u64 = 2;

async fn list(p: &mut Probe<'_>, uid: &str, baseline: u64) {
    let (extras, refused) = create_extras(p).await;
    let (at, first) = p
        .step(
            "users.list",
            Method::GET,
            "/Users?startIndex=1&count=1",
            None,
        )
        .await;
    if let Some(out) = refused {
        p.also(at, &out.calls);
        p.find(
            at,
            finding(
                "second-create-refused",
                Verdict::Fail,
                format!("a second user with other names could not be created: {} {}", out.status, out.detail().unwrap_or("")),
                Some("every create sends the same value to a field the legacy API keeps unique: look in the create body for a value that is not from the SCIM resource (a `default:` or `constant:` in users.attributes) and map that field from an attribute that differs per user, or leave it to the API".into()),
            ),
        );
    }
    if first.status == 200 {
        let expected = baseline + 1 + extras.len() as u64;
        list_pages(p, at, &first, uid, expected).await;
    } else {
        let f = list_failed(&p.driver.mapping().users, &first);
        p.find(at, f);
    }
    delete_extras(p, &extras).await;
}

/// Creates the extra users of `users.list`: the test user's values under other names. One that
/// cannot be made is left out (`users.create` speaks for creates): the list is checked with
/// fewer.
async fn create_extras(p: &mut Probe<'_>) -> (Vec<String>, Option<Outcome>) {
    let mut ids = Vec::new();
    let mut refused = None;
    for n in 2..2 + LIST_EXTRAS {
        let values: Vec<(String, Value)> = user_values(p)
            .into_iter()
            .map(|(label, value)| match value {
                Value::String(s) if is_unique(&label) => {
                    let renamed = match s.split_once('@') {
                        Some((local, domain)) => format!("{local}.{n}@{domain}"),
                        None => format!("{s}-{n}"),
                    };
                    (label, Value::String(renamed))
                }
                other => (label, other),
            })
            .collect();
        let body = resource_of(USER_URN, &values);
        let out = p.driver.send(Method::POST, "/Users", Some(&body)).await;
        let id = (out.status == 201)
            .then(|| out.body.get("id").and_then(Value::as_str))
            .flatten();
        match id {
            Some(id) => {
                p.users.push((id.to_string(), false));
                ids.push(id.to_string());
            }
            None => refused = refused.or(Some(out)),
        }
    }
    (ids, refused)
}

/// Creates a second record like `values` under other names, as step `at`'s, and deletes it:
/// one create proves little when the mapping writes the same value to a field the legacy API
/// keeps unique (a `default:` or `constant:`), which makes every later create fail.
async fn second_create(
    p: &mut Probe<'_>,
    at: usize,
    section: &str,
    collection: &str,
    values: &[(String, Value)],
) {
    let renamed: Vec<(String, Value)> = values
        .iter()
        .map(|(label, value)| match value {
            Value::String(s) if is_unique(label) || label == "displayName" => {
                (label.clone(), Value::String(format!("{s} 2")))
            }
            other => (label.clone(), other.clone()),
        })
        .collect();
    let urn = if section == "groups" {
        GROUP_URN
    } else {
        USER_URN
    };
    let body = resource_of(urn, &renamed);
    let out = p.driver.send(Method::POST, collection, Some(&body)).await;
    p.also(at, &out.calls);
    let created = out
        .body
        .get("id")
        .and_then(Value::as_str)
        .filter(|_| out.status == 201);
    let Some(id) = created.map(str::to_owned) else {
        let refused = out
            .calls
            .iter()
            .rev()
            .find(|c| c.endpoint == "create" && c.status.is_some_and(|s| s >= 400))
            .map(|c| {
                format!(
                    " (the legacy API answered {} {})",
                    c.status.unwrap_or_default(),
                    excerpt(&c.answer, 200)
                )
            })
            .unwrap_or_default();
        p.find(
            at,
            finding(
                "second-create-refused",
                Verdict::Fail,
                format!("a second record with other names could not be created: {} {}{refused}", out.status, out.detail().unwrap_or("")),
                Some(format!("every create sends the same value to a field the legacy API keeps unique: look in the bodies above for a value that is not from the SCIM resource (a `default:` or `constant:` in {section}.attributes) and map that field from an attribute that differs per record, or leave it to the API")),
            ),
        );
        return;
    };
    let owned = if section == "groups" {
        &mut p.groups
    } else {
        &mut p.users
    };
    owned.push((id.clone(), false));
    let gone = p
        .driver
        .send(
            Method::DELETE,
            &format!("{collection}/{}", segment(&id)),
            None,
        )
        .await;
    p.also(at, &gone.calls);
    if gone.status == 204 {
        let owned = if section == "groups" {
            &mut p.groups
        } else {
            &mut p.users
        };
        mark_deleted(owned, &id);
    }
}

/// Whether a SCIM attribute identifies a user (two users must not share its value).
fn is_unique(label: &str) -> bool {
    label == "userName" || label == "externalId" || label.starts_with("emails[")
}

async fn delete_extras(p: &mut Probe<'_>, ids: &[String]) {
    for id in ids {
        let path = format!("/Users/{}", segment(id));
        if p.driver.send(Method::DELETE, &path, None).await.status == 204 {
            mark_deleted(&mut p.users, id);
        }
    }
}

/// The checks of `users.list` after its first page (`first`): the total against `expected`
/// (the users before the probe and those it created), the total for count=0, and pages of one
/// through the whole list.
async fn list_pages(p: &mut Probe<'_>, at: usize, first: &Outcome, uid: &str, expected: u64) {
    let total = total_of(first).unwrap_or_default();
    let counted = p.driver.send(Method::GET, "/Users?count=0", None).await;
    p.also(at, &counted.calls);
    let zero_total = total_of(&counted).unwrap_or_default();
    if zero_total != total {
        p.find(
            at,
            finding(
                "total-wrong",
                Verdict::Fail,
                format!("totalResults is {total} for a page of one and {zero_total} for count=0: identity providers page by the total"),
                Some("see \"Totals\" in docs/mapping.md: a list whose total the legacy API cannot give exactly must be counted by the gateway".into()),
            ),
        );
    }
    if total != expected {
        p.find(
            at,
            finding(
                "total-wrong",
                Verdict::Warn,
                format!("totalResults is {total}; with what the probe created there should be {expected}"),
                Some("if nothing else changed the tenant meanwhile, the total counts records it should not (deleted or archived ones) or misses some: see \"The deleted marker\" (`listed:`) and \"Totals\" in docs/mapping.md".into()),
            ),
        );
    }
    if total > 25 {
        return;
    }
    // One record a page: the same total on every page, no short page before the last, every
    // record once, the user among them.
    let mut seen: Vec<String> = Vec::new();
    for start in 1..=total {
        let path = format!("/Users?startIndex={start}&count=1");
        let out = p.driver.send(Method::GET, &path, None).await;
        p.also(at, &out.calls);
        let page: Vec<String> = resources(&out)
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let page_total = total_of(&out).unwrap_or_default();
        if out.status != 200 || page_total != total || page.len() != 1 {
            p.find(
                at,
                finding(
                    "total-wrong",
                    Verdict::Fail,
                    format!("the page at startIndex={start} (count=1) answered {} with {} record(s) and totalResults {page_total}, where the first page said {total}", out.status, page.len()),
                    Some("check users.endpoints.list `pagination:` (the page parameters and the first page number) and `total:`; see \"Lists: items, total, pagination\" in docs/mapping.md".into()),
                ),
            );
            return;
        }
        seen.extend(page);
    }
    let distinct: std::collections::BTreeSet<&String> = seen.iter().collect();
    let with_user = seen.iter().any(|i| i == uid);
    if distinct.len() != seen.len() || !with_user {
        p.find(
            at,
            finding(
                "total-wrong",
                Verdict::Fail,
                format!(
                    "paging through the list one at a time gave {} record(s), {} distinct, {} the user just created",
                    seen.len(),
                    distinct.len(),
                    if with_user { "with" } else { "without" }
                ),
                Some("check users.endpoints.list `pagination:`: the pages overlap or skip records (is the first page 0 or 1? an offset or a page number?)".into()),
            ),
        );
    }
}

async fn update_patch(p: &mut Probe<'_>, uid: &str) {
    let fields = p.driver.mapping().users.mapped_fields();
    let changes: Vec<(String, Value)> = [
        ("title", json!("Onboarding probe, updated")),
        ("name.givenName", json!("Probed")),
    ]
    .into_iter()
    .filter(|(l, _)| writes(&fields, l))
    .map(|(l, v)| (l.to_string(), v))
    .collect();
    if changes.is_empty() {
        p.skip(
            "users.update-patch",
            "the mapping writes neither title nor name.givenName",
        );
        return;
    }
    let ops: Vec<Value> = changes
        .iter()
        .map(|(l, v)| json!({"op": "Replace", "path": l, "value": v}))
        .collect();
    let body = json!({"schemas": [PATCH_URN], "Operations": ops});
    let path = format!("/Users/{}", segment(uid));
    let (at, out) = p
        .step("users.update-patch", Method::PATCH, &path, Some(&body))
        .await;
    read_back(p, at, &out, &path, &changes, "update").await;
}

/// After a write: reads the resource at `path` again and compares `changes` with it.
async fn read_back(
    p: &mut Probe<'_>,
    at: usize,
    written: &Outcome,
    path: &str,
    changes: &[(String, Value)],
    endpoint: &str,
) {
    if !(200..300).contains(&written.status) {
        let detail = written.detail().unwrap_or("no detail").to_string();
        let refused = written
            .calls
            .iter()
            .rev()
            .find(|c| c.status.is_some_and(|s| s >= 400))
            .map(|c| {
                format!(
                    " (the legacy API answered {} {})",
                    c.line(),
                    excerpt(&c.answer, 200)
                )
            })
            .unwrap_or_default();
        p.find(
            at,
            finding(
                "step-failed",
                Verdict::Fail,
                format!("the update answered {}: {detail}{refused}", written.status),
                Some("compare the update body sent (above) with what the API expects; see \"What an update sends\" in docs/mapping.md".into()),
            ),
        );
        return;
    }
    let out = p.driver.send(Method::GET, path, None).await;
    p.also(at, &out.calls);
    let section = if path.starts_with("/Groups") {
        "groups"
    } else {
        "users"
    };
    let resource = if section == "groups" {
        p.driver.mapping().groups.as_ref().map(|g| &g.resource)
    } else {
        Some(&p.driver.mapping().users)
    };
    let fields = resource
        .map(ResourceMapping::mapped_fields)
        .unwrap_or_default();
    let raw = last_answer(&out.calls, section, "get").unwrap_or(Value::Null);
    let findings = compare(
        &fields,
        changes,
        &out.body,
        &raw,
        section,
        endpoint,
        "update-lost",
    );
    for f in findings {
        p.find(at, f);
    }
}

async fn update_put(p: &mut Probe<'_>, uid: &str) {
    let path = format!("/Users/{}", segment(uid));
    let fields = p.driver.mapping().users.mapped_fields();
    let change = ["name.familyName", "title", "displayName"]
        .into_iter()
        .find(|l| writes(&fields, l));
    let Some(label) = change else {
        p.skip(
            "users.update-put",
            "the mapping writes none of name.familyName, title, displayName",
        );
        return;
    };
    let current = p.driver.send(Method::GET, &path, None).await;
    if current.status != 200 {
        p.skip(
            "users.update-put",
            "the user cannot be read (see users.read)",
        );
        return;
    }
    let mut body = current.body.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("meta");
        o.remove("groups");
    }
    let value = json!("Putter");
    set_at(&mut body, label, value.clone());
    let (at, out) = p
        .step("users.update-put", Method::PUT, &path, Some(&body))
        .await;
    p.steps[at].calls.splice(0..0, shown(&current.calls));
    read_back(p, at, &out, &path, &[(label.to_string(), value)], "update").await;
}

async fn activity(p: &mut Probe<'_>, uid: &str) {
    let users = &p.driver.mapping().users;
    if !users.writes_active() && users.endpoints.deactivate.is_none() {
        let why = "the mapping has no way to write active (no active attribute, no deactivate endpoint): an identity provider's deactivation has nowhere to go";
        p.skip("users.deactivate", why);
        p.skip("users.reactivate", why);
        return;
    }
    let path = format!("/Users/{}", segment(uid));
    for (id, value, want) in [
        ("users.deactivate", "False", false),
        ("users.reactivate", "True", true),
    ] {
        let body = json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": value}]});
        let (at, out) = p.step(id, Method::PATCH, &path, Some(&body)).await;
        if !(200..300).contains(&out.status) {
            let detail = out.detail().unwrap_or("no detail").to_string();
            p.find(
                at,
                finding("step-failed", Verdict::Fail, format!("answered {}: {detail}", out.status), Some("check the `active` entry (its `values:`) or users.endpoints.deactivate / reactivate".into())),
            );
            continue;
        }
        let read = p.driver.send(Method::GET, &path, None).await;
        p.also(at, &read.calls);
        let got = read.body.get("active").cloned().unwrap_or(Value::Null);
        if got != json!(want) {
            p.find(
                at,
                finding(
                    "active-lost",
                    Verdict::Fail,
                    format!("active was set to {want} and reads back as {got}"),
                    Some("check the `active` entry: its legacy field and its `values:` map (both ways), or the deactivate/reactivate endpoints".into()),
                ),
            );
        }
    }
}

async fn duplicate(p: &mut Probe<'_>) {
    let mut values = user_values(p);
    for (label, value) in values.iter_mut() {
        if label == "externalId" {
            *value = json!(format!("{}-again", p.user.external_id));
        }
    }
    let body = resource_of(USER_URN, &values);
    let (at, out) = p
        .step("users.duplicate", Method::POST, "/Users", Some(&body))
        .await;
    if out.status == 409 {
        return;
    }
    if out.status == 201 {
        if let Some(id) = out.body.get("id").and_then(Value::as_str) {
            p.users.push((id.to_string(), false));
        }
        p.find(
            at,
            finding(
                "duplicate-created",
                Verdict::Fail,
                "a second create with the same userName made a second user: the gateway's look-up before the create did not see the first one, and the legacy API enforces no uniqueness".into(),
                Some("the look-up uses the userName entry of users.filters (or reads the list without one): see the users.filter-userName steps and \"Creates look first\" in docs/mapping.md".into()),
            ),
        );
        return;
    }
    let detail = out.detail().unwrap_or("no detail").to_string();
    p.find(
        at,
        finding(
            "step-failed",
            Verdict::Warn,
            format!("expected 409 uniqueness (what Entra and Okta understand as \"already exists\"), got {}: {detail}", out.status),
            Some("map the legacy API's \"already taken\" answer to 409 with an errors rule: `{ status: <its status>, scim_status: 409, scim_type: uniqueness }`".into()),
        ),
    );
}

// --- The group ---------------------------------------------------------------------------------

const GROUP_STEPS: &[&str] = &[
    "groups.read",
    "groups.filter-displayName",
    "groups.add-member",
    "groups.members",
    "users.groups",
    "groups.members-filter",
    "groups.remove-member",
    "groups.delete",
    "groups.read-deleted",
];

async fn groups(p: &mut Probe<'_>, uid: &str) {
    let skip_all = |p: &mut Probe<'_>, why: &str| {
        p.skip("groups.create", why.to_string());
        for id in GROUP_STEPS {
            p.skip(id, why.to_string());
        }
    };
    let Some(groups) = p.driver.mapping().groups.as_ref() else {
        skip_all(p, "the mapping has no groups: section");
        return;
    };
    if groups.resource.endpoints.create.is_none() {
        skip_all(p, "groups are not created through SCIM here (groups.create: false); the probe changes no group it did not create");
        return;
    }
    if groups.resource.endpoints.delete.is_none() {
        skip_all(p, "the mapping cannot delete groups, so the probe does not create one it could not remove");
        return;
    }
    let fields = groups.resource.mapped_fields();
    let mut values = vec![("displayName".to_string(), json!(p.user.group_name))];
    if writes(&fields, "externalId") {
        values.push(("externalId".to_string(), json!(p.user.group_external_id)));
    }
    let body = resource_of(GROUP_URN, &values);
    let (at, out) = p
        .step("groups.create", Method::POST, "/Groups", Some(&body))
        .await;
    let Some(gid) = (out.status == 201)
        .then(|| {
            out.body
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten()
    else {
        let resource = &p
            .driver
            .mapping()
            .groups
            .as_ref()
            .map(|g| g.resource.clone());
        if let Some(r) = resource {
            for f in create_failed(r, "groups", &out) {
                p.find(at, f);
            }
        }
        if out.calls.iter().any(|c| {
            c.section == "groups" && c.endpoint == "create" && c.status.is_some_and(|s| s < 300)
        }) {
            p.lost.push(format!("group {}", p.user.group_name));
        }
        for id in GROUP_STEPS {
            p.skip(id, "needs the group groups.create did not make");
        }
        return;
    };
    p.groups.push((gid.clone(), false));
    second_create(p, at, "groups", "/Groups", &values).await;
    if let Some(f) = id_form(&groups.resource, "groups", &gid) {
        p.find(at, f);
        for id in GROUP_STEPS {
            p.skip(id, "needs a group the mapping can name (see groups.create)");
        }
        return;
    }
    let gpath = format!("/Groups/{}", segment(&gid));
    let (at, out) = p.step("groups.read", Method::GET, &gpath, None).await;
    let raw = last_answer(&out.calls, "groups", "get").unwrap_or(Value::Null);
    let scim = if out.status == 200 {
        out.body.clone()
    } else {
        Value::Null
    };
    for f in compare(&fields, &values, &scim, &raw, "groups", "get", "value-lost") {
        p.find(at, f);
    }
    let name_filter = format!("displayName eq {}", quoted(&p.user.group_name.clone()));
    filter_step(
        p,
        "groups.filter-displayName",
        "/Groups",
        &name_filter,
        &gid,
        Case::Same,
    )
    .await;

    let add = json!({"schemas": [PATCH_URN], "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]});
    let (at, out) = p
        .step("groups.add-member", Method::PATCH, &gpath, Some(&add))
        .await;
    if !(200..300).contains(&out.status) {
        p.find(
            at,
            answered(
                "the member add",
                &out,
                Some("check groups.membership (see \"membership\" in docs/mapping.md)"),
            ),
        );
    }
    member_check(p, "groups.members", &gpath, uid, true).await;
    if p.driver
        .mapping()
        .users
        .schema
        .core
        .attribute("groups")
        .is_some()
    {
        let upath = format!("/Users/{}", segment(uid));
        let (at, out) = p.step("users.groups", Method::GET, &upath, None).await;
        let has = out
            .body
            .get("groups")
            .and_then(Value::as_array)
            .is_some_and(|gs| {
                gs.iter()
                    .any(|g| g.get("value").and_then(Value::as_str) == Some(gid.as_str()))
            });
        if !has {
            p.find(at, finding("membership-lost", Verdict::Fail, format!("the user's groups do not show the group it was added to ({})", excerpt(out.body.get("groups").unwrap_or(&Value::Null), 160)), Some("check how the mapping reads a user's groups (groups.membership: user_groups, or the field on the user)".into())));
        }
    } else {
        p.skip(
            "users.groups",
            "the mapping shows no groups on users (no call lists a user's groups)",
        );
    }
    let entra = format!(
        "id eq {} and members[value eq {}]",
        quoted(&gid),
        quoted(uid)
    );
    let path = format!(
        "{}&excludedAttributes=members",
        filter_path("/Groups", &entra)
    );
    let (at, out) = p
        .step("groups.members-filter", Method::GET, &path, None)
        .await;
    let found = resources(&out);
    let ids: Vec<&str> = found
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    if out.status != 200 || ids != [gid.as_str()] {
        p.find(at, finding("membership-lost", Verdict::Fail, format!("Entra's membership check answered {} with {:?}: {}", out.status, ids, out.detail().unwrap_or("")), Some("Entra checks a membership this way after adding it; see groups.membership in docs/mapping.md".into())));
    }
    let remove = json!({"schemas": [PATCH_URN], "Operations": [{"op": "Remove", "path": format!("members[value eq {}]", quoted(uid))}]});
    let (at, out) = p
        .step("groups.remove-member", Method::PATCH, &gpath, Some(&remove))
        .await;
    if !(200..300).contains(&out.status) {
        p.find(
            at,
            answered(
                "the member removal",
                &out,
                Some("check groups.membership's remove call"),
            ),
        );
    } else {
        let read = p.driver.send(Method::GET, &gpath, None).await;
        p.also(at, &read.calls);
        if members_of(&read.body).iter().any(|m| m == uid) {
            p.find(
                at,
                finding(
                    "membership-lost",
                    Verdict::Fail,
                    "the member removal answered success but the group still has the member".into(),
                    Some("check groups.membership's remove call (its path and {member})".into()),
                ),
            );
        }
    }
    let (at, out) = p.step("groups.delete", Method::DELETE, &gpath, None).await;
    if out.status == 204 {
        mark_deleted(&mut p.groups, &gid);
    } else {
        p.find(
            at,
            answered("the delete", &out, Some("check groups.endpoints.delete")),
        );
    }
    let (at, out) = p
        .step("groups.read-deleted", Method::GET, &gpath, None)
        .await;
    if out.status != 404 {
        p.find(at, finding("deleted-readable", Verdict::Fail, format!("the deleted group still reads ({})", out.status), Some("the legacy API keeps deleted groups: a `deleted:` marker in groups says what a deleted one looks like (see \"The deleted marker\" in docs/mapping.md)".into())));
    }
}

/// Step `id`: the group at `gpath` does (`want`) or does not have member `uid`.
async fn member_check(p: &mut Probe<'_>, id: &'static str, gpath: &str, uid: &str, want: bool) {
    let (at, out) = p.step(id, Method::GET, gpath, None).await;
    let has = members_of(&out.body).iter().any(|m| m == uid);
    if has != want {
        p.find(
            at,
            finding(
                "membership-lost",
                Verdict::Fail,
                format!("the group read back {} member {uid} ({} answered)", if want { "has no" } else { "still has" }, out.status),
                Some("check groups.membership: the add call (shown in groups.add-member) and how the members are read (the member list and its `member:` path, or the list on the group)".into()),
            ),
        );
    }
}

fn members_of(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn mark_deleted(list: &mut [(String, bool)], id: &str) {
    for (i, gone) in list.iter_mut() {
        if i == id {
            *gone = true;
        }
    }
}

// --- The user's delete -------------------------------------------------------------------------

async fn delete_user(p: &mut Probe<'_>, uid: &str, baseline: u64) {
    let path = format!("/Users/{}", segment(uid));
    let (at, out) = p.step("users.delete", Method::DELETE, &path, None).await;
    if out.status == 204 {
        mark_deleted(&mut p.users, uid);
    } else {
        p.find(
            at,
            answered(
                "the delete",
                &out,
                Some("check users.on_delete and the delete or deactivate call it needs"),
            ),
        );
        // What follows would only restate it.
        p.skip(
            "users.read-deleted",
            "follows from users.delete, which failed",
        );
        p.skip(
            "users.list-after-delete",
            "follows from users.delete, which failed",
        );
        return;
    }
    let deactivates = matches!(p.driver.mapping().users.on_delete, OnDelete::Deactivate);
    let marker = p.driver.mapping().users.has_deleted_marker();
    let (at, out) = p.step("users.read-deleted", Method::GET, &path, None).await;
    // Kept and only deactivated, by the mapping's choice: RFC 7644 wants a 404, identity
    // providers mostly cope; a warning. A marker that does not hide the record is a mistake.
    let kept_by_choice = deactivates && !marker;
    let severity = if kept_by_choice {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let refused = out
        .calls
        .iter()
        .rev()
        .find(|c| c.endpoint == "get" && c.status.is_some_and(|s| s >= 400));
    if out.status != 404 && out.status != 200 {
        let legacy = refused.map_or(String::new(), |c| {
            format!(
                " (`{}` answered {})",
                c.line(),
                c.status.unwrap_or_default()
            )
        });
        p.find(at, finding("unknown-id-status", Verdict::Fail, format!("after DELETE the read answered {}{legacy} where identity providers need 404", out.status), Some("map what the legacy API answers for a record it no longer has to 404 with an `errors:` rule on users.endpoints.get (see users.read-unknown)".into())));
    } else if out.status != 404 {
        let fix = if kept_by_choice {
            "on_delete: deactivate keeps the user, inactive; add a `deleted:` marker (the legacy field and value a SCIM delete leaves) so that it reads as gone, or use on_delete: delete; see \"The deleted marker\" in docs/mapping.md"
        } else if marker {
            "the record still reads after the delete: the `deleted:` marker does not match what a deleted record holds (compare its field and value with the record read above); see \"The deleted marker\" in docs/mapping.md"
        } else {
            "the legacy API keeps the record after its delete (a soft delete): add a `deleted:` marker saying what such a record holds (the field and value, e.g. `{ legacy: $.status, value: removed }`); see \"A delete the legacy API keeps as a record\" in docs/mapping.md"
        };
        p.find(
            at,
            finding(
                "deleted-readable",
                severity,
                format!(
                    "after DELETE the user still reads ({}): RFC 7644 §3.6 wants 404 from then on",
                    out.status
                ),
                Some(fix.into()),
            ),
        );
    }
    let name = p.user.user_name.clone();
    let path = filter_path("/Users", &format!("userName eq {}", quoted(&name)));
    let (at, out) = p
        .step("users.list-after-delete", Method::GET, &path, None)
        .await;
    if !resources(&out).is_empty() && !kept_by_choice {
        p.find(at, finding("deleted-listed", severity, "the deleted user is still found by its userName".into(), Some("the `deleted:` marker must match what the legacy API's deleted records hold (see \"The deleted marker\" in docs/mapping.md)".into())));
    }
    let counted = p.driver.send(Method::GET, "/Users?count=0", None).await;
    p.also(at, &counted.calls);
    let total = total_of(&counted).unwrap_or_default();
    if total != baseline {
        let fix = if kept_by_choice {
            "add a `deleted:` marker (see \"The deleted marker\" in docs/mapping.md): deleted users are then left out of lists and totals"
        } else {
            "the list's total counts deleted records: say so with `listed: true` on the `deleted:` marker (the gateway then counts), or give the list a `query:` that leaves them out; see \"The deleted marker\" and \"Totals\" in docs/mapping.md"
        };
        p.find(at, finding("deleted-listed", severity, format!("after the delete totalResults is {total}; it was {baseline} before the probe created its user, so the total still counts the deleted user"), Some(fix.into())));
    }
}

// --- SCIM helpers --------------------------------------------------------------------------------

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `collection?filter=…` with the filter encoded.
fn filter_path(collection: &str, filter: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC);
    format!("{collection}?filter={encoded}")
}

fn total_of(out: &Outcome) -> Option<u64> {
    out.body.get("totalResults").and_then(Value::as_u64)
}

fn resources(out: &Outcome) -> Vec<Value> {
    out.body
        .get("Resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The raw answer of the last successful `endpoint` call of `section`.
fn last_answer(calls: &[Exchange], section: &str, endpoint: &str) -> Option<Value> {
    calls
        .iter()
        .rev()
        .find(|c| {
            c.section == section && c.endpoint == endpoint && c.status.is_some_and(|s| s < 300)
        })
        .map(|c| c.answer.clone())
}

/// A mapping's SCIM path (`name.givenName`, `emails[type eq "work"].value`,
/// `urn:…:enterprise:2.0:User:department`), split.
struct Label {
    container: Option<String>,
    attr: String,
    element_type: Option<String>,
    sub: Option<String>,
}

fn parse_label(label: &str) -> Label {
    let (container, rest) = match label.strip_prefix("urn:") {
        Some(_) => match label.rfind(':') {
            Some(i) => (Some(label[..i].to_string()), &label[i + 1..]),
            None => (None, label),
        },
        None => (None, label),
    };
    if let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) {
        let inside = &rest[open + 1..close];
        let element_type = inside.split('"').nth(1).map(str::to_owned);
        let sub = rest[close + 1..].strip_prefix('.').map(str::to_owned);
        return Label {
            container,
            attr: rest[..open].to_string(),
            element_type,
            sub,
        };
    }
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a.to_string(), Some(s.to_string())),
        None => (rest.to_string(), None),
    };
    Label {
        container,
        attr,
        element_type: None,
        sub,
    }
}

fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The value of a mapping's SCIM path in a SCIM resource.
fn value_at(resource: &Value, label: &str) -> Option<Value> {
    let l = parse_label(label);
    let holder = match &l.container {
        Some(urn) => get_ci(resource, urn)?,
        None => resource,
    };
    let v = get_ci(holder, &l.attr)?;
    let v = match &l.element_type {
        Some(t) => v.as_array()?.iter().find(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(t))
        })?,
        None => v,
    };
    match &l.sub {
        Some(s) => get_ci(v, s).cloned(),
        None => Some(v.clone()),
    }
}

/// Sets a mapping's SCIM path in a SCIM resource (an element selected by type is added as the
/// primary one).
fn set_at(resource: &mut Value, label: &str, value: Value) {
    let l = parse_label(label);
    let mut holder = resource;
    if let Some(urn) = &l.container {
        holder = object_entry(holder, urn);
    }
    match (&l.element_type, &l.sub) {
        (Some(t), Some(sub)) => {
            let list = holder
                .as_object_mut()
                .map(|o| o.entry(l.attr.clone()).or_insert_with(|| json!([])));
            if let Some(Value::Array(items)) = list {
                items.retain(|e| e.get("type").and_then(Value::as_str) != Some(t.as_str()));
                let mut element = Map::new();
                element.insert("type".into(), json!(t));
                element.insert(sub.clone(), value);
                element.insert("primary".into(), json!(items.is_empty()));
                items.push(Value::Object(element));
            }
        }
        (_, Some(sub)) => {
            let inner = object_entry(holder, &l.attr);
            if let Some(o) = inner.as_object_mut() {
                o.insert(sub.clone(), value);
            }
        }
        _ => {
            if let Some(o) = holder.as_object_mut() {
                o.insert(l.attr.clone(), value);
            }
        }
    }
}

/// The object at `key` of `v`, made when missing.
fn object_entry<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.is_object() {
        *v = json!({});
    }
    let Value::Object(o) = v else {
        unreachable!("made an object above")
    };
    let entry = o.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(scim: &str, legacy: &str) -> MappedField {
        MappedField {
            scim: scim.into(),
            legacy: legacy.into(),
            read: true,
            write: true,
            joined: false,
        }
    }

    #[test]
    fn labels_read_and_write_the_places_a_mapping_names() {
        let mut r = json!({});
        set_at(&mut r, "userName", json!("ada"));
        set_at(&mut r, "name.givenName", json!("Ada"));
        set_at(&mut r, "emails[type eq \"work\"].value", json!("ada@x.com"));
        set_at(
            &mut r,
            &format!("{ENTERPRISE_URN}:department"),
            json!("R&D"),
        );
        assert_eq!(
            r,
            json!({"userName": "ada", "name": {"givenName": "Ada"},
                   "emails": [{"type": "work", "value": "ada@x.com", "primary": true}],
                   ENTERPRISE_URN: {"department": "R&D"}})
        );
        assert_eq!(
            value_at(&r, "emails[type eq \"Work\"].value"),
            Some(json!("ada@x.com"))
        );
        assert_eq!(
            value_at(&r, &format!("{ENTERPRISE_URN}:department")),
            Some(json!("R&D"))
        );
        assert_eq!(value_at(&r, "name.familyName"), None);
    }

    #[test]
    fn a_record_in_an_undeclared_envelope_is_one_finding_naming_the_key() {
        let fields = vec![
            field("userName", "$.login"),
            field("name.givenName", "$.first_name"),
        ];
        let sent = vec![
            ("userName".into(), json!("Ada@x.com")),
            ("name.givenName".into(), json!("Ada")),
        ];
        let raw = json!({"data": {"login": "ada@x.com", "first_name": "Ada"}});
        let f = compare(
            &fields,
            &sent,
            &Value::Null,
            &raw,
            "users",
            "get",
            "value-lost",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "answer-envelope");
        assert!(
            f[0].fix
                .as_deref()
                .unwrap()
                .contains("envelope: { answer: data }"),
            "{f:?}"
        );
    }

    #[test]
    fn a_value_elsewhere_names_where_it_is_and_a_dropped_one_says_so() {
        let fields = vec![
            field("title", "$.title"),
            field("name.givenName", "$.first_name"),
        ];
        let sent = vec![
            ("title".into(), json!("Lead")),
            ("name.givenName".into(), json!("Ada")),
        ];
        let raw = json!({"job_title": "Lead", "first": "x"});
        let f = compare(
            &fields,
            &sent,
            &json!({}),
            &raw,
            "users",
            "get",
            "value-lost",
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].code, "value-path");
        assert!(
            f[0].fix.as_deref().unwrap().contains("legacy: $.job_title"),
            "{f:?}"
        );
        assert_eq!(f[1].code, "value-lost");
        assert!(f[1].message.contains("$.first_name"), "{f:?}");
    }

    #[test]
    fn values_read_back_as_sent_make_no_finding() {
        let fields = vec![field("userName", "$.login"), field("active", "$.status")];
        let sent = vec![
            ("userName".into(), json!("Ada@X.com")),
            ("active".into(), json!(true)),
        ];
        let scim = json!({"userName": "ada@x.com", "active": true});
        assert!(compare(
            &fields,
            &sent,
            &scim,
            &json!({}),
            "users",
            "get",
            "value-lost"
        )
        .is_empty());
        let off = json!({"userName": "ada@x.com", "active": false});
        let f = compare(
            &fields,
            &sent,
            &off,
            &json!({}),
            "users",
            "get",
            "update-lost",
        );
        assert_eq!(
            (f.len(), f[0].code, f[0].severity),
            (1, "update-lost", Verdict::Warn)
        );
    }

    #[test]
    fn a_query_of_paging_parameters_only_passes_no_filter_down() {
        assert!(only_paging("/users?page=1&per_page=100"));
        assert!(only_paging("/users"));
        assert!(!only_paging("/users?login=ada&page=1"));
    }
}
