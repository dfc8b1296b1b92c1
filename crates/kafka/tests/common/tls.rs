//! TLS for the tests: certificates made here with rcgen (never checked
//! in), and a TLS relay on Python's `ssl` module (OpenSSL, an independent
//! TLS implementation) in front of a plaintext broker.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use super::tansu::env_path;

/// A directory of PEM files, removed on drop: a CA, a server certificate
/// for 127.0.0.1 and localhost, one for another host name, and a client
/// certificate, all signed by the CA; and a CA nobody trusts.
pub(crate) struct Certs {
    pub(crate) dir: PathBuf,
}

impl Certs {
    pub(crate) fn generate() -> Certs {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rouse-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let certs = Certs { dir };
        let ca = certs.ca("ca");
        certs.leaf(&ca, "server", &["127.0.0.1", "localhost"]);
        certs.leaf(&ca, "other-host", &["broker.other.example"]);
        certs.leaf(&ca, "client", &["rouse-client"]);
        certs.ca("stranger");
        certs
    }

    fn write(&self, name: &str, pem: &str) {
        std::fs::write(self.dir.join(name), pem).expect("write PEM");
    }

    fn ca(&self, name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("rouse test {name}"));
        let key = KeyPair::generate().expect("key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("CA");
        self.write(&format!("{name}.pem"), &ca.pem());
        ca
    }

    fn leaf(&self, ca: &CertifiedIssuer<'static, KeyPair>, name: &str, names: &[&str]) {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, ca).expect("signed");
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}.key"), &key.serialize_pem());
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// tls_relay.py: TLS on `listen`, plaintext to `target`; killed on drop.
pub(crate) struct Relay {
    child: Child,
}

impl Relay {
    /// Starts the relay with the certificate `cert` (`cert.pem`/`cert.key`
    /// in `certs`); `client_ca` makes it require client certificates.
    pub(crate) fn start(
        certs: &Certs,
        listen: u16,
        target: u16,
        cert: &str,
        client_ca: Option<&str>,
    ) -> Relay {
        let python = env_path("ROUSE_PYTHON", "a python 3");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/tls_relay.py");
        let mut command = Command::new(python);
        command
            .arg(script)
            .arg(listen.to_string())
            .arg(target.to_string())
            .arg(certs.path(&format!("{cert}.pem")))
            .arg(certs.path(&format!("{cert}.key")));
        if let Some(ca) = client_ca {
            command.arg(certs.path(&format!("{ca}.pem")));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tls_relay.py starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("relay output");
        assert_eq!(line.trim(), "listening", "the relay is up");
        Relay { child }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
