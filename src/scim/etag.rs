//! Entity tags and the conditional request headers of RFC 7644 §3.14 (RFC 7232): parsing an
//! `If-Match` / `If-None-Match` value (`*`, or a comma-separated list of entity tags, weak or
//! strong) and comparing it with a resource's version (`meta.version`, a weak tag such as
//! `W/"7"`). Pure: the operations decide what a match means for them (412, 304).
//!
//! Comparison is always weak (RFC 7232 §2.3.2: the opaque tags are equal, whatever their `W/`
//! prefix): every version the gateway serves is a weak tag, and RFC 7644 §3.14 shows SCIM
//! clients sending those weak tags back in `If-Match`; the strong comparison RFC 7232 asks of
//! `If-Match` would make every such request fail.

use std::fmt;

use serde_json::Value;

use crate::scim::{ScimError, ScimType};

/// One entity tag: `W/"abc"` (weak) or `"abc"` (strong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityTag {
    pub(crate) weak: bool,
    /// The opaque tag, without its quotes.
    pub(crate) opaque: String,
}

impl EntityTag {
    /// Parses one entity tag (RFC 7232 §2.3): an optional `W/`, then a quoted string of
    /// `etagc` characters (no `"`, no control characters, no space).
    pub(crate) fn parse(s: &str) -> Option<EntityTag> {
        let s = s.trim();
        let (weak, rest) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let opaque = rest.strip_prefix('"')?.strip_suffix('"')?;
        if !opaque.bytes().all(is_etagc) {
            return None;
        }
        Some(EntityTag {
            weak,
            opaque: opaque.to_string(),
        })
    }

    /// The weak comparison (RFC 7232 §2.3.2): the opaque tags are the same.
    pub(crate) fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            write!(f, "W/\"{}\"", self.opaque)
        } else {
            write!(f, "\"{}\"", self.opaque)
        }
    }
}

/// `etagc = %x21 / %x23-7E / obs-text` (RFC 7232 §2.3).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

/// The value of an `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    /// `*`: any current representation.
    Any,
    /// One or more entity tags.
    Tags(Vec<EntityTag>),
}

/// A header value that is neither `*` nor a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed;

impl Condition {
    /// Parses a header value: `*`, or `1#entity-tag` (comma-separated, optional whitespace,
    /// empty list elements ignored as RFC 7230 §7 allows). Anything else is [`Malformed`]:
    /// an unquoted tag, an unterminated quote, `*` among tags, nothing at all.
    pub(crate) fn parse(value: &str) -> Result<Condition, Malformed> {
        let value = value.trim();
        if value == "*" {
            return Ok(Condition::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let (weak, after) = match rest.strip_prefix("W/") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let inner = after.strip_prefix('"').ok_or(Malformed)?;
            let end = inner.find('"').ok_or(Malformed)?;
            let opaque = &inner[..end];
            if !opaque.bytes().all(is_etagc) {
                return Err(Malformed);
            }
            tags.push(EntityTag {
                weak,
                opaque: opaque.to_string(),
            });
            rest = inner[end + 1..].trim_start_matches([' ', '\t']);
            if !(rest.is_empty() || rest.starts_with(',')) {
                return Err(Malformed);
            }
        }
        if tags.is_empty() {
            return Err(Malformed);
        }
        Ok(Condition::Tags(tags))
    }

    /// Whether the condition holds for an existing resource whose current tag is `current`
    /// (`None`: the resource has no version, which no listed tag can match; `*` matches it).
    pub(crate) fn matches(&self, current: Option<&str>) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => {
                let Some(current) = current.and_then(EntityTag::parse) else {
                    return false;
                };
                tags.iter().any(|t| t.weak_eq(&current))
            }
        }
    }
}

/// The conditional headers of a request that the gateway honours, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preconditions {
    /// `If-Match`, for PUT, PATCH and DELETE of one resource.
    pub(crate) if_match: Option<Condition>,
    /// `If-None-Match`, for GET of one resource.
    pub(crate) if_none_match: Option<Condition>,
}

/// 412 Precondition Failed (RFC 7644 §3.12 lists 412 for a resource changed on the server; its
/// `scimType` keywords are all for 400, so the gateway's `preconditionFailed` is its own, named
/// after the status). `current` is the resource's version now.
pub(crate) fn precondition_failed(what: &str, current: Option<&str>) -> ScimError {
    let now = match current {
        Some(v) => format!("is at version {v}"),
        None => "has no version".to_string(),
    };
    ScimError::new(
        412,
        Some(ScimType::PreconditionFailed),
        format!(
            "precondition failed: the {what} {now}, which no entity tag of If-Match matches; \
             read it again and retry with its ETag"
        ),
    )
}

/// Checks `If-Match` (`None`: the request has none, or the resource type has no version and
/// the header is ignored) against `resource`, a SCIM resource as read now (its
/// `meta.version`): 412 when the condition does not hold.
pub(crate) fn check_if_match(
    condition: Option<&Condition>,
    resource: &Value,
    what: &str,
) -> Result<(), ScimError> {
    let Some(condition) = condition else {
        return Ok(());
    };
    let current = resource.pointer("/meta/version").and_then(Value::as_str);
    if condition.matches(current) {
        Ok(())
    } else {
        Err(precondition_failed(what, current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(v: &str) -> Vec<EntityTag> {
        match Condition::parse(v).unwrap() {
            Condition::Tags(t) => t,
            Condition::Any => panic!("not a list"),
        }
    }

    #[test]
    fn a_star_is_any_resource() {
        assert_eq!(Condition::parse(" * "), Ok(Condition::Any));
        assert!(Condition::Any.matches(Some("W/\"3\"")));
        assert!(Condition::Any.matches(None));
    }

    #[test]
    fn lists_of_weak_and_strong_tags_are_read() {
        let t = tags(r#"W/"1", "2" ,W/"a-b""#);
        assert_eq!(t.len(), 3);
        assert!(t[0].weak && !t[1].weak && t[2].weak);
        assert_eq!(t[2].opaque, "a-b");
        assert_eq!(tags(r#""""#)[0].opaque, "", "an empty opaque tag is a tag");
        assert_eq!(
            tags(r#", W/"1",,"#).len(),
            1,
            "empty list elements are skipped"
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            " ",
            ",",
            "5",
            "W/5",
            "\"5",
            "W/\"5",
            "\"a\"\"b\"",
            "\"a\" x",
            "*, \"1\"",
            "\"1\", *",
            "\"a b\"",
            "w/\"1\"",
            "\"\u{1}\"",
        ] {
            assert_eq!(Condition::parse(bad), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn if_match_is_checked_against_meta_version() {
        let user = serde_json::json!({"meta": {"version": "W/\"4\""}});
        let stale = Condition::parse(r#"W/"3""#).unwrap();
        let e = check_if_match(Some(&stale), &user, "user").unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (412, Some(ScimType::PreconditionFailed))
        );
        assert!(e.detail.contains("W/\"4\""), "{}", e.detail);
        let current = Condition::parse(r#"W/"3", W/"4""#).unwrap();
        assert!(check_if_match(Some(&current), &user, "user").is_ok());
        assert!(check_if_match(None, &user, "user").is_ok());
        assert!(check_if_match(Some(&Condition::Any), &user, "user").is_ok());
    }

    #[test]
    fn comparison_is_weak() {
        let c = Condition::parse(r#""7""#).unwrap();
        assert!(c.matches(Some("W/\"7\"")));
        let c = Condition::parse(r#"W/"6", W/"7""#).unwrap();
        assert!(c.matches(Some("W/\"7\"")));
        assert!(!c.matches(Some("W/\"8\"")));
        assert!(!c.matches(Some("W/\"77\"")));
        assert!(!c.matches(None), "no version: no tag matches");
    }

    proptest! {
        #[test]
        fn a_printed_list_reads_back(opaques in proptest::collection::vec(("[!#-~]{0,12}", any::<bool>()), 1..5)) {
            let list: Vec<EntityTag> = opaques
                .into_iter()
                .map(|(opaque, weak)| EntityTag { weak, opaque })
                .collect();
            let text = list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(Condition::parse(&text), Ok(Condition::Tags(list.clone())));
            for t in &list {
                let current = EntityTag { weak: true, opaque: t.opaque.clone() }.to_string();
                prop_assert!(Condition::parse(&text).unwrap().matches(Some(&current)));
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = Condition::parse(&s);
        }
    }
}
