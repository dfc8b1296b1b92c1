//! From the config's TLS and SASL settings to what the listeners serve
//! with: one rustls `ServerConfig` and one SASL user table, shared by every
//! connection.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::certs::{self, GeneratedCerts};
use super::{TlsConfig, TlsIdentity};
use crate::sasl::Users;
use crate::{ClusterConfig, ClusterError};

/// What every listener of a cluster serves with.
#[derive(Clone, Default)]
pub(crate) struct ListenerSecurity {
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) sasl: Option<Arc<Users>>,
    pub(crate) generated: Option<GeneratedCerts>,
}

impl ListenerSecurity {
    /// Builds the TLS config (generating certificates or reading PEM files)
    /// and the SASL user table.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Security`] naming the setting or file that was wrong.
    pub(crate) fn build(config: &ClusterConfig) -> Result<ListenerSecurity, ClusterError> {
        let mut security = ListenerSecurity::default();
        if let Some(tls) = config.tls() {
            let (server, generated) = server_config(tls)?;
            security.tls = Some(Arc::new(server));
            security.generated = generated;
        }
        if let Some(sasl) = config.sasl() {
            security.sasl = Some(Arc::new(Users::new(sasl)?));
        }
        Ok(security)
    }
}

fn server_config(tls: &TlsConfig) -> Result<(ServerConfig, Option<GeneratedCerts>), ClusterError> {
    let (chain, key, ca, generated) = match tls.identity() {
        TlsIdentity::Generated => {
            let g = certs::generate()
                .map_err(|e| security(format!("generating the TLS certificates failed: {e}")))?;
            (g.server_chain, g.server_key, Some(g.ca_der), Some(g.public))
        }
        TlsIdentity::PemFiles { cert_chain, key } => {
            (read_certs(cert_chain)?, read_key(key)?, None, None)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| security(format!("TLS protocol versions: {e}")))?;
    let builder = if tls.client_auth_required() {
        let mut roots = RootCertStore::empty();
        let trusted = match (tls.client_ca(), ca) {
            (Some(file), _) => read_certs(file)?,
            (None, Some(generated_ca)) => vec![generated_ca],
            (None, None) => {
                return Err(security(
                    "mutual TLS with certificates from PEM files needs the client CA: \
                     set TlsConfig::with_client_ca (CLI: --tls-client-ca FILE)"
                        .to_owned(),
                ))
            }
        };
        for cert in trusted {
            roots
                .add(cert)
                .map_err(|e| security(format!("client CA certificate refused: {e}")))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| security(format!("client certificate verifier: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let server = builder.with_single_cert(chain, key).map_err(|e| {
        security(format!(
            "the TLS certificate and key do not make a server identity: {e}"
        ))
    })?;
    Ok((server, generated))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| security(format!("reading certificates from {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(security(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClusterError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        security(format!(
            "reading a private key from {}: {e} (PKCS#8, PKCS#1 or SEC1 PEM, unencrypted)",
            path.display()
        ))
    })
}

fn security(message: String) -> ClusterError {
    ClusterError::Security(message)
}
