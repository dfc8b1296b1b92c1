//! The security keys through `ProducerConfig::from_pairs`: defaults,
//! contradictions refused naming the key (and the file), secrets never
//! shown.

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::security::{SaslMechanism, SecurityProtocol};
use crate::ProducerConfig;

fn build(pairs: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    let mut all = vec![("bootstrap.servers", "127.0.0.1:9092")];
    all.extend_from_slice(pairs);
    ProducerConfig::from_pairs(all)
}

fn key_of(error: &ConfigError) -> Vec<&'static str> {
    match error {
        ConfigError::InvalidValue { key, .. } | ConfigError::Missing { key, .. } => vec![key],
        ConfigError::Conflict { keys, .. } => keys.to_vec(),
        other => panic!("unexpected {other:?}"),
    }
}

/// A temporary directory with a CA certificate, a client certificate and
/// its key (plain and encrypted with "key-pass").
struct Files(PathBuf);

impl Files {
    fn new(tag: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("rouse-sec-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("client.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("client.key"), key.serialize_pem()).unwrap();
        let der = key.serialize_der();
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
                .unwrap();
        let encrypted = info.encrypt_with_params(params, "key-pass").unwrap();
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .unwrap();
        std::fs::write(dir.join("client.enc.key"), pem.as_bytes()).unwrap();
        Files(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    fn dir(&self) -> &Path {
        &self.0
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn plaintext_by_default_and_protocols_in_any_case() {
    let config = build(&[]).unwrap();
    assert_eq!(config.security_protocol(), SecurityProtocol::Plaintext);
    assert_eq!(config.sasl_mechanism(), None);
    let config = build(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "scram-sha-256"),
        ("sasl.username", "alice"),
        ("sasl.password", "pw"),
    ])
    .unwrap();
    assert_eq!(config.security_protocol(), SecurityProtocol::SaslPlaintext);
    assert_eq!(config.sasl_mechanism(), Some(SaslMechanism::ScramSha256));
    let error = build(&[("security.protocol", "TLS")]).unwrap_err();
    assert_eq!(key_of(&error), ["security.protocol"]);
    assert!(error.to_string().contains("SASL_SSL"), "{error}");
}

#[test]
fn settings_that_cannot_take_effect_are_refused_naming_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("sasl.mechanism", "PLAIN")], "sasl.mechanism"),
        (&[("sasl.username", "alice")], "sasl.username"),
        (&[("ssl.ca.location", "/x.pem")], "ssl.ca.location"),
        (
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.username", "a"),
                ("sasl.password", "p"),
            ],
            "sasl.mechanism",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "a"),
            ],
            "sasl.password",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
            ],
            "sasl.username",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "GSSAPI"),
            ],
            "sasl.mechanism",
        ),
        (
            &[("security.protocol", "SSL"), ("ssl.key.location", "/k.pem")],
            "ssl.certificate.location",
        ),
        (
            &[
                ("security.protocol", "SSL"),
                ("ssl.certificate.location", "/c.pem"),
            ],
            "ssl.key.location",
        ),
        (
            &[
                ("security.protocol", "SSL"),
                ("ssl.endpoint.identification.algorithm", "dns"),
            ],
            "ssl.endpoint.identification.algorithm",
        ),
    ];
    for (pairs, key) in cases {
        let error = build(pairs).unwrap_err();
        assert!(key_of(&error).contains(key), "{pairs:?}: {error}");
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[test]
fn unreadable_or_empty_files_are_refused_naming_the_key_and_the_file() {
    let files = Files::new("files");
    let missing = files.path("nope.pem");
    let error = build(&[("security.protocol", "SSL"), ("ssl.ca.location", &missing)]).unwrap_err();
    assert_eq!(key_of(&error), ["ssl.ca.location"]);
    assert!(error.to_string().contains(&missing), "{error}");

    let key_as_ca = files.path("client.key");
    let error = build(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", &key_as_ca),
    ])
    .unwrap_err();
    assert!(error.to_string().contains("no CERTIFICATE"), "{error}");

    // A directory of PEM files is a CA location too.
    let dir = files.dir().display().to_string();
    build(&[("security.protocol", "SSL"), ("ssl.ca.location", &dir)]).unwrap();

    let error = build(&[
        ("security.protocol", "SSL"),
        ("ssl.certificate.location", &files.path("client.pem")),
        ("ssl.key.location", &files.path("ca.pem")),
    ])
    .unwrap_err();
    assert_eq!(key_of(&error), ["ssl.key.location"]);
}

#[test]
fn an_encrypted_key_needs_its_password_and_secrets_never_show() {
    let files = Files::new("enc");
    let (cert, key) = (files.path("client.pem"), files.path("client.enc.key"));
    let base = [
        ("security.protocol", "SSL"),
        ("ssl.certificate.location", cert.as_str()),
        ("ssl.key.location", key.as_str()),
    ];
    let error = build(&base).unwrap_err();
    assert_eq!(key_of(&error), ["ssl.key.password"]);
    let mut wrong = base.to_vec();
    wrong.push(("ssl.key.password", "not-the-pass"));
    let error = build(&wrong).unwrap_err();
    assert_eq!(key_of(&error), ["ssl.key.password"]);
    assert!(
        !format!("{error} {error:?}").contains("not-the-pass"),
        "{error}"
    );
    let mut right = base.to_vec();
    right.push(("ssl.key.password", "key-pass"));
    let config = build(&right).expect("the key decrypts");
    assert!(!format!("{config:?}").contains("key-pass"));
}

#[test]
fn debug_output_and_errors_never_show_a_password() {
    let config = build(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "hunter2-secret"),
    ])
    .unwrap();
    let shown = format!("{config:?}");
    assert!(
        shown.contains("alice") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2-secret"), "{shown}");

    let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="jaas-secret";"#;
    let config = build(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", jaas),
    ])
    .unwrap();
    assert!(!format!("{config:?}").contains("jaas-secret"));
    let builder = ProducerConfig::builder()
        .set("sasl.jaas.config", jaas)
        .unwrap();
    assert!(!format!("{builder:?}").contains("jaas-secret"));

    for pairs in [
        vec![("sasl.password", "pw-secret")],
        vec![("sasl.jaas.config", jaas)],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", &jaas[..jaas.len() - 1]), // no closing ;
        ],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"), // the jaas line is SCRAM's
            ("sasl.jaas.config", jaas),
        ],
    ] {
        let error = build(&pairs).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
