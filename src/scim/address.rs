//! E-mail addresses as RFC 5321/5322 addr-specs, for the tenants' domain allow-list: a local
//! part (a dot-atom, or a quoted string), exactly one `@` outside quotes, and a domain that is a
//! host name (compared by its IDNA A-label, `bücher.example` ↔ `xn--bcher-kva.example`) or an
//! address literal (`[192.0.2.1]`). Nothing with a control character parses. Pure: no I/O.

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// The longest address accepted, in bytes (RFC 5321 §4.5.3.1.3: a path of 256 octets with its
/// angle brackets).
pub const MAX_ADDRESS_BYTES: usize = 254;
/// The longest local part, in bytes (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_BYTES: usize = 64;

/// An address that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The local part as written (a quoted one with its quotes).
    pub local: String,
    /// Whether the local part is a quoted string (`"a@b"@acme.com`).
    pub quoted_local: bool,
    /// Where the address is.
    pub domain: Domain,
}

/// The part after the `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// A host name, as its ASCII form: lower case, IDNA A-labels, no trailing dot.
    Name(String),
    /// An address literal, with its brackets (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
    Literal(String),
}

/// Why a text is not an address. The messages never quote the text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// A control character (C0, DEL or C1): NUL, CR, LF, tab and the like.
    ControlCharacter,
    /// No `@` outside quotes.
    NoAt,
    /// More than one `@` outside quotes.
    SecondAt,
    /// Nothing before the `@`.
    EmptyLocal,
    /// The local part is neither a dot-atom nor a quoted string.
    BadLocal(&'static str),
    /// Longer than [`MAX_ADDRESS_BYTES`] or its local part longer than [`MAX_LOCAL_BYTES`].
    TooLong,
    /// Nothing after the `@`.
    EmptyDomain,
    /// The domain is not a host name.
    BadDomain(&'static str),
    /// The address literal is malformed.
    BadLiteral,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::ControlCharacter => {
                f.write_str("contains a control character (such as NUL, CR, LF or tab)")
            }
            AddressError::NoAt => f.write_str("has no @"),
            AddressError::SecondAt => f.write_str("has more than one @ (outside quotes)"),
            AddressError::EmptyLocal => f.write_str("has nothing before the @"),
            AddressError::BadLocal(why) => write!(f, "has a malformed local part: {why}"),
            AddressError::TooLong => write!(
                f,
                "is too long (at most {MAX_ADDRESS_BYTES} bytes, {MAX_LOCAL_BYTES} before the @)"
            ),
            AddressError::EmptyDomain => f.write_str("has nothing after the @"),
            AddressError::BadDomain(why) => {
                write!(f, "has a domain that is not a host name: {why}")
            }
            AddressError::BadLiteral => f.write_str("has a malformed address literal"),
        }
    }
}

impl std::error::Error for AddressError {}

/// RFC 5322 `atext`, plus the non-ASCII characters of RFC 6531's internationalised local
/// parts — but no control, no white space and no invisible formatting character (zero-width
/// and bidirectional controls, soft hyphen, byte-order mark), which would make one login look
/// like another.
fn is_atext(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    }
    let invisible = matches!(c,
        '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}');
    !c.is_control() && !c.is_whitespace() && !invisible
}

/// Parses `text` as an addr-spec. Surrounding spaces are not trimmed: they make it fail.
pub fn parse(text: &str) -> Result<Address, AddressError> {
    if text.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    let (local, quoted_local, rest) = split_local(text)?;
    let domain_text = rest.strip_prefix('@').ok_or(AddressError::NoAt)?;
    if domain_text.contains('@') {
        return Err(AddressError::SecondAt);
    }
    if local.len() > MAX_LOCAL_BYTES || text.len() > MAX_ADDRESS_BYTES {
        return Err(AddressError::TooLong);
    }
    if domain_text.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    let domain = if domain_text.starts_with('[') {
        Domain::Literal(parse_literal(domain_text)?)
    } else {
        Domain::Name(domain_to_ascii(domain_text)?)
    };
    Ok(Address {
        local: local.to_string(),
        quoted_local,
        domain,
    })
}

/// The local part of `text`, whether it is quoted, and what follows it (which starts with the
/// `@` when there is one).
fn split_local(text: &str) -> Result<(&str, bool, &str), AddressError> {
    if let Some(inner) = text.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '"' => {
                    let end = 1 + i + 1;
                    let rest = &text[end..];
                    if !rest.starts_with('@') {
                        return Err(if rest.contains('@') {
                            AddressError::BadLocal("text after the closing quote")
                        } else {
                            AddressError::NoAt
                        });
                    }
                    if end == 2 {
                        return Err(AddressError::EmptyLocal);
                    }
                    return Ok((&text[..end], true, rest));
                }
                _ => {}
            }
        }
        return Err(AddressError::BadLocal("an unclosed quote"));
    }
    let at = text.find('@').ok_or(AddressError::NoAt)?;
    let (local, rest) = text.split_at(at);
    if local.is_empty() {
        return Err(AddressError::EmptyLocal);
    }
    if rest[1..].contains('@') {
        return Err(AddressError::SecondAt);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::BadLocal(
            "a dot at its start or end, or two in a row",
        ));
    }
    if !local.chars().all(|c| c == '.' || is_atext(c)) {
        return Err(AddressError::BadLocal(
            "a character only allowed inside quotes (such as a space, a comma or a bracket)",
        ));
    }
    Ok((local, false, rest))
}

/// An address literal `[...]`: RFC 5321 dtext (printable ASCII but `[`, `]`, `\`) inside.
fn parse_literal(text: &str) -> Result<String, AddressError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or(AddressError::BadLiteral)?;
    let dtext = |b: u8| (33..=90).contains(&b) || (94..=126).contains(&b);
    if inner.is_empty() || !inner.bytes().all(dtext) {
        return Err(AddressError::BadLiteral);
    }
    Ok(text.to_ascii_lowercase())
}

/// A host name as its ASCII form (lower case, A-labels), or why it is not one: IDNA (UTS #46,
/// with the STD3 rules), then letters, digits and hyphens in labels of 1 to 63 characters that
/// neither start nor end with a hyphen, at most 253 characters in all, no trailing dot, and a
/// last label that is not all digits (an IP address must be written as a literal).
pub fn domain_to_ascii(domain: &str) -> Result<String, AddressError> {
    if domain.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    if domain.ends_with('.') {
        return Err(AddressError::BadDomain("a trailing dot"));
    }
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Allow,
            DnsLength::Verify,
        )
        .map_err(|_| {
            AddressError::BadDomain(
                "only letters, digits, hyphens and dots, in labels of 1 to 63 characters",
            )
        })?;
    let ascii = ascii.into_owned();
    if ascii.is_empty() || ascii.len() > 253 {
        return Err(AddressError::BadDomain(
            "empty or longer than 253 characters",
        ));
    }
    for label in ascii.split('.') {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ldh {
            return Err(AddressError::BadDomain(
                "only letters, digits, hyphens and dots, in labels of 1 to 63 characters",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::BadDomain(
                "a label starts or ends with a hyphen",
            ));
        }
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(AddressError::BadDomain(
            "an IP address must be written in brackets, and is not a domain",
        ));
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn domain_of(text: &str) -> String {
        match parse(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .domain
        {
            Domain::Name(d) => d,
            Domain::Literal(l) => panic!("{text:?}: a literal {l}"),
        }
    }

    #[test]
    fn ordinary_addresses_parse_to_their_lower_case_domain() {
        assert_eq!(domain_of("ada@acme.com"), "acme.com");
        assert_eq!(domain_of("Ada.Lovelace+scim@EU.Acme.COM"), "eu.acme.com");
        assert_eq!(domain_of("o'brien@acme.com"), "acme.com");
        assert_eq!(domain_of("x#y?z@acme.com"), "acme.com");
        assert_eq!(domain_of("ops@localhost"), "localhost");
        assert_eq!(domain_of("josé@acme.com"), "acme.com");
        // Invisible characters and Unicode spaces are not letters.
        for hidden in [
            "jo\u{200b}e@acme.com",
            "jo\u{202e}e@acme.com",
            "jo\u{a0}e@acme.com",
        ] {
            assert!(parse(hidden).is_err(), "{hidden:?}");
        }
        let a = parse("a@acme.com").unwrap();
        assert_eq!(a.local, "a");
        assert!(!a.quoted_local);
    }

    #[test]
    fn unicode_domains_compare_by_their_a_label() {
        assert_eq!(domain_of("jo@bücher.example"), "xn--bcher-kva.example");
        assert_eq!(domain_of("jo@BÜCHER.example"), "xn--bcher-kva.example");
        assert_eq!(
            domain_of("jo@xn--bcher-kva.example"),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            domain_to_ascii("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        // Not valid Punycode.
        assert!(parse("jo@xn--a.example").is_err());
    }

    #[test]
    fn the_hostile_addresses_of_the_report_are_refused() {
        for (text, why) in [
            ("x@gmail.com\u{0}@acme.com", AddressError::ControlCharacter),
            ("x@gmail.com#@acme.com", AddressError::SecondAt),
            ("x@gmail.com?@acme.com", AddressError::SecondAt),
            ("x@gmail.com@acme.com", AddressError::SecondAt),
            (
                "x@acme.com\r\nBcc: y@gmail.com",
                AddressError::ControlCharacter,
            ),
            ("x@acme.com\t", AddressError::ControlCharacter),
            ("x@acme.com\u{7f}", AddressError::ControlCharacter),
            ("x@acme.com\u{85}", AddressError::ControlCharacter),
            ("x@acme.com\u{9b}", AddressError::ControlCharacter),
        ] {
            assert_eq!(parse(text), Err(why), "{text:?}");
        }
    }

    #[test]
    fn trailing_junk_after_the_domain_is_refused() {
        for text in [
            "x@acme.com#",
            "x@acme.com?a=b",
            "x@acme.com/path",
            "x@acme.com ",
            " x@acme.com",
            "x@acme.com.",
            "x@acme..com",
            "x@-acme.com",
            "x@acme-.com",
            "x@acme_corp.com",
            "x@acme.com:25",
            "x@1.2.3.4",
            "x@",
            "@acme.com",
            "acme.com",
            "x.@acme.com",
            ".x@acme.com",
            "x..y@acme.com",
            "x y@acme.com",
            "x,y@acme.com",
            "x@[]",
            "x@[1.2.3.4",
        ] {
            assert!(parse(text).is_err(), "{text:?} parsed");
        }
        let long_label = format!("x@{}.com", "a".repeat(64));
        assert!(parse(&long_label).is_err());
        let long_local = format!("{}@acme.com", "a".repeat(65));
        assert_eq!(parse(&long_local), Err(AddressError::TooLong));
    }

    #[test]
    fn quoted_local_parts_and_literals_parse_as_such() {
        let a = parse("\"a@b\"@acme.com").unwrap();
        assert!(a.quoted_local);
        assert_eq!(a.local, "\"a@b\"");
        assert_eq!(a.domain, Domain::Name("acme.com".into()));
        let a = parse("\"a\\\"@b\"@acme.com").unwrap();
        assert!(a.quoted_local);
        assert_eq!(
            parse("\"a\"b@acme.com"),
            Err(AddressError::BadLocal("text after the closing quote"))
        );
        assert_eq!(parse("\"a@b\""), Err(AddressError::NoAt));
        assert!(parse("\"a\"x@gmail.com@acme.com").is_err());
        assert_eq!(
            parse("\"unclosed@acme.com"),
            Err(AddressError::BadLocal("an unclosed quote"))
        );
        assert_eq!(
            parse("x@[192.0.2.1]").unwrap().domain,
            Domain::Literal("[192.0.2.1]".into())
        );
        assert_eq!(
            parse("x@[IPv6:2001:DB8::1]").unwrap().domain,
            Domain::Literal("[ipv6:2001:db8::1]".into())
        );
    }

    #[test]
    fn errors_never_quote_the_text() {
        let e = parse("x@gmail.com\u{0}@acme.com").unwrap_err().to_string();
        assert!(!e.contains('\u{0}') && !e.contains("gmail"), "{e}");
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?"
    }

    fn domain() -> impl Strategy<Value = String> {
        (prop::collection::vec(label(), 0..3), "[a-zA-Z]{2,6}").prop_map(|(mut labels, tld)| {
            labels.push(tld);
            labels.join(".")
        })
    }

    fn local() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}", 1..4).prop_map(|p| p.join("."))
    }

    proptest! {
        #[test]
        fn a_valid_address_round_trips_its_domain(local in local(), domain in domain()) {
            let parsed = parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(parsed.local, local);
            prop_assert_eq!(parsed.domain, Domain::Name(domain.to_ascii_lowercase()));
        }

        #[test]
        fn a_control_character_anywhere_is_refused(
            local in local(),
            domain in domain(),
            at in any::<prop::sample::Index>(),
            c in prop_oneof![0u32..0x20, Just(0x7f), 0x80u32..0xa0],
        ) {
            let text = format!("{local}@{domain}");
            let mut chars: Vec<char> = text.chars().collect();
            let c = char::from_u32(c).unwrap();
            chars.insert(at.index(chars.len() + 1), c);
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(parse(&text), Err(AddressError::ControlCharacter));
        }

        #[test]
        fn a_second_unquoted_at_is_refused(
            local in local(),
            domain in domain(),
            at in any::<prop::sample::Index>(),
        ) {
            let text = format!("{local}@{domain}");
            let mut chars: Vec<char> = text.chars().collect();
            chars.insert(at.index(chars.len() + 1), '@');
            let text: String = chars.into_iter().collect();
            prop_assert!(parse(&text).is_err(), "{:?} parsed", text);
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,40}|.{0,40}") {
            if let Ok(a) = parse(&text) {
                prop_assert!(!text.chars().any(char::is_control));
                if !a.quoted_local {
                    prop_assert_eq!(text.matches('@').count(), 1);
                }
            }
        }
    }
}
