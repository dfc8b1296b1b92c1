//! Connecting to a secured cluster: TLS (rustls) and SASL (PLAIN, SCRAM),
//! configured with the Java client's and librdkafka's keys. Nothing here
//! knows about producing: the shared connection layer (`crate::net`:
//! `transport`, `secure`) uses it, for the producer now and the consumer
//! next.
//!
//! | key | values | default |
//! | --- | --- | --- |
//! | `security.protocol` | PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL (any case) | PLAINTEXT |
//! | `ssl.ca.location` | PEM file or directory of the CAs to trust | Mozilla's roots |
//! | `ssl.certificate.location`, `ssl.key.location` | the client's chain and key (mutual TLS) | none |
//! | `ssl.key.password` | passphrase of an encrypted PKCS#8 key | none |
//! | `ssl.endpoint.identification.algorithm` | https (check the host name), none | https |
//! | `sasl.mechanism` (or librdkafka's `sasl.mechanisms`) | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 | required with SASL |
//! | `sasl.username`, `sasl.password` | the credentials | none |
//! | `sasl.jaas.config` | Java's PlainLoginModule / ScramLoginModule line | none |
//!
//! Pitfalls: a setting that cannot take effect is refused rather than
//! ignored (an `ssl.*` key with PLAINTEXT, a `sasl.*` key without a SASL
//! protocol, a key without its certificate). Secrets are [`Secret`]s: the
//! configuration's `Debug` output, logs and errors never show them.

mod builder;
pub(crate) mod jaas;
pub(crate) mod sasl;
mod secret;
pub(crate) mod tls;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub(crate) use builder::SecurityBuilder;
pub use sasl::SaslMechanism;
pub use secret::Secret;

use crate::config::ConfigError;

/// `security.protocol`: whether connections use TLS and whether they
/// authenticate with SASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    /// Neither (the default).
    #[default]
    Plaintext,
    /// TLS, no SASL (the certificate may identify the client: mutual TLS).
    Ssl,
    /// SASL over a plain connection.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections are TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl FromStr for SecurityProtocol {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<SecurityProtocol, ConfigError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(ConfigError::InvalidValue {
                key: "security.protocol",
                value: s.to_owned(),
                expected: "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL".into(),
            }),
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        })
    }
}

/// SASL credentials for one mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SaslSettings {
    pub(crate) mechanism: SaslMechanism,
    pub(crate) username: String,
    pub(crate) password: Secret,
}

/// The TLS settings and the rustls configuration built from them (compared
/// and printed by the settings).
#[derive(Clone)]
pub(crate) struct TlsConfig {
    pub(crate) settings: tls::TlsSettings,
    pub(crate) client: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl PartialEq for TlsConfig {
    fn eq(&self, other: &TlsConfig) -> bool {
        self.settings == other.settings
    }
}

impl Eq for TlsConfig {}

/// A checked security configuration: TLS and SASL present exactly when
/// `protocol` says so.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SecurityConfig {
    pub(crate) protocol: SecurityProtocol,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) sasl: Option<SaslSettings>,
}

#[cfg(test)]
mod tests;
