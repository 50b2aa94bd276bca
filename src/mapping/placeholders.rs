//! Placeholders in the query values and request bodies of legacy calls: `{id}`, `{member}` and
//! `{tenant}` in `query: { member_id: "{id}" }` and in a `body:` template
//! (`body: { user_id: "{id}", reason: scim }`), as in paths (`template`).
//!
//! A value or body is split once, at load time, into literal pieces and holes; a call only
//! fills the holes. A filled value is always data: in a query it is one form-encoded value
//! (`append_query`), in a body one JSON string (or number), never JSON structure, so no id can
//! add a parameter, a field or a nested object. Which call may hold which placeholder is the
//! loader's check (`load/endpoints.rs`). Not here: paths (`template`), and the body the gateway
//! writes itself on create and update (`translate`).

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Number, Value};

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// The legacy id of the record the call is about (`{id}`).
    Id,
    /// The member's legacy user id, in member calls (`{member}`).
    Member,
    /// The tenant's legacy id (`{tenant}`).
    Tenant,
}

impl Placeholder {
    fn named(name: &str) -> Option<Placeholder> {
        match name {
            "id" => Some(Placeholder::Id),
            "member" => Some(Placeholder::Member),
            "tenant" => Some(Placeholder::Tenant),
            _ => None,
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placeholder::Id => "{id}",
            Placeholder::Member => "{member}",
            Placeholder::Tenant => "{tenant}",
        })
    }
}

/// The values one call fills its placeholders with, and whether an id that stands alone in a
/// body is written as a JSON number (its resource has `id_format: integer`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fill<'a> {
    pub(crate) id: Option<&'a str>,
    pub(crate) member: Option<&'a str>,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) id_integer: bool,
    pub(crate) member_integer: bool,
}

impl<'a> Fill<'a> {
    fn value(&self, p: Placeholder) -> &'a str {
        match p {
            Placeholder::Id => self.id,
            Placeholder::Member => self.member,
            Placeholder::Tenant => self.tenant,
        }
        .unwrap_or_default()
    }

    fn integer(&self, p: Placeholder) -> bool {
        match p {
            Placeholder::Id => self.id_integer,
            Placeholder::Member => self.member_integer,
            Placeholder::Tenant => false,
        }
    }
}

/// Why a value was refused at load time (the loader adds file, line and fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaceholderProblem {
    /// `{user_id}`: a word in braces that is not a placeholder (a typo, most likely).
    Unknown(String),
    /// A placeholder in an object key of a body: keys are never filled.
    InKey(String),
}

impl fmt::Display for PlaceholderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceholderProblem::Unknown(name) => write!(
                f,
                "has the placeholder {{{name}}}; the placeholders are {{id}}, {{member}} and \
                 {{tenant}}"
            ),
            PlaceholderProblem::InKey(key) => write!(
                f,
                "has a placeholder in the key {key:?}; only values are filled, never keys"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Hole(Placeholder),
}

/// A string value with placeholders (`"{tenant}"`, `"org-{tenant}"`), split once. Only
/// `{word}` (letters, digits, `_`) is read as a placeholder; any other brace is text, so a
/// static value such as `{"active":true}` stays as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pieces: Vec<Piece>,
}

impl From<&str> for Text {
    /// A literal value, without placeholders.
    fn from(s: &str) -> Text {
        Text::literal(s)
    }
}

impl Text {
    /// A value without placeholders, whatever it holds.
    pub(crate) fn literal(s: &str) -> Text {
        Text {
            pieces: vec![Piece::Literal(s.to_string())],
        }
    }

    /// Splits `source` into text and placeholders.
    pub(crate) fn parse(source: &str) -> Result<Text, PlaceholderProblem> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(start) = rest.find('{') {
            literal.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let word_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if word_len > 0 && after[word_len..].starts_with('}') {
                let name = &after[..word_len];
                let Some(p) = Placeholder::named(name) else {
                    return Err(PlaceholderProblem::Unknown(name.to_string()));
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Hole(p));
                rest = &after[word_len + 1..];
            } else {
                literal.push('{');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Text { pieces })
    }

    /// The placeholders this value holds.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole(h) => Some(*h),
            Piece::Literal(_) => None,
        })
    }

    /// The placeholder this value is, when it is exactly one placeholder (`"{id}"`).
    fn alone(&self) -> Option<Placeholder> {
        match self.pieces.as_slice() {
            [Piece::Hole(p)] => Some(*p),
            _ => None,
        }
    }

    /// The value with its placeholders filled, as text (encoding is the caller's: a query
    /// value is form-encoded by `append_query`, a body value serialized as a JSON string).
    /// A value of one piece (a constant, or one placeholder) is lent, not copied.
    pub(crate) fn render<'t>(&'t self, fill: &Fill<'t>) -> Cow<'t, str> {
        match self.pieces.as_slice() {
            [] => Cow::Borrowed(""),
            [Piece::Literal(s)] => Cow::Borrowed(s),
            [Piece::Hole(p)] => Cow::Borrowed(fill.value(*p)),
            pieces => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Literal(s) => out.push_str(s),
                        Piece::Hole(p) => out.push_str(fill.value(*p)),
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// A `body:` template: any JSON, whose string values may hold placeholders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BodyTemplate {
    root: Node,
    /// Whether `{id}` is a user's id (else a group's): which `id_format` types it.
    pub(crate) id_is_user: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A number, boolean, null, or a string without placeholders.
    Value(Value),
    /// A string with placeholders.
    Text(Text),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl BodyTemplate {
    /// Compiles a body template. `Err` carries where (`$.reason`, `$.ids[0]`) and what.
    pub(crate) fn parse(v: &Value) -> Result<BodyTemplate, (String, PlaceholderProblem)> {
        Ok(BodyTemplate {
            root: node(v, &mut "$".to_string())?,
            id_is_user: true,
        })
    }

    /// The placeholders the template holds, each once per place.
    pub(crate) fn placeholders(&self) -> Vec<Placeholder> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }

    /// The body with its placeholders filled. A string that is exactly one placeholder
    /// (`"{id}"`) is a JSON number when the fill says that id is an integer (and it is one
    /// that fits in 64 bits), else a string; any other string stays a string.
    pub(crate) fn render(&self, fill: &Fill<'_>) -> Value {
        render(&self.root, fill)
    }
}

fn node(v: &Value, at: &mut String) -> Result<Node, (String, PlaceholderProblem)> {
    Ok(match v {
        Value::String(s) => {
            let t = Text::parse(s).map_err(|p| (at.clone(), p))?;
            if t.placeholders().next().is_some() {
                Node::Text(t)
            } else {
                Node::Value(v.clone())
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                out.push(node(item, at)?);
                at.truncate(len);
            }
            Node::Array(out)
        }
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, item) in map {
                let len = at.len();
                at.push('.');
                at.push_str(k);
                let key = Text::parse(k).map_err(|p| (at.clone(), p))?;
                if key.placeholders().next().is_some() {
                    return Err((at.clone(), PlaceholderProblem::InKey(k.clone())));
                }
                out.push((k.clone(), node(item, at)?));
                at.truncate(len);
            }
            Node::Object(out)
        }
        other => Node::Value(other.clone()),
    })
}

fn collect(n: &Node, out: &mut Vec<Placeholder>) {
    match n {
        Node::Value(_) => {}
        Node::Text(t) => out.extend(t.placeholders()),
        Node::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Node::Object(fields) => fields.iter().for_each(|(_, i)| collect(i, out)),
    }
}

fn render(n: &Node, fill: &Fill<'_>) -> Value {
    match n {
        Node::Value(v) => v.clone(),
        Node::Text(t) => match t.alone() {
            Some(p) if fill.integer(p) => {
                let text = fill.value(p);
                match text.parse::<u64>() {
                    Ok(n) if n.to_string() == text => Value::Number(Number::from(n)),
                    _ => Value::String(text.to_string()),
                }
            }
            _ => Value::String(t.render(fill).into_owned()),
        },
        Node::Array(items) => Value::Array(items.iter().map(|i| render(i, fill)).collect()),
        Node::Object(fields) => {
            let mut map = Map::with_capacity(fields.len());
            for (k, v) in fields {
                map.insert(k.clone(), render(v, fill));
            }
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn fill<'a>(id: &'a str, member: &'a str, tenant: &'a str) -> Fill<'a> {
        Fill {
            id: Some(id),
            member: Some(member),
            tenant: Some(tenant),
            ..Fill::default()
        }
    }

    #[test]
    fn a_value_is_split_into_text_and_placeholders() {
        let t = Text::parse("org-{tenant}/{id}:{member}").unwrap();
        assert_eq!(
            t.placeholders().collect::<Vec<_>>(),
            [Placeholder::Tenant, Placeholder::Id, Placeholder::Member]
        );
        assert_eq!(t.render(&fill("7", "9", "acme")), "org-acme/7:9");
        assert_eq!(Text::parse("{id}").unwrap().alone(), Some(Placeholder::Id));
        assert_eq!(Text::parse("x{id}").unwrap().alone(), None);
    }

    #[test]
    fn other_braces_are_text() {
        for s in ["{\"a\":1}", "{}", "{ id }", "a{", "}b", "{-x}", "", "plain"] {
            let t = Text::parse(s).unwrap();
            assert_eq!(t.placeholders().count(), 0, "{s}");
            assert_eq!(t.render(&fill("1", "2", "3")), s);
        }
        assert_eq!(
            Text::parse("{{id}}").unwrap().render(&fill("7", "", "")),
            "{7}"
        );
    }

    #[test]
    fn an_unknown_word_in_braces_is_refused() {
        assert_eq!(
            Text::parse("{user_id}"),
            Err(PlaceholderProblem::Unknown("user_id".into()))
        );
        assert_eq!(
            Text::parse("{ID}"),
            Err(PlaceholderProblem::Unknown("ID".into()))
        );
        let msg = PlaceholderProblem::Unknown("tenant_id".into()).to_string();
        assert!(
            msg.contains("{tenant_id}") && msg.contains("{tenant}"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_value_renders_empty() {
        let t = Text::parse("a{member}b").unwrap();
        assert_eq!(t.render(&Fill::default()), "ab");
    }

    #[test]
    fn a_literal_is_never_parsed() {
        let t: Text = "{id}".into();
        assert_eq!(t.placeholders().count(), 0);
        assert_eq!(t.render(&fill("7", "", "")), "{id}");
    }

    #[test]
    fn a_body_template_fills_string_values_only() {
        let b = BodyTemplate::parse(&json!({
            "user_id": "{id}",
            "reason": "scim",
            "note": "by {tenant} for {member}",
            "n": 3, "flag": true, "none": null,
            "tags": ["{tenant}", "x", {"m": "{member}"}]
        }))
        .unwrap();
        assert_eq!(
            b.placeholders(),
            [
                Placeholder::Id,
                Placeholder::Tenant,
                Placeholder::Member,
                Placeholder::Tenant,
                Placeholder::Member
            ]
        );
        assert_eq!(
            b.render(&fill("42", "u\"7", "acme")),
            json!({
                "user_id": "42",
                "reason": "scim",
                "note": "by acme for u\"7",
                "n": 3, "flag": true, "none": null,
                "tags": ["acme", "x", {"m": "u\"7"}]
            })
        );
    }

    #[test]
    fn an_id_alone_keeps_the_integer_type_when_told() {
        let b = BodyTemplate::parse(
            &json!({"id": "{id}", "m": "{member}", "s": "#{id}", "t": "{tenant}"}),
        )
        .unwrap();
        let mut f = fill("42", "7", "9");
        f.id_integer = true;
        f.member_integer = true;
        assert_eq!(
            b.render(&f),
            json!({"id": 42, "m": 7, "s": "#42", "t": "9"})
        );
        // Not digits, a leading zero, or too large: stays the text it is.
        for id in ["4x", "007", "99999999999999999999999", ""] {
            let f = Fill {
                id: Some(id),
                id_integer: true,
                ..Fill::default()
            };
            assert_eq!(b.render(&f)["id"], json!(id));
        }
        assert_eq!(b.render(&fill("42", "7", "9"))["id"], json!("42"));
    }

    #[test]
    fn a_body_template_refuses_typos_and_keys_with_placeholders() {
        assert_eq!(
            BodyTemplate::parse(&json!({"a": [1, {"b": "{user}"}]})),
            Err((
                "$.a[1].b".into(),
                PlaceholderProblem::Unknown("user".into())
            ))
        );
        assert_eq!(
            BodyTemplate::parse(&json!({"x": {"{id}": 1}})),
            Err(("$.x.{id}".into(), PlaceholderProblem::InKey("{id}".into())))
        );
        assert!(BodyTemplate::parse(&json!("{id}")).is_ok());
        assert!(BodyTemplate::parse(&json!(null))
            .unwrap()
            .placeholders()
            .is_empty());
    }

    proptest! {
        // Any value fills as data: the body keeps its shape and each filled string decodes to
        // exactly the text around the value.
        #[test]
        fn a_filled_value_never_changes_the_body_shape(id in any::<String>(), tenant in any::<String>()) {
            let b = BodyTemplate::parse(&json!({"a": "{id}", "b": ["x-{tenant}"]})).unwrap();
            let f = Fill { id: Some(&id), tenant: Some(&tenant), id_integer: true, ..Fill::default() };
            let out = b.render(&f);
            let text = serde_json::to_string(&out).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back.as_object().unwrap().len(), 2);
            prop_assert_eq!(back["b"].as_array().unwrap().len(), 1);
            prop_assert_eq!(back["b"][0].as_str().unwrap(), format!("x-{tenant}"));
            match &back["a"] {
                Value::String(s) => prop_assert_eq!(s, &id),
                Value::Number(n) => prop_assert_eq!(n.to_string(), id),
                other => prop_assert!(false, "unexpected {other}"),
            }
        }

        // Parsing then rendering with placeholders filled by their own spelling gives the
        // source back: nothing is lost or reordered.
        #[test]
        fn rendering_the_placeholders_as_themselves_gives_the_source(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{id}".to_string()), Just("{member}".to_string()),
                    Just("{tenant}".to_string()), "[^{}]{0,6}", Just("{".to_string()),
                    Just("}".to_string()), Just("{}".to_string()),
                ],
                0..8,
            )
        ) {
            let source: String = parts.concat();
            let Ok(t) = Text::parse(&source) else {
                // Only a `{word}` that is not a placeholder is refused, which the parts can
                // form by joining ("{" + "id" + "}") — not a placeholder spelled as such.
                return Ok(());
            };
            let f = fill("{id}", "{member}", "{tenant}");
            prop_assert_eq!(t.render(&f), source);
        }
    }
}
