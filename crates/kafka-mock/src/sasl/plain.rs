//! SASL PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`.

use super::users::Users;

/// Kafka's wording for a refused PLAIN login (the same for an unknown user
/// and a wrong password).
const REFUSED: &str = "Authentication failed: Invalid username or password";

/// Checks a PLAIN token and names the user who logged in, or says why not.
/// An authorization identity, if sent, must be the user's own name, as
/// Kafka requires.
pub(crate) fn authenticate(users: &Users, token: &[u8]) -> Result<String, String> {
    let mut parts = token.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("SASL PLAIN message is not authzid NUL user NUL password".to_owned());
    };
    let (Ok(authzid), Ok(user), Ok(password)) = (
        std::str::from_utf8(authzid),
        std::str::from_utf8(user),
        std::str::from_utf8(password),
    ) else {
        return Err("SASL PLAIN message is not UTF-8".to_owned());
    };
    if user.is_empty() {
        return Err("SASL PLAIN message has no user name".to_owned());
    }
    if !authzid.is_empty() && authzid != user {
        return Err("SASL PLAIN authorization id must be empty or the user's own name".to_owned());
    }
    if users.check_password(user, password) {
        Ok(user.to_owned())
    } else {
        Err(REFUSED.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SaslConfig;

    fn users() -> Users {
        Users::new(&SaslConfig::new().with_user("alice", "a-secret")).unwrap()
    }

    #[test]
    fn right_password_logs_in_with_or_without_authzid() {
        assert_eq!(
            authenticate(&users(), b"\0alice\0a-secret").unwrap(),
            "alice"
        );
        assert_eq!(
            authenticate(&users(), b"alice\0alice\0a-secret").unwrap(),
            "alice"
        );
    }

    #[test]
    fn wrong_password_unknown_user_and_bad_shapes_are_refused() {
        for token in [
            &b"\0alice\0wrong"[..],
            b"\0bob\0a-secret",
            b"bob\0alice\0a-secret",
            b"\0alice",
            b"\0alice\0a-secret\0more",
            b"\0\0a-secret",
            b"\0al\xffice\0a-secret",
        ] {
            assert!(authenticate(&users(), token).is_err(), "{token:?}");
        }
        assert_eq!(
            authenticate(&users(), b"\0alice\0wrong").unwrap_err(),
            REFUSED
        );
    }
}
