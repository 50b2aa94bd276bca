//! The mapping language (docs/mapping.md).

pub mod legacy_path;
pub mod template;
