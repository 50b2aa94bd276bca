//! Paths into legacy JSON (`$.address.street`, `$.phones[?(@.kind == 'cell')].number`).
//!
//! Reads use jsonpath-rust: the query is parsed once at load time and evaluated per request.
//! jsonpath-rust cannot insert, so writes use our own small writer over a restricted grammar,
//! derived from the same parsed query: `$`, `.name`, `['name']`, `[n]`, and
//! `[?(@.key == 'literal')]` (string, number or boolean literal) followed by a field. A write
//! creates missing parents; a filter step finds the matching element or appends
//! `{"key": literal}`; writing null removes a filtered element. Not here: type conversions and
//! value maps (see `values`), and deciding what to write (see `translate`).

use std::fmt;

use jsonpath_rust::parser::model::{
    Comparable, Comparison, Filter, FilterAtom, JpQuery, Literal, Segment, Selector, SingularQuery,
    SingularQuerySegment,
};
use jsonpath_rust::parser::{errors::JsonPathError, parse_json_path};
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

use crate::scim::json_text;

/// A compiled legacy path: always readable, writable when it fits the writer's grammar.
#[derive(Debug, Clone)]
pub struct LegacyPath {
    source: String,
    read: JpQuery,
    write: Result<Vec<Step>, String>,
    /// Where a record read by the mapping's compiled reader keeps this path's value (see
    /// `capture`): set once the plan is compiled, for the paths the translation reads.
    capture: Option<CaptureAt>,
}

/// The capture point holding a path's value in a [`Captured`] record, and the steps of the
/// path still to walk inside that value (none for a plain field path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CaptureAt {
    pub(crate) point: u16,
    /// How many leading field steps the capture point stands for.
    pub(crate) depth: u16,
    /// The path is the capture point's only reader and its value the point's whole value: the
    /// translation may take it out of the record ([`LegacyRecord::read_owned`]).
    pub(crate) sole: bool,
}

/// A legacy record as the translation reads it: a whole JSON document, or only the values the
/// mapping's compiled reader kept of it ([`Captured`]).
pub trait LegacyRecord {
    /// The first non-null value `path` selects (as [`LegacyPath::read`]).
    fn read(&self, path: &LegacyPath) -> Option<&Value>;

    /// [`LegacyRecord::read`], as a value of its own: moved out of a captured record where
    /// `path` is the only path that reads it (no other read of the record sees it after), else
    /// copied.
    fn read_owned(&mut self, path: &LegacyPath) -> Option<Value> {
        self.read(path).cloned()
    }
}

impl LegacyRecord for Value {
    fn read(&self, path: &LegacyPath) -> Option<&Value> {
        path.read(self)
    }
}

/// A record lent: read, and copied from, never taken from.
impl<R: LegacyRecord + ?Sized> LegacyRecord for &R {
    fn read(&self, path: &LegacyPath) -> Option<&Value> {
        (**self).read(path)
    }
}

/// The values of one legacy record that the translation reads, by capture point, as the
/// mapping's compiled reader took them out of the record's bytes (`capture::RecordReader`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Captured {
    pub(crate) values: Vec<Option<Value>>,
}

impl LegacyRecord for Captured {
    fn read(&self, path: &LegacyPath) -> Option<&Value> {
        let at = path.capture?;
        let doc = self.values.get(usize::from(at.point))?.as_ref()?;
        match &path.write {
            Ok(steps) => first(steps.get(usize::from(at.depth)..)?, doc),
            Err(_) => None,
        }
    }

    fn read_owned(&mut self, path: &LegacyPath) -> Option<Value> {
        match path.capture {
            Some(at) if at.sole => self.values.get_mut(usize::from(at.point))?.take(),
            _ => self.read(path).cloned(),
        }
    }
}

/// A legacy record however it was read: whole, or captured by the mapping's compiled reader
/// (a page the legacy API answered, the answer to a write).
pub(crate) enum LegacyItem {
    Whole(Value),
    Captured(Captured),
}

impl LegacyItem {
    /// The record as a whole JSON value, when it was read so.
    pub(crate) fn whole(&self) -> Option<&Value> {
        match self {
            LegacyItem::Whole(v) => Some(v),
            LegacyItem::Captured(_) => None,
        }
    }
}

impl LegacyRecord for LegacyItem {
    fn read(&self, path: &LegacyPath) -> Option<&Value> {
        match self {
            LegacyItem::Whole(v) => v.read(path),
            LegacyItem::Captured(c) => c.read(path),
        }
    }

    fn read_owned(&mut self, path: &LegacyPath) -> Option<Value> {
        match self {
            LegacyItem::Whole(v) => v.read_owned(path),
            LegacyItem::Captured(c) => c.read_owned(path),
        }
    }
}

impl From<Value> for LegacyItem {
    fn from(v: Value) -> Self {
        LegacyItem::Whole(v)
    }
}

impl From<Captured> for LegacyItem {
    fn from(c: Captured) -> Self {
        LegacyItem::Captured(c)
    }
}

/// One step of a writable path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// The element of an array whose `key` equals `value`.
    Match {
        key: String,
        value: Value,
    },
}

/// A JSONPath that does not parse: the message says where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathSyntaxError {
    pub(crate) message: String,
}

impl fmt::Display for PathSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A write that the legacy JSON's shape does not allow (`$.address` is a string, so
/// `$.address.street` cannot be set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteConflict {
    /// The part of the path that has the wrong type, e.g. `$.address`.
    pub(crate) at: String,
    /// What the writer needed there ("an object" or "an array").
    pub(crate) expected: &'static str,
}

impl fmt::Display for WriteConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not {}", self.at, self.expected)
    }
}

impl LegacyPath {
    /// Parses `source` once. Fails only when it is not a JSONPath at all; a valid JSONPath
    /// outside the writer's grammar compiles as read-only ([`LegacyPath::writable`] says why).
    pub(crate) fn compile(source: &str) -> Result<LegacyPath, PathSyntaxError> {
        let read = parse_json_path(source).map_err(|e| syntax_error(source, &e))?;
        let write = write_steps(&read);
        Ok(LegacyPath {
            source: source.to_string(),
            read,
            write,
            capture: None,
        })
    }

    /// The capture point of the mapping's compiled reader that stands for this whole path,
    /// when the path is nothing but field steps (`$.login`, `$.address.city`).
    pub(crate) fn whole_capture_point(&self) -> Option<usize> {
        let at = self.capture?;
        let steps = self.write.as_ref().ok()?;
        (usize::from(at.depth) == steps.len()).then_some(usize::from(at.point))
    }

    /// The names of the leading field steps (`$.address.city[0]` → `address`, `city`), or
    /// `None` for a path outside the writer's grammar, which a compiled reader cannot capture.
    pub(crate) fn field_prefix(&self) -> Option<Vec<&str>> {
        let steps = self.write.as_ref().ok()?;
        Some(
            steps
                .iter()
                .map_while(|s| match s {
                    Step::Field(name) => Some(name.as_str()),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The path's field names when it is nothing but field steps (`$.result.items`; `$` is
    /// none), else `None`.
    pub(crate) fn fields(&self) -> Option<Vec<&str>> {
        let steps = self.write.as_ref().ok()?;
        steps
            .iter()
            .map(|s| match s {
                Step::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Records where a compiled reader keeps this path's value.
    pub(crate) fn set_capture(&mut self, at: CaptureAt) {
        self.capture = Some(at);
    }

    /// The path as written in the mapping.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// `Ok` when the writer can set this path, else why not.
    pub(crate) fn writable(&self) -> Result<(), &str> {
        self.write.as_ref().map(|_| ()).map_err(String::as_str)
    }

    /// The first non-null value the path selects.
    pub(crate) fn read<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        match &self.write {
            // Walked without collecting: a translation reads every attribute this way.
            Ok(steps) => first(steps, doc),
            Err(_) => self.read_all(doc).into_iter().find(|v| !v.is_null()),
        }
    }

    /// The first value the path selects (null included: the first of [`LegacyPath::read_all`]),
    /// taken out of `doc` (left null there) rather than cloned; a path outside the writer's
    /// grammar gives a clone and leaves `doc` as it was.
    pub(crate) fn take_first(&self, doc: &mut Value) -> Option<Value> {
        match &self.write {
            Ok(steps) => take_first(steps, doc),
            Err(_) => self.read_all(doc).first().map(|v| (*v).clone()),
        }
    }

    /// Every value the path selects, in document order. Paths in the writer's grammar (nearly
    /// all mappings' paths) are walked directly; the others go through jsonpath-rust. Both give
    /// the same answer (tested); the walk just allocates nothing per step.
    pub(crate) fn read_all<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        match &self.write {
            Ok(steps) => {
                let mut out = Vec::new();
                walk(steps, doc, &mut out);
                out
            }
            Err(_) => js_path_process(&self.read, doc)
                .map(|refs| refs.into_iter().map(|r| r.val).collect())
                .unwrap_or_default(),
        }
    }

    /// Sets the path to `value`, creating missing parents. Writing `null` does not create
    /// parents: it sets an existing field to null, or removes the element a filter step selects.
    /// A path that is not writable does nothing (the loader refuses such paths for writable
    /// attributes). `true` when `doc` changed (a value written over an equal one changes
    /// nothing).
    pub(crate) fn write(&self, doc: &mut Value, value: Value) -> Result<bool, WriteConflict> {
        let Ok(steps) = &self.write else {
            return Ok(false);
        };
        if value.is_null() {
            Ok(clear(steps, doc))
        } else {
            set(steps, doc, value)
        }
    }

    /// Whether the path names at most one place: only names and indexes (`$`, `$.data`,
    /// `$.result[0].users`), no wildcard, filter, slice or `..`.
    pub(crate) fn is_singular(&self) -> bool {
        self.read.segments.iter().all(|seg| {
            let sel = match seg {
                Segment::Selector(s) => s,
                Segment::Selectors(list) => match list.as_slice() {
                    [one] => one,
                    _ => return false,
                },
                _ => return false,
            };
            matches!(sel, Selector::Name(_) | Selector::Index(_))
        })
    }

    /// Whether writing `self` and writing `other` touch the same place: equal paths, or one a
    /// prefix of the other (`$.address` and `$.address.street`). Non-writable paths never do.
    pub(crate) fn overlaps(&self, other: &LegacyPath) -> bool {
        match (&self.write, &other.write) {
            (Ok(a), Ok(b)) => a.iter().zip(b).all(|(x, y)| x == y),
            _ => false,
        }
    }

    /// Whether `inner` writes inside the place `self` writes (`$.address` holds
    /// `$.address.street`; a path does not hold itself). Non-writable paths hold nothing.
    pub(crate) fn holds(&self, inner: &LegacyPath) -> bool {
        match (&self.write, &inner.write) {
            (Ok(a), Ok(b)) => a.len() < b.len() && b.starts_with(a),
            _ => false,
        }
    }

    /// Whether both paths write exactly the same place (`$['status']` and `$.status`).
    /// Non-writable paths never do.
    pub(crate) fn same_place(&self, other: &LegacyPath) -> bool {
        match (&self.write, &other.write) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// The field names of a path made of names only (`$.address.street` → `[address,
    /// street]`); `None` when it has an index or a filter step, or is not writable.
    pub(crate) fn field_names(&self) -> Option<Vec<&str>> {
        self.write
            .as_ref()
            .ok()?
            .iter()
            .map(|step| match step {
                Step::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A legacy record as JSON without the fields that some paths of names only name (the keys,
/// not just their values): what a full update sends, without the read-only fields. The record
/// is written as it is, not copied, and its other fields keep their order. A path to an absent
/// field, or through a field that is not an object, leaves nothing out; so does a path with
/// another kind of step.
#[derive(Debug)]
pub struct Omitting<'a> {
    record: &'a Value,
    /// What is left of each path at this level of the record: field steps only, at least one.
    omitted: Vec<&'a [Step]>,
}

impl<'a> Omitting<'a> {
    pub(crate) fn new(record: &'a Value, omitted: &'a [LegacyPath]) -> Omitting<'a> {
        let omitted = omitted
            .iter()
            .filter_map(|p| p.write.as_deref().ok())
            .filter(|steps| !steps.is_empty() && steps.iter().all(|s| matches!(s, Step::Field(_))))
            .collect();
        Omitting { record, omitted }
    }
}

impl Omitting<'_> {
    /// Writes the record as compact JSON text (as `serde_json` writes it), without the
    /// omitted fields.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let Value::Object(fields) = self.record else {
            return json_text::write_value(out, self.record);
        };
        if self.omitted.is_empty() {
            return json_text::write_value(out, self.record);
        }
        out.push(b'{');
        let mut comma = false;
        for (key, value) in fields {
            // The paths through this field, one step on; the field itself is left out when one
            // of them ends here.
            let mut deeper: Vec<&[Step]> = Vec::new();
            let mut left_out = false;
            for steps in &self.omitted {
                if let [Step::Field(name), rest @ ..] = steps {
                    if name == key {
                        left_out |= rest.is_empty();
                        deeper.push(rest);
                    }
                }
            }
            if left_out {
                continue;
            }
            if comma {
                out.push(b',');
            }
            comma = true;
            json_text::write_str(out, key);
            out.push(b':');
            if deeper.is_empty() {
                json_text::write_value(out, value);
            } else {
                Omitting {
                    record: value,
                    omitted: deeper,
                }
                .write_json(out);
            }
        }
        out.push(b'}');
    }
}

impl fmt::Display for LegacyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Turns jsonpath-rust's parse error (pest's multi-line report) into one line:
/// `unexpected '.' at column 6; expected a name, '[' or '*'`.
fn syntax_error(source: &str, err: &JsonPathError) -> PathSyntaxError {
    let text = err.to_string();
    let column = text
        .split_once("--> ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|pos| pos.split_once(':'))
        .and_then(|(_, col)| col.parse::<usize>().ok());
    let expected = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= expected "))
        .map(friendly_rules);
    let message = match column {
        Some(col) => {
            let found = source
                .chars()
                .nth(col.saturating_sub(1))
                .map(|c| format!("unexpected {c:?}"))
                .unwrap_or_else(|| "unexpected end".to_string());
            match expected {
                Some(exp) => format!("{found} at column {col}; expected {exp}"),
                None => format!("{found} at column {col}"),
            }
        }
        None => text
            .lines()
            .next()
            .unwrap_or("invalid JSONPath")
            .to_string(),
    };
    PathSyntaxError { message }
}

/// pest rule names → words a mapping author knows.
fn friendly_rules(list: &str) -> String {
    list.replace("jp_query", "'$'")
        .replace("bracketed_selection", "'['")
        .replace("wildcard_selector", "'*'")
        .replace("ALPHA", "a name")
}

fn write_steps(q: &JpQuery) -> Result<Vec<Step>, String> {
    let mut steps = Vec::with_capacity(q.segments.len());
    for seg in &q.segments {
        let selector = match seg {
            Segment::Selector(s) => s,
            Segment::Selectors(list) => match list.as_slice() {
                [one] => one,
                _ => return Err("a union `[a,b]` selects several fields".into()),
            },
            Segment::Descendant(_) => {
                return Err("`..` searches at any depth, so there is no one place to write".into());
            }
        };
        steps.push(match selector {
            Selector::Name(n) => Step::Field(n.clone()),
            Selector::Index(i) => Step::Index(
                usize::try_from(*i)
                    .map_err(|_| "a negative index counts from the end".to_string())?,
            ),
            Selector::Filter(f) => match_step(f)?,
            Selector::Wildcard => return Err("`*` selects every element".into()),
            Selector::Slice(..) => return Err("a slice selects several elements".into()),
        });
    }
    if steps.is_empty() {
        return Err("`$` is the whole legacy object".into());
    }
    for pair in steps.windows(2) {
        if let [Step::Match { key, .. }, next] = pair {
            match next {
                Step::Field(f) if f == key => {
                    return Err(format!(
                        "the field after the filter is the filter's own key `{key}`"
                    ))
                }
                Step::Field(_) => {}
                _ => return Err("a filter must be followed by a field name".into()),
            }
        }
    }
    if matches!(steps.last(), Some(Step::Match { .. })) {
        return Err("a filter must be followed by a field name".into());
    }
    Ok(steps)
}

/// `?(@.key == 'literal')` (or `'literal' == @.key`), parentheses optional.
fn match_step(f: &Filter) -> Result<Step, String> {
    const ONLY: &str = "only filters of the form [?(@.key == 'value')] can be written";
    let mut f = f;
    loop {
        match f {
            Filter::Atom(FilterAtom::Filter { expr, not: false }) => f = expr,
            Filter::Atom(FilterAtom::Comparison(c)) => {
                let Comparison::Eq(a, b) = c.as_ref() else {
                    return Err(ONLY.into());
                };
                let (key, lit) = match (a, b) {
                    (Comparable::SingularQuery(q), Comparable::Literal(l))
                    | (Comparable::Literal(l), Comparable::SingularQuery(q)) => (q, l),
                    _ => return Err(ONLY.into()),
                };
                let SingularQuery::Current(segs) = key else {
                    return Err(ONLY.into());
                };
                let [SingularQuerySegment::Name(key)] = segs.as_slice() else {
                    return Err(ONLY.into());
                };
                let value = match lit {
                    Literal::String(s) => Value::String(s.clone()),
                    Literal::Int(i) => Value::from(*i),
                    Literal::Float(x) => serde_json::Number::from_f64(*x)
                        .map(Value::Number)
                        .ok_or(ONLY)?,
                    Literal::Bool(b) => Value::Bool(*b),
                    Literal::Null => return Err(ONLY.into()),
                };
                return Ok(Step::Match {
                    key: key.clone(),
                    value,
                });
            }
            _ => return Err(ONLY.into()),
        }
    }
}

/// `$.a['b c'][0]` for the first `n` steps, for error messages.
fn prefix(steps: &[Step], n: usize) -> String {
    let mut out = String::from("$");
    for step in steps.iter().take(n) {
        match step {
            Step::Field(f) if is_shorthand(f) => {
                out.push('.');
                out.push_str(f);
            }
            Step::Field(f) => out.push_str(&format!("['{}']", f.replace('\'', "\\'"))),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Match { key, value } => out.push_str(&format!("[?(@.{key} == {value})]")),
        }
    }
    out
}

fn is_shorthand(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Collects what `steps` select in `doc`, as jsonpath-rust would.
fn walk<'a>(steps: &[Step], doc: &'a Value, out: &mut Vec<&'a Value>) {
    match steps.split_first() {
        None => out.push(doc),
        Some((Step::Field(name), rest)) => {
            if let Some(v) = doc.as_object().and_then(|o| o.get(name)) {
                walk(rest, v, out);
            }
        }
        Some((Step::Index(i), rest)) => {
            if let Some(v) = doc.as_array().and_then(|a| a.get(*i)) {
                walk(rest, v, out);
            }
        }
        Some((Step::Match { key, value }, rest)) => {
            for element in doc.as_array().into_iter().flatten() {
                if element.get(key.as_str()) == Some(value) {
                    walk(rest, element, out);
                }
            }
        }
    }
}

/// The first value that is not null of those [`walk`] would collect, in the same order.
fn first<'a>(steps: &[Step], doc: &'a Value) -> Option<&'a Value> {
    match steps.split_first() {
        None => (!doc.is_null()).then_some(doc),
        Some((Step::Field(name), rest)) => first(rest, doc.as_object()?.get(name)?),
        Some((Step::Index(i), rest)) => first(rest, doc.as_array()?.get(*i)?),
        Some((Step::Match { key, value }, rest)) => doc
            .as_array()?
            .iter()
            .filter(|element| element.get(key.as_str()) == Some(value))
            .find_map(|element| first(rest, element)),
    }
}

/// The first value [`walk`] would collect, taken out of `doc`.
fn take_first(steps: &[Step], doc: &mut Value) -> Option<Value> {
    match steps.split_first() {
        None => Some(std::mem::take(doc)),
        Some((Step::Field(name), rest)) => take_first(rest, doc.as_object_mut()?.get_mut(name)?),
        Some((Step::Index(i), rest)) => take_first(rest, doc.as_array_mut()?.get_mut(*i)?),
        Some((Step::Match { key, value }, rest)) => doc
            .as_array_mut()?
            .iter_mut()
            .filter(|element| element.get(key.as_str()) == Some(value))
            .find_map(|element| take_first(rest, element)),
    }
}

fn set(steps: &[Step], doc: &mut Value, value: Value) -> Result<bool, WriteConflict> {
    let mut cur = doc;
    let last = steps.len().saturating_sub(1);
    let conflict = |i: usize, expected| WriteConflict {
        at: prefix(steps, i),
        expected,
    };
    // Whether a parent was made on the way (the value then changes the document whatever it is).
    let mut made = false;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Field(name) => {
                if cur.is_null() {
                    *cur = Value::Object(Map::new());
                    made = true;
                }
                let Value::Object(obj) = cur else {
                    return Err(conflict(i, "an object"));
                };
                if i == last {
                    // A field the record has takes the value in place: no copy of its name.
                    return Ok(match obj.get_mut(name.as_str()) {
                        Some(field) => replace(field, value) || made,
                        None => {
                            obj.insert(name.clone(), value);
                            true
                        }
                    });
                }
                made |= !obj.contains_key(name.as_str());
                cur = obj.entry(name.clone()).or_insert(Value::Null);
            }
            Step::Index(n) => {
                if cur.is_null() {
                    *cur = Value::Array(Vec::new());
                    made = true;
                }
                let Value::Array(arr) = cur else {
                    return Err(conflict(i, "an array"));
                };
                if arr.len() <= *n {
                    arr.resize(n + 1, Value::Null);
                    made = true;
                }
                let Some(slot) = arr.get_mut(*n) else {
                    return Err(conflict(i, "an array"));
                };
                if i == last {
                    return Ok(replace(slot, value) || made);
                }
                cur = slot;
            }
            Step::Match { key, value: lit } => {
                if cur.is_null() {
                    *cur = Value::Array(Vec::new());
                    made = true;
                }
                let Value::Array(arr) = cur else {
                    return Err(conflict(i, "an array"));
                };
                let pos = match arr.iter().position(|e| e.get(key) == Some(lit)) {
                    Some(p) => p,
                    None => {
                        let mut element = Map::new();
                        element.insert(key.clone(), lit.clone());
                        arr.push(Value::Object(element));
                        made = true;
                        arr.len() - 1
                    }
                };
                let Some(element) = arr.get_mut(pos) else {
                    return Err(conflict(i, "an array"));
                };
                cur = element;
            }
        }
    }
    // No step (`$`): the document itself is the place, and is left as it is.
    Ok(made)
}

/// Puts `value` in `place`; `true` when it differs from what was there.
fn replace(place: &mut Value, value: Value) -> bool {
    if *place == value {
        return false;
    }
    *place = value;
    true
}

/// Writes null without creating anything: removes the element of the last filter step, or sets
/// an existing field (or index) to null. `true` when `doc` changed.
fn clear(steps: &[Step], doc: &mut Value) -> bool {
    let match_at = steps.iter().rposition(|s| matches!(s, Step::Match { .. }));
    let (walk, target) = match match_at {
        Some(m) => match steps.split_at(m) {
            (walk, [target, ..]) => (walk, target),
            _ => return false,
        },
        None => match steps.split_last() {
            Some((t, w)) => (w, t),
            None => return false,
        },
    };
    let mut cur = doc;
    for step in walk {
        let next = match (step, cur) {
            (Step::Field(f), Value::Object(o)) => o.get_mut(f),
            (Step::Index(n), Value::Array(a)) => a.get_mut(*n),
            (Step::Match { key, value }, Value::Array(a)) => {
                a.iter_mut().find(|e| e.get(key) == Some(value))
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match (target, cur) {
        (Step::Match { key, value }, Value::Array(a)) => {
            let before = a.len();
            a.retain(|e| e.get(key) != Some(value));
            a.len() != before
        }
        (Step::Field(f), Value::Object(o)) => match o.get_mut(f.as_str()) {
            Some(field) => replace(field, Value::Null),
            None => {
                o.insert(f.clone(), Value::Null);
                true
            }
        },
        (Step::Index(n), Value::Array(a)) => match a.get_mut(*n) {
            Some(slot) => replace(slot, Value::Null),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn the_direct_walk_reads_what_jsonpath_reads() {
        let docs = [
            json!({"a": {"b": 1}, "phones": [{"kind": "cell", "n": "1"}, {"kind": "desk", "n": "2"}, {"kind": "cell", "n": "3"}]}),
            json!({"a": null, "phones": "not a list"}),
            json!({"a": {"b": [10, 20]}, "phones": [{"kind": 1, "n": "x"}, {"n": "y"}, 7]}),
            json!([{"a": 1}]),
            json!(null),
            json!({"phones": [{"kind": "cell", "n": null}, {"kind": "cell", "n": "4"}]}),
        ];
        let paths = [
            "$.a",
            "$.a.b",
            "$.a.b[1]",
            "$['a']['b']",
            "$.missing.deeper",
            "$.phones[?(@.kind == 'cell')].n",
            "$.phones[?(@.kind == 1)].n",
            "$.phones[0].kind",
            "$[0].a",
        ];
        for path in paths {
            let p = LegacyPath::compile(path).unwrap();
            assert!(p.writable().is_ok(), "{path} should take the direct walk");
            for doc in &docs {
                let direct = p.read_all(doc);
                let via_jsonpath: Vec<&Value> = js_path_process(&p.read, doc)
                    .map(|r| r.into_iter().map(|r| r.val).collect())
                    .unwrap_or_default();
                assert_eq!(direct, via_jsonpath, "{path} on {doc}");
                // One value read: the first that is not null, found without collecting.
                let taken = via_jsonpath.first().map(|v| (*v).clone());
                let first = via_jsonpath.into_iter().find(|v| !v.is_null());
                assert_eq!(p.read(doc), first, "{path} on {doc}");
                // The first value, null included, taken out.
                let mut owned = doc.clone();
                assert_eq!(p.take_first(&mut owned), taken, "{path} on {doc}");
            }
        }
    }

    fn p(s: &str) -> LegacyPath {
        LegacyPath::compile(s).unwrap()
    }

    #[test]
    fn reads_nested_fields_and_filtered_elements() {
        let doc = json!({"address": {"street": "1 Main St"},
            "phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]});
        assert_eq!(p("$.address.street").read(&doc), Some(&json!("1 Main St")));
        assert_eq!(
            p("$.phones[?(@.kind == 'cell')].number").read(&doc),
            Some(&json!("2"))
        );
        assert_eq!(p("$.address.zip").read(&doc), None);
        assert_eq!(p("$.nothing.here").read(&doc), None);
    }

    #[test]
    fn null_reads_as_absent() {
        assert_eq!(p("$.a").read(&json!({"a": null})), None);
    }

    #[test]
    fn writes_create_parents() {
        let mut doc = json!({"keep": 1});
        p("$.address.street").write(&mut doc, json!("x")).unwrap();
        p("$['odd key'][1]").write(&mut doc, json!(true)).unwrap();
        assert_eq!(
            doc,
            json!({"keep": 1, "address": {"street": "x"}, "odd key": [null, true]})
        );
    }

    #[test]
    fn filtered_write_finds_or_appends_the_element() {
        let path = p("$.phones[?(@.kind == 'cell')].number");
        let mut doc = json!({"phones": [{"kind": "desk", "number": "1"}]});
        path.write(&mut doc, json!("2")).unwrap();
        assert_eq!(
            doc,
            json!({"phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]})
        );
        path.write(&mut doc, json!("3")).unwrap();
        assert_eq!(doc["phones"][1], json!({"kind": "cell", "number": "3"}));
        assert_eq!(doc["phones"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn null_write_removes_the_filtered_element_and_creates_nothing() {
        let path = p("$.phones[?(@.kind == 'cell')].number");
        let mut doc =
            json!({"phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]});
        path.write(&mut doc, Value::Null).unwrap();
        assert_eq!(doc, json!({"phones": [{"kind": "desk", "number": "1"}]}));

        let mut empty = json!({});
        p("$.address.street")
            .write(&mut empty, Value::Null)
            .unwrap();
        path.write(&mut empty, Value::Null).unwrap();
        assert_eq!(empty, json!({}));

        let mut with = json!({"address": {"street": "x", "zip": "1"}});
        p("$.address.street").write(&mut with, Value::Null).unwrap();
        assert_eq!(with, json!({"address": {"street": null, "zip": "1"}}));
    }

    #[test]
    fn a_write_says_whether_it_changed_the_record() {
        let mut doc = json!({"login": "ada", "nick": null, "phones": [{"kind": "desk"}]});
        let mut write = |path: &str, v: Value| p(path).write(&mut doc, v).unwrap();
        assert!(!write("$.login", json!("ada")), "the same value");
        assert!(write("$.login", json!("bob")));
        assert!(!write("$.nick", Value::Null), "null over null");
        assert!(write("$.title", Value::Null), "a null field added");
        assert!(
            !write("$.address.street", Value::Null),
            "nothing made for a null"
        );
        assert!(write("$.address.street", json!("x")), "a parent made");
        assert!(!write("$.phones[?(@.kind == 'cell')].number", Value::Null));
        assert!(write("$.phones[?(@.kind == 'desk')].number", Value::Null));
        assert!(write("$.phones[?(@.kind == 'cell')].number", json!("1")));
        assert!(!write("$.phones[?(@.kind == 'cell')].number", json!("1")));
    }

    #[test]
    fn numeric_and_boolean_filter_literals() {
        let mut doc = json!({});
        p("$.xs[?(@.n == 2)].v")
            .write(&mut doc, json!("a"))
            .unwrap();
        p("$.xs[?@.on == true].v")
            .write(&mut doc, json!("b"))
            .unwrap();
        assert_eq!(
            doc,
            json!({"xs": [{"n": 2, "v": "a"}, {"on": true, "v": "b"}]})
        );
    }

    #[test]
    fn shape_conflicts_name_the_path() {
        let mut doc = json!({"address": "1 Main St"});
        let err = p("$.address.street")
            .write(&mut doc, json!("x"))
            .unwrap_err();
        assert_eq!(err.to_string(), "$.address is not an object");
    }

    #[test]
    fn paths_outside_the_writer_grammar_are_read_only() {
        for (path, why) in [
            ("$..street", "`..`"),
            ("$.emails[*].value", "`*`"),
            ("$.emails[-1]", "negative"),
            ("$.emails[0:2]", "slice"),
            ("$.phones[?(@.kind != 'x')].n", "only filters"),
            ("$.phones[?(@.kind == 'x')]", "followed by a field"),
            ("$.phones[?(@.kind == 'x')].kind", "own key"),
            ("$", "whole legacy object"),
        ] {
            let lp = p(path);
            let reason = lp.writable().unwrap_err();
            assert!(reason.contains(why), "{path}: {reason}");
        }
        assert!(p("$.a['b'][0].c").writable().is_ok());
    }

    #[test]
    fn singular_paths() {
        assert!(p("$").is_singular());
        assert!(p("$.result[0]['users']").is_singular());
        assert!(!p("$.data[*]").is_singular());
        assert!(!p("$..users").is_singular());
        assert!(!p("$.data[?(@.a == 1)]").is_singular());
    }

    #[test]
    fn names_only_paths_name_their_fields_and_can_be_left_out_of_a_record() {
        assert_eq!(
            p("$.user['home address'].street").field_names(),
            Some(vec!["user", "home address", "street"])
        );
        for other in ["$.a[0].b", "$.a[?(@.k == 'x')].b", "$..a", "$.a[*]", "$"] {
            assert_eq!(p(other).field_names(), None, "{other}");
        }
        let doc = json!({
            "id": 7,
            "user": {"created_at": "x", "login": "ada", "team": {"since": 1, "name": "core"}},
            "meta": 1,
            "list": [{"a": 1}],
            "updated_at": "y",
            "zone": "eu"
        });
        let omitted = [
            p("$.user.created_at"),
            p("$.user.missing.deeper"),
            p("$.meta.inside"),
            p("$.list[0]"),
            p("$.user.team.since"),
            p("$.updated_at"),
            p("$.absent"),
        ];
        let text = |o: Omitting<'_>| {
            let mut out = Vec::new();
            o.write_json(&mut out);
            String::from_utf8(out).unwrap()
        };
        let omitting = text(Omitting::new(&doc, &omitted));
        // The other fields as they were, in their order.
        assert_eq!(
            omitting,
            r#"{"id":7,"user":{"login":"ada","team":{"name":"core"}},"meta":1,"list":[{"a":1}],"zone":"eu"}"#
        );
        // Nothing to leave out: the record as it is.
        assert_eq!(
            text(Omitting::new(&doc, &[])),
            serde_json::to_string(&doc).unwrap()
        );
        assert_eq!(
            text(Omitting::new(&json!([1, {"updated_at": 2}]), &omitted)),
            "[1,{\"updated_at\":2}]"
        );
    }

    #[test]
    fn overlapping_write_paths() {
        assert!(p("$.address").overlaps(&p("$.address.street")));
        assert!(p("$['address'].street").overlaps(&p("$.address.street")));
        assert!(!p("$.address.city").overlaps(&p("$.address.street")));
        assert!(!p("$.phones[?(@.kind == 'cell')].number")
            .overlaps(&p("$.phones[?(@.kind == 'desk')].number")));
        assert!(!p("$..street").overlaps(&p("$..street")));
        assert!(p("$.address").holds(&p("$['address'].street")));
        assert!(p("$.phones").holds(&p("$.phones[?(@.kind == 'cell')].number")));
        assert!(!p("$.address").holds(&p("$.address")));
        assert!(!p("$.address.street").holds(&p("$.address")));
        assert!(!p("$..address").holds(&p("$.address.street")));
        assert!(p("$['status']").same_place(&p("$.status")));
        assert!(!p("$.address").same_place(&p("$.address.street")));
        assert!(!p("$..status").same_place(&p("$..status")));
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = LegacyPath::compile("$.a...b").unwrap_err();
        assert_eq!(
            e.message,
            "unexpected '.' at column 6; expected '[', '*', or a name"
        );
        let e = LegacyPath::compile("login").unwrap_err();
        assert!(e
            .message
            .starts_with("unexpected 'l' at column 1; expected '$'"));
        let e = LegacyPath::compile("$.a.").unwrap_err();
        assert!(
            e.message.starts_with("unexpected end at column 5"),
            "{}",
            e.message
        );
    }

    #[derive(Debug, Clone)]
    enum GenStep {
        Field(String),
        Index(usize),
        Match(String, Value, String),
    }

    fn render(steps: &[GenStep]) -> String {
        let mut s = String::from("$");
        let quote = |n: &str| format!("['{}']", n.replace('\\', "\\\\").replace('\'', "\\'"));
        for step in steps {
            match step {
                GenStep::Field(n) => s.push_str(&quote(n)),
                GenStep::Index(i) => s.push_str(&format!("[{i}]")),
                GenStep::Match(k, v, f) => {
                    let lit = match v {
                        Value::String(x) => format!("'{x}'"),
                        other => other.to_string(),
                    };
                    s.push_str(&format!("[?(@.{k} == {lit})]{}", quote(f)));
                }
            }
        }
        s
    }

    fn gen_step() -> impl Strategy<Value = GenStep> {
        let name = "[a-zA-Z0-9 _.$'\\\\-]{1,6}";
        let lit = prop_oneof![
            "[a-z ]{0,5}".prop_map(Value::from),
            (-5i64..50).prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ];
        prop_oneof![
            name.prop_map(GenStep::Field),
            (0usize..4).prop_map(GenStep::Index),
            ("k[a-z]{0,3}", lit, "f[a-z]{0,3}").prop_map(|(k, v, f)| GenStep::Match(k, v, f)),
        ]
    }

    fn gen_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[^\\x00]{0,10}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    proptest! {
        #[test]
        fn write_then_read_returns_the_value(
            first in "[a-zA-Z0-9 _.$'\\\\-]{1,6}",
            rest in proptest::collection::vec(gen_step(), 0..4),
            value in gen_value(),
            other in gen_value(),
        ) {
            let mut steps = vec![GenStep::Field(first)];
            steps.extend(rest);
            let path = LegacyPath::compile(&render(&steps)).unwrap();
            prop_assert!(path.writable().is_ok(), "{}: {:?}", path, path.writable());
            let mut doc = json!({"unrelated": "kept"});
            // Each write says whether it changed the document.
            let write = |doc: &mut Value, v: Value| -> Result<(), TestCaseError> {
                let before = doc.clone();
                let changed = path.write(doc, v).unwrap();
                prop_assert_eq!(changed, *doc != before, "{} from {} to {}", path, before, doc);
                Ok(())
            };
            write(&mut doc, other)?;
            write(&mut doc, value.clone())?;
            prop_assert_eq!(path.read(&doc), Some(&value), "{} in {}", path, doc);
            prop_assert_eq!(&doc["unrelated"], &json!("kept"));
            write(&mut doc, value.clone())?;
            write(&mut doc, Value::Null)?;
            prop_assert_eq!(path.read(&doc), None);
            write(&mut doc, Value::Null)?;
        }
    }
}
