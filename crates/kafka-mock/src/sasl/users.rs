//! The users a SASL listener accepts, with what each mechanism checks: the
//! password for PLAIN, salted SCRAM credentials (made once at start, with a
//! random salt per user and hash) for SCRAM.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

use super::scram::{self, Credential, Hash};
use crate::{ClusterError, SaslConfig, SaslMechanism};

struct User {
    password: String,
    sha256: Option<Credential>,
    sha512: Option<Credential>,
}

/// The user table of a cluster's SASL listeners.
pub(crate) struct Users {
    mechanisms: Vec<SaslMechanism>,
    /// Behind a lock so a test can revoke a user while clients are logged
    /// in (their next re-authentication is then refused).
    users: RwLock<HashMap<String, User>>,
    session_lifetime: Option<Duration>,
    /// Logins that succeeded and that were refused, over all connections.
    succeeded: AtomicU64,
    refused: AtomicU64,
    /// Connections a SASL session was made for (one per accepted socket).
    connections: AtomicU64,
    /// Successful logins on a connection already logged in (KIP-368).
    reauthentications: AtomicU64,
    /// Connections closed because their session ended un-renewed.
    expired: AtomicU64,
}

impl Users {
    /// Checks the settings and makes the SCRAM credentials.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Security`] when no user or no mechanism is set, a
    /// user name is empty, or the system's random source fails.
    pub(crate) fn new(config: &SaslConfig) -> Result<Users, ClusterError> {
        let mechanisms = config.mechanisms().to_vec();
        if mechanisms.is_empty() {
            return Err(ClusterError::Security(
                "SASL is on but no mechanism is offered: list at least one \
                 (CLI: --sasl-mechanism PLAIN,SCRAM-SHA-256,SCRAM-SHA-512)"
                    .to_owned(),
            ));
        }
        if config.users().is_empty() {
            return Err(ClusterError::Security(
                "SASL is on but no user may log in: add one with SaslConfig::with_user \
                 (CLI: --sasl-user NAME:PASSWORD)"
                    .to_owned(),
            ));
        }
        let credential = |hash, mechanism, password: &str| -> Result<_, ClusterError> {
            if !mechanisms.contains(&mechanism) {
                return Ok(None);
            }
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| {
                ClusterError::Security(format!("no random bytes for a SCRAM salt: {e}"))
            })?;
            Ok(Some(Credential::new(
                hash,
                password,
                &salt,
                scram::ITERATIONS,
            )))
        };
        let mut users = HashMap::new();
        for (name, password) in config.users() {
            if name.is_empty() {
                return Err(ClusterError::Security(
                    "a SASL user name is empty: write users as NAME:PASSWORD".to_owned(),
                ));
            }
            let user = User {
                password: password.clone(),
                sha256: credential(Hash::Sha256, SaslMechanism::ScramSha256, password)?,
                sha512: credential(Hash::Sha512, SaslMechanism::ScramSha512, password)?,
            };
            users.insert(name.clone(), user);
        }
        Ok(Users {
            mechanisms,
            users: RwLock::new(users),
            session_lifetime: config.session_lifetime(),
            succeeded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            reauthentications: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        })
    }

    /// How long a login lasts (KIP-368), if limited.
    pub(crate) fn session_lifetime(&self) -> Option<Duration> {
        self.session_lifetime
    }

    /// Counts one login's outcome.
    pub(crate) fn count(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.succeeded
        } else {
            &self.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Logins so far: (succeeded, refused).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.succeeded.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    /// Counts a new connection's session.
    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a successful re-authentication.
    pub(crate) fn count_reauthentication(&self) {
        self.reauthentications.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed at its session's end.
    pub(crate) fn count_expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// (connections, re-authentications, sessions expired) so far.
    pub(crate) fn session_counts(&self) -> (u64, u64, u64) {
        (
            self.connections.load(Ordering::Relaxed),
            self.reauthentications.load(Ordering::Relaxed),
            self.expired.load(Ordering::Relaxed),
        )
    }

    /// The mechanisms offered, in the order SaslHandshake lists them.
    pub(crate) fn mechanisms(&self) -> &[SaslMechanism] {
        &self.mechanisms
    }

    /// Removes `user`: logins from now on (re-authentications included)
    /// are refused; connections already logged in keep their session until
    /// it ends. Whether the user existed.
    pub(crate) fn revoke(&self, user: &str) -> bool {
        self.users.write().remove(user).is_some()
    }

    /// Whether `password` is `user`'s (PLAIN).
    pub(crate) fn check_password(&self, user: &str, password: &str) -> bool {
        self.users
            .read()
            .get(user)
            .is_some_and(|u| scram::same(u.password.as_bytes(), password.as_bytes()))
    }

    /// `user`'s SCRAM credential for `hash`.
    pub(crate) fn scram(&self, user: &str, hash: Hash) -> Option<Credential> {
        let users = self.users.read();
        let user = users.get(user)?;
        match hash {
            Hash::Sha256 => user.sha256.clone(),
            Hash::Sha512 => user.sha512.clone(),
        }
    }
}
