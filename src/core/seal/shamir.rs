//! Shamir's secret sharing over GF(2^8), the scheme Vault splits its unseal
//! key with: each share is the polynomial's value per secret byte, followed
//! by the share's x coordinate as the last byte.

use crate::util::ids::random_bytes;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    #[error("parts must be at least two, and threshold at least two and at most parts")]
    BadParameters,
    #[error("parts must be at least two bytes long")]
    ShortPart,
    #[error("all parts must be the same length")]
    UnevenParts,
    #[error("duplicate part detected")]
    DuplicatePart,
    #[error("less than two parts cannot be used to reconstruct the secret")]
    TooFewParts,
}

/// Multiplication in GF(2^8) with the AES polynomial.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    product
}

/// Multiplicative inverse (a^254); 0 has none and maps to 0.
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp > 0 {
        if exp & 1 != 0 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

fn div(a: u8, b: u8) -> u8 {
    mul(a, inverse(b))
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
pub fn split(secret: &[u8], parts: u8, threshold: u8) -> Result<Vec<Vec<u8>>, ShamirError> {
    if parts < 2 || threshold < 2 || threshold > parts || secret.is_empty() {
        return Err(ShamirError::BadParameters);
    }
    // Distinct non-zero x coordinates, in random order.
    let mut xs: Vec<u8> = (1..=255).collect();
    for i in (1..xs.len()).rev() {
        let j = (u16::from_le_bytes([random_bytes(1)[0], random_bytes(1)[0]]) as usize) % (i + 1);
        xs.swap(i, j);
    }
    let xs = &xs[..parts as usize];
    let mut shares: Vec<Vec<u8>> = xs
        .iter()
        .map(|_| Vec::with_capacity(secret.len() + 1))
        .collect();
    for &byte in secret {
        // Polynomial with constant term `byte` and random higher coefficients.
        let mut coefficients = vec![byte];
        coefficients.extend(random_bytes(threshold as usize - 1));
        for (share, &x) in shares.iter_mut().zip(xs) {
            let y = coefficients
                .iter()
                .rev()
                .fold(0u8, |acc, &c| mul(acc, x) ^ c);
            share.push(y);
        }
    }
    for (share, &x) in shares.iter_mut().zip(xs) {
        share.push(x);
    }
    Ok(shares)
}

/// Recovers the secret from shares (Lagrange interpolation at x = 0).
pub fn combine(parts: &[Vec<u8>]) -> Result<Vec<u8>, ShamirError> {
    if parts.len() < 2 {
        return Err(ShamirError::TooFewParts);
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(ShamirError::ShortPart);
    }
    if parts.iter().any(|p| p.len() != len) {
        return Err(ShamirError::UnevenParts);
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(ShamirError::DuplicatePart);
        }
    }
    let mut secret = Vec::with_capacity(len - 1);
    for idx in 0..len - 1 {
        let mut value = 0u8;
        for (i, part) in parts.iter().enumerate() {
            let mut basis = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    basis = mul(basis, div(xj, xj ^ xs[i]));
                }
            }
            value ^= mul(part[idx], basis);
        }
        secret.push(value);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn any_threshold_subset_recovers_the_secret() {
        let secret = b"the root of all trust, 32 bytes!".to_vec();
        let shares = split(&secret, 5, 3).expect("split");
        assert_eq!(shares.len(), 5);
        assert_eq!(combine(&shares[0..3]).expect("combine"), secret);
        assert_eq!(
            combine(&[shares[4].clone(), shares[1].clone(), shares[2].clone()]).expect("c"),
            secret
        );
        assert_ne!(
            combine(&shares[0..2]).expect("two shares combine to something"),
            secret
        );
    }

    #[test]
    fn duplicates_and_bad_parameters_are_refused() {
        let shares = split(b"abc", 3, 2).expect("split");
        assert_eq!(
            combine(&[shares[0].clone(), shares[0].clone()]),
            Err(ShamirError::DuplicatePart)
        );
        assert_eq!(split(b"abc", 1, 1), Err(ShamirError::BadParameters));
        assert_eq!(split(b"abc", 2, 3), Err(ShamirError::BadParameters));
    }

    proptest! {
        #[test]
        fn split_then_combine_round_trips(secret in proptest::collection::vec(any::<u8>(), 1..48), parts in 2u8..8) {
            let threshold = 2 + parts % (parts - 1).max(1);
            let threshold = threshold.min(parts);
            let shares = split(&secret, parts, threshold).expect("split");
            prop_assert_eq!(combine(&shares[..threshold as usize]).expect("combine"), secret);
        }
    }
}
