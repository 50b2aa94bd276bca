//! JSON text written out fast: the same bytes as `serde_json`'s compact writer, with the strings
//! that need no escaping (nearly all of them: names, ids, e-mail addresses) checked eight bytes
//! at a time and copied as they are. Answers are written with it.
//!
//! And JSON text read with one UTF-8 check: `serde_json`'s reader of bytes checks each string
//! it reads on its own (a call per string, ~90 instructions each), its reader of text checks
//! none; [`utf8_text`] checks the whole body once (a word at a time) and hands it to the
//! latter. Legacy answers and request bodies are read through it.
//!
//! And object keys compared without a call: [`same_key`].

use serde_json::Value;

/// `bytes` as text for `serde_json`'s reader of text, or, when they are not UTF-8, the error
/// `serde_json::from_slice` gives for them (JSON text that is not UTF-8 never parses: a byte
/// of an invalid sequence is either in a string, which the byte reader checks, or outside
/// one, where it is no JSON token).
pub fn utf8_text(bytes: &[u8]) -> Result<&str, serde_json::Error> {
    std::str::from_utf8(bytes).map_err(|invalid| {
        serde_json::from_slice::<Value>(bytes)
            .err()
            .unwrap_or_else(|| serde::de::Error::custom(invalid))
    })
}

/// Parses `bytes` as `serde_json::from_slice` does (the same value, the same error), checking
/// their UTF-8 once rather than string by string.
pub fn parse_value(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_str(utf8_text(bytes)?)
}

/// Whether two object keys are the same bytes. Keys are short (`login`, `displayName`) and a
/// lookup compares one with several of the same length; up to 16 bytes they are compared as
/// two overlapping words here rather than through a `memcmp` call (~30 instructions each).
#[inline]
pub fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// The eight bytes of `bytes` from `at` (which leaves eight).
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The four bytes of `bytes` from `at` (which leaves four).
#[inline(always)]
fn half(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Writes `value` as compact JSON text, as `serde_json::to_writer` would.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Not reached with an error: writing into a Vec cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Writes `s` as a JSON string, escaped as `serde_json` escapes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if is_plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Not reached with an error: writing into a Vec cannot fail, and a `str` is valid.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Writes `name` as an object key, `"name":`, without looking for characters to escape: for
/// names known to have none (the schema's attribute names and URNs; checked in debug builds).
pub fn write_plain_key(out: &mut Vec<u8>, name: &str) {
    debug_assert!(is_plain(name.as_bytes()), "{name:?} needs escaping");
    out.reserve(name.len() + 3);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether no byte of `bytes` needs escaping in a JSON string: none is a control character
/// (below 0x20), a quote or a backslash.
fn is_plain(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word);
        // A byte of w below 0x20, or equal to '"' or '\\', sets its high bit in one of these
        // (a byte of 0x80 or above never does: `!w` clears it).
        let below = w.wrapping_sub(ONES * 0x20) & !w;
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
        if (below | zero_in(quote) | zero_in(backslash)) & HIGHS != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let v = json!({
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "middleName": null},
            "active": true, "x": false, "n": -7, "f": 1.5, "big": 18446744073709551615u64,
            "quoted": "say \"hi\"", "path": "C:\\temp", "lines": "a\nb\tc\u{1}\u{1f}\u{7f}",
            "unicode": "Zoë 日本 \u{2028}", "long plain text over eight bytes": "0123456789abcdef",
            "list": [1, "two", [], {}, [null]],
        });
        assert_eq!(text(&v), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn each_byte_that_needs_escaping_is_found_at_every_place_of_a_word() {
        for at in 0..20 {
            for b in (0u8..0x20).chain([b'"', b'\\']) {
                let mut s = vec![b'a'; 20];
                s[at] = b;
                let s = String::from_utf8(s).unwrap();
                assert!(!is_plain(s.as_bytes()), "{s:?}");
                assert_eq!(
                    text(&Value::String(s.clone())),
                    serde_json::to_string(&s).unwrap()
                );
            }
        }
        assert!(is_plain("plain text, é and ~ and \u{7f}".as_bytes()));
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
            "[ -~]{0,24}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((".{0,12}", inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// What `serde_json::from_slice` makes of `bytes`, with its error as text.
    fn by_slice(bytes: &[u8]) -> Result<Value, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_as_serde_json_refuses_it() {
        for bytes in [
            &b"{\"name\": \"caf\xe9\"}"[..],
            b"{\"\xff\": 1}",
            b"[1, \xc3\x28]",
            b"\"ok\" \xed\xa0\x80",
        ] {
            let refused = by_slice(bytes).expect_err("not UTF-8");
            assert_eq!(parse_value(bytes).map_err(|e| e.to_string()), Err(refused));
        }
        assert_eq!(
            parse_value("{\"name\": \"café\"}".as_bytes()).unwrap(),
            json!({"name": "café"})
        );
    }

    proptest! {
        #[test]
        fn any_value_is_written_as_serde_json_writes_it(v in any_value()) {
            prop_assert_eq!(text(&v), serde_json::to_string(&v).unwrap());
        }

        // Any value's text, one byte of it perhaps replaced by any byte (often leaving text
        // that is not UTF-8, or not JSON): parsed as `from_slice` parses it, errors included.
        #[test]
        fn any_text_parses_as_from_slice_parses_it(
            v in any_value(),
            at in any::<prop::sample::Index>(),
            byte in prop::option::of(any::<u8>()),
        ) {
            let mut bytes = serde_json::to_vec(&v).unwrap();
            if let Some(b) = byte {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            prop_assert_eq!(parse_value(&bytes).map_err(|e| e.to_string()), by_slice(&bytes));
        }

        // Two keys of any lengths up to 40 (equal lengths often, as a lookup compares them),
        // the second perhaps the first with one byte changed: equal exactly when `==` says so.
        #[test]
        fn keys_are_the_same_exactly_when_their_bytes_are(
            a in prop::collection::vec(any::<u8>(), 0..40),
            other in prop::collection::vec(any::<u8>(), 0..40),
            change in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
            copy in any::<bool>(),
        ) {
            let mut b = if copy { a.clone() } else { other };
            if let (Some((at, byte)), false) = (change, b.is_empty()) {
                let i = at.index(b.len());
                b[i] = byte;
            }
            prop_assert_eq!(same_key(&a, &b), a == b);
        }
    }

    #[test]
    fn a_key_differing_in_any_one_byte_is_another_key() {
        for n in 0..=24 {
            let a: Vec<u8> = (0..n).map(|i| b'a' + i as u8).collect();
            assert!(same_key(&a, &a.clone()), "length {n}");
            for i in 0..n {
                let mut b = a.clone();
                b[i] = b'_';
                assert!(!same_key(&a, &b), "length {n}, byte {i}");
            }
            assert!(!same_key(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }
}
