//! What a tenant is ([`Tenant`]: its name, the id the legacy API knows it by, its allowed
//! email domains) and the domain allow-list check. Pure: imports nothing else of `server`.

use serde_json::Value;

use crate::config::TenantConfig;
use crate::scim::ScimError;

/// The tenant a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's name in keys, URLs, metrics and logs.
    pub name: String,
    /// What the legacy API calls this tenant (sent as the mapping's `backend.tenant` says, and
    /// in place of `{tenant}` in paths). By default the name.
    pub legacy_id: String,
    /// The domains users' userNames (those with an `@`) and emails may have, lower case, each
    /// with its subdomains. Empty: every domain.
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
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
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

    /// Refuses a user whose userName (when it has an `@`) or one of whose emails has a domain
    /// this tenant does not allow — unless `before` (the stored user, on a replace or patch)
    /// already had that very value: a user provisioned before the allow-list can still be
    /// updated and deactivated. 400 `invalidValue`, naming the domain and the allowed ones.
    pub fn check_domains(&self, user: &Value, before: Option<&Value>) -> Result<(), ScimError> {
        if self.allowed_domains.is_empty() {
            return Ok(());
        }
        let had = |v: &str| {
            before.is_some_and(|b| addresses(b).any(|(_, old)| old.eq_ignore_ascii_case(v)))
        };
        for (attr, value) in addresses(user) {
            if had(value) {
                continue;
            }
            let domain = match value.rsplit_once('@') {
                Some((_, d)) => d.trim(),
                // A userName without '@' names no domain; an email without one is not an
                // address in any allowed domain.
                None if attr == "userName" => continue,
                None => "",
            };
            if !self.allows_domain(domain) {
                let shown = if domain.is_empty() {
                    "no domain".to_string()
                } else {
                    format!("the domain {:?}", domain.to_ascii_lowercase())
                };
                return Err(ScimError::invalid_value(format!(
                    "{attr} {value:?} has {shown}, which tenant {:?} does not allow; allowed: {} (and their subdomains)",
                    self.name,
                    self.allowed_domains.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The userName and every `emails[].value` of a SCIM user, with the attribute's name.
fn addresses(user: &Value) -> impl Iterator<Item = (&'static str, &str)> {
    let user_name = user
        .get("userName")
        .and_then(Value::as_str)
        .map(|v| ("userName", v.trim()));
    let emails = user
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .map(|v| ("emails", v.trim()));
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
}
