//! The TLS client of SSL_GET and genhash -S.
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

/// Accepts any server certificate (keepalived's default).
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
            let password = ssl.and_then(|s| s.password.as_deref());
            let key = private_key(key, password)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(cfg)
}

/// The private key of `SSL { key }`: a plain PEM key, or an encrypted PKCS#8 one
/// (`ENCRYPTED PRIVATE KEY`, as `openssl genpkey -aes256` writes) opened with
/// `SSL { password }`, the passphrase keepalived hands OpenSSL.
pub fn private_key(path: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            return Err(format!(
                "{path}: the key is encrypted and SSL has no password"
            ));
        };
        let start = text
            .find("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            .unwrap_or_default();
        let (_, doc) = pkcs8::SecretDocument::from_pem(text.get(start..).unwrap_or_default())
            .map_err(|e| format!("{path}: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| format!("{path}: {e}"))?;
        let plain = info
            .decrypt(password)
            .map_err(|e| format!("{path}: cannot decrypt the key ({e}): wrong password?"))?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        // OpenSSL's legacy per-key encryption (DEK-Info), not PKCS#8
        return Err(format!(
            "{path}: legacy encrypted PEM key not supported; convert it with `openssl pkcs8 -topk8 -v2 aes256`"
        ));
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| format!("{path}: {e}"))
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
