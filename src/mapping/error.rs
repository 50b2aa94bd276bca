//! The mapping layer's errors: [`MappingError`] for a mapping file that cannot be used (each
//! problem with file:line:column and a fix), and [`TranslateError`] for a request or a legacy
//! response that the mapping cannot translate. `TranslateError` becomes a SCIM error here, in
//! exactly one place. No message ever carries a credential: secrets are named by their
//! variable or file, never shown.

use std::fmt;

use crate::scim::ScimError;

/// One problem in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name as given to the loader (e.g. `mappings/acme-hr.yaml`).
    pub(crate) source: String,
    /// 1-based; 0 when unknown.
    pub(crate) line: u32,
    pub(crate) column: u32,
    /// Where in the document, e.g. `users.attributes[3].legacy`; may be empty.
    pub(crate) at: String,
    pub(crate) message: String,
    pub(crate) fix: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.source, self.line, self.column)?;
        if !self.at.is_empty() {
            write!(f, "{}: ", self.at)?;
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

/// Why a mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("{path}: cannot read the mapping file: {reason}")]
    Read { path: String, reason: String },
    /// The YAML does not parse, or the mapping is not valid: every problem found, in file order.
    #[error("{}", display_problems(.0))]
    Invalid(Vec<Problem>),
    /// A backend secret could not be resolved at start-up. `what` names the variable or file.
    #[error("{what}: {reason}")]
    Secret { what: String, reason: String },
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl MappingError {
    /// The problems of an invalid mapping (empty for the other kinds).
    #[cfg(test)]
    pub(crate) fn problems(&self) -> &[Problem] {
        match self {
            MappingError::Invalid(p) => p,
            _ => &[],
        }
    }
}

/// A value that the mapping cannot translate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// A SCIM value that cannot be written to its legacy field (wrong type, not a number…).
    #[error("{attr}: {reason} (legacy field {legacy})")]
    InvalidValue {
        attr: String,
        legacy: String,
        reason: String,
    },
    /// A SCIM value that the attribute's value map does not list.
    #[error("{attr}: {value} is not an allowed value; allowed: {} (legacy field {legacy})", .allowed.join(", "))]
    UnmappedValue {
        attr: String,
        legacy: String,
        value: String,
        allowed: Vec<String>,
    },
    /// No value (absent or null) for an attribute the mapping marks `required: true`, on a
    /// create or an update.
    #[error("{attr} is required by the legacy API and {}", if *.creating { "has no value" } else { "cannot be removed" })]
    Required { attr: String, creating: bool },
    /// A legacy response the mapping cannot read (no id, no items, a field of the wrong shape).
    #[error("the legacy API's response cannot be read: {0}")]
    LegacyResponse(String),
}

impl From<TranslateError> for ScimError {
    fn from(e: TranslateError) -> Self {
        match e {
            TranslateError::InvalidValue { .. }
            | TranslateError::UnmappedValue { .. }
            | TranslateError::Required { .. } => ScimError::invalid_value(e.to_string()),
            TranslateError::LegacyResponse(_) => ScimError::bad_gateway(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;

    #[test]
    fn problems_render_with_file_line_column_and_fix() {
        let err = MappingError::Invalid(vec![
            Problem {
                source: "mappings/acme.yaml".into(),
                line: 42,
                column: 14,
                at: "users.attributes[3].legacy".into(),
                message: "\"$.a...b\" is not a valid JSONPath".into(),
                fix: Some("write a path like $.address.street".into()),
            },
            Problem {
                source: "mappings/acme.yaml".into(),
                line: 50,
                column: 3,
                at: String::new(),
                message: "second".into(),
                fix: None,
            },
        ]);
        assert_eq!(
            err.to_string(),
            "mappings/acme.yaml:42:14: users.attributes[3].legacy: \"$.a...b\" is not a valid \
             JSONPath\n  fix: write a path like $.address.street\nmappings/acme.yaml:50:3: second"
        );
        assert_eq!(err.problems().len(), 2);
    }

    #[test]
    fn bad_input_is_400_and_unreadable_legacy_is_502() {
        let e: ScimError = TranslateError::UnmappedValue {
            attr: "active".into(),
            legacy: "$.status".into(),
            value: "\"maybe\"".into(),
            allowed: vec!["true".into(), "false".into()],
        }
        .into();
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "active: \"maybe\" is not an allowed value; allowed: true, false (legacy field $.status)"
        );
        let e: ScimError = TranslateError::Required {
            attr: "active".into(),
            creating: false,
        }
        .into();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            "active is required by the legacy API and cannot be removed"
        );
        let e: ScimError = TranslateError::LegacyResponse("no items at $.data".into()).into();
        assert_eq!(e.status, 502);
        assert_eq!(e.scim_type, None);
    }
}
