//! A SCIM resource as the translation of a legacy record builds it: objects as ordered lists of
//! (name, value) with the names borrowed from the compiled plan, so that building one hashes
//! and allocates nothing per key. It becomes a `serde_json::Value` ([`Draft::into_value`]) or
//! is written straight out as JSON text ([`Draft::write_json`]); both give the resource the
//! slots wrote, with the keys in the order they were first set.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::slot::ScimSlot;
use crate::scim::{filter, json_text};

/// The first room of a complex attribute, an extension or a list element: enough for the
/// sub-attributes of any of the schema's (an address has seven, `meta` five), so that setting
/// them one by one never grows it.
const OBJECT_ROOM: usize = 8;

/// One JSON object under construction.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Draft<'p> {
    entries: Vec<(&'p str, Part<'p>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part<'p> {
    /// A value made for this resource, or one the plan holds (a constant, an element's type,
    /// the resource type), lent.
    Value(Cow<'p, Value>),
    Object(Draft<'p>),
    /// A multi-valued attribute's elements (the typed elements slots write).
    List(Vec<Draft<'p>>),
}

impl<'p> Draft<'p> {
    /// An empty object with room for `entries` names.
    pub(crate) fn with_capacity(entries: usize) -> Self {
        Draft {
            entries: Vec::with_capacity(entries),
        }
    }

    /// Sets `name` to `value` (an existing name keeps its place).
    pub(crate) fn insert(&mut self, name: &'p str, value: Value) {
        self.put(name, Cow::Owned(value));
    }

    /// Sets `name` to a value the plan holds, lent rather than copied.
    pub(crate) fn insert_lent(&mut self, name: &'p str, value: &'p Value) {
        self.put(name, Cow::Borrowed(value));
    }

    fn put(&mut self, name: &'p str, value: Cow<'p, Value>) {
        match self.position(name) {
            Some(at) => self.entries[at].1 = Part::Value(value),
            None => self.entries.push((name, Part::Value(value))),
        }
    }

    /// The value of `name`, when it was set as a value.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match self.find(name)? {
            Part::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value of `name` in the object at `object` (`meta`, `version`).
    pub(crate) fn get_in(&self, object: &str, name: &str) -> Option<&Value> {
        match self.find(object)? {
            Part::Object(d) => d.get(name),
            _ => None,
        }
    }

    /// Whether `name` was set at all.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The object at `name`, created (or put in place of another kind of value) as needed.
    pub(crate) fn object(&mut self, name: &'p str) -> &mut Draft<'p> {
        let part = self.slot(name);
        if !matches!(part, Part::Object(_)) {
            *part = Part::Object(Draft::with_capacity(OBJECT_ROOM));
        }
        match part {
            Part::Object(d) => d,
            // Not reached: made an object above.
            _ => unreachable!("an object was just put there"),
        }
    }

    /// Sets the value of `slot`, creating the extension object, the complex attribute or the
    /// typed element as needed; values of another shape in the way are replaced. Names are as
    /// the schema spells them (the slot's), so they are compared as spelled; an element's type
    /// ignoring ASCII case.
    pub(crate) fn set(&mut self, slot: &'p ScimSlot, value: Value) {
        self.set_part(slot, Cow::Owned(value));
    }

    /// [`Draft::set`] to a value the plan holds, lent rather than copied.
    pub(crate) fn set_lent(&mut self, slot: &'p ScimSlot, value: &'p Value) {
        self.set_part(slot, Cow::Borrowed(value));
    }

    fn set_part(&mut self, slot: &'p ScimSlot, value: Cow<'p, Value>) {
        let holder = match &slot.container {
            Some(urn) => self.object(urn),
            None => self,
        };
        match (&slot.element_type, &slot.sub) {
            (Some(t), Some(sub)) => {
                let list = holder.slot(&slot.attr);
                if !matches!(list, Part::List(_)) {
                    *list = Part::List(Vec::new());
                }
                if let Part::List(items) = list {
                    let at = items.iter().position(|e| e.has_type(t)).unwrap_or_else(|| {
                        let mut element = Draft::with_capacity(OBJECT_ROOM);
                        element.insert_lent("type", t.value());
                        items.push(element);
                        items.len() - 1
                    });
                    if let Some(element) = items.get_mut(at) {
                        element.put(sub, value);
                    }
                }
            }
            (None, Some(sub)) => holder.object(&slot.attr).put(sub, value),
            _ => holder.put(&slot.attr, value),
        }
    }

    /// Whether the element `slot` belongs to exists (always true for a slot that is not a
    /// typed element).
    pub(crate) fn element_exists(&self, slot: &ScimSlot) -> bool {
        let Some(t) = &slot.element_type else {
            return true;
        };
        let holder = match &slot.container {
            Some(urn) => match self.find(urn) {
                Some(Part::Object(d)) => d,
                _ => return false,
            },
            None => self,
        };
        matches!(holder.find(&slot.attr), Some(Part::List(items)) if items.iter().any(|e| e.has_type(t)))
    }

    /// The resource as a JSON value.
    pub(crate) fn into_value(self) -> Value {
        let mut map = Map::with_capacity(self.entries.len());
        for (name, part) in self.entries {
            map.insert(name.to_owned(), part.into_value());
        }
        Value::Object(map)
    }

    /// Writes the resource as JSON text, with `extra` entries after its own (a user's `groups`,
    /// made elsewhere) and `meta_location` added to its `meta` object.
    pub(crate) fn write_json(
        &self,
        out: &mut Vec<u8>,
        extra: &[(&str, &Value)],
        meta_location: Option<&str>,
    ) {
        self.write_object(out, extra, meta_location, None);
    }

    /// [`Draft::write_json`], with `location` as this object's last entry (this is `meta`).
    fn write_object(
        &self,
        out: &mut Vec<u8>,
        extra: &[(&str, &Value)],
        meta_location: Option<&str>,
        location: Option<&str>,
    ) {
        out.push(b'{');
        let mut comma = false;
        let mut key = |out: &mut Vec<u8>, name: &str| {
            if comma {
                out.push(b',');
            }
            comma = true;
            json_text::write_plain_key(out, name);
        };
        for (name, part) in &self.entries {
            key(out, name);
            match (part, meta_location) {
                (Part::Object(meta), Some(_)) if *name == "meta" => {
                    meta.write_object(out, &[], None, meta_location);
                }
                _ => part.write_json(out),
            }
        }
        for (name, value) in extra {
            key(out, name);
            json_text::write_value(out, value);
        }
        if let Some(location) = location {
            key(out, "location");
            json_text::write_str(out, location);
        }
        out.push(b'}');
    }

    fn find(&self, name: &str) -> Option<&Part<'p>> {
        self.position(name).map(|at| &self.entries[at].1)
    }

    /// Where `name` is. Searched from the last entry: the attributes of one object (`name`,
    /// an extension, a typed list) are set one after the other, so the object they go into
    /// is usually the last one made.
    fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().rposition(|(k, _)| *k == name)
    }

    /// The part at `name`, added (as null) when missing.
    fn slot(&mut self, name: &'p str) -> &mut Part<'p> {
        let at = self.position(name).unwrap_or_else(|| {
            self.entries
                .push((name, Part::Value(Cow::Owned(Value::Null))));
            self.entries.len() - 1
        });
        &mut self.entries[at].1
    }

    fn has_type(&self, t: &str) -> bool {
        self.get("type")
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(t))
    }
}

impl Part<'_> {
    fn into_value(self) -> Value {
        match self {
            Part::Value(v) => v.into_owned(),
            Part::Object(d) => d.into_value(),
            Part::List(items) => Value::Array(items.into_iter().map(Draft::into_value).collect()),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Part::Value(v) => json_text::write_value(out, v),
            Part::Object(d) => d.write_object(out, &[], None, None),
            Part::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_object(out, &[], None, None);
                }
                out.push(b']');
            }
        }
    }
}

/// A node of a draft as the filter reads it ([`filter::Node`]): the same answers as the JSON
/// value the draft becomes would give, without making it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DraftNode<'a, 'p> {
    Object(&'a Draft<'p>),
    List(&'a [Draft<'p>]),
    Value(&'a Value),
}

impl<'a, 'p> DraftNode<'a, 'p> {
    /// The node of a whole resource.
    pub(crate) fn of(draft: &'a Draft<'p>) -> Self {
        DraftNode::Object(draft)
    }

    fn of_part(part: &'a Part<'p>) -> Self {
        match part {
            Part::Value(v) => DraftNode::Value(v),
            Part::Object(d) => DraftNode::Object(d),
            Part::List(items) => DraftNode::List(items),
        }
    }
}

impl<'a> filter::Node<'a> for DraftNode<'a, '_> {
    fn member(self, key: &str) -> Option<Self> {
        match self {
            DraftNode::Object(d) => d
                .find(key)
                .or_else(|| {
                    d.entries
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, p)| p)
                })
                .map(DraftNode::of_part),
            DraftNode::Value(v) => v.member(key).map(DraftNode::Value),
            DraftNode::List(_) => None,
        }
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        let (items, value, object): (&[Draft], _, _) = match self {
            DraftNode::List(items) => (items, None, None),
            DraftNode::Value(v) => (&[], Some(v), None),
            DraftNode::Object(_) => (&[], None, Some(self)),
        };
        items
            .iter()
            .map(DraftNode::Object)
            .chain(
                value
                    .into_iter()
                    .flat_map(|v| v.elements().map(DraftNode::Value)),
            )
            .chain(object)
    }

    fn is_object(self) -> bool {
        match self {
            DraftNode::Object(_) => true,
            DraftNode::Value(v) => v.is_object(),
            DraftNode::List(_) => false,
        }
    }

    fn is_null(self) -> bool {
        matches!(self, DraftNode::Value(Value::Null))
    }

    fn value(self) -> Option<&'a Value> {
        match self {
            DraftNode::Value(v) => Some(v),
            DraftNode::Object(_) | DraftNode::List(_) => None,
        }
    }

    fn is_present(self) -> bool {
        match self {
            DraftNode::Object(d) => d
                .entries
                .iter()
                .any(|(_, p)| DraftNode::of_part(p).is_present()),
            DraftNode::List(items) => items.iter().any(|d| DraftNode::Object(d).is_present()),
            DraftNode::Value(v) => v.is_present(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::slot::tests::slot;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn every_kind_of_slot_is_built_where_the_schema_puts_it() {
        let slots = [
            slot(None, "userName", None, None),
            slot(None, "name", None, Some("givenName")),
            slot(None, "emails", Some("work"), Some("value")),
            slot(None, "emails", Some("home"), Some("value")),
            slot(Some(ENTERPRISE), "manager", None, Some("value")),
        ];
        let values = [
            json!("ada"),
            json!("Ada"),
            json!("a@x"),
            json!("a@home"),
            json!("7"),
        ];
        let mut d = Draft::default();
        for (s, v) in slots.iter().zip(values) {
            d.set(s, v);
        }
        let r = d.into_value();
        assert_eq!(
            r,
            json!({
                "userName": "ada",
                "name": {"givenName": "Ada"},
                "emails": [{"type": "work", "value": "a@x"}, {"type": "home", "value": "a@home"}],
                ENTERPRISE: {"manager": {"value": "7"}}
            })
        );
        // What is built reads back through the same slots.
        assert_eq!(slots[3].get(&r), Some(&json!("a@home")));
        assert_eq!(slots[4].get(&r), Some(&json!("7")));
    }

    /// The writes of `a_resource_is_built_in_the_order…`, shared by the two outputs.
    fn ordered_writes() -> Vec<(ScimSlot, Value)> {
        vec![
            (slot(None, "userName", None, None), json!("ada")),
            (slot(None, "name", None, Some("givenName")), json!("Ada")),
            (
                slot(None, "emails", Some("work"), Some("value")),
                json!("a@x"),
            ),
            (
                slot(None, "name", None, Some("familyName")),
                json!("Lovelace"),
            ),
            (
                slot(None, "emails", Some("HOME"), Some("value")),
                json!("a@home"),
            ),
            (
                slot(None, "emails", Some("Work"), Some("primary")),
                json!(true),
            ),
            (
                slot(Some(ENTERPRISE), "manager", None, Some("value")),
                json!("7"),
            ),
            (
                slot(Some(ENTERPRISE), "department", None, None),
                json!("R&D"),
            ),
            (slot(None, "userName", None, None), json!("ada2")),
        ]
    }

    #[test]
    fn a_resource_is_built_in_the_order_of_the_writes_and_a_later_write_wins() {
        let writes = ordered_writes();
        let mut d = Draft::default();
        d.insert("id", json!("1"));
        for (s, v) in &writes {
            d.set(s, v.clone());
        }
        let expected = json!({
            "id": "1",
            "userName": "ada2",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"type": "work", "value": "a@x", "primary": true},
                {"type": "HOME", "value": "a@home"}
            ],
            ENTERPRISE: {"manager": {"value": "7"}, "department": "R&D"}
        });
        let mut text = Vec::new();
        d.write_json(&mut text, &[], None);
        // The same keys in the same order, so the same bytes, written out or made a value.
        assert_eq!(String::from_utf8(text).unwrap(), expected.to_string());
        assert_eq!(d.into_value().to_string(), expected.to_string());
    }

    #[test]
    fn written_out_the_extra_entries_follow_and_meta_gets_its_location() {
        let mut d = Draft::default();
        d.insert("id", json!("7"));
        d.object("meta").insert("resourceType", json!("User"));
        d.insert("title", json!("a \"quoted\" title"));
        let groups = json!([{"value": "g1"}]);
        let mut text = Vec::new();
        d.write_json(&mut text, &[("groups", &groups)], Some("https://x/Users/7"));
        let expected = json!({
            "id": "7",
            "meta": {"resourceType": "User", "location": "https://x/Users/7"},
            "title": "a \"quoted\" title",
            "groups": [{"value": "g1"}]
        });
        assert_eq!(String::from_utf8(text).unwrap(), expected.to_string());
    }

    #[test]
    fn an_element_exists_once_a_slot_of_its_type_is_set() {
        let mut d = Draft::default();
        let work = slot(None, "emails", Some("work"), Some("value"));
        let home_primary = slot(None, "emails", Some("home"), Some("primary"));
        assert!(!d.element_exists(&work));
        assert!(Draft::default().element_exists(&slot(None, "title", None, None)));
        d.set(&work, json!("a@x"));
        assert!(d.element_exists(&slot(None, "emails", Some("WORK"), Some("primary"))));
        assert!(!d.element_exists(&home_primary));
        let manager = slot(Some(ENTERPRISE), "phones", Some("work"), Some("value"));
        assert!(!d.element_exists(&manager));
    }

    #[test]
    fn a_value_of_another_shape_in_the_way_is_replaced() {
        let given = slot(None, "name", None, Some("givenName"));
        let work = slot(None, "emails", Some("work"), Some("value"));
        let mut d = Draft::default();
        d.insert("name", json!("flat"));
        d.set(&given, json!("Ada"));
        d.insert("emails", json!("flat"));
        d.set(&work, json!("a@x"));
        assert_eq!(
            d.into_value(),
            json!({"name": {"givenName": "Ada"}, "emails": [{"type": "work", "value": "a@x"}]})
        );
    }
}
