//! The TLS client of SSL_GET and genhash -S (keepalived-spec.md §4.13, §4.14).
//!
//! keepalived's SSL context never verifies the server certificate unless `SSL { ca }` is
//! given, so the default verifier here accepts any certificate (signatures of the
//! handshake are still checked, so the peer must hold the certificate's key).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::model::check::SslConfig;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any server certificate (keepalived's default, §4.14).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client context of the `SSL { }` block (`None` = keepalived's default context).
pub fn client_config(ssl: Option<&SslConfig>) -> Result<ClientConfig, String> {
    let prov = provider();
    let builder = ClientConfig::builder_with_provider(prov.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match ssl.and_then(|s| s.ca.as_deref()) {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
                let c = c.map_err(|e| format!("{ca}: {e}"))?;
                roots.add(c).map_err(|e| format!("{ca}: {e}"))?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(prov))),
    };
    let certificate = ssl.and_then(|s| s.certificate.as_deref());
    let key = ssl.and_then(|s| s.key.as_deref()).or(certificate);
    let cfg = match (certificate, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{cert}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{cert}: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(cfg)
}

/// A TLS session over `tcp`. SNI is sent only when `sni` names a host (`enable_sni`
/// with a virtualhost, genhash `-I -V`); otherwise the server name is the IP address,
/// which rustls never sends as SNI.
pub async fn connect(
    cfg: Arc<ClientConfig>,
    ip: IpAddr,
    sni: Option<&str>,
    tcp: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    let name = match sni.and_then(|s| ServerName::try_from(s.to_owned()).ok()) {
        Some(n) => n,
        None => ServerName::IpAddress(ip.into()),
    };
    TlsConnector::from(cfg).connect(name, tcp).await
}
