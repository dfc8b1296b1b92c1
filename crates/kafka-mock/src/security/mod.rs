//! Secured listeners: the TLS and SASL settings a mock cluster's listeners
//! serve with ([`ClusterConfig::with_tls`](crate::ClusterConfig::with_tls),
//! [`ClusterConfig::with_sasl`](crate::ClusterConfig::with_sasl)).
//!
//! | settings            | the listener speaks | a client sets `security.protocol` |
//! |---------------------|---------------------|-----------------------------------|
//! | neither             | plaintext           | `PLAINTEXT`                       |
//! | TLS                 | TLS                 | `SSL`                             |
//! | SASL                | SASL over plaintext | `SASL_PLAINTEXT`                  |
//! | TLS and SASL        | SASL over TLS       | `SASL_SSL`                        |
//!
//! Every broker's listener of one cluster shares the settings; start a
//! second cluster for a second kind of listener.

pub(crate) mod certs;
pub(crate) mod server;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use certs::{CertFiles, GeneratedCerts};

/// A SASL mechanism the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): the password in the clear, so use it over TLS.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512` (RFC 5802 with SHA-512).
    ScramSha512,
}

impl SaslMechanism {
    /// Every mechanism the mock serves, in the order it lists them.
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The name clients send in SaslHandshake (Kafka's `sasl.mechanism`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanism {
    type Err = String;

    /// Parses a mechanism name as Kafka spells it (case-insensitive).
    fn from_str(name: &str) -> Result<Self, String> {
        SaslMechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown SASL mechanism {name:?}: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                )
            })
    }
}

/// SASL on every listener: the users who may log in and the mechanisms
/// offered. Passwords never appear in `Debug` output or logs.
///
/// ```
/// use rouse_kafka_mock::{SaslConfig, SaslMechanism};
///
/// let sasl = SaslConfig::new()
///     .with_user("alice", "alice-secret")
///     .with_mechanisms([SaslMechanism::ScramSha512]);
/// assert!(!format!("{sasl:?}").contains("alice-secret"));
/// ```
#[derive(Clone)]
pub struct SaslConfig {
    users: Vec<(String, String)>,
    mechanisms: Vec<SaslMechanism>,
}

impl Default for SaslConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SaslConfig {
    /// Every mechanism offered, no users yet (add at least one).
    pub fn new() -> Self {
        SaslConfig {
            users: Vec::new(),
            mechanisms: SaslMechanism::ALL.to_vec(),
        }
    }

    /// Adds a user (a second call with the same name replaces the password).
    pub fn with_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        let name = name.into();
        self.users.retain(|(n, _)| *n != name);
        self.users.push((name, password.into()));
        self
    }

    /// The mechanisms offered, replacing the default (all three).
    pub fn with_mechanisms(mut self, mechanisms: impl IntoIterator<Item = SaslMechanism>) -> Self {
        self.mechanisms = Vec::new();
        for m in mechanisms {
            if !self.mechanisms.contains(&m) {
                self.mechanisms.push(m);
            }
        }
        self
    }

    /// The user names (passwords are not readable back).
    pub fn user_names(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(n, _)| n.as_str())
    }

    /// The mechanisms offered.
    pub fn mechanisms(&self) -> &[SaslMechanism] {
        &self.mechanisms
    }

    pub(crate) fn users(&self) -> &[(String, String)] {
        &self.users
    }
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("users", &self.user_names().collect::<Vec<_>>())
            .field("mechanisms", &self.mechanisms)
            .finish()
    }
}

/// Where a TLS listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsIdentity {
    /// Made at start by rcgen: a self-signed CA and a server certificate it
    /// signs for `127.0.0.1`, `::1` and `localhost` (and, for mutual TLS, a
    /// client certificate it signs). Read them with
    /// [`MockCluster::generated_certs`](crate::MockCluster::generated_certs).
    Generated,
    /// PEM files: the certificate chain (server certificate first) and its
    /// private key (PKCS#8, PKCS#1 or SEC1).
    PemFiles {
        /// The certificate chain.
        cert_chain: PathBuf,
        /// The private key.
        key: PathBuf,
    },
}

/// TLS on every listener.
///
/// ```
/// use rouse_kafka_mock::TlsConfig;
///
/// let tls = TlsConfig::generated().with_client_auth();
/// assert!(tls.client_auth_required());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    identity: TlsIdentity,
    client_auth: bool,
    client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// Certificates generated at start ([`TlsIdentity::Generated`]).
    pub fn generated() -> Self {
        TlsConfig {
            identity: TlsIdentity::Generated,
            client_auth: false,
            client_ca: None,
        }
    }

    /// The certificate chain and key read from PEM files at start.
    pub fn from_pem_files(cert_chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsConfig {
            identity: TlsIdentity::PemFiles {
                cert_chain: cert_chain.into(),
                key: key.into(),
            },
            client_auth: false,
            client_ca: None,
        }
    }

    /// Mutual TLS: a client must present a certificate signed by the
    /// generated CA (or by [`with_client_ca`](Self::with_client_ca)'s);
    /// one without is refused during the handshake.
    pub fn with_client_auth(mut self) -> Self {
        self.client_auth = true;
        self
    }

    /// Mutual TLS with client certificates checked against the CA
    /// certificates in this PEM file (needed with
    /// [`from_pem_files`](Self::from_pem_files), which has no generated CA).
    pub fn with_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.client_auth = true;
        self.client_ca = Some(ca.into());
        self
    }

    /// Where the certificate comes from.
    pub fn identity(&self) -> &TlsIdentity {
        &self.identity
    }

    /// Whether clients must present a certificate.
    pub fn client_auth_required(&self) -> bool {
        self.client_auth
    }

    /// The PEM file of CAs trusted for client certificates, if given.
    pub fn client_ca(&self) -> Option<&PathBuf> {
        self.client_ca.as_ref()
    }
}
