//! Value conversions between a SCIM attribute and its legacy field: the SCIM type (from the
//! schema), the optional `legacy_type`, and the optional value map (`values:` pairs, first match
//! wins each way). Compiled once per attribute; applied per value. Not here: where the values
//! live (see `slot` and `legacy_path`).

use serde_json::{Number, Value};

use crate::scim::schema::AttrType;

/// The JSON type a legacy field holds (`legacy_type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyType {
    String,
    Integer,
    Number,
    Boolean,
}

impl LegacyType {
    pub(crate) const NAMES: [&'static str; 4] = ["string", "integer", "number", "boolean"];

    pub(crate) fn parse(s: &str) -> Option<LegacyType> {
        Some(match s {
            "string" => LegacyType::String,
            "integer" => LegacyType::Integer,
            "number" => LegacyType::Number,
            "boolean" => LegacyType::Boolean,
            _ => return None,
        })
    }
}

/// How one attribute's values are converted.
#[derive(Debug, Clone)]
pub(crate) struct Conversion {
    pub(crate) scim_type: AttrType,
    pub(crate) case_exact: bool,
    pub(crate) legacy_type: Option<LegacyType>,
    /// `(scim, legacy)` pairs; the SCIM sides are already of the SCIM type.
    pub(crate) values: Vec<(Value, Value)>,
}

/// Why a value could not be converted (the caller adds attribute and field names).
pub(crate) enum ConvertError {
    Invalid(String),
    Unmapped { value: String, allowed: Vec<String> },
}

impl Conversion {
    /// SCIM value (already present, not null) → legacy value.
    pub(crate) fn to_legacy(&self, scim: &Value) -> Result<Value, ConvertError> {
        let v = to_scim_type(scim, self.scim_type).map_err(ConvertError::Invalid)?;
        if !self.values.is_empty() {
            return self
                .values
                .iter()
                .find(|(s, _)| scim_equal(s, &v, self.case_exact))
                .map(|(_, l)| l.clone())
                .ok_or_else(|| ConvertError::Unmapped {
                    value: v.to_string(),
                    allowed: self.values.iter().map(|(s, _)| s.to_string()).collect(),
                });
        }
        match self.legacy_type {
            Some(t) => to_legacy_type(&v, t).map_err(ConvertError::Invalid),
            None => Ok(v),
        }
    }

    /// Legacy value (present, not null) → SCIM value; `None` when the value map does not list
    /// it or it does not fit the SCIM type (the attribute is then left out).
    pub(crate) fn to_scim(&self, legacy: &Value) -> Option<Value> {
        if !self.values.is_empty() {
            return self
                .values
                .iter()
                .find(|(_, l)| legacy_equal(l, legacy))
                .map(|(s, _)| s.clone());
        }
        to_scim_type(legacy, self.scim_type).ok()
    }

    /// [`Conversion::to_scim`] of a value of its own: a string for a string attribute without
    /// a value map is the SCIM value as it is, not copied.
    pub(crate) fn to_scim_owned(&self, legacy: Value) -> Option<Value> {
        match (&legacy, self.scim_type) {
            (
                Value::String(_),
                AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary,
            ) if self.values.is_empty() => Some(legacy),
            _ => self.to_scim(&legacy),
        }
    }
}

/// Coerces a value to a SCIM type, accepting what identity providers actually send: booleans
/// as `"True"`/`"False"`, numbers as strings, and numbers or booleans for string attributes.
pub(crate) fn to_scim_type(v: &Value, t: AttrType) -> Result<Value, String> {
    match t {
        AttrType::Boolean => parse_bool(v).map(Value::Bool),
        AttrType::Integer => parse_integer(v),
        AttrType::Decimal => parse_number(v),
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            scalar_string(v)
                .map(Value::String)
                .ok_or_else(|| format!("expected a string, got {}", kind(v)))
        }
        AttrType::Complex => Err(format!("expected a single value, got {}", kind(v))),
    }
}

/// Converts a (SCIM-typed) value to the legacy field's type: `"7"` ↔ `7`, `true` ↔ `"true"`.
pub(crate) fn to_legacy_type(v: &Value, t: LegacyType) -> Result<Value, String> {
    match t {
        LegacyType::String => scalar_string(v)
            .map(Value::String)
            .ok_or_else(|| format!("expected a string, got {}", kind(v))),
        LegacyType::Integer => parse_integer(v),
        LegacyType::Number => parse_number(v),
        LegacyType::Boolean => parse_bool(v).map(Value::Bool),
    }
}

fn parse_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        other => Err(format!("expected true or false, got {other}")),
    }
}

fn parse_integer(v: &Value) -> Result<Value, String> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
            _ => Err(format!("expected an integer, got {n}")),
        },
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected an integer, got {v}")),
        other => Err(format!("expected an integer, got {}", kind(other))),
    }
}

fn parse_number(v: &Value) -> Result<Value, String> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("expected a number, got {v}")),
        other => Err(format!("expected a number, got {}", kind(other))),
    }
}

/// The text of a scalar (`7` → `"7"`); `None` for null, arrays and objects.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// [`scalar_string`] of a value of its own: a string is moved, not copied.
pub(crate) fn into_scalar_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        other => scalar_string(&other),
    }
}

/// Two legacy scalars that stand for the same value: equal, or with the same text (`1` and
/// `"1"`, `true` and `"true"`). Case-sensitive.
pub(crate) fn same_scalar(a: &Value, b: &Value) -> bool {
    a == b || scalar_string(a).is_some_and(|x| Some(x) == scalar_string(b))
}

/// What a JSON value is, for messages ("a string", "a list"…).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// SCIM-side equality: strings case-insensitively unless `case_exact`; numbers by value.
fn scim_equal(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => x.to_lowercase() == y.to_lowercase(),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Legacy-side equality: equal JSON, or scalars with the same text (`7` and `"7"`).
fn legacy_equal(a: &Value, b: &Value) -> bool {
    a == b
        || match (scalar_string(a), scalar_string(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(t: AttrType) -> Conversion {
        Conversion {
            scim_type: t,
            case_exact: false,
            legacy_type: None,
            values: vec![],
        }
    }

    #[test]
    fn value_map_translates_both_ways_first_match_wins() {
        let c = Conversion {
            values: vec![
                (json!(true), json!("enabled")),
                (json!(false), json!("disabled")),
                (json!(false), json!("locked")),
            ],
            ..conv(AttrType::Boolean)
        };
        assert_eq!(c.to_legacy(&json!(true)).ok(), Some(json!("enabled")));
        // Entra sends booleans as strings.
        assert_eq!(c.to_legacy(&json!("False")).ok(), Some(json!("disabled")));
        assert_eq!(c.to_scim(&json!("locked")), Some(json!(false)));
        assert_eq!(c.to_scim(&json!("enabled")), Some(json!(true)));
        assert_eq!(c.to_scim(&json!("archived")), None);
    }

    #[test]
    fn unmapped_value_on_write_lists_the_allowed_values() {
        let c = Conversion {
            values: vec![
                (json!("Employee"), json!("E")),
                (json!("Contractor"), json!("C")),
            ],
            ..conv(AttrType::String)
        };
        assert_eq!(c.to_legacy(&json!("employee")).ok(), Some(json!("E")));
        match c.to_legacy(&json!("Intern")) {
            Err(ConvertError::Unmapped { value, allowed }) => {
                assert_eq!(value, "\"Intern\"");
                assert_eq!(allowed, vec!["\"Employee\"", "\"Contractor\""]);
            }
            _ => panic!("expected an unmapped value"),
        }
    }

    #[test]
    fn legacy_type_converts_both_ways() {
        let c = Conversion {
            legacy_type: Some(LegacyType::Integer),
            ..conv(AttrType::String)
        };
        assert_eq!(c.to_legacy(&json!("7")).ok(), Some(json!(7)));
        assert_eq!(c.to_scim(&json!(7)), Some(json!("7")));
        match c.to_legacy(&json!("seven")) {
            Err(ConvertError::Invalid(msg)) => {
                assert_eq!(msg, "expected an integer, got \"seven\"")
            }
            _ => panic!("expected an invalid value"),
        }
        let b = Conversion {
            legacy_type: Some(LegacyType::String),
            ..conv(AttrType::Boolean)
        };
        assert_eq!(b.to_legacy(&json!(true)).ok(), Some(json!("true")));
        assert_eq!(b.to_scim(&json!("true")), Some(json!(true)));
        let n = Conversion {
            legacy_type: Some(LegacyType::Number),
            ..conv(AttrType::String)
        };
        assert_eq!(n.to_legacy(&json!("2.5")).ok(), Some(json!(2.5)));
        let bl = Conversion {
            legacy_type: Some(LegacyType::Boolean),
            ..conv(AttrType::String)
        };
        assert_eq!(bl.to_legacy(&json!("TRUE")).ok(), Some(json!(true)));
    }

    #[test]
    fn scim_types_are_coerced_leniently_on_input() {
        assert_eq!(
            to_scim_type(&json!("True"), AttrType::Boolean),
            Ok(json!(true))
        );
        assert_eq!(to_scim_type(&json!(42), AttrType::String), Ok(json!("42")));
        assert_eq!(to_scim_type(&json!("12"), AttrType::Integer), Ok(json!(12)));
        assert!(to_scim_type(&json!("yes"), AttrType::Boolean).is_err());
        assert!(to_scim_type(&json!({"a": 1}), AttrType::String).is_err());
    }
}
