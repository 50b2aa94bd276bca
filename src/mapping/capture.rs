//! The compiled reader of a legacy record: it takes out of the record's bytes only the values
//! the translation reads, and skips the rest without building it. What it keeps is a
//! [`Captured`] record, read by the same translation as a whole JSON document
//! ([`super::legacy_path::LegacyRecord`]): one translation, two ways of holding its input.
//!
//! Every path the translation reads (the id, the attributes, computed templates, the
//! timestamps, the version, the deleted marker) starts with field steps (`$.address.city`); the
//! reader is a tree of those field names, and each path's *capture point* is the shortest
//! prefix of it that is also a whole path's prefix. The value at a capture point is kept whole
//! (a `serde_json::Value`); the steps of a path after it (`[0]`, `[?(@.kind == 'work')]`, or
//! fields under a point another path captures whole) are walked in that value as usual.
//! A mapping with a path outside the writer's grammar, or a path that is the whole record
//! (`$`), gets no reader: its records are read whole, as before.
//!
//! Equivalent to reading the whole document, also in the corners: a key that appears twice
//! counts with its last value (as `serde_json` keeps it), a field on the way that is not an
//! object leaves the values under it out, and a body that is not JSON (or not UTF-8, in the
//! skipped parts too) is refused with the same error. The body's UTF-8 is checked once, whole
//! ([`json_text::utf8_text`]), and its strings are then read as text.
//!
//! A list answer is read the same way by a [`ListReader`]: each item as one record, and only
//! the members the total and the next cursor are read from kept whole.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::legacy_path::{CaptureAt, Captured, LegacyPath};
use crate::scim::json_text;

/// The visit methods of the JSON scalars (and of null, with `unit`), each answering `$value`:
/// a scalar holds no field.
macro_rules! scalars_answer {
    ($ty:ty, $value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($value)
        }
    };
    ($ty:ty, $value:expr, unit) => {
        scalars_answer!($ty, $value);
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($value)
        }
    };
}

/// The compiled reader of one resource's legacy records.
#[derive(Debug, Clone)]
pub(crate) struct RecordReader {
    root: Node,
    /// For each answer envelope of the resource's endpoints (`data` for `{"data": {…}}`): the
    /// answer read as an object whose key holds the record.
    enveloped: Vec<(String, Node)>,
    points: usize,
}

/// The field names under one object of the record, sorted by length and then bytes, and
/// indexed by length: a key is compared only with the names of its own length.
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(String, Child)>,
    /// For each key length, the range of `children` with names of that length.
    by_length: Vec<(usize, usize)>,
    /// The capture points under this node: `first..end` (numbered depth first).
    first: usize,
    end: usize,
}

#[derive(Debug, Clone)]
enum Child {
    /// The value here is kept whole, as capture point N.
    Point(usize),
    Node(Node),
}

impl RecordReader {
    /// Compiles the reader for `paths` (every path the translation reads) and records in each
    /// path where its value will be. `None` (and the paths left as they were) when one of them
    /// cannot be captured: then records are read whole.
    pub(crate) fn compile(
        paths: &mut [&mut LegacyPath],
        envelopes: &[&str],
    ) -> Option<RecordReader> {
        let (root, points) = Node::compile(paths)?;
        let enveloped = envelopes
            .iter()
            .map(|key| {
                let mut wrapper = Node {
                    children: vec![((*key).to_owned(), Child::Node(root.clone()))],
                    ..Node::default()
                };
                wrapper.number(&mut 0);
                ((*key).to_owned(), wrapper)
            })
            .collect();
        Some(RecordReader {
            root,
            enveloped,
            points,
        })
    }

    /// Reads the record in `bytes`: the whole answer, or the record under the answer envelope
    /// `envelope` (`{"data": {…}}`, one of those the reader was compiled for). Blank bytes are
    /// no record (nothing captured), as are an answer or an envelope that does not hold an
    /// object. `None` for an envelope the reader does not know; an error when the bytes are
    /// not JSON.
    pub(crate) fn read(
        &self,
        bytes: &[u8],
        envelope: Option<&str>,
    ) -> Option<Result<Captured, serde_json::Error>> {
        let node = match envelope {
            None => &self.root,
            Some(key) => &self.enveloped.iter().find(|(k, _)| k == key)?.1,
        };
        let mut values = vec![None; self.points];
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Some(Ok(Captured { values }));
        }
        let text = match json_text::utf8_text(bytes) {
            Ok(text) => text,
            Err(e) => return Some(Err(e)),
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let read = NodeSeed {
            node,
            out: &mut values,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        Some(read.map(|()| Captured { values }))
    }

    /// Writes into `record` each value of `writes` whose path is one of the reader's capture
    /// points (all field steps: `$.login`, `$.address.city`) and a field `record` already
    /// holds: in place, in one pass over its fields matched against the reader's names, no
    /// hashed look-up per path. Those values are taken out of `writes`; the others (a field
    /// the record lacks, a path through a list, a null on the way) are left for
    /// [`LegacyPath::write`]. The record comes out as written path by path: a mapping's
    /// written paths never overlap, so the order of the writes does not matter, and no field
    /// is added here. `true` when a value written differs from the one it replaces.
    pub(crate) fn write_in_place<T>(
        &self,
        record: &mut Value,
        writes: &mut [(&LegacyPath, Option<Value>, T)],
    ) -> bool {
        let Value::Object(fields) = record else {
            return false;
        };
        // For each capture point, the write to it (`usize::MAX`: none).
        let mut by_point = vec![usize::MAX; self.points];
        let mut any = false;
        for (i, (path, _, _)) in writes.iter().enumerate() {
            if let Some(slot) = path.whole_capture_point().and_then(|n| by_point.get_mut(n)) {
                *slot = i;
                any = true;
            }
        }
        any && self.root.write_fields(fields, &by_point, writes)
    }

    /// Reads a record already held whole (the record cache's, parsed for a write): the values
    /// [`RecordReader::read`] would take out of its bytes, copied out of the tree in one pass
    /// over its fields — each field matched against the reader's names, no hashed look-up per
    /// path the translation reads.
    pub(crate) fn read_value(&self, record: &Value) -> Captured {
        let mut values = vec![None; self.points];
        if let Value::Object(fields) = record {
            self.root.capture_fields(fields, &mut values);
        }
        Captured { values }
    }
}

/// The compiled reader of a list answer: its items, each read by the resource's
/// [`RecordReader`] as one record is, and the values the total and the next page's cursor are
/// read from, captured as a record's are (under top-level members other than the items').
/// Everything else is skipped unbuilt. Compiled only where the items path is field steps
/// (`$.data`, or `$` for an answer that is the list) and each other path starts with field
/// steps under a top-level member of its own.
#[derive(Debug, Clone)]
pub(crate) struct ListReader {
    /// The field names down to the items (none: the answer is the list).
    items: Vec<String>,
    /// The objects the other paths read, from the answer's top level.
    rest: Node,
    /// The number of capture points under `rest`.
    points: usize,
}

/// What a list answer held at its items path.
#[derive(Debug, PartialEq)]
pub(crate) enum ListItems {
    /// Nothing there (or no object on the way).
    Missing,
    /// Something other than a list or null.
    NotList,
    /// The items (none for a null).
    Items(Vec<Captured>),
}

/// A list answer as the [`ListReader`] reads it.
#[derive(Debug)]
pub(crate) struct ListRead {
    pub(crate) items: ListItems,
    /// The values the other paths (the total's, the cursor's) read, by their capture points:
    /// read in it as in the whole answer.
    pub(crate) rest: Captured,
}

impl ListReader {
    /// The reader of a list whose items are at `items`, with `others` (the total's, the
    /// cursor's) read from the rest, each given its capture point; `None` (and `others` left
    /// as they were) when they cannot be read so.
    pub(crate) fn compile(
        items: &LegacyPath,
        others: &mut [&mut LegacyPath],
    ) -> Option<ListReader> {
        let items: Vec<String> = items.fields()?.into_iter().map(str::to_owned).collect();
        if others.is_empty() {
            return Some(ListReader {
                items,
                rest: Node::default(),
                points: 0,
            });
        }
        let first = items.first()?;
        if others
            .iter()
            .any(|p| p.field_prefix().and_then(|f| f.first().copied()) == Some(first.as_str()))
        {
            return None;
        }
        let (rest, points) = Node::compile(others)?;
        Some(ListReader {
            items,
            rest,
            points,
        })
    }

    /// Reads a list answer, each item by `record`. A blank answer holds no items (none at
    /// `$`); an error when the bytes are not JSON.
    pub(crate) fn read(
        &self,
        record: &RecordReader,
        bytes: &[u8],
    ) -> Result<ListRead, serde_json::Error> {
        let mut read = ListRead {
            items: ListItems::Missing,
            rest: Captured {
                values: vec![None; self.points],
            },
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            if self.items.is_empty() {
                read.items = ListItems::Items(Vec::new());
            }
            return Ok(read);
        }
        let mut de = serde_json::Deserializer::from_str(json_text::utf8_text(bytes)?);
        if self.items.is_empty() {
            read.items = ItemsSeed { record }.deserialize(&mut de)?;
        } else {
            ListSeed {
                at: &self.items,
                rest: Some(&self.rest),
                record,
                items: &mut read.items,
                out: &mut read.rest.values,
            }
            .deserialize(&mut de)?;
        }
        de.end()?;
        Ok(read)
    }
}

/// One object on the way to a list's items (`at`: the names left), capturing what `rest` reads
/// (at the answer's top level only) into `out`.
struct ListSeed<'r> {
    at: &'r [String],
    rest: Option<&'r Node>,
    record: &'r RecordReader,
    items: &'r mut ListItems,
    out: &'r mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((name, rest_of_path)) = self.at.split_first() else {
            return Ok(());
        };
        let key = ListKeySeed {
            items: name,
            rest: self.rest,
        };
        while let Some(found) = map.next_key_seed(key)? {
            match found {
                ListKey::Items => {
                    // A key seen again counts with its last value.
                    *self.items = ListItems::Missing;
                    if rest_of_path.is_empty() {
                        *self.items = map.next_value_seed(ItemsSeed {
                            record: self.record,
                        })?;
                    } else {
                        map.next_value_seed(ListSeed {
                            at: rest_of_path,
                            rest: None,
                            record: self.record,
                            items: &mut *self.items,
                            out: &mut [],
                        })?;
                    }
                }
                ListKey::Rest(child) => NodeSeed::child_value(&mut map, child, self.out)?,
                ListKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_answer!((), (), unit);
}

/// What a key of a list answer's object names.
enum ListKey<'r> {
    /// The next step to the items.
    Items,
    /// A member the other paths read.
    Rest(&'r Child),
    Other,
}

/// A key of a list answer's object. Read as a string: the few keys of an answer's top level do not need [`KeySeed`]'s raw bytes,
/// and a second reader of raw keys would cost the record's reader its inlined one.
#[derive(Clone, Copy)]
struct ListKeySeed<'r> {
    items: &'r str,
    rest: Option<&'r Node>,
}

impl<'de, 'r> DeserializeSeed<'de> for ListKeySeed<'r> {
    type Value = ListKey<'r>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'r> Visitor<'de> for ListKeySeed<'r> {
    type Value = ListKey<'r>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        if key == self.items {
            return Ok(ListKey::Items);
        }
        Ok(
            match self.rest.and_then(|node| node.child(key.as_bytes())) {
                Some(child) => ListKey::Rest(child),
                None => ListKey::Other,
            },
        )
    }
}

/// The value at a list's items path: each element read as one record.
struct ItemsSeed<'r> {
    record: &'r RecordReader,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ListItems;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ListItems, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ListItems;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListItems, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ItemSeed {
            record: self.record,
        })? {
            items.push(item);
        }
        Ok(ListItems::Items(items))
    }
    fn visit_unit<E>(self) -> Result<ListItems, E> {
        Ok(ListItems::Items(Vec::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListItems, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ListItems::NotList)
    }
    scalars_answer!(ListItems, ListItems::NotList);
}

/// One item of a list read as a record: its values made once the item is there (not for the
/// end of the list).
struct ItemSeed<'r> {
    record: &'r RecordReader,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Captured;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Captured, D::Error> {
        let mut values = vec![None; self.record.points];
        NodeSeed {
            node: &self.record.root,
            out: &mut values,
        }
        .deserialize(deserializer)?;
        Ok(Captured { values })
    }
}

impl Node {
    /// The tree of the objects `paths` read (each starting with field steps), with every
    /// path's capture point recorded in it, and the number of points. `None` (and the paths
    /// left as they were) when one of them cannot be captured.
    fn compile(paths: &mut [&mut LegacyPath]) -> Option<(Node, usize)> {
        let prefixes: Vec<Vec<String>> = paths
            .iter()
            .map(|p| {
                p.field_prefix()
                    .map(|f| f.into_iter().map(str::to_owned).collect())
            })
            .collect::<Option<_>>()?;
        if prefixes.iter().any(Vec::is_empty) {
            return None;
        }
        // The capture points: the prefixes no other prefix is a strict prefix of.
        let mut points: Vec<&Vec<String>> = prefixes
            .iter()
            .filter(|p| {
                !prefixes
                    .iter()
                    .any(|q| q.len() < p.len() && p.starts_with(q))
            })
            .collect();
        points.sort();
        points.dedup();
        let mut root = Node::default();
        for point in &points {
            root.insert(point);
        }
        let mut next = 0;
        root.number(&mut next);
        let mut at = Vec::with_capacity(paths.len());
        for (path, prefix) in paths.iter().zip(&prefixes) {
            let (point, depth) = root.point_of(prefix)?;
            at.push(CaptureAt {
                point: u16::try_from(point).ok()?,
                depth: u16::try_from(depth).ok()?,
                // Sole until another path is found at the same point.
                sole: path.fields().is_some_and(|f| f.len() == depth),
            });
        }
        for i in 0..at.len() {
            if at.iter().filter(|a| a.point == at[i].point).count() > 1 {
                at[i].sole = false;
            }
        }
        for (path, at) in paths.iter_mut().zip(at) {
            path.set_capture(at);
        }
        Some((root, next))
    }

    fn insert(&mut self, names: &[String]) {
        let Some((name, rest)) = names.split_first() else {
            return;
        };
        let at = match self
            .children
            .binary_search_by(|(k, _)| by_length(k, name.as_bytes()))
        {
            Ok(at) => at,
            Err(at) => {
                let child = if rest.is_empty() {
                    Child::Point(0)
                } else {
                    Child::Node(Node::default())
                };
                self.children.insert(at, (name.clone(), child));
                at
            }
        };
        if let Some((_, Child::Node(node))) = self.children.get_mut(at) {
            node.insert(rest);
        }
    }

    /// Numbers the capture points depth first, so that a node's points are a range, and
    /// indexes each node's names by length.
    fn number(&mut self, next: &mut usize) {
        let longest = self.children.last().map_or(0, |(k, _)| k.len());
        self.by_length = (0..=longest)
            .map(|len| {
                let start = self.children.partition_point(|(k, _)| k.len() < len);
                let end = self.children.partition_point(|(k, _)| k.len() <= len);
                (start, end)
            })
            .collect();
        self.first = *next;
        for (_, child) in &mut self.children {
            match child {
                Child::Point(n) => {
                    *n = *next;
                    *next += 1;
                }
                Child::Node(node) => node.number(next),
            }
        }
        self.end = *next;
    }

    /// The capture point a path with field prefix `names` reads from, and how many of its
    /// field steps the point stands for.
    fn point_of(&self, names: &[String]) -> Option<(usize, usize)> {
        let mut node = self;
        for (depth, name) in names.iter().enumerate() {
            match node.child(name.as_bytes())? {
                Child::Point(n) => return Some((*n, depth + 1)),
                Child::Node(inner) => node = inner,
            }
        }
        None
    }

    /// Copies the values of `fields` (an object of a record held whole) that this node's
    /// capture points stand for into `out`, as [`NodeSeed`] reads them from bytes: a null is no
    /// value, and a field on the way that is not an object holds none.
    fn capture_fields(&self, fields: &Map<String, Value>, out: &mut [Option<Value>]) {
        for (name, value) in fields {
            match self.child(name.as_bytes()) {
                Some(Child::Point(n)) => {
                    if let Some(slot) = out.get_mut(*n) {
                        *slot = (!value.is_null()).then(|| value.clone());
                    }
                }
                Some(Child::Node(node)) => {
                    if let Value::Object(inner) = value {
                        node.capture_fields(inner, out);
                    }
                }
                None => {}
            }
        }
    }

    /// Gives the fields of `fields` (an object of a record held whole) that this node's
    /// capture points stand for the values `writes` holds for them (`by_point`: the write to
    /// each point), taking them: see [`RecordReader::write_in_place`]. `true` when a value
    /// given differs from the one it replaces.
    fn write_fields<T>(
        &self,
        fields: &mut Map<String, Value>,
        by_point: &[usize],
        writes: &mut [(&LegacyPath, Option<Value>, T)],
    ) -> bool {
        let mut changed = false;
        for (name, value) in fields.iter_mut() {
            match self.child(name.as_bytes()) {
                Some(Child::Point(n)) => {
                    let write = by_point.get(*n).and_then(|&i| writes.get_mut(i));
                    if let Some(new) = write.and_then(|w| w.1.take()) {
                        if *value != new {
                            *value = new;
                            changed = true;
                        }
                    }
                }
                Some(Child::Node(node)) => {
                    if let Value::Object(inner) = value {
                        changed |= node.write_fields(inner, by_point, writes);
                    }
                }
                None => {}
            }
        }
        changed
    }

    fn child(&self, name: &[u8]) -> Option<&Child> {
        let &(start, end) = self.by_length.get(name.len())?;
        self.children
            .get(start..end)?
            .iter()
            .find(|(k, _)| json_text::same_key(k.as_bytes(), name))
            .map(|(_, c)| c)
    }
}

/// The order of a node's field names: by length, then by bytes.
fn by_length(a: &str, b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b))
}

/// Reads one object of the record against `node`, into `out`.
struct NodeSeed<'r> {
    node: &'r Node,
    out: &'r mut [Option<Value>],
}

impl NodeSeed<'_> {
    /// Reads the value of the member `child` names into `out`: kept whole at a capture point,
    /// or read against the child's node. (Inlined: in the loop over a record's members, which
    /// is what a read costs.)
    #[inline(always)]
    fn child_value<'de, A: MapAccess<'de>>(
        map: &mut A,
        child: &Child,
        out: &mut [Option<Value>],
    ) -> Result<(), A::Error> {
        match child {
            Child::Point(n) => {
                let value: Value = map.next_value()?;
                if let Some(slot) = out.get_mut(*n) {
                    *slot = (!value.is_null()).then_some(value);
                }
            }
            Child::Node(node) => {
                // A key seen again counts with its last value: what the first one left under
                // it goes.
                if let Some(range) = out.get_mut(node.first..node.end) {
                    range.fill(None);
                }
                map.next_value_seed(NodeSeed { node, out })?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(child) = map.next_key_seed(KeySeed { node: self.node })? {
            match child {
                Some(child) => NodeSeed::child_value(&mut map, child, self.out)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    // Anything but an object holds no field: skipped.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_answer!((), (), unit);
}

/// A key of an object read against `node`: the child it names, if any (looked up as the key's
/// bytes, escapes decoded: no `String` made).
struct KeySeed<'r> {
    node: &'r Node,
}

impl<'de, 'r> DeserializeSeed<'de> for KeySeed<'r> {
    type Value = Option<&'r Child>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de, 'r> Visitor<'de> for KeySeed<'r> {
    type Value = Option<&'r Child>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_bytes<E>(self, key: &[u8]) -> Result<Self::Value, E> {
        Ok(self.node.child(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::draft::{Draft, DraftNode};
    use crate::mapping::fixture::{FIXTURE, GROUPS, GROUPS_USER_ATTRIBUTE};
    use crate::mapping::legacy_path::LegacyRecord;
    use crate::mapping::plan::{ListEndpoint, NextSource, Pagination, TotalSource};
    use crate::mapping::PageError;
    use crate::mapping::{load_file, load_str, ResourceMapping};
    use crate::scim::filter::{self, Filter};
    use crate::scim::list::SortBy;
    use crate::scim::path::AttrPath;
    use crate::scim::schema::ResourceSchema;
    use proptest::prelude::*;
    use serde_json::json;

    /// Every resource mapping to compare the two readings on: the fixture's (every construct
    /// of the language) and those of every shipped mapping.
    fn resources() -> Vec<(String, ResourceMapping)> {
        let mut out = Vec::new();
        let fixture = load_str(
            "fixture.yaml",
            &format!("{FIXTURE}{GROUPS}{GROUPS_USER_ATTRIBUTE}"),
        )
        .expect("the fixture loads");
        out.push(("fixture users".to_string(), fixture.users));
        out.extend(
            fixture
                .groups
                .map(|g| ("fixture groups".to_string(), g.resource)),
        );
        let mut files: Vec<_> = std::fs::read_dir("mappings")
            .expect("mappings/ is there")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for path in files {
            let m = load_file(&path).expect("a shipped mapping loads");
            let name = path.display().to_string();
            out.push((format!("{name} users"), m.users));
            out.extend(m.groups.map(|g| (format!("{name} groups"), g.resource)));
        }
        out
    }

    #[test]
    fn a_taking_draft_moves_the_values_one_attribute_reads_and_keeps_the_rest() {
        let m = load_file(std::path::Path::new("mappings/acme-hr.yaml")).expect("loads");
        let r = m.users;
        let reader = r
            .plan
            .reader
            .as_ref()
            .expect("acme-hr has a compiled reader");
        let record = json!({
            "id": 7, "login": "ann", "first_name": "Ann", "status": "enabled",
            "address": {"city": "Springfield", "zip": "62701"},
            "created_at": "2026-01-01T00:00:00Z", "version": 3
        });
        let mut captured = reader
            .read(record.to_string().as_bytes(), None)
            .expect("no envelope")
            .expect("JSON");
        let before = captured.values.iter().filter(|v| v.is_some()).count();
        let draft = r.draft_taking(&mut captured).expect("translates");
        assert_eq!(
            draft.into_value(),
            r.draft(&record).expect("translates").into_value()
        );
        let after = captured.values.iter().filter(|v| v.is_some()).count();
        // login, first_name and the timestamps are each read by one path, whole: moved. The
        // id stays, and so do `status` (read by `active` and by the deleted marker) and
        // `address` (kept whole for the paths under it).
        assert!(after < before - 3, "{before} values before, {after} after");
        assert_eq!(r.read_id(&captured).as_deref(), Some("7"));
        assert!(!r.record_deleted(&captured));
        let status = r.plan.deleted.as_ref().expect("a marker").legacy.clone();
        assert_eq!(captured.read(&status), Some(&json!("enabled")));
    }

    /// The names and literals the mapping's paths mention: the keys and values records are
    /// made of, so that generated records hit the mapped fields, filters and markers.
    fn words(r: &ResourceMapping) -> Vec<String> {
        use crate::mapping::plan::Attr;
        let p = &r.plan;
        let mut sources: Vec<String> = vec![p.id.as_str().to_owned()];
        sources.extend(
            [&p.created, &p.last_modified, &p.version]
                .into_iter()
                .flatten()
                .map(|l| l.as_str().to_owned()),
        );
        sources.extend(p.deleted.iter().map(|m| m.legacy.as_str().to_owned()));
        for attr in &p.attrs {
            match attr {
                Attr::Field { legacy, .. } | Attr::Join { legacy, .. } => {
                    sources.push(legacy.as_str().to_owned())
                }
                Attr::Computed { template, .. } => sources.push(template.to_string()),
                _ => {}
            }
        }
        let mut words: Vec<String> = sources
            .iter()
            .flat_map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        words.sort();
        words.dedup();
        words
    }

    /// A JSON text, keys possibly repeated (as some legacy APIs send them).
    #[derive(Debug, Clone)]
    enum Json {
        Scalar(Value),
        List(Vec<Json>),
        Object(Vec<(String, Json)>),
    }

    impl Json {
        fn text(&self) -> String {
            match self {
                Json::Scalar(v) => v.to_string(),
                Json::List(items) => {
                    format!(
                        "[{}]",
                        items.iter().map(Json::text).collect::<Vec<_>>().join(",")
                    )
                }
                Json::Object(entries) => format!(
                    "{{{}}}",
                    entries
                        .iter()
                        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v.text()))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        }
    }

    /// A record: an id, then fields named by `words` (the mapping's own) or not.
    /// A test runner whose random values follow from `seed` (a test's own proptest input) and
    /// `salt` (one per test, so that two tests given the same seed draw different values).
    fn seeded_runner(seed: u64, salt: [u8; 2]) -> proptest::test_runner::TestRunner {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let [a, b] = salt;
        let bytes = [seed.to_le_bytes(), seed.to_be_bytes(), [a; 8], [b; 8]].concat();
        TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
        )
    }

    fn record_of(words: Vec<String>) -> impl Strategy<Value = Json> {
        let fields = (proptest::sample::select(words.clone()), json(words));
        proptest::collection::vec(fields, 0..12).prop_map(|fields| {
            let mut entries = vec![("id".to_string(), Json::Scalar(json!(7)))];
            entries.extend(fields);
            Json::Object(entries)
        })
    }

    fn json(words: Vec<String>) -> impl Strategy<Value = Json> {
        let word = proptest::sample::select(words);
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            Just(json!(2.5)),
            Just(json!("")),
            Just(json!("  ")),
            Just(json!("True")),
            word.clone().prop_map(Value::String),
            "[ a-zA-Z0-9@.]{0,8}".prop_map(Value::String),
        ]
        .prop_map(Json::Scalar);
        scalar.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::List),
                proptest::collection::vec(
                    (prop_oneof![word.clone(), Just("other".to_string())], inner),
                    0..8
                )
                .prop_map(Json::Object),
            ]
        })
    }

    /// The two readings of `text` agree: the translation, the id and the deleted marker.
    fn agree(r: &ResourceMapping, text: &str, envelope: Option<&str>) -> Result<(), TestCaseError> {
        let reader = r.plan.reader.as_ref().expect("a reader");
        // Blank is no record (as the legacy client reads it).
        let whole: Result<Value, _> = if text.bytes().all(|b| b.is_ascii_whitespace()) {
            Ok(Value::Null)
        } else {
            serde_json::from_str(text)
        };
        let captured = reader
            .read(text.as_bytes(), envelope)
            .expect("a known envelope");
        let (whole, captured) = match (whole, captured) {
            (Ok(w), Ok(c)) => (w, c),
            (Err(_), Err(_)) => return Ok(()),
            (w, c) => {
                return Err(TestCaseError::fail(format!(
                    "{text}: whole {w:?}, captured {c:?}"
                )))
            }
        };
        let whole = match envelope {
            Some(key) => match whole {
                Value::Object(mut o) => match o.remove(key) {
                    Some(v @ Value::Object(_)) => v,
                    _ => Value::Null,
                },
                _ => Value::Null,
            },
            None => whole,
        };
        // The reference: the whole record read path by path.
        let by_value = r
            .draft(&whole)
            .map(|d| d.into_value().to_string())
            .map_err(|e| e.to_string());
        // The record held whole is read by the reader as its bytes are.
        prop_assert_eq!(
            &reader.read_value(&whole),
            &captured,
            "record {} (held whole)",
            text
        );
        prop_assert_eq!(
            &by_value,
            &r.to_scim(&whole)
                .map(|v| v.to_string())
                .map_err(|e| e.to_string()),
            "record {} (to_scim)",
            text
        );
        let by_capture = r
            .draft(&captured)
            .map(|d| {
                let mut text = Vec::new();
                d.write_json(&mut text, &[], None);
                String::from_utf8(text).expect("UTF-8")
            })
            .map_err(|e| e.to_string());
        // The same when the draft takes the values only one attribute reads out of the
        // record; what is read after a draft (its id, its deleted marker) still reads so.
        let mut taken = captured.clone();
        let by_taking = r
            .draft_taking(&mut taken)
            .map(|d| {
                let mut text = Vec::new();
                d.write_json(&mut text, &[], None);
                String::from_utf8(text).expect("UTF-8")
            })
            .map_err(|e| e.to_string());
        prop_assert_eq!(&by_value, &by_taking, "record {} (taken)", text);
        prop_assert_eq!(by_value, by_capture, "record {}", text);
        if let (Ok(value), Ok(draft)) = (r.to_scim(&whole), r.draft(&captured)) {
            filters_agree(&value, &draft)?;
        }
        prop_assert_eq!(r.is_deleted(&whole), r.record_deleted(&captured));
        prop_assert_eq!(r.legacy_id(&whole), r.read_id(&captured));
        prop_assert_eq!(r.is_deleted(&whole), r.record_deleted(&taken));
        prop_assert_eq!(r.legacy_id(&whole), r.read_id(&taken));
        Ok(())
    }

    /// A filter reads a translation's draft as it reads the value the draft becomes (filters
    /// over every kind of attribute, and equality with each of the resource's own values), and
    /// so does a sort (by each attribute path of the resource).
    fn filters_agree(value: &Value, draft: &Draft) -> Result<(), TestCaseError> {
        let mut filters: Vec<String> = [
            "userName pr",
            "USERNAME sw \"a\"",
            "name pr",
            "name.givenName co \"a\" or name.familyName ew \"e\"",
            "emails pr",
            "emails co \"@\"",
            "emails[type eq \"work\" and value co \"@\"]",
            "emails.type eq \"work\"",
            "phoneNumbers[not (value pr)]",
            "addresses[type eq \"work\"].locality pr",
            "active eq true",
            "active eq \"false\"",
            "title eq null",
            "displayName ne null",
            "not (title pr)",
            "meta.version pr",
            "meta.lastModified gt \"2000-01-01T00:00:00Z\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"7\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department ne \"x\"",
            "x-unknown pr",
        ]
        .map(str::to_owned)
        .to_vec();
        let schema = ResourceSchema::user();
        let mut leaves = Vec::new();
        collect_leaves(value, String::new(), &mut leaves);
        for (path, leaf) in leaves {
            if let Ok(by) = AttrPath::parse(&path) {
                let by = SortBy::of(&by, schema);
                prop_assert_eq!(
                    by.key(value),
                    by.key(DraftNode::of(draft)),
                    "sort by {} on {}",
                    path,
                    value
                );
            }
            filters.push(format!("{path} eq {leaf}"));
            filters.push(format!("{path} pr"));
        }
        for text in filters {
            let Ok(f) = Filter::parse(&text) else {
                continue;
            };
            prop_assert_eq!(
                filter::matches(&f, value, schema),
                filter::matches_in(&f, DraftNode::of(draft), schema),
                "{} on {}",
                text,
                value
            );
        }
        Ok(())
    }

    /// The attribute paths of `value` (`a`, `a.b`, extension attributes by URN) with each scalar
    /// at them as filter text.
    fn collect_leaves(value: &Value, at: String, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(members) => {
                for (k, v) in members {
                    let path = match at.as_str() {
                        "" => k.clone(),
                        p if p.starts_with("urn:") => format!("{p}:{k}"),
                        p => format!("{p}.{k}"),
                    };
                    collect_leaves(v, path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    collect_leaves(item, at.clone(), out);
                }
            }
            Value::Null => {}
            scalar if !at.is_empty() => out.push((at, scalar.to_string())),
            _ => {}
        }
    }

    /// The two readings of list answer `text` of `r` agree: each item's translation, id and
    /// deleted marker, the total, the next cursor, and the errors.
    fn list_agrees(r: &ResourceMapping, text: &str) -> Result<(), TestCaseError> {
        let list = &r.endpoints.list;
        let record = r.plan.reader.as_ref().expect("a reader");
        let headers = http::HeaderMap::new();
        let captured = list
            .read_page(record, text.as_bytes(), &headers)
            .expect("a list reader");
        let whole: Result<Value, _> = if text.bytes().all(|b| b.is_ascii_whitespace()) {
            Ok(Value::Null)
        } else {
            serde_json::from_str(text)
        };
        let body = match (whole, &captured) {
            (Err(_), Err(PageError::NotJson)) => return Ok(()),
            (Ok(body), _) => body,
            (w, c) => {
                return Err(TestCaseError::fail(format!(
                    "{text}: whole {w:?}, captured {c:?}"
                )))
            }
        };
        let total = list.total(&body, &headers);
        let next = list.next_cursor(&body, &headers);
        match (list.take_items(body), captured) {
            (Ok(items), Ok(page)) => {
                prop_assert_eq!(total, page.total, "total of {}", text);
                prop_assert_eq!(next, page.next, "cursor of {}", text);
                prop_assert_eq!(items.len(), page.items.len(), "items of {}", text);
                for (whole, captured) in items.iter().zip(&page.items) {
                    let by_value = r.draft(whole).map(|d| d.into_value().to_string()).ok();
                    let by_capture = r.draft(captured).ok().map(|d| {
                        let mut out = Vec::new();
                        d.write_json(&mut out, &[], None);
                        String::from_utf8(out).expect("UTF-8")
                    });
                    prop_assert_eq!(by_value, by_capture, "an item of {}", text);
                    prop_assert_eq!(r.is_deleted(whole), r.record_deleted(captured));
                    prop_assert_eq!(r.legacy_id(whole), r.read_id(captured));
                }
            }
            (Err(a), Err(PageError::Translate(b))) => {
                prop_assert_eq!(a.to_string(), b.to_string(), "{}", text)
            }
            (a, b) => {
                return Err(TestCaseError::fail(format!(
                    "{text}: whole {a:?}, captured {b:?}"
                )))
            }
        }
        Ok(())
    }

    /// `value` put at the field steps `fields` of an object (made of nested objects).
    fn at_fields(fields: &[&str], value: Json) -> Json {
        fields.iter().rev().fold(value, |inner, name| {
            Json::Object(vec![((*name).to_owned(), inner)])
        })
    }

    /// A list answer of `list` in one of its shapes: `records` at the items path, a total and
    /// a cursor where the mapping reads them, `junk` members; or the corners (items null,
    /// missing, not a list, given twice, the answer itself a list).
    fn list_answer(
        list: &ListEndpoint,
        records: Vec<Json>,
        junk: Vec<(String, Json)>,
        shape: u8,
        total: u32,
    ) -> Json {
        let items: Vec<&str> = list.items.fields().expect("field steps");
        let mut entries = junk;
        let mut put = |path: &LegacyPath, value: Json| {
            if let Some(fields) = path.fields() {
                if let Json::Object(mut e) = at_fields(&fields, value) {
                    entries.append(&mut e);
                }
            }
        };
        if let Some(TotalSource::Body(path)) = &list.total {
            put(path, Json::Scalar(json!(total)));
        }
        if let Pagination::Cursor {
            next: NextSource::Cursor(path) | NextSource::Url(path),
            ..
        } = &list.pagination
        {
            put(path, Json::Scalar(json!(format!("c{total}"))));
        }
        let records = Json::List(records);
        if items.is_empty() {
            return match shape {
                0 => Json::Scalar(Value::Null),
                1 => Json::Object(entries),
                _ => records,
            };
        }
        let (first, _) = items.split_first().expect("a field");
        match shape {
            0 => entries.push(((*first).to_owned(), Json::Scalar(Value::Null))),
            1 => {}
            2 => entries.push(((*first).to_owned(), Json::Scalar(json!("x")))),
            3 => {
                entries.push(((*first).to_owned(), Json::Scalar(json!(1))));
                if let Json::Object(mut e) = at_fields(&items, records) {
                    entries.append(&mut e);
                }
            }
            4 => {
                if let Json::Object(mut e) = at_fields(&items, records) {
                    entries.append(&mut e);
                }
                entries.push(((*first).to_owned(), Json::List(Vec::new())));
            }
            5 => return records,
            _ => {
                if let Json::Object(mut e) = at_fields(&items, records) {
                    entries.insert(0, e.remove(0));
                }
            }
        }
        Json::Object(entries)
    }

    #[test]
    fn every_shipped_list_gets_a_reader_unless_its_items_are_enveloped() {
        for (name, r) in resources() {
            let list = &r.endpoints.list;
            assert_eq!(
                list.reader.is_some(),
                list.endpoint.record.item.is_none() && list.endpoint.answer_envelope().is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn list_corners_read_as_the_whole_answer_reads_them() {
        let fixture = load_str("fixture.yaml", FIXTURE).unwrap().users;
        for text in [
            "",
            "  ",
            "{}",
            "[]",
            "null",
            "not json",
            r#"{"data": [{"id": 7}]} trailing"#,
            r#"{"data": null, "meta": {"total": 3}}"#,
            r#"{"data": [{"id": 7, "login": "a"}, null, 3, {"id": 8}], "meta": {"total": "2"}}"#,
            r#"{"data": {"id": 7}}"#,
            r#"{"meta": {"total": 1}, "data": [{"id": 7}], "data": [{"id": 8}]}"#,
            r#"{"data": [], "meta": {"total": 3}, "meta": {"page": 1}}"#,
            r#"{"data": [], "meta": {"page": 1}, "meta": {"total": 4}}"#,
            r#"{"data": [], "meta": "flat"}"#,
            r#"{"data": [], "meta": {"total": null}}"#,
            r#"{"data": [], "meta": {"total": {"value": 2}}}"#,
        ] {
            list_agrees(&fixture, text).unwrap();
        }
        // A cursor list whose total, cursor and `more` flag share a member: each read from
        // what is captured under it as from the whole answer.
        let mut paged = fixture.clone();
        paged.endpoints.list.pagination = Pagination::Cursor {
            cursor_param: "cursor".into(),
            size_param: "limit".into(),
            next: NextSource::Cursor(LegacyPath::compile("$.paging.next").unwrap()),
            more: Some(crate::mapping::plan::MoreFlag(
                LegacyPath::compile("$.paging.more").unwrap(),
            )),
            max_page_size: 50,
        };
        paged.endpoints.list.total = Some(TotalSource::Body(
            LegacyPath::compile("$.paging.total").unwrap(),
        ));
        paged
            .endpoints
            .list
            .compile_reader(paged.plan.reader.as_ref());
        assert!(paged.endpoints.list.reader.is_some());
        for text in [
            r#"{"data": [{"id": 7}], "paging": {"next": "c2", "more": true, "total": 9}}"#,
            r#"{"data": [{"id": 7}], "paging": {"next": "c2", "more": false, "total": "9"}}"#,
            r#"{"data": [], "paging": {"next": 5, "total": 1}, "paging": {"more": true}}"#,
            r#"{"paging": {"next": ""}, "data": null}"#,
            r#"{"data": [], "paging": [{"next": "c2"}]}"#,
        ] {
            list_agrees(&paged, text).unwrap();
        }
        // Items deeper down: a member on the way given twice counts with its last value.
        let mut nested = fixture.clone();
        nested.endpoints.list.items = LegacyPath::compile("$.result.items").unwrap();
        nested
            .endpoints
            .list
            .compile_reader(nested.plan.reader.as_ref());
        for text in [
            r#"{"result": {"items": [{"id": 7}]}}"#,
            r#"{"result": {"items": [{"id": 7}]}, "result": {"other": 1}}"#,
            r#"{"result": {"other": 1}, "result": {"items": [{"id": 8}]}}"#,
            r#"{"result": [{"items": []}]}"#,
            r#"{"result": "items"}"#,
        ] {
            list_agrees(&nested, text).unwrap();
        }
    }

    #[test]
    fn every_mapping_here_gets_a_reader() {
        for (name, r) in resources() {
            assert!(r.plan.reader.is_some(), "{name} has no compiled reader");
        }
    }

    #[test]
    fn corners_read_as_the_whole_document_reads_them() {
        let fixture = load_str("fixture.yaml", FIXTURE).unwrap().users;
        for text in [
            r#"{"id": 7, "login": "a", "login": "b"}"#,
            r#"{"id": 7, "address": {"city": "Oslo"}, "address": "flat"}"#,
            r#"{"id": 7, "address": "flat", "address": {"zip": "0150"}}"#,
            r#"{"id": 7, "phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]}"#,
            r#"{"id": 7, "status": "archived", "hr": {"badge": "12"}}"#,
            r#"{"id": null, "login": "a"}"#,
            r#"[{"id": 7}]"#,
            r#"  "#,
            r#"{"id": 7, "login": "a"} trailing"#,
            r#"{"id": 7, "login": "caf\u00e9", "other": {"deep": [1, {"x": "\ud83d\ude00"}]}}"#,
            r#"{"id": "7", "login": 12, "full_name": "Mary Ann Smith", "manager_id": "x"}"#,
        ] {
            agree(&fixture, text, None).unwrap();
        }
    }

    #[test]
    fn an_answer_that_is_not_utf8_is_refused_as_the_whole_document_refuses_it() {
        let fixture = load_str("fixture.yaml", FIXTURE).unwrap().users;
        let reader = fixture.plan.reader.as_ref().unwrap();
        let list = fixture.endpoints.list.reader.as_ref().unwrap();
        for bytes in [
            // In a value the translation reads, in one it skips, in a key.
            &b"{\"id\": 7, \"login\": \"caf\xe9\"}"[..],
            b"{\"id\": 7, \"unread\": \"\xc3\x28\"}",
            b"{\"id\": 7, \"\xff\": 1}",
        ] {
            let whole = serde_json::from_slice::<Value>(bytes).unwrap_err();
            let captured = reader.read(bytes, None).unwrap().unwrap_err();
            assert_eq!(captured.to_string(), whole.to_string());
            let page = [&b"{\"data\": ["[..], bytes, b"]}"].concat();
            assert!(list.read(reader, &page).is_err());
        }
    }

    #[test]
    fn an_envelope_holds_the_record_only_when_it_holds_an_object() {
        let mut fixture = load_str("fixture.yaml", FIXTURE).unwrap().users;
        fixture.plan.compile_reader(&["data"]);
        for text in [
            r#"{"data": {"id": 7, "login": "a"}, "meta": {}}"#,
            r#"{"data": "7"}"#,
            r#"{"data": {"id": 7}, "data": {"id": 8, "login": "b"}}"#,
            r#"{"id": 7}"#,
        ] {
            agree(&fixture, text, Some("data")).unwrap();
        }
        assert!(fixture
            .plan
            .reader
            .as_ref()
            .unwrap()
            .read(b"{}", Some("user"))
            .is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // On every mapping here, a SCIM user written over a record held whole (a full update)
        // gives the same record, text for text (its fields' order included), whether the
        // fields the record holds are written in place in one pass or each path by itself; and
        // the same error when the write cannot be made.
        #[test]
        fn writing_in_place_gives_the_record_writing_path_by_path_gives(seed in any::<u64>()) {
            use proptest::strategy::ValueTree;
            for (_, r) in resources() {
                let mut runner = seeded_runner(seed, [3, 4]);
                let mut by_path = r.clone();
                by_path.plan.reader = None;
                let record = record_of(words(&r));
                let mut one = || -> Value {
                    let text = record.new_tree(&mut runner).expect("a record").current().text();
                    serde_json::from_str(&text).expect("JSON")
                };
                for _ in 0..8 {
                    let (base, other) = (one(), one());
                    for scim in [r.to_scim(&base), r.to_scim(&other)].into_iter().flatten() {
                        let written = |m: &ResourceMapping| {
                            m.to_legacy(&scim, Some(&base))
                                .map(|v| v.to_string())
                                .map_err(|e| e.to_string())
                        };
                        prop_assert_eq!(written(&r), written(&by_path), "{} over {}", scim, base);
                        // Written over the record itself, the same record, and "changed"
                        // exactly when it differs from the record as read.
                        for m in [&r, &by_path] {
                            let over = m.to_legacy_over(&scim, base.clone());
                            if let (Ok((new, changed)), Ok(text)) = (over, written(m)) {
                                prop_assert_eq!(new.to_string(), text);
                                prop_assert_eq!(
                                    changed,
                                    !crate::scim::same_json(&new, &base),
                                    "{} over {}", scim, base
                                );
                            }
                        }
                    }
                }
            }
        }

        // On every mapping here, a record read from its bytes by the compiled reader translates
        // to the very bytes the whole document gives.
        #[test]
        fn the_compiled_reader_translates_as_the_whole_document(seed in any::<u64>()) {
            use proptest::strategy::ValueTree;
            for (_, r) in resources() {
                let mut runner = seeded_runner(seed, [1, 2]);
                let words = words(&r);
                let record = record_of(words.clone());
                for _ in 0..8 {
                    let tree = record.new_tree(&mut runner).expect("a record");
                    agree(&r, &tree.current().text(), None)?;
                }
                let list = &r.endpoints.list;
                if list.reader.is_none() {
                    continue;
                }
                let word = proptest::sample::select(words.clone());
                let answers = (
                    proptest::collection::vec(record_of(words.clone()), 0..4),
                    proptest::collection::vec((word, json(words.clone())), 0..3),
                    0u8..8,
                    any::<u32>(),
                );
                for _ in 0..8 {
                    let (records, junk, shape, total) =
                        answers.new_tree(&mut runner).expect("an answer").current();
                    list_agrees(&r, &list_answer(list, records, junk, shape, total).text())?;
                }
            }
        }
    }
}
