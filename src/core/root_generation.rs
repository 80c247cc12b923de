//! Generating a new root token from a quorum of unseal key holders
//! (`sys/generate-root/*`), as Vault does: an attempt is started (with a
//! one-time pad the server makes or the operator gives), each holder
//! submits a share with the attempt's nonce, and once the threshold is met
//! and the shares reconstruct the unseal key the new root token is handed
//! out XOR-ed with the pad (`sys/decode-token` or `vault operator
//! generate-root -decode` recovers it). See
//! <https://developer.hashicorp.com/vault/docs/troubleshoot/generate-root-token>.
//!
//! The attempt's state lives behind one mutex: a share is checked and
//! counted in one critical section, so of concurrent updates exactly the
//! one that completes the quorum takes the shares and mints the token.

use base64::Engine;
use zeroize::{Zeroize, Zeroizing};

use super::token::{Creator, TokenOrigin};
use super::Core;
use crate::logical::{Auth, Error, Result};
use crate::util::ids::{random_base62, uuid};

/// Length of a generated token (`hvs.` and 24 characters), hence of the pad.
pub const OTP_LENGTH: usize = 28;

/// An attempt in progress.
pub struct Attempt {
    nonce: String,
    otp: String,
    shares: Vec<Vec<u8>>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.otp.zeroize();
        self.shares.zeroize();
    }
}

/// What `sys/generate-root/attempt` and `update` answer.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Status {
    pub nonce: String,
    pub started: bool,
    pub progress: usize,
    pub required: usize,
    pub complete: bool,
    pub encoded_token: String,
    pub encoded_root_token: String,
    pub pgp_fingerprint: String,
    pub otp: String,
    pub otp_length: usize,
}

impl Core {
    /// Shares needed: the seal's threshold.
    async fn generation_threshold(&self) -> Result<usize> {
        let (_, threshold) = self.shamir_seal("root generation").await?;
        Ok(usize::from(threshold))
    }

    /// The seal and its threshold, for an operation (`what`) its unseal
    /// key holders authorise; the dev store and static seals have none.
    pub(super) async fn shamir_seal(&self, what: &str) -> Result<(&super::seal::Seal, u8)> {
        let seal = self.seal();
        let config = seal
            .config()
            .await?
            .ok_or_else(|| Error::bad_request("Vault is not initialized"))?;
        if seal.is_static() {
            return Err(Error::BadRequest(format!(
                "{what} needs unseal key shares; this server unseals with a static key"
            )));
        }
        Ok((seal, config.secret_threshold))
    }

    fn attempt(&self) -> std::sync::MutexGuard<'_, Option<Attempt>> {
        self.root_generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The attempt's progress (`GET sys/generate-root/attempt`).
    pub async fn root_generation_status(&self) -> Result<Status> {
        let required = self.generation_threshold().await?;
        let attempt = self.attempt();
        Ok(Status {
            nonce: attempt
                .as_ref()
                .map(|a| a.nonce.clone())
                .unwrap_or_default(),
            started: attempt.is_some(),
            progress: attempt.as_ref().map_or(0, |a| a.shares.len()),
            required,
            otp_length: OTP_LENGTH,
            ..Default::default()
        })
    }

    /// Starts an attempt. Without an `otp`, the server makes the pad and
    /// returns it (once). PGP-encrypted tokens are not offered.
    pub async fn start_root_generation(&self, otp: &str, pgp_key: &str) -> Result<Status> {
        let required = self.generation_threshold().await?;
        if !otp.is_empty() && !pgp_key.is_empty() {
            return Err(Error::bad_request(
                "only one of \"otp\" and \"pgp_key\" must be specified",
            ));
        }
        if !pgp_key.is_empty() {
            return Err(Error::bad_request(
                "PGP-encrypted root tokens are not supported by vaultlet; use an OTP",
            ));
        }
        if !otp.is_empty() && otp.len() != OTP_LENGTH {
            return Err(Error::bad_request("OTP string is wrong length"));
        }
        let generated = otp.is_empty();
        let otp = if generated {
            random_base62(OTP_LENGTH)
        } else {
            otp.to_string()
        };
        let mut attempt = self.attempt();
        if attempt.is_some() {
            return Err(Error::bad_request("root generation already in progress"));
        }
        let nonce = uuid();
        *attempt = Some(Attempt {
            nonce: nonce.clone(),
            otp: otp.clone(),
            shares: Vec::new(),
        });
        Ok(Status {
            nonce,
            started: true,
            required,
            otp: if generated { otp } else { String::new() },
            otp_length: OTP_LENGTH,
            ..Default::default()
        })
    }

    /// Cancels any attempt (`DELETE sys/generate-root/attempt`).
    pub fn cancel_root_generation(&self) {
        *self.attempt() = None;
    }

    /// One holder's share. The share completing the quorum ends the
    /// attempt: the shares must reconstruct the unseal key, and then a new
    /// root token is minted and returned encoded with the pad.
    pub async fn update_root_generation(&self, key: &str, nonce: &str) -> Result<Status> {
        let required = self.generation_threshold().await?;
        let share = Zeroizing::new(super::seal::decode_key(key)?);
        let finished = {
            let mut slot = self.attempt();
            let attempt = slot
                .as_mut()
                .ok_or_else(|| Error::bad_request("no root generation in progress"))?;
            if nonce != attempt.nonce {
                return Err(Error::BadRequest(format!(
                    "incorrect nonce supplied; nonce for this root generation operation is {}",
                    attempt.nonce
                )));
            }
            if attempt.shares.contains(&share) {
                return Err(Error::bad_request(
                    "given key has already been provided during this generation operation",
                ));
            }
            attempt.shares.push(share.to_vec());
            if attempt.shares.len() < required {
                return Ok(Status {
                    nonce: nonce.to_string(),
                    started: true,
                    progress: attempt.shares.len(),
                    required,
                    ..Default::default()
                });
            }
            slot.take()
        };
        let Some(attempt) = finished else {
            return Err(Error::bad_request("no root generation in progress"));
        };
        let threshold = u8::try_from(required).unwrap_or(u8::MAX);
        let unseal_key = Zeroizing::new(
            super::seal::combine_shares(&attempt.shares, threshold)
                .map_err(|e| Error::BadRequest(format!("failed to compute root key: {e}")))?,
        );
        let token = self.mint_generated_root(&unseal_key).await?;
        let encoded = encode_token(&token, &attempt.otp);
        Ok(Status {
            nonce: nonce.to_string(),
            started: true,
            progress: required,
            required,
            complete: true,
            encoded_token: encoded.clone(),
            encoded_root_token: encoded,
            ..Default::default()
        })
    }

    /// A new root token, once the key holders proved the unseal key.
    async fn mint_generated_root(&self, unseal_key: &[u8]) -> Result<String> {
        let _transition = self.lifecycle.lock().await;
        self.seal()
            .verify_unseal_key(unseal_key)
            .await
            .map_err(|e| Error::BadRequest(format!("root generation aborted: {e}")))?;
        let auth = Auth {
            policies: vec!["root".into()],
            display_name: "root".into(),
            orphan: true,
            no_default_policy: true,
            ..Default::default()
        };
        let origin = TokenOrigin {
            path: "auth/token/root",
            creator: Creator::UnsealKeyHolders,
            mount_ttls: self.system_ttls,
            entity_id: None,
        };
        Ok(self.tokens.create(&auth, origin).await?.0.id)
    }
}

/// The token XOR-ed with the pad, in unpadded base64 (Vault's encoding).
fn encode_token(token: &str, otp: &str) -> String {
    let xored: Vec<u8> = token.bytes().zip(otp.bytes()).map(|(t, o)| t ^ o).collect();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(xored)
}

/// `sys/decode-token`: the token an encoded token stands for, given the pad.
pub fn decode_token(encoded: &str, otp: &str) -> Result<String> {
    if encoded.is_empty() || otp.is_empty() {
        return Err(Error::bad_request(
            "provided 'encoded_token' or 'otp' is empty",
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|e| Error::BadRequest(format!("error decoding base64'd token: {e}")))?;
    if bytes.len() != otp.len() {
        return Err(Error::bad_request(
            "length of byte slices is not equivalent",
        ));
    }
    let token: Vec<u8> = bytes.iter().zip(otp.bytes()).map(|(b, o)| b ^ o).collect();
    String::from_utf8(token).map_err(|_| Error::bad_request("the decoded token is not text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_encoded_with_a_pad_decodes_with_it_only() {
        let otp = random_base62(OTP_LENGTH);
        let token = format!("hvs.{}", random_base62(24));
        let encoded = encode_token(&token, &otp);
        assert_eq!(decode_token(&encoded, &otp).expect("decodes"), token);
        let other = random_base62(OTP_LENGTH);
        assert_ne!(decode_token(&encoded, &other).ok(), Some(token));
        assert!(decode_token("", &otp).is_err());
        assert!(decode_token(&encoded, "short").is_err());
    }
}
