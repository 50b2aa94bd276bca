//! Path templates of legacy endpoints (`/api/v1/users/{id}`, `/teams/{id}/members/{member}`,
//! `/t/{tenant}/users`) and query-string encoding.
//!
//! A template is split once, at load time, into literal pieces and `{id}` / `{member}` /
//! `{tenant}` holes.
//! Rendering only concatenates: each value is percent-encoded as ONE path segment, so no id
//! (`../admin`, `a/b`, `x?role=owner`, `%2F`) can add a segment, a query or a fragment to the
//! legacy URL. Which endpoint may hold which placeholder is the loader's check. Query
//! values are form-encoded the same way (`x&role=owner` stays one value). Not here: which
//! endpoint to call (the server decides) and the base URL (the backend client prepends it).

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 "unreserved" characters (ALPHA / DIGIT / "-" / "." / "_" / "~") is
/// encoded in an id segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Id,
    Member,
    Tenant,
}

/// A compiled path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    source: String,
    pieces: Vec<Piece>,
}

/// Why a template was refused at load time (the loader adds file, line and fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateProblem {
    NotAbsolute,
    QueryInPath,
    UnknownPlaceholder(String),
    UnclosedBrace,
    BadCharacter(char),
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateProblem::NotAbsolute => write!(f, "must start with '/'"),
            TemplateProblem::QueryInPath => write!(f, "must not contain '?' or '#'"),
            TemplateProblem::UnknownPlaceholder(p) => {
                write!(
                    f,
                    "has the placeholder {{{p}}}; a path holds only {{id}}, {{tenant}} (and \
                     {{member}} in member endpoints)"
                )
            }
            TemplateProblem::UnclosedBrace => write!(f, "has an unclosed or stray brace"),
            TemplateProblem::BadCharacter(c) => {
                write!(f, "contains {c:?}, which is not allowed in a URL path")
            }
        }
    }
}

/// RFC 3986 `pchar` minus '%' handling (a literal '%' must start an escape) plus '/'.
fn allowed_literal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

impl PathTemplate {
    /// Splits a template. `{id}`, `{member}` and `{tenant}` are the placeholders; the static
    /// query belongs in `query:`.
    pub(crate) fn parse(source: &str) -> Result<PathTemplate, TemplateProblem> {
        if !source.starts_with('/') {
            return Err(TemplateProblem::NotAbsolute);
        }
        if source.contains(['?', '#']) {
            return Err(TemplateProblem::QueryInPath);
        }
        let mut pieces = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    check_literal(rest)?;
                    pieces.push(Piece::Literal(rest.to_string()));
                    rest = "";
                }
                Some(start) => {
                    if rest[start..].starts_with('}') {
                        return Err(TemplateProblem::UnclosedBrace);
                    }
                    if start > 0 {
                        check_literal(&rest[..start])?;
                        pieces.push(Piece::Literal(rest[..start].to_string()));
                    }
                    let after = &rest[start + 1..];
                    let end = after.find('}').ok_or(TemplateProblem::UnclosedBrace)?;
                    let name = &after[..end];
                    pieces.push(match name {
                        "id" => Piece::Id,
                        "member" => Piece::Member,
                        "tenant" => Piece::Tenant,
                        _ => return Err(TemplateProblem::UnknownPlaceholder(name.to_string())),
                    });
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(PathTemplate {
            source: source.to_string(),
            pieces,
        })
    }

    /// The template as written in the mapping.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template has an `{id}` hole.
    pub(crate) fn has_id(&self) -> bool {
        self.pieces.contains(&Piece::Id)
    }

    /// Whether the template has a `{member}` hole.
    pub(crate) fn has_member(&self) -> bool {
        self.pieces.contains(&Piece::Member)
    }

    /// Whether the template has a `{tenant}` hole.
    pub(crate) fn has_tenant(&self) -> bool {
        self.pieces.contains(&Piece::Tenant)
    }

    /// The path with `id` in place of `{id}`, percent-encoded as one path segment. A dot-only id
    /// (`.` or `..`) is fully encoded (`%2E%2E`) so that no URL normaliser treats it as a
    /// relative segment. `None` renders the hole empty (a template without `{id}` ignores it);
    /// callers refuse an empty id before calling the legacy API.
    #[cfg(test)]
    pub(crate) fn render(&self, id: Option<&str>) -> String {
        self.render_with(id, None)
    }

    /// [`PathTemplate::render`] for member endpoints: `id` (the group) in place of `{id}` and
    /// `member` (the member's legacy user id) in place of `{member}`, each encoded as one path
    /// segment.
    pub(crate) fn render_with(&self, id: Option<&str>, member: Option<&str>) -> String {
        self.render_all(id, member, None)
    }

    /// [`PathTemplate::render_with`] with `tenant` (the tenant's legacy id) in place of
    /// `{tenant}`, encoded as one path segment like the others.
    pub(crate) fn render_all(
        &self,
        id: Option<&str>,
        member: Option<&str>,
        tenant: Option<&str>,
    ) -> String {
        let encoded_id = id.map(encode_segment).unwrap_or_default();
        let encoded_member = member.map(encode_segment).unwrap_or_default();
        let encoded_tenant = tenant.map(encode_segment).unwrap_or_default();
        let mut out = String::with_capacity(
            self.source.len() + encoded_id.len() + encoded_member.len() + encoded_tenant.len(),
        );
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Id => out.push_str(&encoded_id),
                Piece::Member => out.push_str(&encoded_member),
                Piece::Tenant => out.push_str(&encoded_tenant),
            }
        }
        out
    }
}

fn check_literal(s: &str) -> Result<(), TemplateProblem> {
    match s.chars().find(|c| !allowed_literal(*c)) {
        Some(c) => Err(TemplateProblem::BadCharacter(c)),
        None => Ok(()),
    }
}

/// Percent-encodes `id` as a single path segment (see [`PathTemplate::render`]).
pub(crate) fn encode_segment(id: &str) -> String {
    if !id.is_empty() && id.chars().all(|c| c == '.') {
        return "%2E".repeat(id.len());
    }
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// `out` with `params` appended as a query string (`k=v&k2=v2` after what is there),
/// form-encoded: a value stays one value, whatever it holds (`x&role=owner`).
pub fn append_query<'a>(
    out: String,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let start = out.len();
    let mut query = form_urlencoded::Serializer::for_suffix(out, start);
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> PathTemplate {
        PathTemplate::parse(s).unwrap()
    }

    #[test]
    fn renders_the_id_in_its_hole() {
        assert_eq!(
            t("/api/v1/users/{id}").render(Some("42")),
            "/api/v1/users/42"
        );
        assert_eq!(
            t("/v2/people/{id}/deactivate").render(Some("p-7")),
            "/v2/people/p-7/deactivate"
        );
        assert_eq!(t("/v2/people").render(None), "/v2/people");
        assert!(t("/u/{id}").has_id());
        assert!(!t("/u").has_id());
    }

    #[test]
    fn renders_the_member_in_its_own_hole() {
        let tpl = t("/api/v1/teams/{id}/members/{member}");
        assert!(tpl.has_id() && tpl.has_member());
        assert!(!t("/teams/{id}/members").has_member());
        assert_eq!(
            tpl.render_with(Some("5"), Some("17")),
            "/api/v1/teams/5/members/17"
        );
        // Each value is one segment, whatever it holds.
        assert_eq!(
            tpl.render_with(Some("a/b"), Some("../17?x=1")),
            "/api/v1/teams/a%2Fb/members/..%2F17%3Fx%3D1"
        );
        assert_eq!(
            tpl.render_with(Some("5"), Some("..")),
            "/api/v1/teams/5/members/%2E%2E"
        );
        // `render` leaves the member hole empty.
        assert_eq!(tpl.render(Some("5")), "/api/v1/teams/5/members/");
    }

    #[test]
    fn renders_the_tenant_in_its_own_hole() {
        let tpl = t("/tenants/{tenant}/users/{id}");
        assert!(tpl.has_tenant() && tpl.has_id());
        assert!(!t("/users/{id}").has_tenant());
        assert_eq!(
            tpl.render_all(Some("7"), None, Some("acme")),
            "/tenants/acme/users/7"
        );
        assert_eq!(
            tpl.render_all(Some("7"), None, Some("../other")),
            "/tenants/..%2Fother/users/7"
        );
        assert_eq!(
            tpl.render_all(Some("7"), None, Some("..")),
            "/tenants/%2E%2E/users/7"
        );
    }

    #[test]
    fn hostile_ids_stay_one_segment() {
        let tpl = t("/api/v1/users/{id}");
        assert_eq!(tpl.render(Some("../admin")), "/api/v1/users/..%2Fadmin");
        assert_eq!(tpl.render(Some("..")), "/api/v1/users/%2E%2E");
        assert_eq!(tpl.render(Some(".")), "/api/v1/users/%2E");
        assert_eq!(tpl.render(Some("a/b")), "/api/v1/users/a%2Fb");
        assert_eq!(
            tpl.render(Some("1?role=owner#x")),
            "/api/v1/users/1%3Frole%3Downer%23x"
        );
        assert_eq!(tpl.render(Some("%2F")), "/api/v1/users/%252F");
        assert_eq!(tpl.render(Some("a b")), "/api/v1/users/a%20b");
        assert_eq!(tpl.render(Some("é")), "/api/v1/users/%C3%A9");
    }

    #[test]
    fn query_values_stay_one_value() {
        let q = append_query(String::new(), [("login", "x&role=owner"), ("page", "1")]);
        assert_eq!(q, "login=x%26role%3Downer&page=1");
        let parsed: Vec<(String, String)> =
            form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        assert_eq!(parsed[0], ("login".into(), "x&role=owner".into()));
        assert_eq!(append_query(String::new(), []), "");
        assert_eq!(append_query("/u?".into(), [("a", "1")]), "/u?a=1");
    }

    #[test]
    fn refuses_bad_templates() {
        assert_eq!(
            PathTemplate::parse("users/{id}"),
            Err(TemplateProblem::NotAbsolute)
        );
        assert_eq!(
            PathTemplate::parse("/users?x=1"),
            Err(TemplateProblem::QueryInPath)
        );
        assert_eq!(
            PathTemplate::parse("/users/{user_id}"),
            Err(TemplateProblem::UnknownPlaceholder("user_id".into()))
        );
        assert_eq!(
            PathTemplate::parse("/users/{id"),
            Err(TemplateProblem::UnclosedBrace)
        );
        assert_eq!(
            PathTemplate::parse("/users/id}"),
            Err(TemplateProblem::UnclosedBrace)
        );
        assert_eq!(
            PathTemplate::parse("/my users"),
            Err(TemplateProblem::BadCharacter(' '))
        );
    }

    proptest! {
        #[test]
        fn no_id_adds_a_segment_a_query_or_a_fragment(id in any::<String>()) {
            let tpl = t("/api/v1/users/{id}/suspend");
            let out = tpl.render(Some(&id));
            prop_assert!(!out.contains(['?', '#']));
            let segments: Vec<&str> = out.split('/').collect();
            prop_assert_eq!(segments.len(), 6);
            prop_assert_eq!(segments[5], "suspend");
            prop_assert!(segments[4] != "." && segments[4] != "..");
            // The segment decodes back to the id.
            let decoded = percent_encoding::percent_decode_str(segments[4]).decode_utf8().unwrap();
            prop_assert_eq!(decoded, id);
        }

        #[test]
        fn no_member_adds_a_segment_a_query_or_a_fragment(id in any::<String>(), member in any::<String>()) {
            let out = t("/teams/{id}/members/{member}").render_with(Some(&id), Some(&member));
            prop_assert!(!out.contains(['?', '#']));
            let segments: Vec<&str> = out.split('/').collect();
            prop_assert_eq!(segments.len(), 5);
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned();
            prop_assert_eq!(decode(segments[2]), id);
            prop_assert_eq!(decode(segments[4]), member);
        }

        #[test]
        fn no_tenant_adds_a_segment_a_query_or_a_fragment(tenant in any::<String>(), id in any::<String>()) {
            let out = t("/t/{tenant}/users/{id}").render_all(Some(&id), None, Some(&tenant));
            prop_assert!(!out.contains(['?', '#']));
            let segments: Vec<&str> = out.split('/').collect();
            prop_assert_eq!(segments.len(), 5);
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned();
            prop_assert_eq!(decode(segments[2]), tenant);
            prop_assert_eq!(decode(segments[4]), id);
        }

        #[test]
        fn no_value_adds_a_query_parameter(v in any::<String>()) {
            let q = append_query(String::new(), [("login", v.as_str()), ("x", "1")]);
            let parsed: Vec<(String, String)> =
                form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            prop_assert_eq!(parsed.len(), 2);
            prop_assert_eq!(&parsed[0].1, &v);
            prop_assert!(!q.contains('#'));
        }
    }
}
