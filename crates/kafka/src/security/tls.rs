//! The rustls client configuration, built once from the `ssl.*` settings
//! when the producer's configuration is built, so that an unreadable or
//! wrong file is refused there, naming the key and the file.
//!
//! * Trust: `ssl.ca.location` (a PEM file, or a directory whose files are
//!   read as PEM), else Mozilla's roots compiled in (`webpki-roots`), as
//!   the Java client trusts the roots its JDK ships rather than the OS's.
//! * Host name: checked against the certificate unless
//!   `ssl.endpoint.identification.algorithm` is `none` (the chain is still
//!   verified, as in Java).
//! * Mutual TLS: `ssl.certificate.location` (the chain, leaf first) and
//!   `ssl.key.location` (PKCS#8, PKCS#1 or SEC1 PEM; an encrypted PKCS#8
//!   key is decrypted with `ssl.key.password`).
//!
//! The crypto provider is rustls's `ring` one, named explicitly so that the
//! process-wide default (which another library may install) never matters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::Secret;
use crate::config::ConfigError;

/// The `ssl.*` settings as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TlsSettings {
    pub(crate) ca_location: Option<PathBuf>,
    pub(crate) certificate_location: Option<PathBuf>,
    pub(crate) key_location: Option<PathBuf>,
    pub(crate) key_password: Option<Secret>,
    /// `ssl.endpoint.identification.algorithm=https` (the default).
    pub(crate) verify_hostname: bool,
}

fn file_error(key: &'static str, path: &Path, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::InvalidValue {
        key,
        value: path.display().to_string(),
        expected: format!("a readable PEM file: {why}"),
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| file_error(key, path, format!("cannot read it ({e})")))
}

fn certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    CertificateDer::pem_slice_iter(&read(key, path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, format!("it is not valid PEM ({e})")))
}

/// The trust anchors: `ssl.ca.location`'s certificates, or Mozilla's.
fn roots(ca_location: Option<&Path>) -> Result<RootCertStore, ConfigError> {
    const KEY: &str = "ssl.ca.location";
    let Some(location) = ca_location else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let files = if location.is_dir() {
        let entries = std::fs::read_dir(location)
            .map_err(|e| file_error(KEY, location, format!("cannot list the directory ({e})")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        files
    } else {
        vec![location.to_path_buf()]
    };
    let mut store = RootCertStore::empty();
    for file in &files {
        for cert in certificates(KEY, file)? {
            store.add(cert).map_err(|e| {
                file_error(
                    KEY,
                    file,
                    format!("it holds a certificate rustls cannot use ({e})"),
                )
            })?;
        }
    }
    if store.is_empty() {
        return Err(file_error(
            KEY,
            location,
            "it holds no CERTIFICATE block: point it at the PEM file (or directory) of the CA that signed the brokers' certificates",
        ));
    }
    Ok(store)
}

/// The client's private key, decrypted with `ssl.key.password` if it is
/// an encrypted PKCS#8 key.
fn private_key(
    path: &Path,
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, ConfigError> {
    const KEY: &str = "ssl.key.location";
    let pem = read(KEY, path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            return Err(ConfigError::Missing {
                key: "ssl.key.password",
                expected: "the passphrase of the encrypted key in ssl.key.location",
            });
        };
        let (_, document) = pkcs8::SecretDocument::from_pem(&text).map_err(|e| {
            file_error(
                KEY,
                path,
                format!("its encrypted key is not valid PEM ({e})"),
            )
        })?;
        let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
            .map_err(|e| file_error(KEY, path, format!("its encrypted key is not PKCS#8 ({e})")))?;
        let decrypted = encrypted.decrypt(password.expose()).map_err(|_| ConfigError::InvalidValue {
            key: "ssl.key.password",
            value: "[redacted]".into(),
            expected: format!(
                "the passphrase of {} (it did not decrypt the key, or the key's cipher is not PBES2 with AES-CBC)",
                path.display()
            ),
        })?;
        return Ok(PrivatePkcs8KeyDer::from(decrypted.as_bytes().to_vec()).into());
    }
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") && text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(file_error(
            KEY,
            path,
            "it is a legacy OpenSSL-encrypted RSA key; convert it with `openssl pkcs8 -topk8 -v2 aes256` and set ssl.key.password",
        ));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        file_error(
            KEY,
            path,
            format!("it holds no usable PRIVATE KEY block ({e})"),
        )
    })
}

/// Builds the rustls client configuration the connections share.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = roots(settings.ca_location.as_deref())?;
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Conflict {
            keys: &["security.protocol"],
            reason: format!("rustls cannot offer TLS 1.2 or 1.3: {e}"),
        })?;
    let builder = if settings.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| ConfigError::InvalidValue {
                key: "ssl.ca.location",
                value: settings
                    .ca_location
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |p| p.display().to_string()),
                expected: format!("certificates a verifier can be built from: {e}"),
            })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly { inner }))
    };
    let config = match (&settings.certificate_location, &settings.key_location) {
        (Some(cert), Some(key)) => {
            let chain = certificates("ssl.certificate.location", cert)?;
            if chain.is_empty() {
                return Err(file_error(
                    "ssl.certificate.location",
                    cert,
                    "it holds no CERTIFICATE block",
                ));
            }
            let key_der = private_key(key, settings.key_password.as_ref())?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| ConfigError::Conflict {
                    keys: &["ssl.certificate.location", "ssl.key.location"],
                    reason: format!(
                        "{} and {} cannot be used together: {e}; give the key that belongs to the certificate",
                        cert.display(),
                        key.display()
                    ),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `ssl.endpoint.identification.algorithm=none`: the chain must still lead
/// to a trusted root; only the host name is not compared.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
