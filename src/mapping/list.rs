//! Reading a legacy list response: the items, the total (body or header), and the next cursor
//! for cursor pagination (body cursor, next URL in the body, or `Link: rel="next"`). Not here:
//! building the page requests (the server does, from [`super::Pagination`]).

use http::HeaderMap;
use serde_json::Value;

use super::capture::{ListItems, ListReader, RecordReader};
use super::error::TranslateError;
use super::legacy_path::{Captured, LegacyPath, LegacyRecord};
use super::plan::{ListEndpoint, MoreFlag, NextSource, Pagination, TotalSource};

/// A list answer as [`ListEndpoint::read_page`] reads it.
#[derive(Debug)]
pub(crate) struct CapturedPage {
    pub(crate) items: Vec<Captured>,
    pub(crate) total: Option<u64>,
    pub(crate) next: Option<String>,
}

/// Why a list answer could not be read by [`ListEndpoint::read_page`].
#[derive(Debug)]
pub(crate) enum PageError {
    /// The bytes are not JSON.
    NotJson,
    /// The answer holds no list of items where the mapping says.
    Translate(TranslateError),
}
use super::values::scalar_string;

impl ListEndpoint {
    /// The legacy users of a list response: the elements of the array at the items path
    /// (`$.data`, or `$` for a body that is itself the array), each the record inside its
    /// envelope when the mapping gives one (`envelope: { item: user }`). A null there is an
    /// empty page; a response without the field, or with something else than a list, or an
    /// item without its envelope, cannot be read.
    pub fn items(&self, body: &Value) -> Result<Vec<Value>, TranslateError> {
        self.take_items(body.clone())
    }

    /// [`ListEndpoint::items`], moved out of the response rather than cloned. Read the total and
    /// the cursor first.
    pub fn take_items(&self, mut body: Value) -> Result<Vec<Value>, TranslateError> {
        match self.items.take_first(&mut body) {
            None => Err(self.no_items()),
            Some(Value::Array(items)) => match &self.endpoint.record.item {
                None => Ok(items),
                Some(key) => items
                    .into_iter()
                    .map(|mut item| match item.get_mut(key).map(std::mem::take) {
                        Some(record) if record.is_object() => Ok(record),
                        _ => Err(TranslateError::LegacyResponse(format!(
                            "an item of the list response at {} has no object under {key:?} \
                             (the mapping's envelope: {{ item: {key} }})",
                            self.items.as_str()
                        ))),
                    })
                    .collect(),
            },
            Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(self.not_a_list()),
        }
    }

    fn no_items(&self) -> TranslateError {
        TranslateError::LegacyResponse(format!(
            "the list response has no items at {}",
            self.items.as_str()
        ))
    }

    fn not_a_list(&self) -> TranslateError {
        TranslateError::LegacyResponse(format!(
            "the list response's {} is not a list",
            self.items.as_str()
        ))
    }

    /// Compiles the reader of this list's answers ([`ListReader`]) where they can be read so:
    /// no answer envelope and no item envelope, the items at field steps, the total and the
    /// cursor under top-level members of their own. Records are read by the resource's
    /// [`RecordReader`], so there is none without it.
    pub(crate) fn compile_reader(&mut self, record: Option<&RecordReader>) {
        self.reader = None;
        if record.is_none()
            || self.endpoint.answer_envelope().is_some()
            || self.endpoint.record.item.is_some()
        {
            return;
        }
        let mut others: Vec<&mut LegacyPath> = Vec::new();
        if let Some(TotalSource::Body(path)) = &mut self.total {
            others.push(path);
        }
        if let Pagination::Cursor { next, more, .. } = &mut self.pagination {
            if let NextSource::Cursor(path) | NextSource::Url(path) = next {
                others.push(path);
            }
            others.extend(more.as_mut().map(|m| &mut m.0));
        }
        self.reader = ListReader::compile(&self.items, &mut others);
    }

    /// A list answer's items (each read by `record`, the resource's reader), total and next
    /// cursor, read by the compiled list reader straight from the answer's bytes: the same as
    /// [`ListEndpoint::take_items`], [`ListEndpoint::total`] and
    /// [`ListEndpoint::next_cursor`] on the whole answer. `None` without a compiled reader.
    pub(crate) fn read_page(
        &self,
        record: &RecordReader,
        bytes: &[u8],
        headers: &HeaderMap,
    ) -> Option<Result<CapturedPage, PageError>> {
        let read = match self.reader.as_ref()?.read(record, bytes) {
            Ok(read) => read,
            Err(_) => return Some(Err(PageError::NotJson)),
        };
        let items = match read.items {
            ListItems::Items(items) => items,
            ListItems::Missing => return Some(Err(PageError::Translate(self.no_items()))),
            ListItems::NotList => return Some(Err(PageError::Translate(self.not_a_list()))),
        };
        Some(Ok(CapturedPage {
            total: self.total(&read.rest, headers),
            next: self.next_cursor(&read.rest, headers),
            items,
        }))
    }

    /// The total number of matching users, when the response says it: a number (or numeric
    /// string) at the body path, or a header holding a plain integer (`X-Total-Count: 319`) or
    /// a `Content-Range` (`items 0-24/319`; `*` means unknown).
    pub fn total(&self, body: &(impl LegacyRecord + ?Sized), headers: &HeaderMap) -> Option<u64> {
        match self.total.as_ref()? {
            TotalSource::Body(path) => match body.read(path)? {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            },
            TotalSource::Header(name) => {
                let text = headers.get(name)?.to_str().ok()?.trim();
                text.parse().ok().or_else(|| {
                    let (_, total) = text.rsplit_once('/')?;
                    total.trim().parse().ok()
                })
            }
        }
    }

    /// The cursor of the next page for cursor pagination; `None` on the last page and for the
    /// other styles. For a next link (body URL or `Link` header), the cursor is the value of
    /// `cursor_param` in the link's query: the gateway never follows a URL the legacy API chose.
    /// When the mapping names a `more` flag and it reads false, this is the last page whatever
    /// cursor the response also gives.
    pub fn next_cursor(
        &self,
        body: &(impl LegacyRecord + ?Sized),
        headers: &HeaderMap,
    ) -> Option<String> {
        let Pagination::Cursor {
            cursor_param,
            next,
            more,
            ..
        } = &self.pagination
        else {
            return None;
        };
        if more.as_ref().is_some_and(|m| m.says_last(body)) {
            return None;
        }
        let cursor = match next {
            NextSource::Cursor(path) => body.read(path).and_then(scalar_string),
            NextSource::Url(path) => body
                .read(path)
                .and_then(Value::as_str)
                .and_then(|url| query_param(url, cursor_param)),
            NextSource::LinkHeader => headers
                .get_all(http::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .and_then(|url| query_param(&url, cursor_param)),
        };
        cursor.filter(|c| !c.is_empty())
    }
}

impl MoreFlag {
    /// Whether the flag reads false: `false`, `"false"` or `0`. A missing flag (or anything
    /// else) leaves the decision to the cursor.
    fn says_last(&self, body: &(impl LegacyRecord + ?Sized)) -> bool {
        match body.read(&self.0) {
            Some(Value::Bool(b)) => !b,
            Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            _ => false,
        }
    }
}

/// The URL of the `rel="next"` link in a `Link` header value (RFC 8288), if any.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .strip_prefix("rel=")
                .map(|r| r.trim_matches('"'))
                .is_some_and(|r| r.split_whitespace().any(|x| x.eq_ignore_ascii_case("next")))
        });
        is_next.then(|| url.to_string())
    })
}

/// The (decoded) value of `name` in the query of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::legacy_path::LegacyPath;
    use crate::mapping::plan::Endpoint;
    use crate::mapping::template::PathTemplate;
    use http::HeaderValue;
    use serde_json::json;

    fn list(items: &str, total: Option<TotalSource>, pagination: Pagination) -> ListEndpoint {
        ListEndpoint {
            carries: None,
            reader: None,
            endpoint: Endpoint {
                name: "users.list",
                method: http::Method::GET,
                path: PathTemplate::parse("/users").unwrap(),
                query: vec![],
                headers: vec![],
                body: None,
                record: Default::default(),
            },
            pagination,
            items: LegacyPath::compile(items).unwrap(),
            total,
        }
    }

    fn page() -> Pagination {
        Pagination::Page {
            page_param: "page".into(),
            size_param: "per_page".into(),
            first_page: 1,
            max_page_size: 100,
        }
    }

    fn cursor(next: NextSource) -> Pagination {
        Pagination::Cursor {
            cursor_param: "cursor".into(),
            size_param: "limit".into(),
            next,
            more: None,
            max_page_size: 50,
        }
    }

    #[test]
    fn items_from_a_field_or_the_root() {
        let body = json!({"data": [{"id": 1}, {"id": 2}]});
        assert_eq!(list("$.data", None, page()).items(&body).unwrap().len(), 2);
        assert_eq!(
            list("$", None, page())
                .items(&json!([{"id": 1}]))
                .unwrap()
                .len(),
            1
        );
        assert!(list("$.data", None, page())
            .items(&json!({"data": []}))
            .unwrap()
            .is_empty());
        assert!(list("$.data", None, page())
            .items(&json!({"data": null}))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn missing_items_are_a_bad_gateway() {
        let e = list("$.data", None, page())
            .items(&json!({"error": "boom"}))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the legacy API's response cannot be read: the list response has no items at $.data"
        );
        let e = list("$.data", None, page())
            .items(&json!({"data": "x"}))
            .unwrap_err();
        assert!(e.to_string().contains("is not a list"));
    }

    #[test]
    fn total_from_body_or_headers() {
        let empty = HeaderMap::new();
        let body = list(
            "$.data",
            Some(TotalSource::Body(
                LegacyPath::compile("$.meta.total").unwrap(),
            )),
            page(),
        );
        assert_eq!(
            body.total(&json!({"meta": {"total": 319}}), &empty),
            Some(319)
        );
        assert_eq!(
            body.total(&json!({"meta": {"total": "12"}}), &empty),
            Some(12)
        );
        assert_eq!(body.total(&json!({}), &empty), None);

        let header = list(
            "$.data",
            Some(TotalSource::Header(http::HeaderName::from_static(
                "x-total-count",
            ))),
            page(),
        );
        let mut h = HeaderMap::new();
        h.insert("x-total-count", HeaderValue::from_static("42"));
        assert_eq!(header.total(&json!({}), &h), Some(42));
        assert_eq!(header.total(&json!({}), &empty), None);

        let range = list(
            "$.data",
            Some(TotalSource::Header(http::header::CONTENT_RANGE)),
            page(),
        );
        let mut h = HeaderMap::new();
        h.insert("content-range", HeaderValue::from_static("items 0-24/319"));
        assert_eq!(range.total(&json!({}), &h), Some(319));
        h.insert("content-range", HeaderValue::from_static("items 0-24/*"));
        assert_eq!(range.total(&json!({}), &h), None);
    }

    #[test]
    fn a_more_flag_reading_false_ends_the_list_whatever_the_cursor() {
        let empty = HeaderMap::new();
        let mut pagination = cursor(NextSource::Cursor(
            LegacyPath::compile("$.meta.after_cursor").unwrap(),
        ));
        if let Pagination::Cursor { more, .. } = &mut pagination {
            *more = Some(MoreFlag(LegacyPath::compile("$.meta.has_more").unwrap()));
        }
        let c = list("$.users", None, pagination);
        let page = |more: Value| json!({"meta": {"after_cursor": "xyz", "has_more": more}});
        assert_eq!(
            c.next_cursor(&page(json!(true)), &empty),
            Some("xyz".into())
        );
        assert_eq!(c.next_cursor(&page(json!(false)), &empty), None);
        assert_eq!(c.next_cursor(&page(json!("false")), &empty), None);
        assert_eq!(c.next_cursor(&page(json!(0)), &empty), None);
        // Without the flag the cursor decides.
        assert_eq!(
            c.next_cursor(&json!({"meta": {"after_cursor": "xyz"}}), &empty),
            Some("xyz".into())
        );
        // A flag saying more, but no cursor to ask for it with: the end.
        assert_eq!(
            c.next_cursor(
                &json!({"meta": {"after_cursor": null, "has_more": true}}),
                &empty
            ),
            None
        );
    }

    #[test]
    fn next_cursor_from_body_url_or_link_header() {
        let empty = HeaderMap::new();
        let c = list(
            "$.data",
            None,
            cursor(NextSource::Cursor(LegacyPath::compile("$.next").unwrap())),
        );
        assert_eq!(
            c.next_cursor(&json!({"next": "abc"}), &empty),
            Some("abc".into())
        );
        assert_eq!(c.next_cursor(&json!({"next": null}), &empty), None);
        assert_eq!(c.next_cursor(&json!({"next": ""}), &empty), None);

        let u = list(
            "$.data",
            None,
            cursor(NextSource::Url(
                LegacyPath::compile("$.links.next").unwrap(),
            )),
        );
        let body = json!({"links": {"next": "https://evil.example/users?limit=50&cursor=a%26b"}});
        assert_eq!(u.next_cursor(&body, &empty), Some("a&b".into()));

        let l = list("$.data", None, cursor(NextSource::LinkHeader));
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            HeaderValue::from_static(
                "<https://api/users?cursor=p1>; rel=\"prev\", <https://api/users?cursor=n2&limit=50>; rel=\"next\"",
            ),
        );
        assert_eq!(l.next_cursor(&json!({}), &h), Some("n2".into()));
        assert_eq!(l.next_cursor(&json!({}), &empty), None);

        // Other styles have no cursor.
        assert_eq!(
            list("$.data", None, page()).next_cursor(&json!({"next": "x"}), &empty),
            None
        );
    }
}
