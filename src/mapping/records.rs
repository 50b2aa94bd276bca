//! Where the record is in a legacy call: unwrapping a single-record answer from its envelope
//! (`{"data": {…}}` → `{…}`), wrapping a request body in one (`{…}` → `{"user": {…}}`), and the
//! id a create names in its `Location` header. Attribute paths, `id`, `version`… are relative
//! to the record, so the rest of the mapping never sees an envelope. List items are unwrapped
//! with the items (`list.rs`). Not here: when the gateway reads a record again (the server).

use serde_json::{Map, Value};

use crate::scim::json_text;

use super::plan::Endpoint;

impl Endpoint {
    /// The record in `answer`, the body of a success answer of this endpoint: the value under
    /// the answer envelope's key, or the answer itself without one. `Null` when the answer holds
    /// no record: empty (204), or without the envelope's key, or with something else than an
    /// object under it.
    pub fn record_of(&self, answer: Value) -> Value {
        let Some(key) = &self.record.answer else {
            return answer;
        };
        match answer {
            Value::Object(mut o) => match o.remove(key) {
                Some(record @ Value::Object(_)) => record,
                _ => Value::Null,
            },
            _ => Value::Null,
        }
    }

    /// The request body that carries `record`: wrapped in the body envelope's key, or the record
    /// itself without one.
    pub fn body_with(&self, record: &Value) -> Value {
        match &self.record.body {
            None => record.clone(),
            Some(key) => {
                let mut o = Map::new();
                o.insert(key.clone(), record.clone());
                Value::Object(o)
            }
        }
    }

    /// [`Endpoint::body_with`] as the bytes sent: the body `write` writes (compact JSON text),
    /// in the endpoint's body envelope if it has one (`{"user": …}`), not copied.
    pub(crate) fn body_bytes(&self, write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        // Room for a usual record at once, rather than growing by doubling from a few bytes.
        let mut out = Vec::with_capacity(1024);
        match &self.record.body {
            None => write(&mut out),
            Some(key) => {
                out.push(b'{');
                json_text::write_str(&mut out, key);
                out.push(b':');
                write(&mut out);
                out.push(b'}');
            }
        }
        out
    }

    /// Whether this endpoint's answers hold the record under a key (`envelope: { answer: … }`).
    pub(crate) fn answer_envelope(&self) -> Option<&str> {
        self.record.answer.as_deref()
    }
}

/// The id a create names in its `Location` header (`/api/users/usr_3f2a`,
/// `https://api.example.com/users/42?view=full`): the last segment of the path, percent-decoded.
/// `None` when there is no non-empty segment or it does not decode to text.
pub(crate) fn location_id(location: &str) -> Option<String> {
    let no_fragment = location.split('#').next().unwrap_or(location);
    let path = no_fragment.split('?').next().unwrap_or(no_fragment);
    // An absolute URL: the path starts after the authority.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => path,
    };
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    if last.is_empty() {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!decoded.is_empty() && !decoded.contains('/')).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mapping::plan::RecordRules;
    use crate::mapping::template::PathTemplate;

    fn endpoint(answer: Option<&str>, body: Option<&str>) -> Endpoint {
        Endpoint {
            name: "users.create",
            method: http::Method::POST,
            path: PathTemplate::parse("/users").unwrap(),
            query: vec![],
            headers: vec![],
            body: None,
            record: RecordRules {
                answer: answer.map(str::to_string),
                body: body.map(str::to_string),
                ..RecordRules::default()
            },
        }
    }

    #[test]
    fn an_answer_is_unwrapped_from_its_envelope() {
        let e = endpoint(Some("data"), None);
        assert_eq!(
            e.record_of(json!({"data": {"id": "7"}, "meta": {}})),
            json!({"id": "7"})
        );
        assert_eq!(e.answer_envelope(), Some("data"));
    }

    #[test]
    fn an_answer_without_the_record_is_null() {
        let e = endpoint(Some("data"), None);
        for answer in [
            Value::Null,
            json!({}),
            json!({"user": {"id": 1}}),
            json!({"data": null}),
            json!({"data": [1]}),
            json!({"data": "7"}),
            json!([{"data": {}}]),
        ] {
            assert_eq!(e.record_of(answer.clone()), Value::Null, "{answer}");
        }
    }

    #[test]
    fn without_an_envelope_the_answer_is_the_record() {
        let e = endpoint(None, None);
        assert_eq!(e.record_of(json!({"id": 1})), json!({"id": 1}));
        assert_eq!(e.record_of(Value::Null), Value::Null);
        assert_eq!(e.answer_envelope(), None);
    }

    #[test]
    fn a_body_is_wrapped_in_its_envelope() {
        let record = json!({"login": "ada"});
        assert_eq!(
            endpoint(None, Some("user")).body_with(&record),
            json!({"user": {"login": "ada"}})
        );
        assert_eq!(endpoint(Some("data"), None).body_with(&record), record);
        for e in [endpoint(None, Some("user")), endpoint(Some("data"), None)] {
            let text = e.body_bytes(|out| json_text::write_value(out, &record));
            let sent: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(sent, e.body_with(&record));
        }
    }

    #[test]
    fn the_location_names_the_id_in_its_last_segment() {
        for (location, id) in [
            ("/api/v2/users/usr_3f2a", Some("usr_3f2a")),
            ("/api/v2/users/42/", Some("42")),
            ("https://api.example.com/users/42?view=full#x", Some("42")),
            ("http://host:8080/users/a%20b", Some("a b")),
            ("users/9", Some("9")),
            ("9", Some("9")),
            ("https://api.example.com", None),
            ("https://api.example.com/", None),
            ("/", None),
            ("", None),
            ("/users/a%2Fb", None),
            ("/users/%FF", None),
        ] {
            assert_eq!(location_id(location).as_deref(), id, "{location:?}");
        }
    }
}
