//! The security keys of [`ProducerConfigBuilder`]: parsed by
//! [`SecurityBuilder::set`], checked together by [`SecurityBuilder::build`].

use std::path::PathBuf;

use super::jaas::{self, LoginModule};
use super::tls::{self, TlsSettings};
use super::{SaslMechanism, SaslSettings, Secret, SecurityConfig, SecurityProtocol, TlsConfig};
use crate::config::{ConfigError, ProducerConfigBuilder};

/// The security settings given so far; nothing is checked until `build`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityBuilder {
    protocol: Option<SecurityProtocol>,
    ca_location: Option<PathBuf>,
    certificate_location: Option<PathBuf>,
    key_location: Option<PathBuf>,
    key_password: Option<Secret>,
    verify_hostname: Option<bool>,
    mechanism: Option<SaslMechanism>,
    username: Option<String>,
    password: Option<Secret>,
    jaas: Option<Secret>,
}

impl SecurityBuilder {
    /// Takes `key` if it is a security key (`Ok(false)` if it is not).
    pub(crate) fn set(&mut self, key: &str, v: &str) -> Result<bool, ConfigError> {
        match key {
            "security.protocol" => self.protocol = Some(v.parse()?),
            "ssl.ca.location" => self.ca_location = Some(PathBuf::from(v)),
            "ssl.certificate.location" => self.certificate_location = Some(PathBuf::from(v)),
            "ssl.key.location" => self.key_location = Some(PathBuf::from(v)),
            "ssl.key.password" => self.key_password = Some(Secret::new(v)),
            "ssl.endpoint.identification.algorithm" => {
                self.verify_hostname = Some(match v.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "none" | "" => false,
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key: "ssl.endpoint.identification.algorithm",
                            value: v.to_owned(),
                            expected: "https (check the broker's host name, the default) or none"
                                .into(),
                        })
                    }
                });
            }
            "sasl.mechanism" | "sasl.mechanisms" => self.mechanism = Some(v.parse()?),
            "sasl.username" => self.username = Some(v.to_owned()),
            "sasl.password" => self.password = Some(Secret::new(v)),
            "sasl.jaas.config" => self.jaas = Some(Secret::new(v)),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies the cross-checks and builds the TLS configuration (reading
    /// its files now, so a bad one is refused here).
    pub(crate) fn build(self) -> Result<SecurityConfig, ConfigError> {
        let protocol = self.protocol.unwrap_or_default();
        let needs = |key: &'static str, value: String, what: &str| {
            ConfigError::InvalidValue {
            key,
            value,
            expected: format!(
                "nothing, with security.protocol={protocol}: {key} needs security.protocol={what}; set that, or remove {key}"
            ),
        }
        };
        if !protocol.uses_tls() {
            let paths = [
                ("ssl.ca.location", &self.ca_location),
                ("ssl.certificate.location", &self.certificate_location),
                ("ssl.key.location", &self.key_location),
            ];
            if let Some((key, Some(path))) = paths.into_iter().find(|(_, p)| p.is_some()) {
                return Err(needs(key, path.display().to_string(), "SSL or SASL_SSL"));
            }
            if self.key_password.is_some() {
                return Err(needs(
                    "ssl.key.password",
                    "[redacted]".into(),
                    "SSL or SASL_SSL",
                ));
            }
        }
        if !protocol.uses_sasl() {
            let sasl = "SASL_PLAINTEXT or SASL_SSL";
            if let Some(m) = self.mechanism {
                return Err(needs("sasl.mechanism", m.to_string(), sasl));
            }
            if let Some(user) = &self.username {
                return Err(needs("sasl.username", user.clone(), sasl));
            }
            if self.password.is_some() {
                return Err(needs("sasl.password", "[redacted]".into(), sasl));
            }
            if self.jaas.is_some() {
                return Err(needs("sasl.jaas.config", "[redacted]".into(), sasl));
            }
        }
        let tls = if protocol.uses_tls() {
            let settings = self.tls_settings()?;
            let client = tls::client_config(&settings)?;
            Some(TlsConfig { settings, client })
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(self.sasl_settings()?)
        } else {
            None
        };
        Ok(SecurityConfig {
            protocol,
            tls,
            sasl,
        })
    }

    fn tls_settings(&self) -> Result<TlsSettings, ConfigError> {
        match (&self.certificate_location, &self.key_location) {
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    key: "ssl.key.location",
                    expected:
                        "the PEM file of the private key of ssl.certificate.location's certificate",
                })
            }
            (None, Some(_)) => return Err(ConfigError::Missing {
                key: "ssl.certificate.location",
                expected:
                    "the PEM file of the client certificate that belongs to ssl.key.location's key",
            }),
            _ => {}
        }
        if self.key_password.is_some() && self.key_location.is_none() {
            return Err(ConfigError::InvalidValue {
                key: "ssl.key.password",
                value: "[redacted]".into(),
                expected: "nothing without ssl.key.location: it decrypts that key".into(),
            });
        }
        Ok(TlsSettings {
            ca_location: self.ca_location.clone(),
            certificate_location: self.certificate_location.clone(),
            key_location: self.key_location.clone(),
            key_password: self.key_password.clone(),
            verify_hostname: self.verify_hostname.unwrap_or(true),
        })
    }

    fn sasl_settings(self) -> Result<SaslSettings, ConfigError> {
        let mechanism = self.mechanism.ok_or(ConfigError::Missing {
            key: "sasl.mechanism",
            expected:
                "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Java's default, GSSAPI, is not supported)",
        })?;
        if let Some(jaas) = self.jaas {
            if self.username.is_some() || self.password.is_some() {
                return Err(ConfigError::Conflict {
                    keys: &["sasl.jaas.config", "sasl.username", "sasl.password"],
                    reason: "give the credentials once: either sasl.jaas.config or sasl.username and sasl.password".into(),
                });
            }
            let parsed = jaas::parse(jaas.expose()).map_err(|why| ConfigError::InvalidValue {
                key: "sasl.jaas.config",
                value: "[redacted]".into(),
                expected: format!(
                    "one PlainLoginModule or ScramLoginModule line with username and password: {why}"
                ),
            })?;
            let fits = match parsed.module {
                LoginModule::Plain => mechanism == SaslMechanism::Plain,
                LoginModule::Scram => mechanism != SaslMechanism::Plain,
            };
            if !fits {
                return Err(ConfigError::Conflict {
                    keys: &["sasl.jaas.config", "sasl.mechanism"],
                    reason: format!(
                        "sasl.jaas.config names the {:?} login module, which does not do sasl.mechanism={mechanism}; make them agree",
                        parsed.module
                    ),
                });
            }
            return Ok(SaslSettings {
                mechanism,
                username: parsed.username,
                password: parsed.password,
            });
        }
        match (self.username, self.password) {
            (Some(username), Some(password)) => Ok(SaslSettings {
                mechanism,
                username,
                password,
            }),
            (Some(_), None) => Err(ConfigError::Missing {
                key: "sasl.password",
                expected: "the password of sasl.username",
            }),
            (None, _) => Err(ConfigError::Missing {
                key: "sasl.username",
                expected: "the SASL user name (with sasl.password), or set sasl.jaas.config",
            }),
        }
    }
}

impl ProducerConfigBuilder {
    /// `security.protocol` (default [`SecurityProtocol::Plaintext`]).
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security.protocol = Some(protocol);
        self
    }

    /// `sasl.mechanism`, `sasl.username` and `sasl.password` (needs a SASL
    /// `security.protocol`).
    pub fn sasl(
        mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.security.mechanism = Some(mechanism);
        self.security.username = Some(username.into());
        self.security.password = Some(password.into());
        self
    }

    /// `ssl.ca.location`: the PEM file or directory of the CAs to trust
    /// (default: Mozilla's roots).
    pub fn ssl_ca_location(mut self, path: impl Into<PathBuf>) -> Self {
        self.security.ca_location = Some(path.into());
        self
    }

    /// `ssl.certificate.location`, `ssl.key.location` and, for an
    /// encrypted PKCS#8 key, `ssl.key.password`: the client's identity for
    /// mutual TLS.
    pub fn ssl_client_certificate(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        key_password: Option<Secret>,
    ) -> Self {
        self.security.certificate_location = Some(certificate.into());
        self.security.key_location = Some(key.into());
        self.security.key_password = key_password;
        self
    }

    /// `ssl.endpoint.identification.algorithm`: `true` is `https` (the
    /// default: the broker's certificate must name the host dialled),
    /// `false` is `none`.
    pub fn ssl_verify_hostname(mut self, verify: bool) -> Self {
        self.security.verify_hostname = Some(verify);
        self
    }
}
