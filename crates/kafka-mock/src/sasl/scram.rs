//! The server side of SCRAM (RFC 5802; SHA-256 per RFC 7677, SHA-512 as
//! Kafka does): client-first → server-first → client-final → server-final.
//! Channel binding is not offered (`n,,` or `y,,` only), as in Kafka.
//!
//! The primitives are RustCrypto's (`hmac`, `sha2`, `pbkdf2`); this file
//! only parses the messages and combines the keys as RFC 5802 §3 says.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Iterations of PBKDF2 for the credentials the mock makes (Kafka's
/// minimum and its tools' default).
pub(crate) const ITERATIONS: u32 = 4096;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => mac::<Hmac<Sha256>>(key, message),
            Hash::Sha512 => mac::<Hmac<Sha512>>(key, message),
        }
    }

    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }

    /// RFC 5802's Hi(): PBKDF2 with this hash's HMAC.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            Hash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// What the server stores for one user and one hash (never the password).
#[derive(Clone)]
pub(crate) struct Credential {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Credential {
    pub(crate) fn new(hash: Hash, password: &str, salt: &[u8], iterations: u32) -> Credential {
        let salted = hash.salted_password(password.as_bytes(), salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        Credential {
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.digest(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
        }
    }
}

/// Where one SCRAM exchange is.
enum State {
    AwaitingFirst,
    AwaitingFinal {
        user: String,
        gs2_header: String,
        nonce: String,
        auth_prefix: String,
        credential: Credential,
    },
    Finished,
}

/// One connection's SCRAM exchange.
pub(crate) struct ScramServer {
    hash: Hash,
    state: State,
}

/// Why an exchange failed; the message goes back to the client.
pub(crate) type Refusal = String;

impl ScramServer {
    pub(crate) fn new(hash: Hash) -> ScramServer {
        ScramServer {
            hash,
            state: State::AwaitingFirst,
        }
    }

    /// The hash this exchange uses.
    pub(crate) fn hash(&self) -> Hash {
        self.hash
    }

    /// Takes client-first and answers server-first, with `server_nonce`
    /// appended to the client's nonce. `lookup` finds a user's credential.
    pub(crate) fn client_first(
        &mut self,
        message: &[u8],
        server_nonce: &str,
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<Vec<u8>, Refusal> {
        if !matches!(self.state, State::AwaitingFirst) {
            return Err(self.abort("SCRAM client-first message sent twice"));
        }
        let text = std::str::from_utf8(message)
            .map_err(|_| self.abort("SCRAM client-first message is not UTF-8"))?;
        let (gs2_header, bare) = split_gs2(text).map_err(|e| self.abort(&e))?;
        let mut user = None;
        let mut client_nonce = None;
        for attribute in bare.split(',') {
            match attribute.split_once('=') {
                Some(("n", name)) if user.is_none() => user = Some(decode_name(name)),
                Some(("r", nonce)) if client_nonce.is_none() => client_nonce = Some(nonce),
                Some(("m", _)) => return Err(self.abort("SCRAM mandatory extension not supported")),
                _ => {} // extensions such as Kafka's tokenauth=true
            }
        }
        let user = match user {
            Some(Ok(user)) if !user.is_empty() => user,
            _ => return Err(self.abort("SCRAM client-first message has no valid user name (n=)")),
        };
        let client_nonce = match client_nonce {
            Some(nonce)
                if !nonce.is_empty()
                    && nonce
                        .bytes()
                        .all(|b| (0x21..0x7f).contains(&b) && b != b',') =>
            {
                nonce
            }
            _ => return Err(self.abort("SCRAM client-first message has no valid nonce (r=)")),
        };
        let Some(credential) = lookup(&user) else {
            return Err(self.abort(&invalid_credentials(self.hash)));
        };
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            Base64::encode_string(&credential.salt),
            credential.iterations
        );
        self.state = State::AwaitingFinal {
            user,
            gs2_header: gs2_header.to_owned(),
            auth_prefix: format!("{bare},{server_first}"),
            nonce,
            credential,
        };
        Ok(server_first.into_bytes())
    }

    /// Takes client-final and, if the proof is right, answers server-final
    /// and names the user who logged in.
    pub(crate) fn client_final(&mut self, message: &[u8]) -> Result<(String, Vec<u8>), Refusal> {
        let State::AwaitingFinal {
            user,
            gs2_header,
            nonce,
            auth_prefix,
            credential,
        } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(self.abort("SCRAM client-final message out of turn"));
        };
        let text = std::str::from_utf8(message)
            .map_err(|_| self.abort("SCRAM client-final message is not UTF-8"))?;
        let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
            return Err(self.abort("SCRAM client-final message has no proof (p=)"));
        };
        let mut attributes = without_proof.split(',');
        let binding = attributes.next().and_then(|a| a.strip_prefix("c="));
        let echoed = attributes.next().and_then(|a| a.strip_prefix("r="));
        if binding != Some(Base64::encode_string(gs2_header.as_bytes()).as_str()) {
            return Err(
                self.abort("SCRAM channel binding (c=) does not match the client-first header")
            );
        }
        if echoed != Some(nonce.as_str()) {
            return Err(self.abort("SCRAM nonce (r=) does not match the one the server sent"));
        }
        let proof =
            Base64::decode_vec(proof).map_err(|_| self.abort("SCRAM proof (p=) is not base64"))?;
        let auth_message = format!("{auth_prefix},{without_proof}");
        let signature = self
            .hash
            .hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(self.abort(&invalid_credentials(self.hash)));
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !same(&self.hash.digest(&client_key), &credential.stored_key) {
            return Err(self.abort(&invalid_credentials(self.hash)));
        }
        let server_signature = self
            .hash
            .hmac(&credential.server_key, auth_message.as_bytes());
        let server_final = format!("v={}", Base64::encode_string(&server_signature));
        Ok((user, server_final.into_bytes()))
    }

    /// Ends the exchange: nothing more is accepted.
    fn abort(&mut self, why: &str) -> Refusal {
        self.state = State::Finished;
        why.to_owned()
    }
}

/// Kafka's wording, the same whatever was wrong (user or password).
fn invalid_credentials(hash: Hash) -> String {
    let mechanism = match hash {
        Hash::Sha256 => "SCRAM-SHA-256",
        Hash::Sha512 => "SCRAM-SHA-512",
    };
    format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}")
}

/// Splits `gs2-header` (`n,,` or `y,,`, with an optional `a=authzid`) from
/// the bare message.
fn split_gs2(text: &str) -> Result<(&str, &str), String> {
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("SCRAM client-first message has no GS2 header (n,,)".to_owned());
    };
    if flag.starts_with("p=") {
        return Err("SCRAM channel binding is not supported: use n,,".to_owned());
    }
    if flag != "n" && flag != "y" {
        return Err(format!("SCRAM GS2 flag {flag:?} is not n or y"));
    }
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err("SCRAM authorization identity must be a=NAME".to_owned());
    }
    let header_len = flag.len() + authzid.len() + 2;
    Ok(text.split_at(header_len))
}

/// RFC 5802's saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is an
/// error.
fn decode_name(name: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(()),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Compares without stopping at the first difference.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
