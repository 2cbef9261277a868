use thiserror::Error;

/// A value from outside did not satisfy the domain's rules. Messages never contain
/// the offending value itself, because it may be a secret typed into the wrong place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error("invalid {field}: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::InvalidField { field: field.into(), reason: reason.into() }
    }
}
