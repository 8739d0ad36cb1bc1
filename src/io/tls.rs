//! TLS for the connections, as libpq's `sslmode` describes it: `disable`, `prefer` (the default:
//! TLS when the server offers it, plain otherwise), `require` (TLS, the certificate not checked),
//! `verify-ca` (TLS, the certificate chain checked against `sslrootcert`) and `verify-full` (the
//! chain and the host name). rustls does the TLS, with the ring crypto provider.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`: the two `verify-*` modes are
//! `require` to it, and the checking is done here, by the certificate verifier given to rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, all five that matter (`allow` is refused: tokio-postgres cannot try plain
/// first and TLS second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// The mode named by `text`, or what to write instead.
    pub fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow is not supported; use prefer (TLS when the server offers it) or disable"
                        .to_string(),
                );
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: the verify modes are `require` to it.
    pub fn for_driver(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }

    /// Whether the server's certificate is checked against a root certificate.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// libpq's default root certificate file: `~/.postgresql/root.crt`.
pub fn default_root_cert() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(Path::new(&home).join(".postgresql").join("root.crt"))
}

/// The TLS connector for `mode`; `root_cert` is read for the verify modes only. The error says
/// what is wrong with the file and what to do.
pub fn connector(mode: SslMode, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    // ring rather than aws-lc-rs: no C library of its own to build, and PostgreSQL servers offer
    // no post-quantum key exchange (the reason rustls 0.23.48 marks ring's provider deprecated).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = if mode.verifies() {
        let Some(path) = root_cert else {
            return Err(format!(
                "sslmode={} needs the root certificate that signed the server's certificate, and HOME is not set to find ~/.postgresql/root.crt; give sslrootcert=FILE or PGSSLROOTCERT",
                mode.name()
            ));
        };
        Some(Arc::new(read_roots(mode, path)?))
    } else {
        None
    };
    let verifier = ServerCheck {
        roots,
        check_name: mode == SslMode::VerifyFull,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("the TLS library cannot be set up: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Every certificate of the PEM file `path`.
fn read_roots(mode: SslMode, path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let what_to_do = format!(
        "give the certificate of the authority that signed the server's certificate in sslrootcert=FILE or PGSSLROOTCERT, or use sslmode=require to encrypt without checking the certificate (sslmode={})",
        mode.name()
    );
    if path == Path::new("system") {
        return Err(format!(
            "sslrootcert=system (the operating system's roots, libpq 16) is not supported; {what_to_do}"
        ));
    }
    if !path.exists() {
        return Err(format!(
            "the root certificate file {shown} does not exist; {what_to_do}"
        ));
    }
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| {
            format!("the root certificate file {shown} cannot be read ({error}); {what_to_do}")
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(format!(
            "the root certificate file {shown} holds no usable certificate; {what_to_do}"
        ));
    }
    Ok(roots)
}

/// The check of the server's certificate. Without roots (`prefer`, `require`) any certificate is
/// accepted: the connection is encrypted, but nothing proves who is at the other end — libpq's
/// `require`. With roots the chain must lead to one of them (`verify-ca`), and with `check_name`
/// the certificate must also name the host connected to (`verify-full`). The handshake's
/// signatures are always checked against the certificate's key.
#[derive(Debug)]
struct ServerCheck {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let certificate = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &certificate,
            roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if self.check_name {
            verify_server_name(&certificate, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What went wrong in a TLS handshake, for the error line: the rustls error found in the causes
/// of a failed connection, if any.
pub fn handshake_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // An io::Error hides the error it carries from source(): look inside it.
        if let Some(found) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// The sentence that says what failed in the handshake and what to do, for `mode` and the root
/// certificate file used.
pub fn explain_handshake(
    error: &rustls::Error,
    mode: SslMode,
    root_cert: Option<&Path>,
    host: &str,
) -> String {
    use rustls::CertificateError as Certificate;
    let roots = root_cert.map_or("the root certificate file".to_string(), |path| {
        path.display().to_string()
    });
    let mode = mode.name();
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            Certificate::UnknownIssuer | Certificate::BadSignature => format!(
                "its certificate was not signed by a certificate of {roots} (sslmode={mode}); give the authority that signed it in sslrootcert=FILE or PGSSLROOTCERT, or use sslmode=require to encrypt without checking the certificate"
            ),
            Certificate::NotValidForName | Certificate::NotValidForNameContext { .. } => format!(
                "its certificate does not name the host {host} (sslmode={mode}); connect with a host name the certificate gives, or use sslmode=verify-ca to check the signature only"
            ),
            Certificate::Expired | Certificate::ExpiredContext { .. } => format!(
                "its certificate has expired (sslmode={mode}); renew the server's certificate"
            ),
            Certificate::NotValidYet | Certificate::NotValidYetContext { .. } => format!(
                "its certificate is not valid yet (sslmode={mode}); check the clocks of both machines"
            ),
            other => format!(
                "its certificate was rejected: {other:?} (sslmode={mode}); check the server's certificate and {roots}"
            ),
        },
        other => format!(
            "the TLS handshake failed: {other} (sslmode={mode}); check the server's TLS settings, or use sslmode=disable if the network is trusted"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_named_as_libpq_names_them() {
        for name in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            assert_eq!(SslMode::parse(name).map(SslMode::name), Ok(name));
        }
        assert!(SslMode::parse("allow").unwrap_err().contains("prefer"));
        assert!(SslMode::parse("on").unwrap_err().contains("verify-full"));
        assert_eq!(
            SslMode::VerifyCa.for_driver(),
            tokio_postgres::config::SslMode::Require
        );
    }

    #[test]
    fn a_missing_or_empty_root_file_says_what_to_do() {
        let missing = Path::new("/nonexistent/odoo-migrate/root.crt");
        let error = connector(SslMode::VerifyFull, Some(missing))
            .err()
            .expect("refused");
        assert!(error.contains("does not exist"), "{error}");
        assert!(error.contains("sslrootcert"), "{error}");
        let error = connector(SslMode::VerifyFull, Some(Path::new("system")))
            .err()
            .expect("refused");
        assert!(error.contains("sslrootcert=system"), "{error}");
        // Without verification the file is not read at all.
        assert!(connector(SslMode::Require, Some(missing)).is_ok());

        let empty =
            std::env::temp_dir().join(format!("odoo-migrate-empty-{}.crt", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").expect("temp file");
        let error = connector(SslMode::VerifyCa, Some(&empty))
            .err()
            .expect("refused");
        let _ = std::fs::remove_file(&empty);
        assert!(error.contains("no usable certificate"), "{error}");
    }
}
