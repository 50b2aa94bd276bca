//! Where a mapped attribute lives in a SCIM User: a compiled form of the mapping's `scim:` path
//! (`userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`,
//! `emails[type eq "work"].value`), with canonical names from the schema, read and written over
//! `serde_json::Value`. Reads match names case-insensitively (RFC 7643 §2.1) and element types
//! case-insensitively; writes use the schema's spelling. Not here: conversions (`values`).

use serde_json::{Map, Value};

use crate::scim::path::AttrPath;
use crate::scim::schema::AttrType;

#[derive(Debug, Clone)]
pub(crate) struct ScimSlot {
    /// The extension URN whose object holds the attribute; `None` for the core schema.
    pub(crate) container: Option<String>,
    pub(crate) attr: String,
    pub(crate) sub: Option<String>,
    /// `Some("work")` for `emails[type eq "work"].value` (then `sub` is set).
    pub(crate) element_type: Option<String>,
    /// The SCIM type of the leaf.
    pub(crate) scim_type: AttrType,
    pub(crate) case_exact: bool,
}

impl ScimSlot {
    /// The path as a mapping author writes it, for messages.
    pub(crate) fn label(&self) -> String {
        let mut s = String::new();
        if let Some(urn) = &self.container {
            s.push_str(urn);
            s.push(':');
        }
        s.push_str(&self.attr);
        if let Some(t) = &self.element_type {
            s.push_str(&format!("[type eq {t:?}]"));
        }
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }

    /// A key that two spellings of the same slot share, for duplicate detection.
    pub(crate) fn key(&self) -> String {
        self.label().to_lowercase()
    }

    /// The attribute paths this slot reports in a resource (for `/Schemas`): the leaf, plus
    /// `type` for a type-selected element.
    pub(crate) fn attr_paths(&self) -> Vec<AttrPath> {
        let base = AttrPath {
            schema: self.container.clone(),
            name: self.attr.clone(),
            sub: None,
        };
        let mut out = vec![AttrPath {
            sub: self.sub.clone(),
            ..base.clone()
        }];
        if self.element_type.is_some() {
            out.push(AttrPath {
                sub: Some("type".into()),
                ..base
            });
        }
        out
    }

    /// The value in `resource`, if present and not null.
    pub(crate) fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let holder = match &self.container {
            Some(urn) => get_ci(resource, urn)?,
            None => resource,
        };
        let attr = get_ci(holder, &self.attr)?;
        let v = match (&self.element_type, &self.sub) {
            (Some(t), Some(sub)) => get_ci(find_element(attr.as_array()?, t)?, sub)?,
            (None, Some(sub)) => get_ci(attr, sub)?,
            _ => attr,
        };
        (!v.is_null()).then_some(v)
    }

    /// Sets the value in `resource`, creating the extension object, the complex attribute or
    /// the typed element as needed; values of another shape in the way are replaced. For a
    /// resource that only slots have written, as the translation of a legacy record builds it:
    /// every key there is spelled as the schema spells it, so the keys are looked up as spelled,
    /// without a scan for another case, and a leaf is inserted with one look-up.
    pub(crate) fn set_built(&self, resource: &mut Value, value: Value) {
        let mut holder = resource;
        if let Some(urn) = &self.container {
            holder = child_object_exact(holder, urn);
        }
        match (&self.element_type, &self.sub) {
            (Some(t), Some(sub)) => {
                let list = child_exact(holder, &self.attr);
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                if let Value::Array(items) = list {
                    let pos = items.iter().position(|e| type_is(e, t)).unwrap_or_else(|| {
                        let mut element = Map::new();
                        element.insert("type".into(), Value::String(t.clone()));
                        items.push(Value::Object(element));
                        items.len() - 1
                    });
                    if let Some(element) = items.get_mut(pos) {
                        insert_exact(element, sub, value);
                    }
                }
            }
            (None, Some(sub)) => insert_exact(child_object_exact(holder, &self.attr), sub, value),
            _ => insert_exact(holder, &self.attr, value),
        }
    }

    /// Whether the element this slot belongs to exists (always true for a slot that is not a
    /// typed element). Constant sub-attributes such as `primary: true` are only added to
    /// elements that exist.
    pub(crate) fn element_exists(&self, resource: &Value) -> bool {
        let Some(t) = &self.element_type else {
            return true;
        };
        let holder = match &self.container {
            Some(urn) => get_ci(resource, urn),
            None => Some(resource),
        };
        holder
            .and_then(|h| get_ci(h, &self.attr))
            .and_then(Value::as_array)
            .is_some_and(|items| find_element(items, t).is_some())
    }
}

/// `obj[key]`, trying the exact key first, then any key equal ignoring ASCII case.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn type_is(element: &Value, t: &str) -> bool {
    get_ci(element, "type")
        .and_then(Value::as_str)
        .is_some_and(|x| x.eq_ignore_ascii_case(t))
}

fn find_element<'a>(items: &'a [Value], t: &str) -> Option<&'a Value> {
    items.iter().find(|e| type_is(e, t))
}

/// `obj[key]` as a mutable slot, the key as spelled, making `obj` an object first if it is not
/// one.
fn child_exact<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    match obj {
        Value::Object(map) => {
            if !map.contains_key(key) {
                map.insert(key.to_string(), Value::Null);
            }
            match map.get_mut(key) {
                Some(v) => v,
                None => unreachable!("the key is there"),
            }
        }
        // Not reached: `obj` was made an object above.
        other => other,
    }
}

/// Like [`child_exact`], and makes the child an object.
fn child_object_exact<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    let c = child_exact(obj, key);
    if !c.is_object() {
        *c = Value::Object(Map::new());
    }
    c
}

/// `obj[key] = value`, the key as spelled (an existing key keeps its place), making `obj` an
/// object first if it is not one.
fn insert_exact(obj: &mut Value, key: &str, value: Value) {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if let Value::Object(map) = obj {
        map.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slot(container: Option<&str>, attr: &str, t: Option<&str>, sub: Option<&str>) -> ScimSlot {
        ScimSlot {
            container: container.map(String::from),
            attr: attr.into(),
            sub: sub.map(String::from),
            element_type: t.map(String::from),
            scim_type: AttrType::String,
            case_exact: false,
        }
    }

    #[test]
    fn reads_and_writes_every_kind_of_slot() {
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let mut r = json!({});
        slot(None, "userName", None, None).set_built(&mut r, json!("ada"));
        slot(None, "name", None, Some("givenName")).set_built(&mut r, json!("Ada"));
        slot(None, "emails", Some("work"), Some("value")).set_built(&mut r, json!("a@x"));
        slot(None, "emails", Some("home"), Some("value")).set_built(&mut r, json!("a@home"));
        slot(Some(enterprise), "manager", None, Some("value")).set_built(&mut r, json!("7"));
        assert_eq!(
            r,
            json!({
                "userName": "ada",
                "name": {"givenName": "Ada"},
                "emails": [{"type": "work", "value": "a@x"}, {"type": "home", "value": "a@home"}],
                enterprise: {"manager": {"value": "7"}}
            })
        );
        assert_eq!(
            slot(None, "emails", Some("home"), Some("value")).get(&r),
            Some(&json!("a@home"))
        );
        assert_eq!(
            slot(Some(enterprise), "manager", None, Some("value")).get(&r),
            Some(&json!("7"))
        );
    }

    #[test]
    fn a_resource_is_built_in_the_order_of_the_writes_and_a_later_write_wins() {
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let writes = [
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
                slot(None, "emails", Some("home"), Some("value")),
                json!("a@home"),
            ),
            (
                slot(None, "emails", Some("work"), Some("primary")),
                json!(true),
            ),
            (
                slot(Some(enterprise), "manager", None, Some("value")),
                json!("7"),
            ),
            (
                slot(Some(enterprise), "department", None, None),
                json!("R&D"),
            ),
            (slot(None, "userName", None, None), json!("ada2")),
        ];
        let mut built = json!({"id": "1"});
        for (s, v) in &writes {
            s.set_built(&mut built, v.clone());
        }
        let expected = json!({
            "id": "1",
            "userName": "ada2",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"type": "work", "value": "a@x", "primary": true},
                {"type": "home", "value": "a@home"}
            ],
            enterprise: {"manager": {"value": "7"}, "department": "R&D"}
        });
        // The same keys in the same order, so the same bytes answered.
        assert_eq!(built.to_string(), expected.to_string());
    }

    #[test]
    fn reads_ignore_case_of_names_and_types() {
        let r = json!({"USERNAME": "ada", "Emails": [{"Type": "Work", "Value": "a@x"}]});
        assert_eq!(
            slot(None, "userName", None, None).get(&r),
            Some(&json!("ada"))
        );
        let work = slot(None, "emails", Some("work"), Some("value"));
        assert_eq!(work.get(&r), Some(&json!("a@x")));
        assert!(work.element_exists(&r));
        assert!(!slot(None, "emails", Some("home"), Some("primary")).element_exists(&r));
        assert_eq!(
            slot(None, "title", None, None).get(&json!({"title": null})),
            None
        );
    }

    #[test]
    fn labels_and_paths() {
        let s = slot(None, "emails", Some("work"), Some("value"));
        assert_eq!(s.label(), "emails[type eq \"work\"].value");
        assert_eq!(s.attr_paths().len(), 2);
    }
}
