//! What the probe's findings are made of: where a value sits in a legacy answer, whether a
//! whole record sits under one key (an envelope the mapping does not declare), and an answer
//! cut down for printing with anything that looks like a secret blanked. Pure.

use serde_json::Value;

use crate::onboard::driver::Exchange;

/// The JSONPaths (`$.data.first_name`, `$.emails[0].value`) of every string in `doc` equal to
/// `needle`, ignoring case; numbers are compared by their text too (an id `42` is found for
/// `"42"`). At most 8, shallowest first.
pub(crate) fn paths_of(doc: &Value, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, "$".to_string(), &mut |path, v| {
        let hit = match v {
            Value::String(s) => s.eq_ignore_ascii_case(needle),
            Value::Number(n) => n.to_string() == needle,
            _ => false,
        };
        if hit {
            out.push(path.to_string());
        }
    });
    out.sort_by_key(|p| (depth(p), p.clone()));
    out.truncate(8);
    out
}

/// The JSONPaths of every member of `doc` whose key is `key` (any depth), shallowest first, at
/// most 8: where an id might be when it is not where the mapping reads it.
pub(crate) fn paths_of_key(doc: &Value, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, "$".to_string(), &mut |path, _| {
        if path.rsplit('.').next() == Some(key) {
            out.push(path.to_string());
        }
    });
    out.sort_by_key(|p| (depth(p), p.clone()));
    out.truncate(8);
    out
}

fn depth(path: &str) -> usize {
    path.matches(['.', '[']).count()
}

fn walk(v: &Value, path: String, visit: &mut dyn FnMut(&str, &Value)) {
    visit(&path, v);
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if is_plain_key(k) {
                    format!("{path}.{k}")
                } else {
                    format!("{path}['{}']", k.replace('\'', "\\'"))
                };
                walk(child, p, visit);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{i}]"), visit);
            }
        }
        _ => {}
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// When `found` (where a value is in the raw answer) is `mapped` (where the mapping reads it,
/// relative to the record) with one more key in front, that key: the answer wraps the record in
/// `{"<key>": …}`. `$.data.first_name` against `$.first_name` gives `data`.
pub(crate) fn wrapping_key(found: &str, mapped: &str) -> Option<String> {
    let rest = mapped.strip_prefix('$')?;
    let head = found.strip_suffix(rest)?;
    let key = head.strip_prefix("$.")?;
    is_plain_key(key).then(|| key.to_string())
}

/// The most common wrapping key over several (found, mapped) pairs, with how many agree.
pub(crate) fn common_wrapping_key<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (found, mapped) in pairs {
        if let Some(k) = wrapping_key(found, mapped) {
            match counts.iter_mut().find(|(c, _)| *c == k) {
                Some((_, n)) => *n += 1,
                None => counts.push((k, 1)),
            }
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n)
}

/// Whether a member named `key` probably holds a secret (a token, a password, an API key):
/// its value is never printed.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "accesskey",
        "privatekey",
        "credential",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// `doc` with the values of members that look like secrets replaced by `"[hidden]"`.
pub(crate) fn without_secrets(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if secret_key(k) && !v.is_null() {
                        Value::String("[hidden]".into())
                    } else {
                        without_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_secrets).collect()),
        other => other.clone(),
    }
}

/// `calls` as a report shows them: bodies and answers with their secrets hidden.
pub(crate) fn shown(calls: &[Exchange]) -> Vec<Exchange> {
    calls
        .iter()
        .map(|c| Exchange {
            body: c.body.as_ref().map(without_secrets),
            answer: without_secrets(&c.answer),
            ..c.clone()
        })
        .collect()
}

/// `doc` on one line, secrets hidden, cut to about `max` characters.
pub(crate) fn excerpt(doc: &Value, max: usize) -> String {
    if doc.is_null() {
        return "(no body)".into();
    }
    let text = match doc {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(&without_secrets(other)).unwrap_or_default(),
    };
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// `s` with the letter case of every ASCII letter swapped (`Probe.X` → `pROBE.x`).
pub(crate) fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// An id of the same form as `id` that names another record: digits stay digits, letters stay
/// letters, the length is kept (the last characters changed).
pub(crate) fn other_id_like(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    let mut changed = 0;
    for c in chars.iter_mut().rev() {
        if changed == 3 {
            break;
        }
        let next = match *c {
            '0'..='8' => char::from(*c as u8 + 1),
            '9' => '1',
            'a'..='e' => char::from(*c as u8 + 1),
            'f' => 'a',
            'g'..='y' => char::from(*c as u8 + 1),
            'z' => 'g',
            'A'..='Y' => char::from(*c as u8 + 1),
            'Z' => 'A',
            _ => continue,
        };
        *c = next;
        changed += 1;
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_is_found_wherever_it_is_ignoring_case() {
        let doc =
            json!({"data": {"first_name": "Ada", "emails": [{"value": "ADA@x.com"}]}, "n": 42});
        assert_eq!(paths_of(&doc, "ada"), vec!["$.data.first_name"]);
        assert_eq!(paths_of(&doc, "ada@x.com"), vec!["$.data.emails[0].value"]);
        assert_eq!(paths_of(&doc, "42"), vec!["$.n"]);
        assert!(paths_of(&doc, "grace").is_empty());
    }

    #[test]
    fn keys_are_found_at_any_depth_shallowest_first() {
        let doc = json!({"data": {"id": "u1", "team": {"id": 7}}, "meta": {}});
        assert_eq!(
            paths_of_key(&doc, "id"),
            vec!["$.data.id", "$.data.team.id"]
        );
        let odd = json!({"a b": {"id": 1}});
        assert_eq!(paths_of_key(&odd, "id"), vec!["$['a b'].id"]);
    }

    #[test]
    fn a_record_under_one_key_is_an_envelope() {
        assert_eq!(
            wrapping_key("$.data.first_name", "$.first_name").as_deref(),
            Some("data")
        );
        assert_eq!(
            wrapping_key("$.user.name.first", "$.name.first").as_deref(),
            Some("user")
        );
        assert_eq!(
            wrapping_key("$.first_name", "$.first_name"),
            None,
            "no envelope"
        );
        assert_eq!(
            wrapping_key("$.data.attrs.x", "$.x"),
            None,
            "two keys: not one envelope"
        );
        assert_eq!(
            wrapping_key("$.data.surname", "$.first_name"),
            None,
            "another field"
        );
        let pairs = [
            ("$.data.a", "$.a"),
            ("$.data.b", "$.b"),
            ("$.meta.c", "$.c"),
        ];
        assert_eq!(common_wrapping_key(pairs), Some(("data".into(), 2)));
    }

    #[test]
    fn secrets_are_hidden_and_long_answers_cut() {
        let doc = json!({"user": {"login": "ada", "api_key": "s3cr3t", "Access-Token": "t", "password": null}});
        let shown = excerpt(&doc, 500);
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("\"t\""),
            "{shown}"
        );
        assert!(
            shown.contains("ada") && shown.contains("[hidden]"),
            "{shown}"
        );
        assert!(
            shown.contains("\"password\":null"),
            "an absent secret stays visible as null: {shown}"
        );
        let long = json!({"x": "y".repeat(100)});
        assert_eq!(excerpt(&long, 20).chars().count(), 21);
        assert_eq!(excerpt(&Value::Null, 20), "(no body)");
    }

    #[test]
    fn another_id_keeps_the_form_of_the_first() {
        assert_eq!(other_id_like("42"), "53");
        assert_eq!(other_id_like("usr_3f2a"), "usr_3a3b");
        let uuid = "8dded348-3c5b-4c2e-9d1a-0f6f1b2c3d4e";
        let other = other_id_like(uuid);
        assert_ne!(other, uuid);
        assert_eq!(other.len(), uuid.len());
        assert!(other
            .chars()
            .zip(uuid.chars())
            .all(|(a, b)| a.is_ascii_hexdigit() == b.is_ascii_hexdigit()));
        assert_eq!(swap_case("Probe.X@a.com"), "pROBE.x@A.COM");
    }
}
