//! Certificates made at start with rcgen: a self-signed CA, a server
//! certificate it signs for the loopback names, and a client certificate it
//! signs for mutual TLS. Nothing is written to disk unless asked
//! ([`GeneratedCerts::write_to`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the generated server certificate is valid for: clients connect
/// to the mock on 127.0.0.1 (it advertises that address), some by name.
const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// The PEM texts of certificates the mock generated at start. Clients trust
/// [`ca_pem`](Self::ca_pem); for mutual TLS they present
/// [`client_cert_pem`](Self::client_cert_pem) with its key. `Debug` leaves
/// the keys out.
#[derive(Clone)]
pub struct GeneratedCerts {
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

/// Where [`GeneratedCerts::write_to`] put the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The CA certificate (a client's `ssl.ca.location`).
    pub ca: PathBuf,
    /// The client certificate (`ssl.certificate.location`).
    pub client_cert: PathBuf,
    /// The client certificate's private key (`ssl.key.location`).
    pub client_key: PathBuf,
}

impl GeneratedCerts {
    /// The CA certificate that signed the server's (and the client's), PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client certificate the CA signed, PEM, for mutual TLS.
    pub fn client_cert_pem(&self) -> &str {
        &self.client_cert_pem
    }

    /// The client certificate's private key, PKCS#8 PEM.
    pub fn client_key_pem(&self) -> &str {
        &self.client_key_pem
    }

    /// Writes `ca.pem`, `client.pem` and `client.key` into `dir` (which must
    /// exist) and says where.
    ///
    /// # Errors
    ///
    /// The I/O error of the first file that could not be written.
    pub fn write_to(&self, dir: &Path) -> io::Result<CertFiles> {
        let files = CertFiles {
            ca: dir.join("ca.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        std::fs::write(&files.ca, &self.ca_pem)?;
        std::fs::write(&files.client_cert, &self.client_cert_pem)?;
        std::fs::write(&files.client_key, &self.client_key_pem)?;
        Ok(files)
    }
}

impl fmt::Debug for GeneratedCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCerts").finish_non_exhaustive()
    }
}

/// What the server side needs of a generated set.
pub(crate) struct Generated {
    pub(crate) public: GeneratedCerts,
    pub(crate) ca_der: CertificateDer<'static>,
    pub(crate) server_chain: Vec<CertificateDer<'static>>,
    pub(crate) server_key: PrivateKeyDer<'static>,
}

/// Makes a CA, a server certificate and a client certificate.
pub(crate) fn generate() -> Result<Generated, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    // A name of its own per start, so a client trusting an older run's CA
    // is told the issuer is unknown rather than that a signature is bad.
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(|_| rcgen::Error::RingUnspecified)?;
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("rouse-kafka-mock CA {:08x}", u32::from_be_bytes(tag)),
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec())?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "rouse-kafka-mock broker");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, "rouse-kafka-mock client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    Ok(Generated {
        public: GeneratedCerts {
            ca_pem: ca_cert.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        },
        ca_der: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    })
}
