//! What a tenant is ([`Tenant`]: its name, the id the legacy API knows it by, its allowed
//! email domains) and the domain allow-list check. Pure: imports nothing else of `server`.

use serde_json::Value;

use crate::config::TenantConfig;
use crate::scim::address::{self, Domain};
use crate::scim::ScimError;

/// The tenant a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's name in keys, URLs, metrics and logs.
    pub name: String,
    /// What the legacy API calls this tenant (sent as the mapping's `backend.tenant` says, and
    /// in place of `{tenant}` in paths). By default the name.
    pub legacy_id: String,
    /// The domains users' userNames (those with an `@`) and emails may have, in their ASCII
    /// form (lower case, IDNA A-labels), each with its subdomains. Empty: every domain.
    pub allowed_domains: Vec<String>,
}

/// The name of the tenant of the static tokens of `auth.token_sha256`.
pub const DEFAULT_TENANT: &str = "default";

impl Tenant {
    /// The tenant of the static tokens of `auth.token_sha256`, with the defaults.
    pub fn default_tenant() -> Tenant {
        Tenant::named(DEFAULT_TENANT)
    }

    /// A tenant without a `[tenants.<name>]` table: legacy id = name, every domain allowed.
    pub fn named(name: &str) -> Tenant {
        Tenant {
            name: name.to_string(),
            legacy_id: name.to_string(),
            allowed_domains: Vec::new(),
        }
    }

    /// The tenant `name` as configured by its `[tenants.<name>]` table.
    pub fn from_config(name: &str, c: &TenantConfig) -> Tenant {
        Tenant {
            name: name.to_string(),
            legacy_id: c.legacy_id.clone().unwrap_or_else(|| name.to_string()),
            allowed_domains: c
                .allowed_domains
                .iter()
                .map(|d| {
                    let d = d.trim().trim_end_matches('.');
                    // Compared by its A-label, as addresses are; the configuration is checked
                    // at load, so a name that does not convert stays as written.
                    address::domain_to_ascii(d).unwrap_or_else(|_| d.to_ascii_lowercase())
                })
                .collect(),
        }
    }

    /// Whether `domain` is allowed: always without an allow-list; else when it equals an
    /// allowed domain or is a subdomain of one (`eu.acme.com` under `acme.com`, but not
    /// `notacme.com`), ignoring case and a trailing dot.
    pub fn allows_domain(&self, domain: &str) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        self.allowed_domains.iter().any(|a| {
            d == *a
                || d.strip_suffix(a.as_str())
                    .is_some_and(|head| head.ends_with('.') && head.len() > 1)
        })
    }

    /// Whether [`Tenant::check_domains`] checks anything: the tenant has allowed domains.
    pub fn checks_domains(&self) -> bool {
        !self.allowed_domains.is_empty()
    }

    /// Refuses a user whose userName (when it has an `@`) or one of whose emails is not an
    /// address in a domain this tenant allows — unless `before` (the stored user, on a replace
    /// or patch) already had that very value in that same attribute: a user provisioned before
    /// the allow-list can still be updated and deactivated, but a disallowed address it had as
    /// an email cannot become its userName. Each address is parsed as an RFC 5321/5322
    /// addr-spec ([`address::parse`]); one that does not parse, one with a quoted local part
    /// and one with an address literal are refused too. 400 `invalidValue`, naming the
    /// attribute and why (the value shown escaped: no control character is echoed raw).
    pub fn check_domains(&self, user: &Value, before: Option<&Value>) -> Result<(), ScimError> {
        if !self.checks_domains() {
            return Ok(());
        }
        let had = |attr: &str, v: &str| {
            before.is_some_and(|b| {
                addresses(b).any(|(old_attr, old)| old_attr == attr && old.eq_ignore_ascii_case(v))
            })
        };
        for (attr, value) in addresses(user) {
            if had(attr, value) {
                continue;
            }
            // A userName without '@' names no domain.
            if attr == "userName" && !value.contains('@') {
                continue;
            }
            let refuse = |why: String| {
                ScimError::invalid_value(format!(
                    "{attr} {} {why}; tenant {:?} allows only addresses in {} (and their subdomains)",
                    shown(value),
                    self.name,
                    self.allowed_domains.join(", ")
                ))
            };
            let parsed = match address::parse(value) {
                Ok(a) => a,
                Err(why) => return Err(refuse(format!("is not an e-mail address: it {why}"))),
            };
            if parsed.quoted_local {
                return Err(refuse(
                    "has a quoted local part, which this gateway does not accept where domains are checked".into(),
                ));
            }
            let domain = match parsed.domain {
                Domain::Name(d) => d,
                Domain::Literal(_) => return Err(refuse(
                    "has an address literal instead of a domain, which no allowed domain matches"
                        .into(),
                )),
            };
            if !self.allows_domain(&domain) {
                return Err(refuse(format!(
                    "has the domain {domain:?}, which this tenant does not allow"
                )));
            }
        }
        Ok(())
    }
}

/// `value` quoted and escaped for an error message (control characters as `\u{..}`, `\0`,
/// `\n`), cut after 100 characters.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(100).collect();
    if cut.len() < value.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The userName and every `emails[].value` of a SCIM user, with the attribute's name, as sent
/// (not trimmed: what is checked is what is stored).
fn addresses(user: &Value) -> impl Iterator<Item = (&'static str, &str)> {
    let user_name = user
        .get("userName")
        .and_then(Value::as_str)
        .map(|v| ("userName", v));
    let emails = user
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .map(|v| ("emails", v));
    user_name.into_iter().chain(emails)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acme() -> Tenant {
        Tenant::from_config(
            "acme",
            &TenantConfig {
                allowed_domains: vec!["Acme.com".into(), "acme.eu.".into()],
                legacy_id: None,
            },
        )
    }

    #[test]
    fn a_tenant_without_a_table_has_the_defaults() {
        let t = Tenant::from_config("globex", &TenantConfig::default());
        assert_eq!(t, Tenant::named("globex"));
        assert_eq!(t.legacy_id, "globex");
        assert!(t.allows_domain("anything.example"));
        let t = Tenant::from_config(
            "acme",
            &TenantConfig {
                legacy_id: Some("t-0042".into()),
                ..TenantConfig::default()
            },
        );
        assert_eq!(t.legacy_id, "t-0042");
    }

    #[test]
    fn domains_match_exactly_or_as_subdomains_without_case() {
        let t = acme();
        for ok in [
            "acme.com",
            "ACME.COM",
            "eu.acme.com",
            "a.b.acme.com",
            "acme.eu",
            "acme.com.",
        ] {
            assert!(t.allows_domain(ok), "{ok}");
        }
        for bad in [
            "notacme.com",
            "acme.com.evil.io",
            "acme.co",
            "",
            ".acme.com",
            "com",
        ] {
            assert!(!t.allows_domain(bad), "{bad}");
        }
    }

    #[test]
    fn a_user_outside_the_allowed_domains_is_refused_with_the_domain_named() {
        let t = acme();
        let user = json!({"userName": "ada@gmail.com"});
        let e = t.check_domains(&user, None).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type.map(|s| s.as_str()), Some("invalidValue"));
        assert!(e.detail.contains("\"gmail.com\""), "{}", e.detail);
        assert!(e.detail.contains("acme.com, acme.eu"), "{}", e.detail);

        let user = json!({"userName": "ada", "emails": [
            {"type": "work", "value": "ada@acme.com"},
            {"type": "home", "value": "ada@Gmail.com"}]});
        let e = t.check_domains(&user, None).unwrap_err();
        assert!(
            e.detail.starts_with("emails \"ada@Gmail.com\""),
            "{}",
            e.detail
        );

        let ok = json!({"userName": "ada@EU.acme.com", "emails": [{"value": "ada@acme.com"}]});
        assert!(t.check_domains(&ok, None).is_ok());
        // A userName without '@' has no domain to check; an email without one is refused.
        assert!(t.check_domains(&json!({"userName": "ada"}), None).is_ok());
        assert!(t
            .check_domains(
                &json!({"userName": "ada", "emails": [{"value": "ada"}]}),
                None
            )
            .is_err());
        // No allow-list: anything goes.
        assert!(Tenant::named("x").check_domains(&user, None).is_ok());
    }

    #[test]
    fn a_value_the_stored_user_already_had_is_not_refused() {
        let t = acme();
        let stored = json!({"userName": "ext@gmail.com", "active": true});
        let deactivated = json!({"userName": "ext@gmail.com", "active": false});
        assert!(t.check_domains(&deactivated, Some(&stored)).is_ok());
        let changed = json!({"userName": "ext@gmail.com", "emails": [{"value": "ext@yahoo.com"}]});
        assert!(t.check_domains(&changed, Some(&stored)).is_err());
    }

    #[test]
    fn the_exception_for_a_value_already_had_holds_per_attribute() {
        let t = acme();
        let stored = json!({"userName": "ada@acme.com",
            "emails": [{"value": "ada@acme.com"}, {"value": "ada@gmail.com"}]});
        // The old secondary e-mail may stay an e-mail...
        let kept = json!({"userName": "ada@acme.com", "emails": [{"value": "ada@gmail.com"}]});
        assert!(t.check_domains(&kept, Some(&stored)).is_ok());
        // ...but may not become the userName.
        let promoted = json!({"userName": "ada@gmail.com", "emails": [{"value": "ada@gmail.com"}]});
        let e = t.check_domains(&promoted, Some(&stored)).unwrap_err();
        assert!(
            e.detail.starts_with("userName \"ada@gmail.com\""),
            "{}",
            e.detail
        );
        // An old userName may stay the userName, not become an e-mail.
        let stored = json!({"userName": "ext@gmail.com"});
        let moved = json!({"userName": "ext@gmail.com", "emails": [{"value": "ext@gmail.com"}]});
        let e = t.check_domains(&moved, Some(&stored)).unwrap_err();
        assert!(e.detail.starts_with("emails "), "{}", e.detail);
    }

    #[test]
    fn addresses_that_do_not_parse_are_refused_with_the_attribute_and_why() {
        let t = acme();
        for (value, why) in [
            ("x@gmail.com\u{0}@acme.com", "control character"),
            ("x@gmail.com#@acme.com", "more than one @"),
            ("x@gmail.com?@acme.com", "more than one @"),
            ("x@acme.com#", "not a host name"),
            ("x@acme.com ", "not a host name"),
            ("\"x@gmail.com\"@acme.com", "quoted local part"),
            ("x@[192.0.2.1]", "address literal"),
        ] {
            let e = t
                .check_domains(&json!({"userName": value}), None)
                .unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type.map(|s| s.as_str()), Some("invalidValue"));
            assert!(e.detail.starts_with("userName \""), "{}", e.detail);
            assert!(e.detail.contains(why), "{value:?}: {}", e.detail);
            assert!(!e.detail.chars().any(char::is_control), "{}", e.detail);
            let e = t
                .check_domains(
                    &json!({"userName": "x", "emails": [{"value": value}]}),
                    None,
                )
                .unwrap_err();
            assert!(e.detail.starts_with("emails \""), "{}", e.detail);
        }
    }

    #[test]
    fn unicode_domains_match_their_a_labels_both_ways() {
        let t = Tenant::from_config(
            "books",
            &TenantConfig {
                allowed_domains: vec!["Bücher.example".into(), "xn--caf-dma.example".into()],
                legacy_id: None,
            },
        );
        assert_eq!(
            t.allowed_domains,
            ["xn--bcher-kva.example", "xn--caf-dma.example"]
        );
        for ok in [
            "jo@bücher.example",
            "jo@xn--bcher-kva.example",
            "jo@eu.BÜCHER.example",
            "jo@café.example",
        ] {
            assert!(
                t.check_domains(&json!({"userName": ok}), None).is_ok(),
                "{ok}"
            );
        }
        assert!(t
            .check_domains(&json!({"userName": "jo@bucher.example"}), None)
            .is_err());
    }
}
