//! [`ConfigError`]: what was wrong with a setting and what would be accepted.

/// A producer or consumer setting was unknown, malformed, missing or in
/// conflict with another. The message names the key, the value given and what is accepted;
/// fix the setting and build the configuration again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key this client does not know (a typo, or a Java-only setting).
    #[error("unknown {client} setting `{key}`; use one of: {}", known.join(", "))]
    UnknownKey {
        /// The key as given.
        key: String,
        /// `"producer"` or `"consumer"`.
        client: &'static str,
        /// Every key that client accepts.
        known: &'static [&'static str],
    },
    /// A value that does not parse or is out of range for its key.
    #[error("invalid value {value:?} for `{key}`: expected {expected}")]
    InvalidValue {
        /// The setting's Kafka name.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What the key accepts.
        expected: String,
    },
    /// A setting that has no default was not given.
    #[error("`{key}` is required: set it to {expected}")]
    Missing {
        /// The setting's Kafka name.
        key: &'static str,
        /// What the key accepts.
        expected: &'static str,
    },
    /// Two or more settings that cannot hold together (Java's cross-checks).
    #[error("conflicting settings ({}): {reason}", keys.join(", "))]
    Conflict {
        /// The settings involved.
        keys: &'static [&'static str],
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl ConfigError {
    pub(super) fn invalid(
        key: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> ConfigError {
        ConfigError::InvalidValue {
            key,
            value: value.into(),
            expected: expected.into(),
        }
    }
}
