//! The mapping language (docs/mapping.md).
