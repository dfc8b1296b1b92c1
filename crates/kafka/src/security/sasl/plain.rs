//! SASL PLAIN (RFC 4616): `authzid NUL authcid NUL password`, once.

use super::Step;
use crate::security::Secret;

/// The PLAIN exchange: one message, one (empty) answer.
pub(crate) struct Plain {
    message: Option<Vec<u8>>,
}

impl Plain {
    pub(crate) fn new(username: &str, password: &Secret) -> Plain {
        // Empty authorization identity: act as the authenticated user.
        let mut message = Vec::with_capacity(username.len() + password.expose().len() + 2);
        message.push(0);
        message.extend_from_slice(username.as_bytes());
        message.push(0);
        message.extend_from_slice(password.expose().as_bytes());
        Plain {
            message: Some(message),
        }
    }

    pub(crate) fn first(&mut self) -> Vec<u8> {
        self.message.take().unwrap_or_default()
    }

    /// A broker that accepted PLAIN answers with no bytes; a refusal comes
    /// as SaslAuthenticate's error code, before this is called.
    pub(crate) fn next(&mut self, _server: &[u8]) -> Result<Step, String> {
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_nul_separated_and_sent_once() {
        let mut plain = Plain::new("alice", &Secret::new("pw"));
        assert_eq!(plain.first(), b"\0alice\0pw");
        assert_eq!(plain.next(b""), Ok(Step::Done));
    }
}
