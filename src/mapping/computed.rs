//! Computed SCIM values: an attribute's `template:` (`"{first_name} {last_name}"`,
//! `"{$.name.first} {$.name.last}"`), a read-only string built from several fields of the
//! legacy record.
//!
//! The grammar: text, with parts in braces. A part is a field name of the record
//! (`{first_name}`, `{name.first}` for a nested field) or a JSONPath (`{$.name.first}`,
//! `{$.emails[?(@.type == 'work')].value}`). `{{` and `}}` are literal braces. A template has
//! at least one part. It is split and its paths compiled once, at load time.
//!
//! Rendering: each part is the text of the scalar it reads (a number or boolean as written),
//! trimmed. A part that is missing, null, not a scalar or empty (or only spaces) is left out,
//! and so is the text that follows it up to the next part: the text between two parts
//! separates two kept parts only, and the separator used is the one right after the earlier
//! part (`"{street}, {zip} {city}"` without a zip is `"1 Main St, Springfield"`). The text
//! before the first part and after the last one is kept whenever any part is. The result is
//! trimmed; when no part is there, or the result is empty, the attribute is absent.
//!
//! Not here: where the value goes in SCIM (`slot`), checks against the entry's other keys
//! (`load/attributes.rs`).

use std::fmt;

use super::legacy_path::{LegacyPath, LegacyRecord};
use super::values::scalar_string;

/// A compiled `template:`.
#[derive(Debug, Clone)]
pub(crate) struct Computed {
    source: String,
    /// Text before the first part.
    prefix: String,
    /// Each part, with the text written after it up to the next part (empty for the last
    /// part, whose trailing text is `suffix`).
    parts: Vec<(LegacyPath, String)>,
    /// Text after the last part.
    suffix: String,
}

/// Why a template was refused at load time (the loader adds file, line and fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ComputedProblem {
    /// No `{…}` part at all: a constant, not a template.
    NoPart,
    /// `{}`.
    EmptyPart,
    /// A `{` without its `}`, or a `}` alone.
    Unbalanced,
    /// The part is neither a field name nor a JSONPath (the part, the reason).
    BadPart(String, String),
}

impl fmt::Display for ComputedProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputedProblem::NoPart => f.write_str("has no {field} part"),
            ComputedProblem::EmptyPart => f.write_str("has an empty part {}"),
            ComputedProblem::Unbalanced => {
                f.write_str("has an unclosed '{' or a stray '}' (write {{ or }} for a brace)")
            }
            ComputedProblem::BadPart(part, why) => write!(f, "has the part {{{part}}}: {why}"),
        }
    }
}

/// A template split into literal text and the raw parts, before the parts are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Part(String),
}

fn tokens(source: &str) -> Result<Vec<Token>, ComputedProblem> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err(ComputedProblem::Unbalanced),
            '{' => {
                let mut part = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(ComputedProblem::Unbalanced),
                        Some(c) => part.push(c),
                    }
                }
                let part = part.trim().to_string();
                if part.is_empty() {
                    return Err(ComputedProblem::EmptyPart);
                }
                out.push(Token::Text(std::mem::take(&mut text)));
                out.push(Token::Part(part));
            }
            c => text.push(c),
        }
    }
    out.push(Token::Text(text));
    Ok(out)
}

/// The JSONPath of a part: itself when it starts with `$`, else the field names it lists
/// (`name.first` → `$['name']['first']`).
fn part_path(part: &str) -> Result<LegacyPath, ComputedProblem> {
    let bad = |why: &str| ComputedProblem::BadPart(part.to_string(), why.to_string());
    let source = if part.starts_with('$') {
        part.to_string()
    } else {
        let names: Vec<&str> = part.split('.').collect();
        if names
            .iter()
            .any(|n| n.is_empty() || n.contains(['\'', '\\', '[', ']', '"']))
        {
            return Err(bad(
                "a field name is letters, digits and _ (nested fields with dots); write a \
                 JSONPath for anything else",
            ));
        }
        let mut s = String::from("$");
        for n in names {
            s.push_str(&format!("['{n}']"));
        }
        s
    };
    LegacyPath::compile(&source).map_err(|e| bad(&format!("not a valid JSONPath ({e})")))
}

impl Computed {
    /// Splits and compiles a template.
    pub(crate) fn parse(source: &str) -> Result<Computed, ComputedProblem> {
        let mut prefix = None;
        let mut parts: Vec<(LegacyPath, String)> = Vec::new();
        let mut pending = String::new();
        for token in tokens(source)? {
            match token {
                Token::Text(t) => pending = t,
                Token::Part(p) => {
                    let text = std::mem::take(&mut pending);
                    match parts.last_mut() {
                        Some((_, after)) => *after = text,
                        None => prefix = Some(text),
                    }
                    parts.push((part_path(&p)?, String::new()));
                }
            }
        }
        let Some(prefix) = prefix else {
            return Err(ComputedProblem::NoPart);
        };
        Ok(Computed {
            source: source.to_string(),
            prefix,
            parts,
            suffix: pending,
        })
    }

    /// The record fields the template reads, for the compiled reader.
    pub(crate) fn paths_mut(&mut self) -> impl Iterator<Item = &mut LegacyPath> {
        self.parts.iter_mut().map(|(path, _)| path)
    }

    /// The computed value for `record` (see the module doc); `None` when no part is there.
    pub(crate) fn render(&self, record: &impl LegacyRecord) -> Option<String> {
        let mut body = String::new();
        // The text after the last part kept: written only if another part follows.
        let mut separator: Option<&str> = None;
        for (path, after) in &self.parts {
            let Some(text) = record.read(path).and_then(scalar_string) else {
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if let Some(sep) = separator {
                body.push_str(sep);
            }
            body.push_str(text);
            separator = Some(after);
        }
        separator?;
        let out = format!("{}{body}{}", self.prefix, self.suffix);
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_string())
    }
}

impl fmt::Display for Computed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use serde_json::Value;

    fn c(s: &str) -> Computed {
        Computed::parse(s).unwrap()
    }

    #[test]
    fn joins_the_fields_as_written() {
        let t = c("{first_name} {last_name}");
        let r = json!({"first_name": "Ada", "last_name": "Lovelace"});
        assert_eq!(t.render(&r).as_deref(), Some("Ada Lovelace"));
        assert_eq!(t.parts.len(), 2);
        assert_eq!(t.to_string(), "{first_name} {last_name}");
        assert_eq!(
            c("{last_name}, {first_name}").render(&r).as_deref(),
            Some("Lovelace, Ada")
        );
    }

    #[test]
    fn reads_nested_fields_and_jsonpaths() {
        let r = json!({
            "name": {"first": "Grace", "last": "Hopper"},
            "emails": [{"type": "home", "value": "g@home"}, {"type": "work", "value": "g@navy"}],
            "n": 7, "on": true
        });
        assert_eq!(
            c("{name.first} {$.name.last}").render(&r).as_deref(),
            Some("Grace Hopper")
        );
        assert_eq!(
            c("{$.emails[?(@.type == 'work')].value}")
                .render(&r)
                .as_deref(),
            Some("g@navy")
        );
        assert_eq!(c("#{n}: {on}").render(&r).as_deref(), Some("#7: true"));
    }

    #[test]
    fn a_missing_or_empty_part_is_left_out_with_its_separator() {
        let t = c("{first} {middle} {last}");
        let r = |v: Value| t.render(&v);
        assert_eq!(
            r(json!({"first": "Ada", "middle": "", "last": "Lovelace"})).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            r(json!({"first": "Ada", "middle": null, "last": "Lovelace"})).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            r(json!({"first": "  ", "last": "Lovelace"})).as_deref(),
            Some("Lovelace")
        );
        assert_eq!(r(json!({"first": "Ada"})).as_deref(), Some("Ada"));
        assert_eq!(
            r(json!({"first": " Ada ", "middle": ["x"], "last": {"a": 1}})).as_deref(),
            Some("Ada")
        );
        // The separator after the earlier part is used.
        let t = c("{street}, {zip} {city}");
        let r = |v: Value| t.render(&v);
        assert_eq!(
            r(json!({"street": "1 Main St", "city": "Springfield"})).as_deref(),
            Some("1 Main St, Springfield")
        );
        assert_eq!(
            r(json!({"zip": "62701", "city": "Springfield"})).as_deref(),
            Some("62701 Springfield")
        );
        assert_eq!(
            r(json!({"street": "1 Main St", "zip": "62701"})).as_deref(),
            Some("1 Main St, 62701")
        );
        assert_eq!(
            r(json!({"street": "1 Main St", "zip": "62701", "city": "Springfield"})).as_deref(),
            Some("1 Main St, 62701 Springfield")
        );
        // Text before the first part and after the last is kept whenever a part is there.
        let t = c("<{a} | {b}>");
        assert_eq!(t.render(&json!({"b": "B"})).as_deref(), Some("<B>"));
        assert_eq!(t.render(&json!({"a": "A"})).as_deref(), Some("<A>"));
    }

    #[test]
    fn no_part_there_is_absent() {
        let t = c("Dr. {first} {last}");
        assert_eq!(t.render(&json!({})), None);
        assert_eq!(t.render(&json!({"first": "", "last": " "})), None);
        assert_eq!(t.render(&json!("not an object")), None);
        assert_eq!(
            t.render(&json!({"last": "Who"})).as_deref(),
            Some("Dr. Who")
        );
    }

    #[test]
    fn doubled_braces_are_text() {
        let t = c("{{{id}}}");
        assert_eq!(t.render(&json!({"id": 3})).as_deref(), Some("{3}"));
    }

    #[test]
    fn refuses_malformed_templates() {
        assert_eq!(
            Computed::parse("plain").unwrap_err(),
            ComputedProblem::NoPart
        );
        assert_eq!(Computed::parse("").unwrap_err(), ComputedProblem::NoPart);
        assert_eq!(
            Computed::parse("a {} b").unwrap_err(),
            ComputedProblem::EmptyPart
        );
        assert_eq!(
            Computed::parse("{a").unwrap_err(),
            ComputedProblem::Unbalanced
        );
        assert_eq!(
            Computed::parse("a}").unwrap_err(),
            ComputedProblem::Unbalanced
        );
        assert_eq!(
            Computed::parse("{a{b}}").unwrap_err(),
            ComputedProblem::Unbalanced
        );
        assert!(matches!(
            Computed::parse("{a..b}").unwrap_err(),
            ComputedProblem::BadPart(p, _) if p == "a..b"
        ));
        assert!(matches!(
            Computed::parse("{$.a[}").unwrap_err(),
            ComputedProblem::BadPart(p, why) if p == "$.a[" && why.contains("JSONPath")
        ));
        assert!(matches!(
            Computed::parse("{it's}").unwrap_err(),
            ComputedProblem::BadPart(..)
        ));
    }

    /// A name part: letters, digits and `_`, not starting with `$`.
    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_]{0,5}"
    }

    proptest! {
        // Whatever the values, the result is the values present, in order, with the text of the
        // template between them; trimmed and never empty.
        #[test]
        fn renders_the_present_parts_in_order(
            names in proptest::collection::vec(name(), 1..4),
            values in proptest::collection::vec(proptest::option::of("[ a-zA-Z]{0,5}"), 4),
            sep in "[ ,;-]{0,3}",
        ) {
            let mut names = names;
            names.dedup();
            let source = names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(&sep);
            let t = Computed::parse(&source).unwrap();
            let mut record = serde_json::Map::new();
            for (n, v) in names.iter().zip(&values) {
                if let Some(v) = v {
                    record.insert(n.clone(), Value::String(v.clone()));
                }
            }
            let present: Vec<String> = names
                .iter()
                .filter_map(|n| record.get(n)?.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string))
                .collect();
            let got = t.render(&Value::Object(record));
            if present.is_empty() {
                prop_assert_eq!(got, None);
            } else {
                let want = present.join(&sep);
                prop_assert_eq!(got.as_deref(), Some(want.trim()));
            }
        }

        // Any text parses or is refused, never panics; and a template of literal text with
        // doubled braces renders that text (around a part that is present).
        #[test]
        fn parsing_never_panics(s in any::<String>()) {
            let _ = Computed::parse(&s);
        }

        #[test]
        fn doubled_braces_round_trip(text in "[a-z{} ]{0,12}") {
            let escaped = text.replace('{', "{{").replace('}', "}}");
            let t = Computed::parse(&format!("{escaped}{{x}}")).unwrap();
            let got = t.render(&json!({"x": "V"}));
            let want = format!("{text}V");
            prop_assert_eq!(got.as_deref(), Some(want.trim()));
        }
    }
}
