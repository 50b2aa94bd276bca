//! Where a mapped attribute lives in a SCIM User: a compiled form of the mapping's `scim:` path
//! (`userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`,
//! `emails[type eq "work"].value`), with canonical names from the schema, read and written over
//! `serde_json::Value`. Reads match names case-insensitively (RFC 7643 §2.1) and element types
//! case-insensitively. Not here: conversions (`values`), and building a resource from slots
//! (`draft`, with the schema's spelling).

use serde_json::Value;

use crate::scim::path::AttrPath;
use crate::scim::schema::AttrType;

#[derive(Debug, Clone)]
pub(crate) struct ScimSlot {
    /// The extension URN whose object holds the attribute; `None` for the core schema.
    pub(crate) container: Option<String>,
    pub(crate) attr: String,
    pub(crate) sub: Option<String>,
    /// `Some("work")` for `emails[type eq "work"].value` (then `sub` is set).
    pub(crate) element_type: Option<ElementType>,
    /// The SCIM type of the leaf.
    pub(crate) scim_type: AttrType,
    pub(crate) case_exact: bool,
}

/// The type of a typed element (`work`), read as text; also held as the JSON string a
/// draft lends to each element it makes, so that making one copies nothing.
#[derive(Clone, PartialEq)]
pub(crate) struct ElementType(Value);

impl ElementType {
    pub(crate) fn new(t: String) -> Self {
        ElementType(Value::String(t))
    }

    /// The type as the JSON string value of an element's `type`.
    pub(crate) fn value(&self) -> &Value {
        &self.0
    }
}

impl std::ops::Deref for ElementType {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str().unwrap_or_default()
    }
}

impl std::fmt::Debug for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
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
}

/// `obj[key]`, trying the exact key first, then any key equal ignoring ASCII case.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    crate::scim::member(obj.as_object()?, key)
}

fn type_is(element: &Value, t: &str) -> bool {
    get_ci(element, "type")
        .and_then(Value::as_str)
        .is_some_and(|x| x.eq_ignore_ascii_case(t))
}

fn find_element<'a>(items: &'a [Value], t: &str) -> Option<&'a Value> {
    items.iter().find(|e| type_is(e, t))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A string slot: `container` (an extension URN), `attr`, the element type `t` and `sub`.
    pub(crate) fn slot(
        container: Option<&str>,
        attr: &str,
        t: Option<&str>,
        sub: Option<&str>,
    ) -> ScimSlot {
        ScimSlot {
            container: container.map(String::from),
            attr: attr.into(),
            sub: sub.map(String::from),
            element_type: t.map(|t| ElementType::new(t.into())),
            scim_type: AttrType::String,
            case_exact: false,
        }
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
