//! The process-wide TLS crypto provider. reqwest and redis both use rustls, built without a
//! provider of their own so that one (ring, pure Rust and assembly, quick to build) serves both.

/// Installs the rustls crypto provider once; later calls (and a provider already set) are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
