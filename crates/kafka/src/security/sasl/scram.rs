//! SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677), client side, with
//! Kafka's usage: no channel binding (`n,,`), the username escaped as the
//! RFC says, the password used as UTF-8 bytes (as the Java client does).
//!
//! ```text
//!   first():   n,,n=<user>,r=<client nonce>
//!   next(s1):  s1 = r=<client+server nonce>,s=<salt>,i=<iterations>
//!              ──► c=biws,r=<nonce>,p=<proof>
//!   next(s2):  s2 = v=<server signature>  ──► Done if it matches, else Err
//! ```
//!
//! The primitives are RustCrypto's (`hmac`, `sha2`, `pbkdf2`); the nonce
//! comes from the OS (`getrandom`).

use base64ct::{Base64, Encoding};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::Step;
use crate::security::Secret;

/// Kafka brokers store SCRAM credentials with 4096..=16384 iterations;
/// fewer is weak (Java's client refuses it too), more would stall the
/// poller thread in PBKDF2.
const MIN_ITERATIONS: u32 = 4096;
const MAX_ITERATIONS: u32 = 16384;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC takes keys of any length");
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Hmac<Sha256>>(key, parts),
            Hash::Sha512 => run::<Hmac<Sha512>>(key, parts),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

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

/// 24 random bytes from the OS, base64: printable and without `,`.
pub(crate) fn fresh_nonce() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("the OS gave no random bytes for the SCRAM nonce: {e}"))?;
    Ok(Base64::encode_string(&bytes))
}

/// RFC 5802's `saslname`: `=` and `,` escaped.
fn escape(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

enum State {
    Initial,
    SentFirst { client_first_bare: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// One SCRAM exchange.
pub(crate) struct Scram {
    hash: Hash,
    username: String,
    password: Secret,
    nonce: String,
    state: State,
}

impl Scram {
    pub(crate) fn new(hash: Hash, username: &str, password: &Secret, nonce: String) -> Scram {
        Scram {
            hash,
            username: escape(username),
            password: password.clone(),
            nonce,
            state: State::Initial,
        }
    }

    pub(crate) fn mechanism(&self) -> &'static str {
        match self.hash {
            Hash::Sha256 => "SCRAM-SHA-256",
            Hash::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub(crate) fn first(&mut self) -> Vec<u8> {
        let client_first_bare = format!("n={},r={}", self.username, self.nonce);
        let message = format!("n,,{client_first_bare}").into_bytes();
        self.state = State::SentFirst { client_first_bare };
        message
    }

    pub(crate) fn next(&mut self, server: &[u8]) -> Result<Step, String> {
        let server = std::str::from_utf8(server)
            .map_err(|_| format!("the broker's {} message is not UTF-8", self.mechanism()))?;
        match std::mem::replace(&mut self.state, State::Done) {
            State::SentFirst { client_first_bare } => self.client_final(&client_first_bare, server),
            State::SentFinal { server_signature } => verify_server(server, &server_signature),
            State::Initial | State::Done => Err(format!(
                "the broker sent a {} message out of turn",
                self.mechanism()
            )),
        }
    }

    /// Answers the server-first message with the proof.
    fn client_final(
        &mut self,
        client_first_bare: &str,
        server_first: &str,
    ) -> Result<Step, String> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("m", _)) => {
                    return Err(
                        "the broker requires a SCRAM extension this client does not know".into(),
                    )
                }
                Some(("e", v)) => return Err(format!("the broker refused: {v}")),
                _ => {}
            }
        }
        let malformed = |what: &str| format!("the broker's server-first message has {what}");
        let nonce = nonce.ok_or_else(|| malformed("no nonce (r=)"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(malformed("a nonce that does not extend the client's"));
        }
        let salt = Base64::decode_vec(salt.ok_or_else(|| malformed("no salt (s=)"))?)
            .map_err(|_| malformed("a salt that is not base64"))?;
        let iterations: u32 = iterations
            .ok_or_else(|| malformed("no iteration count (i=)"))?
            .parse()
            .map_err(|_| malformed("an iteration count that is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the broker asked for {iterations} SCRAM iterations; Kafka uses {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            ));
        }
        let h = self.hash;
        let salted = h.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, &[b"Client Key"]);
        let stored_key = h.digest(&client_key);
        // "biws" is base64("n,,"): no channel binding.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = h.hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(&salted, &[b"Server Key"]);
        self.state = State::SentFinal {
            server_signature: h.hmac(&server_key, &[auth_message.as_bytes()]),
        };
        Ok(Step::Send(
            format!("{without_proof},p={}", Base64::encode_string(&proof)).into_bytes(),
        ))
    }
}

/// The server-final message must carry the signature only a holder of
/// the password's keys can compute.
fn verify_server(server_final: &str, expected: &[u8]) -> Result<Step, String> {
    for attribute in server_final.split(',') {
        match attribute.split_once('=') {
            Some(("e", v)) => return Err(format!("the broker refused: {v}")),
            Some(("v", v)) => {
                let got = Base64::decode_vec(v)
                    .map_err(|_| "the broker's server signature is not base64".to_string())?;
                // Compared in full, whatever differs first.
                let same = got.len() == expected.len()
                    && got
                        .iter()
                        .zip(expected)
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0;
                return if same {
                    Ok(Step::Done)
                } else {
                    Err("the broker's server signature is wrong: it does not know this user's password (an impostor, or a broken broker)".into())
                };
            }
            _ => {}
        }
    }
    Err("the broker's server-final message has no signature (v=)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        hash: Hash,
        user: &str,
        password: &str,
        nonce: &str,
        server_first: &str,
    ) -> (Scram, String, String) {
        let mut scram = Scram::new(hash, user, &Secret::new(password), nonce.into());
        let first = String::from_utf8(scram.first()).unwrap();
        let Ok(Step::Send(last)) = scram.next(server_first.as_bytes()) else {
            panic!("a proof is sent")
        };
        (scram, first, String::from_utf8(last).unwrap())
    }

    /// RFC 7677 section 3.
    #[test]
    fn rfc_7677_test_vector() {
        let (mut scram, first, last) = exchange(
            Hash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            scram.next(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(Step::Done)
        );
    }

    /// SCRAM-SHA-512 has no RFC vector; these values were computed with
    /// Python's hashlib/hmac, independently of this code.
    #[test]
    fn sha512_matches_an_independent_computation() {
        let (mut scram, first, last) = exchange(
            Hash::Sha512,
            "al=ice,",
            "pencil",
            "clientnonce",
            SHA512_SERVER_FIRST,
        );
        assert_eq!(first, "n,,n=al=3Dice=2C,r=clientnonce");
        assert_eq!(last, SHA512_CLIENT_FINAL);
        assert_eq!(scram.next(SHA512_SERVER_FINAL.as_bytes()), Ok(Step::Done));
    }

    const SHA512_SERVER_FIRST: &str = "r=clientnonceservernonce,s=c2FsdHNhbHQ=,i=4096";
    const SHA512_CLIENT_FINAL: &str = "c=biws,r=clientnonceservernonce,p=SIpdKW1YMzXEMCtguFiZBofImTcpTTRLFZ1LyCE4x9O1vV1mUVrx/F/s5QkBE3AV6DZZbaTK4l6HlCb65UD4iQ==";
    const SHA512_SERVER_FINAL: &str = "v=qANmZSooyHNcM+ZNzJEWjpLDU70FkLOf5ONvdOjXbsPgiWG09LOK1qb+ry+oL/43Jhd40V2O9xPTZhW2KV5bsg==";

    #[test]
    fn a_wrong_server_signature_or_a_foreign_nonce_is_refused() {
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (mut scram, _, _) = exchange(
            Hash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            server_first,
        );
        let error = scram
            .next(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(error.contains("server signature is wrong"), "{error}");

        let mut foreign = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"), "abc".into());
        foreign.first();
        let error = foreign.next(b"r=xyz123,s=AAAA,i=4096").unwrap_err();
        assert!(error.contains("nonce"), "{error}");

        let mut weak = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"), "abc".into());
        weak.first();
        let error = weak.next(b"r=abcdef,s=AAAA,i=1").unwrap_err();
        assert!(error.contains("iterations"), "{error}");
    }

    proptest::proptest! {
        /// Whatever a broker sends, the exchange answers or refuses: it
        /// never panics.
        #[test]
        fn any_server_bytes_never_panic(first in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                                        second in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut scram = Scram::new(Hash::Sha256, "u", &Secret::new("p"), "n".into());
            scram.first();
            let _ = scram.next(&first);
            let _ = scram.next(&second);
        }
    }
}
