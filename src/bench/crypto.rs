//! The in-process crypto limit: what this machine's cores can do with
//! aws-lc-rs alone, no HTTP, no storage. A `sign/:role` request with a
//! P-256 issuer costs one CSR signature verification plus one signature;
//! `issue` (ec-256) costs one key generation plus one signature.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct CryptoBaseline {
    pub threads: usize,
    pub duration_s: f64,
    /// P-256 verify + sign pairs per second, all threads (the `sign` limit).
    pub p256_sign_verify_per_s: f64,
    /// P-256 keygen + sign per second, all threads (the `issue ec-256` limit).
    pub p256_keygen_sign_per_s: f64,
    /// RSA-2048 keygen + P-256 sign per second (the `issue rsa-2048` limit).
    pub rsa2048_keygen_sign_per_s: f64,
}

fn parallel(threads: usize, duration: Duration, work: fn(&EcdsaKeyPair, &[u8])) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let stop = stop.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .expect("keygen");
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
                    .expect("key");
                // About the size of a leaf's TBSCertificate.
                let msg = vec![0x5a_u8; 450];
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    work(&key, &msg);
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn sign_verify(key: &EcdsaKeyPair, msg: &[u8]) {
    let rng = SystemRandom::new();
    let sig = key.sign(&rng, msg).expect("sign");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref())
        .verify(msg, sig.as_ref())
        .expect("verify");
}

fn keygen_sign(key: &EcdsaKeyPair, msg: &[u8]) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
    std::hint::black_box(pkcs8);
    std::hint::black_box(key.sign(&rng, msg).expect("sign"));
}

fn rsa_keygen_sign(key: &EcdsaKeyPair, msg: &[u8]) {
    let rng = SystemRandom::new();
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa");
    std::hint::black_box(rsa);
    std::hint::black_box(key.sign(&rng, msg).expect("sign"));
}

pub fn measure(threads: usize, seconds: f64) -> CryptoBaseline {
    let d = Duration::from_secs_f64(seconds);
    CryptoBaseline {
        threads,
        duration_s: seconds,
        p256_sign_verify_per_s: parallel(threads, d, sign_verify),
        p256_keygen_sign_per_s: parallel(threads, d, keygen_sign),
        rsa2048_keygen_sign_per_s: parallel(
            threads,
            d.max(Duration::from_secs(3)),
            rsa_keygen_sign,
        ),
    }
}
