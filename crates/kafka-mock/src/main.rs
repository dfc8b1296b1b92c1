//! `cargo run -p rouse-kafka-mock -- --brokers 3 --topic t:6`: a mock Kafka
//! cluster on 127.0.0.1 for other programs' tests. Prints
//! `bootstrap.servers=...` once it listens, then serves until killed
//! (Ctrl-C).
//!
//! Secured: `--tls` (certificates generated; the CA is written to a file
//! whose path is printed as `ssl.ca.location=`), `--tls-client-auth` for
//! mutual TLS, `--sasl-user NAME:PASSWORD` (repeatable) and
//! `--sasl-mechanism PLAIN,SCRAM-SHA-256,SCRAM-SHA-512`. It prints the
//! client settings (`security.protocol`, `sasl.mechanism`, `sasl.username`
//! and the password given on this command line) on stdout, never in logs.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a program: printing is its output

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rouse_kafka_mock::{
    ClusterConfig, MockCluster, SaslConfig, SaslMechanism, TlsConfig, MAX_BROKERS,
};

#[derive(Parser, Debug)]
#[command(
    name = "rouse-kafka-mock",
    about = "An in-memory Kafka mock cluster on 127.0.0.1"
)]
struct Args {
    /// Number of brokers, each on its own ephemeral port.
    #[arg(long, default_value_t = 1)]
    brokers: usize,
    /// A topic to create, as name:partitions (repeatable).
    #[arg(long = "topic", value_parser = parse_topic)]
    topics: Vec<(String, i32)>,
    /// Create unknown topics on first use (Metadata or Produce).
    #[arg(long)]
    auto_create: bool,
    /// Serve TLS, with a CA and server certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// Serve TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by the
    /// generated CA (a client certificate and key are written for them).
    #[arg(long)]
    tls_client_auth: bool,
    /// Mutual TLS with client certificates checked against this PEM CA file.
    #[arg(long)]
    tls_client_ca: Option<PathBuf>,
    /// Where to write the generated CA (and client certificate); default a
    /// new directory under the system's temporary directory.
    #[arg(long)]
    cert_dir: Option<PathBuf>,
    /// A SASL user, as NAME:PASSWORD (repeatable); turns SASL on.
    #[arg(long = "sasl-user", value_parser = parse_user)]
    sasl_users: Vec<(String, String)>,
    /// SASL mechanisms offered, comma-separated (default all three).
    #[arg(long = "sasl-mechanism", value_delimiter = ',', value_parser = parse_mechanism)]
    sasl_mechanisms: Vec<SaslMechanism>,
}

fn parse_user(spec: &str) -> Result<(String, String), String> {
    match spec.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok((name.to_owned(), password.to_owned())),
        _ => Err("write a SASL user as NAME:PASSWORD, as in alice:alice-secret".to_owned()),
    }
}

fn parse_mechanism(name: &str) -> Result<SaslMechanism, String> {
    name.parse()
}

fn parse_topic(spec: &str) -> Result<(String, i32), String> {
    let (name, partitions) = spec.split_once(':').unwrap_or((spec, "1"));
    match partitions.parse::<i32>() {
        Ok(p) if p > 0 && !name.is_empty() => Ok((name.to_string(), p)),
        _ => Err(format!(
            "{spec:?}: write a topic as name:partitions, as in orders:6"
        )),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "rouse_kafka_mock=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(1..=MAX_BROKERS).contains(&args.brokers) {
        eprintln!(
            "rouse-kafka-mock: --brokers must be 1 to {MAX_BROKERS}, not {}",
            args.brokers
        );
        return ExitCode::from(2);
    }
    let config = match secured(
        ClusterConfig::new(args.brokers).with_auto_create_topics(args.auto_create),
        &args,
    ) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("rouse-kafka-mock: {message}");
            return ExitCode::from(2);
        }
    };
    let cluster = match MockCluster::start(config) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("rouse-kafka-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, partitions) in &args.topics {
        if let Err(e) = cluster.create_topic(name, *partitions) {
            eprintln!("rouse-kafka-mock: --topic {name}:{partitions}: {e}");
            return ExitCode::from(2);
        }
    }
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    if let Err(message) = print_client_settings(&cluster, &args) {
        eprintln!("rouse-kafka-mock: {message}");
        return ExitCode::FAILURE;
    }
    loop {
        // The cluster serves on its own thread; this one only keeps it alive.
        std::thread::park();
    }
}

/// The config with the TLS and SASL flags applied.
fn secured(mut config: ClusterConfig, args: &Args) -> Result<ClusterConfig, String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsConfig::from_pem_files(cert, key)),
        _ if args.tls || args.tls_client_auth || args.tls_client_ca.is_some() => {
            Some(TlsConfig::generated())
        }
        _ => None,
    };
    if let Some(mut tls) = tls {
        if args.tls_client_auth {
            tls = tls.with_client_auth();
        }
        if let Some(ca) = &args.tls_client_ca {
            tls = tls.with_client_ca(ca);
        }
        config = config.with_tls(tls);
    }
    if !args.sasl_users.is_empty() {
        let mut sasl = SaslConfig::new();
        for (name, password) in &args.sasl_users {
            sasl = sasl.with_user(name, password);
        }
        if !args.sasl_mechanisms.is_empty() {
            sasl = sasl.with_mechanisms(args.sasl_mechanisms.iter().copied());
        }
        config = config.with_sasl(sasl);
    } else if !args.sasl_mechanisms.is_empty() {
        return Err("--sasl-mechanism needs at least one --sasl-user NAME:PASSWORD".to_owned());
    }
    Ok(config)
}

/// Prints what a client sets to connect, as `key=value` lines. The
/// password printed is the one given on this command line.
fn print_client_settings(cluster: &MockCluster, args: &Args) -> Result<(), String> {
    println!("security.protocol={}", cluster.security_protocol());
    if let Some(certs) = cluster.generated_certs() {
        let dir = match &args.cert_dir {
            Some(dir) => dir.clone(),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("rouse-kafka-mock-{}", std::process::id()));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                dir
            }
        };
        let files = certs.write_to(&dir).map_err(|e| {
            format!(
                "writing the generated certificates to {}: {e}",
                dir.display()
            )
        })?;
        println!("ssl.ca.location={}", files.ca.display());
        if args.tls_client_auth {
            println!("ssl.certificate.location={}", files.client_cert.display());
            println!("ssl.key.location={}", files.client_key.display());
        }
    }
    if let Some((name, password)) = args.sasl_users.first() {
        let offered = if args.sasl_mechanisms.is_empty() {
            SaslMechanism::ALL.to_vec()
        } else {
            args.sasl_mechanisms.clone()
        };
        println!("sasl.mechanism={}", offered[0]);
        if offered.len() > 1 {
            let all: Vec<&str> = offered.iter().map(|m| m.name()).collect();
            println!("# sasl.mechanism may be any of {}", all.join(","));
        }
        println!("sasl.username={name}");
        println!("sasl.password={password}");
    }
    Ok(())
}
