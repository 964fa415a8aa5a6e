//! The local server's HTTPS listener, with mutual-TLS client certificates (RFC 8705) as API
//! Gateway's mutual-TLS custom domain gives them to the Lambda functions (PING-MGMT §11).
//!
//! The server *asks* for a client certificate in every handshake and accepts whatever is
//! presented, once the client has proved it holds the certificate's key (the handshake
//! signature). Whether the chain leads to a trust anchor is decided after the handshake, against
//! `--tls-client-ca`, and travels with the certificate as `chain_verified`: a self-signed
//! certificate (RFC 8705 §2.2) or a certificate-bound token (§3) needs no chain, while
//! `tls_client_auth` (§2.1) does and refuses the others. Requiring a chain in the handshake, as
//! API Gateway does, would make `self_signed_tls_client_auth` untestable locally.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{aws_lc_rs, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use shared::certificate::ClientCertificate;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The TLS side of the listener: the server's certificate and key, and the client trust anchors.
pub struct Tls {
    acceptor: TlsAcceptor,
    /// Verifies a client chain against `--tls-client-ca`; `None` when none is configured.
    chains: Option<Arc<dyn ClientCertVerifier>>,
}

impl Tls {
    /// From PEM files: the server's certificate chain, its private key, and optionally a bundle
    /// of client trust anchors.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self, String> {
        let read =
            |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
        let client_ca = client_ca.map(read).transpose()?;
        Self::from_pem(&read(cert)?, &read(key)?, client_ca.as_deref())
    }

    /// From PEM text (see `from_files`).
    pub fn from_pem(cert_chain: &str, key: &str, client_ca: Option<&str>) -> Result<Self, String> {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let chain = CertificateDer::pem_slice_iter(cert_chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--tls-cert: {e}"))?;
        if chain.is_empty() {
            return Err("--tls-cert holds no CERTIFICATE".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| format!("--tls-key: {e}"))?;
        let chains = match client_ca {
            None => None,
            Some(bundle) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(bundle.as_bytes()) {
                    let cert = cert.map_err(|e| format!("--tls-client-ca: {e}"))?;
                    roots.add(cert).map_err(|e| format!("--tls-client-ca: {e}"))?;
                }
                if roots.is_empty() {
                    return Err("--tls-client-ca holds no CERTIFICATE".into());
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("--tls-client-ca: {e}"))?;
                Some(verifier)
            }
        };
        let asking = Arc::new(AskAnyCertificate { algorithms: provider.signature_verification_algorithms });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(asking)
            .with_single_cert(chain, key)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { acceptor: TlsAcceptor::from(Arc::new(config)), chains })
    }

    /// The handshake, then the client's certificate if it presented one.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<(TlsStream<TcpStream>, Option<ClientCertificate>)> {
        let stream = self.acceptor.accept(stream).await?;
        let certificate = match stream.get_ref().1.peer_certificates() {
            Some([leaf, intermediates @ ..]) => self.client_certificate(leaf, intermediates),
            _ => None,
        };
        Ok((stream, certificate))
    }

    fn client_certificate(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Option<ClientCertificate> {
        let chain_verified = self
            .chains
            .as_ref()
            .is_some_and(|chains| chains.verify_client_cert(leaf, intermediates, UnixTime::now()).is_ok());
        match ClientCertificate::from_der(leaf.to_vec(), chain_verified) {
            Ok(cert) => Some(cert),
            Err(err) => {
                tracing::warn!(error = %err, "a client certificate does not parse; the connection goes on without one");
                None
            }
        }
    }
}

/// Asks for a client certificate, takes any, and checks only the handshake signature (proof of
/// possession of its key). No hints: a client should send the certificate it has, whoever
/// issued it (RFC 8446 §4.2.4).
#[derive(Debug)]
struct AskAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AskAnyCertificate {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
