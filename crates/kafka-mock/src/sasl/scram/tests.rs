use super::*;

/// RFC 7677 §3: user "user", password "pencil".
const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_credential(password: &str) -> Credential {
    let salt = Base64::decode_vec(RFC_SALT).unwrap();
    Credential::new(Hash::Sha256, password, &salt, 4096)
}

fn rfc_server(password: &str) -> ScramServer {
    let mut server = ScramServer::new(Hash::Sha256);
    let first = server
        .client_first(RFC_CLIENT_FIRST.as_bytes(), RFC_SERVER_NONCE, |user| {
            (user == "user").then(|| rfc_credential(password))
        })
        .expect("client-first accepted");
    assert_eq!(String::from_utf8(first).unwrap(), RFC_SERVER_FIRST);
    server
}

#[test]
fn rfc_7677_exchange_gives_the_rfc_server_final() {
    let mut server = rfc_server("pencil");
    let (user, last) = server
        .client_final(RFC_CLIENT_FINAL.as_bytes())
        .expect("the RFC's proof is right");
    assert_eq!(user, "user");
    assert_eq!(String::from_utf8(last).unwrap(), RFC_SERVER_FINAL);
}

#[test]
fn the_rfc_proof_against_another_password_is_refused() {
    let mut server = rfc_server("not-pencil");
    let refusal = server
        .client_final(RFC_CLIENT_FINAL.as_bytes())
        .unwrap_err();
    assert!(refusal.contains("invalid credentials"), "{refusal}");
    // The exchange is over: a second try on the same server is refused.
    assert!(server.client_final(RFC_CLIENT_FINAL.as_bytes()).is_err());
}

#[test]
fn unknown_users_get_the_same_refusal_as_wrong_passwords() {
    let mut server = ScramServer::new(Hash::Sha256);
    let refusal = server
        .client_first(b"n,,n=nobody,r=abc", "xyz", |_| None)
        .unwrap_err();
    assert!(refusal.contains("invalid credentials"), "{refusal}");
}

#[test]
fn a_changed_nonce_or_binding_is_refused() {
    let tampered_nonce = RFC_CLIENT_FINAL.replace("k0,p=", "k1,p=");
    assert!(rfc_server("pencil")
        .client_final(tampered_nonce.as_bytes())
        .unwrap_err()
        .contains("nonce"));
    let tampered_binding = RFC_CLIENT_FINAL.replace("c=biws", "c=eSws");
    assert!(rfc_server("pencil")
        .client_final(tampered_binding.as_bytes())
        .unwrap_err()
        .contains("channel binding"));
}

#[test]
fn malformed_client_first_messages_are_refused_with_a_reason() {
    for (message, why) in [
        ("", "GS2"),
        ("p=tls-unique,,n=user,r=abc", "channel binding"),
        ("x,,n=user,r=abc", "GS2 flag"),
        ("n,,r=abc", "user name"),
        ("n,,n=user", "nonce"),
        ("n,,n=us=er,r=abc", "user name"),
        ("n,,m=ext,n=user,r=abc", "mandatory"),
    ] {
        let mut server = ScramServer::new(Hash::Sha512);
        let refusal = server
            .client_first(message.as_bytes(), "s", |_| None)
            .unwrap_err();
        assert!(refusal.contains(why), "{message:?}: {refusal}");
    }
}

#[test]
fn sasl_names_are_decoded() {
    assert_eq!(decode_name("a=2Cb=3Dc").unwrap(), "a,b=c");
    assert!(decode_name("a=2").is_err());
}

/// A SCRAM-SHA-512 client written from RFC 5802 §3 in the test, against
/// the server: the proof it computes is accepted and the server's signature
/// checks out.
#[test]
fn sha_512_round_trip_with_an_rfc_client() {
    let salt = b"0123456789abcdef";
    let credential = Credential::new(Hash::Sha512, "secret", salt, ITERATIONS);
    let mut server = ScramServer::new(Hash::Sha512);
    let first = server
        .client_first(b"n,,n=alice,r=cnonce", "snonce", |_| Some(credential))
        .unwrap();
    let first = String::from_utf8(first).unwrap();
    assert!(first.starts_with("r=cnoncesnonce,s="), "{first}");
    let salted = pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(b"secret", salt, ITERATIONS);
    let client_key = mac::<Hmac<Sha512>>(&salted, b"Client Key");
    let stored_key = Sha512::digest(&client_key);
    let without_proof = "c=biws,r=cnoncesnonce";
    let auth = format!("n=alice,r=cnonce,{first},{without_proof}");
    let signature = mac::<Hmac<Sha512>>(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let last = format!("{without_proof},p={}", Base64::encode_string(&proof));
    let (user, server_final) = server.client_final(last.as_bytes()).unwrap();
    assert_eq!(user, "alice");
    let server_key = mac::<Hmac<Sha512>>(&salted, b"Server Key");
    let expected = mac::<Hmac<Sha512>>(&server_key, auth.as_bytes());
    assert_eq!(
        String::from_utf8(server_final).unwrap(),
        format!("v={}", Base64::encode_string(&expected))
    );
}
