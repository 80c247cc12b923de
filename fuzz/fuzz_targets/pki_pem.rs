//! CSR / certificate / private key / raw DER handling of the PKI engine:
//! the bytes are tried as PEM text (CSR, certificates, keys) and as DER
//! (CSR, and the hand-written TLV reader). Properties: no panic, CSR
//! errors are 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaultlet::http::error_response;
use vaultlet::secrets::pki::fuzzing as pki;

fuzz_target!(|data: &[u8]| {
    let _ = pki::der_walk(data, 0);
    let _ = pki::csr_der(data);
    let text = String::from_utf8_lossy(data);
    if let Err(err) = pki::csr_pem(&text) {
        let status = error_response(&err).status();
        assert!(status.is_client_error(), "CSR error became a {status}: {err:?}");
    }
    let _ = pki::certificates_pem(&text);
    let _ = pki::private_key_pem(&text);
});
