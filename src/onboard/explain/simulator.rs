//! The sample legacy API of `explain`: a [`Simulator`] that answers the legacy calls of one SCIM
//! request as the legacy API would, from the mapping alone, so that the operation runs to its
//! end without a write reaching the API. Every answer is a sample: a record made by
//! translating a sample SCIM user or group through the mapping's own SCIM → legacy translation,
//! with the id, timestamps and version where the mapping reads them, wrapped in the endpoint's
//! envelope; a list of that record (or of none); the record a create or an update sent back,
//! with an id of the mapping's `id_format`; 204 for the rest.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use http::Method;
use serde_json::{json, Map, Value};

use crate::mapping::plan::{Attr, IdFormat};
use crate::mapping::{
    AfterEmpty, Endpoint, ListEndpoint, Mapping, Membership, Pagination, ResourceMapping,
    TotalSource,
};
use crate::onboard::driver::{SimulatedAnswer, SimulatedCall, Simulator};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::urn;

/// The `explain` simulator (see the module documentation).
pub(crate) struct SampleApi {
    mapping: Mapping,
    /// `--live`: reads are sent, except those of records a simulated write made or changed
    /// (the real API has not seen that write).
    live: bool,
    /// The section whose lists answer no record: the look-up a create makes first finds nobody,
    /// so that the create goes ahead as for a new user or group.
    empty_lists: Option<&'static str>,
    /// Equalities of the request's filter, per section, that the listed sample satisfies (so
    /// that the gateway's re-check keeps it).
    wanted: HashMap<&'static str, Vec<Wanted>>,
    state: Mutex<State>,
}

/// One `attr eq value` (or `attr[type eq t].sub eq value`) of a filter.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    schema: Option<String>,
    name: String,
    sub: Option<String>,
    element_type: Option<String>,
    value: Value,
}

#[derive(Default)]
struct State {
    /// The records answered so far, by section and id, as the API would hold them.
    records: HashMap<(&'static str, String), Value>,
    /// The records a simulated write made or changed.
    written: HashSet<(&'static str, String)>,
    /// For the ids made up (creates, list samples).
    counter: u64,
}

impl SampleApi {
    pub(crate) fn new(mapping: Mapping, live: bool) -> SampleApi {
        SampleApi {
            mapping,
            live,
            empty_lists: None,
            wanted: HashMap::new(),
            state: Mutex::new(State {
                counter: 1,
                ..State::default()
            }),
        }
    }

    /// Lists of `section` answer no record.
    pub(crate) fn with_empty_lists(mut self, section: &'static str) -> SampleApi {
        self.empty_lists = Some(section);
        self
    }

    /// The sample listed in `section` satisfies the equalities of `filter`.
    pub(crate) fn wanting(mut self, section: &'static str, filter: &Filter) -> SampleApi {
        let mut out = Vec::new();
        equalities(filter, &mut out);
        self.wanted.insert(section, out);
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn resource(&self, section: &str) -> Option<&ResourceMapping> {
        match section {
            "users" => Some(&self.mapping.users),
            "groups" => self.mapping.groups.as_ref().map(|g| &g.resource),
            _ => None,
        }
    }

    /// The sample legacy record of `section` with id `id`: the one answered before, else a
    /// new one.
    fn record(&self, section: &'static str, id: &str, wanted: &[Wanted]) -> Value {
        if let Some(r) = self.state().records.get(&(section, id.to_string())) {
            return r.clone();
        }
        let Some(resource) = self.resource(section) else {
            return json!({});
        };
        let mut record = sample_record(resource, section, id, wanted);
        self.membership_fields(section, &mut record);
        self.state()
            .records
            .insert((section, id.to_string()), record.clone());
        record
    }

    /// The fields of a sample record that hold membership, where the mapping keeps it on the
    /// record (`member_ids` on the group, `team_ids` or `role` on the user): empty, with the
    /// version the write of the list is guarded by.
    fn membership_fields(&self, section: &str, record: &mut Value) {
        let Some(groups) = &self.mapping.groups else {
            return;
        };
        let (legacy, empty, if_match) = match (&groups.membership, section) {
            (Membership::GroupAttribute(g), "groups") => (&g.legacy, json!([]), &g.if_match),
            (Membership::UserAttribute(u), "users") => (
                &u.legacy,
                if u.single { Value::Null } else { json!([]) },
                &u.if_match,
            ),
            _ => return,
        };
        if legacy.read_all(record).is_empty() {
            let _ = legacy.write(record, empty);
        }
        if let Some(version) = if_match {
            if version.read(record).is_none() {
                let _ = version.write(record, json!(1));
            }
        }
    }

    fn new_id(&self, section: &'static str) -> String {
        let n = {
            let mut s = self.state();
            s.counter += 1;
            s.counter
        };
        match self.resource(section) {
            Some(r) => made_up_id(r.id_format.as_ref(), n),
            None => n.to_string(),
        }
    }

    fn answer_record(endpoint: &Endpoint, status: u16, record: &Value) -> SimulatedAnswer {
        let body = match endpoint.answer_envelope() {
            Some(key) => json!({ key: record }),
            None => record.clone(),
        };
        SimulatedAnswer {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    fn no_content() -> SimulatedAnswer {
        SimulatedAnswer {
            status: 204,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A page of `items` of `list` (its items path, item envelope and total).
    fn page(list: &ListEndpoint, items: Vec<Value>) -> SimulatedAnswer {
        let n = items.len() as u64;
        let items: Vec<Value> = match &list.endpoint.record.item {
            Some(key) => items.into_iter().map(|i| json!({ key: i })).collect(),
            None => items,
        };
        let mut body = if list.items.as_str() == "$" {
            Value::Array(items)
        } else {
            let mut b = json!({});
            let _ = list.items.write(&mut b, Value::Array(items));
            b
        };
        let mut headers = Vec::new();
        match &list.total {
            Some(TotalSource::Body(path)) => {
                let _ = path.write(&mut body, json!(n));
            }
            Some(TotalSource::Header(name)) => {
                let value = if *name == http::header::CONTENT_RANGE {
                    format!("items 0-{}/{n}", n.saturating_sub(1))
                } else {
                    n.to_string()
                };
                headers.push((name.as_str().to_string(), value));
            }
            None => {}
        }
        SimulatedAnswer {
            status: 200,
            headers,
            body: Some(body),
        }
    }

    /// The answer to a call of `section`'s list: the sample record (thin as the list's
    /// `carries:` says) on the first page, nothing after it.
    fn list_answer(
        &self,
        section: &'static str,
        list: &ListEndpoint,
        target: &str,
    ) -> SimulatedAnswer {
        if self.empty_lists == Some(section) || !first_page(list, target) {
            return Self::page(list, Vec::new());
        }
        let Some(resource) = self.resource(section) else {
            return Self::page(list, Vec::new());
        };
        let wanted = self.wanted.get(section).cloned().unwrap_or_default();
        let id = wanted
            .iter()
            .find(|w| w.name.eq_ignore_ascii_case("id") && w.sub.is_none())
            .and_then(|w| w.value.as_str().map(str::to_string))
            .unwrap_or_else(|| self.new_id(section));
        let full = self.record(section, &id, &wanted);
        let item = match &list.carries {
            None => {
                // A list that carries everything holds the deleted marker's field too.
                let mut item = full.clone();
                if let Some(m) = &resource.plan.deleted {
                    if m.legacy.read_all(&item).is_empty() {
                        let _ = m.legacy.write(&mut item, Value::Null);
                    }
                }
                item
            }
            Some(_) => thin_item(resource, &full, list),
        };
        Self::page(list, vec![item])
    }
}

impl Simulator for SampleApi {
    fn answer(&self, call: &SimulatedCall<'_>) -> Option<SimulatedAnswer> {
        let section = call.section;
        let resource = self.resource(section);
        let endpoint = resource.and_then(|r| endpoint_of(r, call.endpoint));
        let membership = self.mapping.groups.as_ref().map(|g| &g.membership);
        let holes = endpoint
            .map(|e| holes(e.path.as_str(), call.target))
            .unwrap_or_default();
        if self.live && *call.method == Method::GET {
            // Sent, unless it reads a record only a simulated write made or changed.
            let id = holes.id.clone()?;
            if !self.state().written.contains(&(section, id)) {
                return None;
            }
        }
        let answer = match (call.endpoint, resource, endpoint) {
            ("get", Some(_), Some(e)) => {
                let id = holes.id.unwrap_or_else(|| self.new_id(section));
                let record = self.record(section, &id, &[]);
                Self::answer_record(e, 200, &record)
            }
            ("list", Some(r), _) => self.list_answer(section, &r.endpoints.list, call.target),
            ("create", Some(r), Some(e)) => {
                let id = self.new_id(section);
                let mut record = unwrap_body(e, call.body.clone().unwrap_or(json!({})));
                if !record.is_object() {
                    record = json!({});
                }
                let _ = r.plan.id.write(&mut record, id_value(r, &id));
                stamp(r, &mut record, true);
                let mut s = self.state();
                s.records.insert((section, id.clone()), record.clone());
                s.written.insert((section, id));
                drop(s);
                Self::answer_record(e, 201, &record)
            }
            ("update" | "write_members", Some(r), Some(e)) => {
                let id = holes.id.unwrap_or_else(|| self.new_id(section));
                let mut record = self.record(section, &id, &[]);
                let sent = unwrap_body(e, call.body.clone().unwrap_or(Value::Null));
                merge(&mut record, sent);
                stamp(r, &mut record, false);
                let mut s = self.state();
                s.records.insert((section, id.clone()), record.clone());
                s.written.insert((section, id));
                drop(s);
                if call.endpoint == "update"
                    && r.endpoints.update_after_empty == AfterEmpty::AsWritten
                {
                    Self::no_content()
                } else {
                    Self::answer_record(e, 200, &record)
                }
            }
            ("list_members", _, _) => match membership {
                Some(Membership::Endpoints { list, .. }) => Self::page(&list.pages, Vec::new()),
                _ => Self::no_content(),
            },
            ("user_groups", _, _) => {
                let items = match membership {
                    Some(Membership::Endpoints { user_groups, .. }) => user_groups.as_ref(),
                    Some(Membership::GroupAttribute(g)) => g.user_groups.as_ref(),
                    _ => None,
                };
                match items {
                    Some(ug) if ug.items.as_str() == "$" => SimulatedAnswer {
                        status: 200,
                        headers: Vec::new(),
                        body: Some(json!([])),
                    },
                    Some(ug) => {
                        let mut body = json!({});
                        let _ = ug.items.write(&mut body, json!([]));
                        SimulatedAnswer {
                            status: 200,
                            headers: Vec::new(),
                            body: Some(body),
                        }
                    }
                    None => Self::no_content(),
                }
            }
            // delete, deactivate, reactivate, add_member, remove_member, and anything else
            // that is not a read.
            _ if *call.method != Method::GET => {
                if let Some(id) = holes.id {
                    if matches!(call.endpoint, "delete") {
                        self.state().records.remove(&(section, id));
                    }
                }
                Self::no_content()
            }
            _ => SimulatedAnswer {
                status: 404,
                headers: Vec::new(),
                body: None,
            },
        };
        Some(answer)
    }
}

/// The endpoint of `resource` named `name` (`get`, `update`…); `None` for the membership and
/// role endpoints.
fn endpoint_of<'a>(resource: &'a ResourceMapping, name: &str) -> Option<&'a Endpoint> {
    let e = &resource.endpoints;
    match name {
        "create" => e.create.as_ref(),
        "get" => Some(&e.get),
        "update" => e.update.as_ref(),
        "delete" => e.delete.as_ref(),
        "deactivate" => e.deactivate.as_ref(),
        "reactivate" => e.reactivate.as_ref(),
        "list" => Some(&e.list.endpoint),
        _ => None,
    }
}

/// The `{id}` and `{member}` of a call's target, read against its endpoint's path template.
#[derive(Default)]
struct Holes {
    id: Option<String>,
}

fn holes(template: &str, target: &str) -> Holes {
    let path = target.split('?').next().unwrap_or(target);
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut out = Holes::default();
    if t.len() != p.len() {
        return out;
    }
    for (hole, seg) in t.iter().zip(&p) {
        if *hole == "{id}" {
            out.id = Some(
                percent_encoding::percent_decode_str(seg)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    out
}

/// Whether a list call asks for the first page (or the only one).
fn first_page(list: &ListEndpoint, target: &str) -> bool {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match &list.pagination {
        Pagination::Page {
            page_param,
            first_page,
            ..
        } => param(page_param).is_none_or(|p| p.parse::<u64>().ok() == Some(*first_page)),
        Pagination::Offset { offset_param, .. } => {
            param(offset_param).is_none_or(|o| o.parse::<u64>().ok() == Some(0))
        }
        Pagination::Cursor { cursor_param, .. } => param(cursor_param).is_none(),
        Pagination::None => true,
    }
}

/// A request body as the record it carries (out of the body envelope, when the endpoint has
/// one).
fn unwrap_body(endpoint: &Endpoint, body: Value) -> Value {
    match (&endpoint.record.body, body) {
        (Some(key), Value::Object(mut o)) => o.remove(key).unwrap_or(Value::Object(o)),
        (_, body) => body,
    }
}

/// `patch` merged into `record`: objects field by field, anything else replaced.
fn merge(record: &mut Value, patch: Value) {
    match (record, patch) {
        (Value::Object(r), Value::Object(p)) => {
            for (k, v) in p {
                match r.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        r.insert(k, v);
                    }
                }
            }
        }
        (r, p @ Value::Object(_)) => *r = p,
        _ => {}
    }
}

/// The id as the legacy record holds it: a number for `id_format: integer`.
fn id_value(resource: &ResourceMapping, id: &str) -> Value {
    match resource.id_format {
        Some(IdFormat::Integer) => id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n)),
        _ => json!(id),
    }
}

/// Writes the timestamps and version where the mapping reads them (`created` only when
/// `creating` or absent).
fn stamp(resource: &ResourceMapping, record: &mut Value, creating: bool) {
    let plan = &resource.plan;
    if let Some(p) = &plan.created {
        if creating || p.read(record).is_none() {
            let _ = p.write(record, json!("2024-05-01T09:30:00Z"));
        }
    }
    if let Some(p) = &plan.last_modified {
        let _ = p.write(record, json!("2024-05-01T09:30:00Z"));
    }
    if let Some(p) = &plan.version {
        let next = match p.read(record) {
            Some(Value::Number(n)) => json!(n.as_u64().unwrap_or(0) + 1),
            Some(Value::String(s)) => match s.parse::<u64>() {
                Ok(n) => json!((n + 1).to_string()),
                Err(_) => json!(format!("{s}1")),
            },
            _ => json!(1),
        };
        let _ = p.write(record, next);
    }
}

/// An id of `format` made from `n` (`4243`, `usr_0123456789abcdef`, a UUID).
pub(crate) fn made_up_id(format: Option<&IdFormat>, n: u64) -> String {
    match format {
        None | Some(IdFormat::Integer) => (4200 + n).to_string(),
        Some(IdFormat::Uuid) => format!("8dded348-3c5b-4c2e-9d1a-{n:012x}"),
        Some(f @ IdFormat::Pattern(re)) => {
            let sample = sample_of(re.as_str(), n);
            if f.accepts(&sample) {
                sample
            } else {
                // A pattern the sampler cannot follow: the id is shown as it is.
                format!("sample-id-{n}")
            }
        }
    }
}

/// A string a simple regular expression matches: literals, classes (`[0-9a-f]`, `\d`, `\w`),
/// groups with alternatives (the first taken), and quantifiers (`{n}`, `{n,m}`, `+`, `*`, `?`).
fn sample_of(pattern: &str, seed: u64) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    let mut k = seed as usize;
    let mut out = String::new();
    sample_seq(&chars, &mut at, &mut k, &mut out);
    out
}

fn sample_seq(c: &[char], at: &mut usize, k: &mut usize, out: &mut String) {
    while *at < c.len() {
        match c[*at] {
            '^' | '$' => {
                *at += 1;
                continue;
            }
            ')' => return,
            '|' => {
                // The first alternative is taken: skip the rest of this group.
                let mut depth = 0;
                while *at < c.len() {
                    match c[*at] {
                        '(' => depth += 1,
                        ')' if depth == 0 => return,
                        ')' => depth -= 1,
                        '\\' => *at += 1,
                        _ => {}
                    }
                    *at += 1;
                }
                return;
            }
            _ => {}
        }
        let atom_at = *at;
        let mut atom = String::new();
        sample_atom(c, at, k, &mut atom);
        let after_atom = *at;
        // A quantifier after the atom.
        let times = match c.get(*at) {
            Some('{') => match c[*at..].iter().position(|x| *x == '}') {
                Some(p) => {
                    let end = *at + p;
                    let inner: String = c[*at + 1..end].iter().collect();
                    *at = end + 1;
                    inner
                        .split(',')
                        .next()
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(1)
                }
                None => 1,
            },
            Some('+') => {
                *at += 1;
                1
            }
            Some('*' | '?') => {
                *at += 1;
                0
            }
            _ => 1,
        };
        if c.get(*at) == Some(&'?') {
            *at += 1; // lazy
        }
        let resume = *at;
        if times > 0 {
            out.push_str(&atom);
        }
        // Each repetition sampled again, so that ids vary.
        for _ in 1..times {
            let mut again = atom_at;
            sample_atom(c, &mut again, k, out);
            debug_assert_eq!(again, after_atom);
        }
        *at = resume;
    }
}

/// One atom at `at`: a literal, an escape, a class, `.` or a group.
fn sample_atom(c: &[char], at: &mut usize, k: &mut usize, out: &mut String) {
    match c[*at] {
        '(' => {
            *at += 1;
            if c.get(*at) == Some(&'?') {
                // `(?:`, `(?P<name>`: skip to the group's body.
                while *at < c.len() && c[*at] != ':' && c[*at] != '>' {
                    *at += 1;
                }
                *at += 1;
            }
            sample_seq(c, at, k, out);
            *at += 1; // ')'
        }
        '[' => {
            *at += 1;
            let mut ranges: Vec<(char, char)> = Vec::new();
            let negated = c.get(*at) == Some(&'^');
            if negated {
                *at += 1;
            }
            while *at < c.len() && c[*at] != ']' {
                let mut from = c[*at];
                if from == '\\' {
                    *at += 1;
                    from = class_escape(c.get(*at).copied().unwrap_or('x'));
                }
                *at += 1;
                if c.get(*at) == Some(&'-') && c.get(*at + 1).is_some_and(|x| *x != ']') {
                    let to = c[*at + 1];
                    *at += 2;
                    ranges.push((from, to));
                } else {
                    ranges.push((from, from));
                }
            }
            *at += 1; // ']'
            out.push(if negated { 'x' } else { pick(&ranges, k) });
        }
        '\\' => {
            *at += 1;
            let e = c.get(*at).copied().unwrap_or('x');
            *at += 1;
            out.push(match e {
                'd' => pick(&[('0', '9')], k),
                'w' => pick(&[('a', 'z')], k),
                's' => ' ',
                other => other,
            });
        }
        '.' => {
            *at += 1;
            out.push(pick(&[('a', 'z')], k));
        }
        other => {
            *at += 1;
            out.push(other);
        }
    }
}

fn class_escape(e: char) -> char {
    match e {
        'd' => '0',
        'w' => 'a',
        's' => ' ',
        other => other,
    }
}

/// A character of one of `ranges`, the `k`-th (cycling), advancing `k`.
fn pick(ranges: &[(char, char)], k: &mut usize) -> char {
    let all: Vec<char> = ranges
        .iter()
        .flat_map(|(a, b)| (*a as u32..=*b as u32).filter_map(char::from_u32))
        .collect();
    if all.is_empty() {
        return 'x';
    }
    let ch = all[*k % all.len()];
    *k += 1;
    ch
}

/// The enterprise extension's URN.
const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The sample SCIM user (`section` users) or group: every common attribute, so that most
/// mappings write most of their fields.
fn sample_scim(section: &str, level: u8) -> Value {
    if section == "groups" {
        return json!({
            "schemas": [urn::GROUP],
            "displayName": "Sample Team",
            "externalId": "sample-team-ext-1",
        });
    }
    match level {
        0 => json!({
            "schemas": [urn::USER, ENTERPRISE_USER],
            "userName": "sample.user@example.com",
            "externalId": "sample-ext-1",
            "displayName": "Sample User",
            "nickName": "sam",
            "name": {
                "givenName": "Sample",
                "familyName": "User",
                "middleName": "Q",
                "honorificPrefix": "Mx.",
                "formatted": "Sample Q User",
            },
            "title": "Engineer",
            "userType": "Employee",
            "preferredLanguage": "en",
            "locale": "en-US",
            "timezone": "Europe/London",
            "active": true,
            "emails": [
                {"type": "work", "value": "sample.user@example.com", "primary": true},
                {"type": "home", "value": "sample@home.example"},
            ],
            "phoneNumbers": [
                {"type": "work", "value": "+1 555 0100"},
                {"type": "mobile", "value": "+1 555 0101"},
            ],
            "addresses": [{
                "type": "work",
                "streetAddress": "1 Sample Street",
                "locality": "Springfield",
                "region": "IL",
                "postalCode": "62701",
                "country": "US",
            }],
            ENTERPRISE_USER: {
                "employeeNumber": "1001",
                "department": "Engineering",
                "costCenter": "CC-1",
                "organization": "Example Corp",
                "division": "R&D",
            },
        }),
        1 => json!({
            "schemas": [urn::USER],
            "userName": "sample.user@example.com",
            "externalId": "sample-ext-1",
            "displayName": "Sample User",
            "name": { "givenName": "Sample", "familyName": "User" },
            "active": true,
            "emails": [{"type": "work", "value": "sample.user@example.com", "primary": true}],
        }),
        _ => json!({
            "schemas": [urn::USER],
            "userName": "sample.user@example.com",
            "active": true,
        }),
    }
}

/// The sample SCIM resource of `section` with the filter's equalities in it.
fn wanted_scim(section: &str, level: u8, wanted: &[Wanted]) -> Value {
    let mut scim = sample_scim(section, level);
    for w in wanted {
        put(&mut scim, w);
    }
    scim
}

/// The sample legacy record of `resource`: the sample SCIM resource translated by the mapping
/// (the fullest one it accepts), with `id`, timestamps and version.
fn sample_record(resource: &ResourceMapping, section: &str, id: &str, wanted: &[Wanted]) -> Value {
    let mut record = (0..3)
        .find_map(|level| {
            resource
                .to_legacy(&wanted_scim(section, level, wanted), None)
                .ok()
        })
        .unwrap_or_else(|| json!({}));
    let _ = resource.plan.id.write(&mut record, id_value(resource, id));
    stamp(resource, &mut record, true);
    record
}

/// A list item holding only the legacy fields of the attributes the list's `carries:` names
/// (and the id), taken from the full sample record.
fn thin_item(resource: &ResourceMapping, full: &Value, list: &ListEndpoint) -> Value {
    let mut item = json!({});
    for attr in &resource.plan.attrs {
        let (paths, legacy) = match attr {
            Attr::Field { slot, legacy, .. } => (slot.attr_paths(), legacy),
            Attr::Join { parts, legacy, .. } => {
                (parts.iter().flat_map(|p| p.attr_paths()).collect(), legacy)
            }
            _ => continue,
        };
        if paths.iter().any(|p| list.carries(p)) {
            if let Some(v) = legacy.read(full) {
                let _ = legacy.write(&mut item, v.clone());
            }
        }
    }
    if let Some(id) = resource.plan.id.read(full) {
        let _ = resource.plan.id.write(&mut item, id.clone());
    }
    item
}

/// The equalities of a filter's top-level `and` chain.
fn equalities(f: &Filter, out: &mut Vec<Wanted>) {
    match f {
        Filter::And(a, b) => {
            equalities(a, out);
            equalities(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            if let Some(value) = json_of(value) {
                out.push(Wanted {
                    schema: path.schema.clone(),
                    name: path.name.clone(),
                    sub: path.sub.clone(),
                    element_type: None,
                    value,
                });
            }
        }
        Filter::ValuePath { attr, filter } => {
            let mut inner = Vec::new();
            equalities(filter, &mut inner);
            let element_type = inner
                .iter()
                .find(|w| w.name.eq_ignore_ascii_case("type") && w.sub.is_none())
                .and_then(|w| w.value.as_str().map(str::to_string));
            for w in inner {
                if w.name.eq_ignore_ascii_case("type") {
                    continue;
                }
                out.push(Wanted {
                    schema: attr.schema.clone(),
                    name: attr.name.clone(),
                    sub: Some(w.name),
                    element_type: element_type.clone(),
                    value: w.value,
                });
            }
        }
        _ => {}
    }
}

fn json_of(value: &CompValue) -> Option<Value> {
    match value {
        CompValue::Null => None,
        CompValue::Bool(b) => Some(Value::Bool(*b)),
        CompValue::Number(n) => Some(Value::Number(n.clone())),
        CompValue::Str(s) => Some(Value::String(s.clone())),
    }
}

/// Writes one equality into a sample SCIM resource.
fn put(scim: &mut Value, w: &Wanted) {
    let Some(root) = scim.as_object_mut() else {
        return;
    };
    let core = w
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(urn::USER) || s.eq_ignore_ascii_case(urn::GROUP));
    let holder = if core {
        root
    } else {
        let schema = w.schema.clone().unwrap_or_default();
        let entry = root.entry(schema).or_insert_with(|| json!({}));
        match entry.as_object_mut() {
            Some(o) => o,
            None => return,
        }
    };
    let key = holder
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&w.name))
        .cloned()
        .unwrap_or_else(|| w.name.clone());
    let Some(sub) = &w.sub else {
        holder.insert(key, w.value.clone());
        return;
    };
    let slot = holder.entry(key).or_insert_with(|| match w.element_type {
        Some(_) => json!([]),
        None => json!({}),
    });
    match slot {
        Value::Array(elements) => {
            let index = match &w.element_type {
                Some(t) => elements.iter().position(|e| {
                    e.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(t))
                }),
                None => (!elements.is_empty()).then_some(0),
            };
            let index = match index {
                Some(i) => i,
                None => {
                    let mut e = Map::new();
                    if let Some(t) = &w.element_type {
                        e.insert("type".into(), json!(t));
                    }
                    elements.push(Value::Object(e));
                    elements.len() - 1
                }
            };
            if let Some(e) = elements[index].as_object_mut() {
                e.insert(sub.clone(), w.value.clone());
            }
        }
        Value::Object(o) => {
            o.insert(sub.clone(), w.value.clone());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_mapping_id_format() {
        let re = |s: &str| IdFormat::Pattern(regex::Regex::new(s).unwrap());
        for (format, n) in [
            (re("^usr_[0-9a-f]{16}$"), 3),
            (re("^p_(?:[0-9]{4}|[1-9][0-9]{4,})$"), 7),
            (re("^t_(?:[0-9]{2}|[1-9][0-9]{2,})$"), 2),
            (re(r"^[A-Z]{2}-\d+$"), 5),
            (IdFormat::Integer, 1),
            (IdFormat::Uuid, 9),
        ] {
            let id = made_up_id(Some(&format), n);
            assert!(format.accepts(&id), "{id} for {format:?}");
        }
        assert_eq!(made_up_id(None, 1), "4201");
    }

    #[test]
    fn the_id_is_read_from_the_target_by_the_template() {
        assert_eq!(
            holes("/api/v1/users/{id}", "/api/v1/users/42?x=1")
                .id
                .as_deref(),
            Some("42")
        );
        assert_eq!(
            holes("/t/{tenant}/users/{id}", "/t/acme/users/a%2Fb")
                .id
                .as_deref(),
            Some("a/b")
        );
        assert!(holes("/api/v1/users", "/api/v1/users?login=x").id.is_none());
    }

    #[test]
    fn filter_equalities_go_into_the_sample() {
        let f = Filter::parse(
            r#"userName eq "ada@x.org" and emails[type eq "work"].value eq "ada@work.org" and name.familyName eq "L""#,
        )
        .unwrap();
        let mut wanted = Vec::new();
        equalities(&f, &mut wanted);
        let scim = wanted_scim("users", 0, &wanted);
        assert_eq!(scim["userName"], "ada@x.org");
        assert_eq!(scim["name"]["familyName"], "L");
        let work = scim["emails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "work")
            .unwrap();
        assert_eq!(work["value"], "ada@work.org");
    }
}
