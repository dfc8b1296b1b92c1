//! SASL mechanisms as sans-IO state machines: each takes the broker's
//! bytes and says what to send next, and knows nothing of sockets or of
//! Kafka's SaslAuthenticate framing (the connection layer does that).
//!
//! ```text
//!   first() ──► client bytes ──► broker ──► next(server bytes) ──► Send(more) ...
//!                                                              └─► Done (verified)
//! ```
//!
//! PLAIN (RFC 4616) is one message; SCRAM (RFC 5802, RFC 7677) is two
//! round trips, and the second answer proves that the broker knows the
//! password too.

mod plain;
mod scram;

use std::fmt;
use std::str::FromStr;

use super::Secret;
use crate::config::ConfigError;

/// `sasl.mechanism`: how the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN`: username and password in the clear (use it over TLS only).
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677): the password never crosses the wire.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// The name Kafka uses in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl FromStr for SaslMechanism {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<SaslMechanism, ConfigError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            _ => Err(ConfigError::InvalidValue {
                key: "sasl.mechanism",
                value: s.to_owned(),
                expected: "one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not supported)".into(),
            }),
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do after the broker's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these bytes in the next SaslAuthenticate.
    Send(Vec<u8>),
    /// Authenticated (and, for SCRAM, the broker proved itself).
    Done,
}

/// One authentication exchange, in progress.
pub(crate) enum Authenticator {
    Plain(plain::Plain),
    Scram(scram::Scram),
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authenticator::Plain(_) => f.write_str("Authenticator(PLAIN)"),
            Authenticator::Scram(s) => write!(f, "Authenticator({})", s.mechanism()),
        }
    }
}

impl Authenticator {
    /// A fresh exchange for `username` with `password`; `Err` only if the
    /// OS has no random bytes for a SCRAM nonce.
    pub(crate) fn new(
        mechanism: SaslMechanism,
        username: &str,
        password: &Secret,
    ) -> Result<Authenticator, String> {
        let scram = |hash| -> Result<Authenticator, String> {
            let nonce = scram::fresh_nonce()?;
            Ok(Authenticator::Scram(scram::Scram::new(
                hash, username, password, nonce,
            )))
        };
        match mechanism {
            SaslMechanism::Plain => Ok(Authenticator::Plain(plain::Plain::new(username, password))),
            SaslMechanism::ScramSha256 => scram(scram::Hash::Sha256),
            SaslMechanism::ScramSha512 => scram(scram::Hash::Sha512),
        }
    }

    /// The client's first message.
    pub(crate) fn first(&mut self) -> Vec<u8> {
        match self {
            Authenticator::Plain(p) => p.first(),
            Authenticator::Scram(s) => s.first(),
        }
    }

    /// Takes the broker's answer to the last message; `Err` says why the
    /// exchange cannot go on (the broker's answer was malformed or did not
    /// prove it knows the password).
    pub(crate) fn next(&mut self, server: &[u8]) -> Result<Step, String> {
        match self {
            Authenticator::Plain(p) => p.next(server),
            Authenticator::Scram(s) => s.next(server),
        }
    }
}
