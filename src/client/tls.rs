//! TLS for https targets: rustls with the system's root certificates, plus any `--ca-cert`
//! (a private CA), or — with `--insecure` — no verification at all.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How https targets are verified.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Certificates trusted besides the system's roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Verify nothing: any certificate, any name.
    pub insecure: bool,
}

impl TlsOptions {
    /// Adds every certificate of a PEM file to the trusted roots.
    pub fn add_ca_file(&mut self, path: &std::path::Path) -> Result<usize, String> {
        let pem = crate::files::read_bounded(path, crate::files::SMALL_FILE_LIMIT)
            .map_err(|e| format!("failed to read `{}`: {e}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("`{}` is not a PEM certificate file: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("`{}` holds no PEM certificate", path.display()));
        }
        let count = certs.len();
        self.extra_roots.extend(certs);
        Ok(count)
    }
}

/// The rustls configuration for `options`.
pub(super) fn client_config(options: &TlsOptions) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder();
    if options.insecure {
        let provider = builder.crypto_provider().clone();
        return builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth();
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots.add_parsable_certificates(options.extra_roots.iter().cloned());
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// `--insecure`: every certificate is accepted. Signatures are still checked for form, so the
/// handshake itself completes as usual.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
