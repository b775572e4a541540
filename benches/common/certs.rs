//! Test certificates for encrypted links (feature `tls`), made with `rcgen`: a CA and node
//! certificates it signs, ECDSA P-256. Shared by `benches/remote_tls.rs`,
//! `examples/workload.rs` (`workload certs DIR`) and `tests/tls.rs` through `#[path]`, so
//! that the three make certificates the same way.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A self-signed CA named `name` (its PEM: `.pem()`).
pub fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(p, KeyPair::generate().expect("CA key")).expect("CA certificate")
}

/// A certificate named `name` for `hosts`, signed by `ca`, good for both ends of a link
/// (server and client): (certificate PEM, private key PEM).
pub fn node_cert(
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    hosts: &[&str],
) -> (String, String) {
    let key = KeyPair::generate().expect("node key");
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let mut p = CertificateParams::new(hosts).expect("node certificate parameters");
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = p.signed_by(&key, ca).expect("node certificate");
    (cert.pem(), key.serialize_pem())
}
