//! Rekeying the unseal key (`sys/rekey/*`), as Vault does: a rekey is
//! started with the new share counts, a threshold of the current unseal
//! key holders submit their shares with the rekey's nonce, and the shares
//! of a new unseal key are handed out once. When verification is asked,
//! the new key takes effect only after a threshold of the new shares is
//! submitted back (`sys/rekey/verify`). See
//! <https://developer.hashicorp.com/vault/api-docs/system/rekey>.
//!
//! The rekey's state lives behind one async mutex held across each
//! update, so of concurrent final shares exactly one completes the rekey.

use base64::Engine;
use zeroize::{Zeroize, Zeroizing};

use super::seal::{combine_shares, decode_key, new_unseal_key, Seal};
use super::Core;
use crate::logical::{Error, Result};
use crate::util::ids::uuid;

/// A rekey in progress.
pub struct Rekey {
    nonce: String,
    shares: u8,
    threshold: u8,
    require_verification: bool,
    provided: Vec<Vec<u8>>,
    /// The new key, once the old shares were proven, while its shares wait
    /// to be verified.
    pending: Option<Pending>,
}

struct Pending {
    unseal_key: Zeroizing<Vec<u8>>,
    nonce: String,
    provided: Vec<Vec<u8>>,
}

impl Drop for Rekey {
    fn drop(&mut self) {
        self.provided.zeroize();
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.provided.zeroize();
    }
}

/// What a rekey asks for (`PUT sys/rekey/init`).
pub struct RekeyRequest {
    pub secret_shares: i64,
    pub secret_threshold: i64,
    pub require_verification: bool,
    pub pgp_keys: Vec<String>,
    pub backup: bool,
}

/// What `sys/rekey/init` and an unfinished `sys/rekey/update` answer.
#[derive(Debug, Default, serde::Serialize)]
pub struct Status {
    pub nonce: String,
    pub started: bool,
    pub t: u8,
    pub n: u8,
    pub progress: usize,
    pub required: u8,
    pub pgp_fingerprints: Option<Vec<String>>,
    pub backup: bool,
    pub verification_required: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub verification_nonce: String,
}

/// The new shares, handed out once by the completing `sys/rekey/update`.
#[derive(serde::Serialize)]
pub struct NewKeys {
    pub nonce: String,
    pub complete: bool,
    pub keys: Vec<String>,
    pub keys_base64: Vec<String>,
    pub pgp_fingerprints: Option<Vec<String>>,
    pub backup: bool,
    pub verification_required: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub verification_nonce: String,
}

/// What `sys/rekey/update` answers.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum UpdateAnswer {
    Progress(Status),
    Complete(NewKeys),
}

/// What `sys/rekey/verify` answers.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyStatus {
    pub nonce: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub complete: bool,
}

/// Vault's rules for a Shamir configuration, with its reasons.
fn validate(shares: i64, threshold: i64) -> std::result::Result<(u8, u8), &'static str> {
    if shares < 1 {
        return Err("shares must be at least one");
    }
    if threshold < 1 {
        return Err("threshold must be at least one");
    }
    if shares > 1 && threshold == 1 {
        return Err("threshold must be greater than one for multiple shares");
    }
    let shares = u8::try_from(shares).map_err(|_| "shares must be less than 256")?;
    let threshold = u8::try_from(threshold).map_err(|_| "threshold must be less than 256")?;
    if threshold > shares {
        return Err("threshold cannot be larger than shares");
    }
    Ok((shares, threshold))
}

/// One share sent to an operation (`rekey` or `verify`) with its nonce.
struct Submission<'a> {
    operation: &'static str,
    /// What a repeated share is said to repeat in: Vault says "generation"
    /// for a rekey's shares.
    repeated_in: &'static str,
    nonce: &'a str,
    key: &'a str,
}

impl Submission<'_> {
    /// Checks the nonce and records the share; `true` once `threshold`
    /// shares are in.
    fn collect(&self, expected: &str, provided: &mut Vec<Vec<u8>>, threshold: u8) -> Result<bool> {
        if self.nonce != expected {
            return Err(Error::BadRequest(format!(
                "incorrect nonce supplied; nonce for this {} operation is \"{expected}\"",
                self.operation
            )));
        }
        let share = Zeroizing::new(decode_key(self.key)?);
        if provided.contains(&share) {
            return Err(Error::BadRequest(format!(
                "given key has already been provided during this {} operation",
                self.repeated_in
            )));
        }
        provided.push(share.to_vec());
        Ok(provided.len() >= usize::from(threshold))
    }
}

impl Rekey {
    fn status(&self, required: u8) -> Status {
        Status {
            nonce: self.nonce.clone(),
            started: true,
            t: self.threshold,
            n: self.shares,
            progress: self.provided.len(),
            required,
            verification_required: self.require_verification,
            verification_nonce: self
                .pending
                .as_ref()
                .map(|p| p.nonce.clone())
                .unwrap_or_default(),
            ..Default::default()
        }
    }
}

impl Pending {
    fn status(&self, shares: u8, threshold: u8) -> VerifyStatus {
        VerifyStatus {
            nonce: self.nonce.clone(),
            started: true,
            t: Some(threshold),
            n: Some(shares),
            progress: Some(self.provided.len()),
            complete: false,
        }
    }
}

impl Core {
    /// The seal and its current threshold, while unsealed.
    async fn rekeyable(&self) -> Result<(&Seal, u8)> {
        if self.is_sealed() {
            return Err(Error::Sealed);
        }
        self.shamir_seal("rekey").await
    }

    /// `GET sys/rekey/init`.
    pub async fn rekey_status(&self) -> Result<Status> {
        let (_, required) = self.rekeyable().await?;
        let rekey = self.rekey.lock().await;
        Ok(rekey.as_ref().map_or(
            Status {
                required,
                ..Default::default()
            },
            |r| r.status(required),
        ))
    }

    /// `PUT sys/rekey/init`: starts a rekey. PGP-encrypted shares are not
    /// offered, hence neither is their backup.
    pub async fn start_rekey(&self, request: RekeyRequest) -> Result<Status> {
        let (_, required) = self.rekeyable().await?;
        if !request.pgp_keys.is_empty() {
            if i64::try_from(request.pgp_keys.len()).ok() != Some(request.secret_shares) {
                return Err(Error::bad_request("incorrect number of PGP keys for rekey"));
            }
            return Err(Error::bad_request(
                "PGP-encrypted key shares are not supported by vaultlet",
            ));
        }
        if request.backup {
            return Err(Error::bad_request(
                "cannot request a backup of the new keys without providing PGP keys for encryption",
            ));
        }
        let (shares, threshold) = validate(request.secret_shares, request.secret_threshold)
            .map_err(|e| Error::BadRequest(format!("invalid rekey seal configuration: {e}")))?;
        let mut rekey = self.rekey.lock().await;
        if rekey.is_some() {
            return Err(Error::bad_request("rekey already in progress"));
        }
        let started = rekey.insert(Rekey {
            nonce: uuid(),
            shares,
            threshold,
            require_verification: request.require_verification,
            provided: Vec::new(),
            pending: None,
        });
        Ok(started.status(required))
    }

    /// `DELETE sys/rekey/init`.
    pub async fn cancel_rekey(&self) {
        *self.rekey.lock().await = None;
    }

    /// Forgets any rekey when the server seals (a rekey mid-update keeps
    /// its lock and then fails: the root key is gone).
    pub(super) fn drop_rekey(&self) {
        if let Ok(mut rekey) = self.rekey.try_lock() {
            *rekey = None;
        }
    }

    /// `PUT sys/rekey/update`: one current key holder's share. The share
    /// completing the threshold must recover the unseal key; then the new
    /// shares are made, and take effect at once unless verification was
    /// asked.
    pub async fn update_rekey(&self, key: &str, nonce: &str) -> Result<UpdateAnswer> {
        let (seal, required) = self.rekeyable().await?;
        let mut slot = self.rekey.lock().await;
        let rekey = slot
            .as_mut()
            .ok_or_else(|| Error::bad_request("no barrier rekey in progress"))?;
        if let Some(pending) = &rekey.pending {
            return Err(Error::BadRequest(format!(
                "rekey operation already finished; verification must be performed; nonce for the verification operation is \"{}\"",
                pending.nonce
            )));
        }
        let submission = Submission {
            operation: "rekey",
            repeated_in: "generation",
            nonce,
            key,
        };
        if !submission.collect(&rekey.nonce, &mut rekey.provided, required)? {
            return Ok(UpdateAnswer::Progress(rekey.status(required)));
        }
        let provided = Zeroizing::new(std::mem::take(&mut rekey.provided));
        let current = Zeroizing::new(
            combine_shares(&provided, required)
                .map_err(|e| Error::BadRequest(format!("failed to compute root key: {e}")))?,
        );
        seal.verify_unseal_key(&current)
            .await
            .map_err(|e| Error::BadRequest(format!("failed to recover root key: {e}")))?;
        let (unseal_key, keys) = new_unseal_key(rekey.shares, rekey.threshold)?;
        let mut answer = NewKeys {
            nonce: rekey.nonce.clone(),
            complete: true,
            keys: keys.iter().map(hex::encode).collect(),
            keys_base64: keys
                .iter()
                .map(|k| base64::engine::general_purpose::STANDARD.encode(k))
                .collect(),
            pgp_fingerprints: None,
            backup: false,
            verification_required: rekey.require_verification,
            verification_nonce: String::new(),
        };
        if rekey.require_verification {
            let pending = Pending {
                unseal_key,
                nonce: uuid(),
                provided: Vec::new(),
            };
            answer.verification_nonce = pending.nonce.clone();
            rekey.pending = Some(pending);
        } else {
            self.apply_rekey(seal, &unseal_key, rekey.shares, rekey.threshold)
                .await?;
            *slot = None;
        }
        Ok(UpdateAnswer::Complete(answer))
    }

    async fn apply_rekey(
        &self,
        seal: &Seal,
        unseal_key: &[u8],
        shares: u8,
        threshold: u8,
    ) -> Result<()> {
        let _transition = self.lifecycle.lock().await;
        seal.rekey(unseal_key, shares, threshold).await
    }

    /// `GET sys/rekey/verify`.
    pub async fn rekey_verify_status(&self) -> Result<VerifyStatus> {
        self.rekeyable().await?;
        let rekey = self.rekey.lock().await;
        let rekey = rekey
            .as_ref()
            .ok_or_else(|| Error::bad_request("no rekey configuration found"))?;
        let pending = rekey
            .pending
            .as_ref()
            .ok_or_else(|| Error::bad_request("no rekey verification in progress"))?;
        Ok(pending.status(rekey.shares, rekey.threshold))
    }

    /// `DELETE sys/rekey/verify`: restarts the verification (a new nonce,
    /// no shares); the rekey itself stays.
    pub async fn restart_rekey_verification(&self) -> Result<VerifyStatus> {
        self.rekeyable().await?;
        let mut slot = self.rekey.lock().await;
        let rekey = slot
            .as_mut()
            .ok_or_else(|| Error::bad_request("no rekey configuration found"))?;
        let (shares, threshold) = (rekey.shares, rekey.threshold);
        let pending = rekey
            .pending
            .as_mut()
            .ok_or_else(|| Error::bad_request("no rekey verification in progress"))?;
        pending.nonce = uuid();
        pending.provided.zeroize();
        pending.provided.clear();
        Ok(pending.status(shares, threshold))
    }

    /// `PUT sys/rekey/verify`: one new share. A threshold of them that
    /// rebuilds the new key puts it in force; a wrong set starts the
    /// verification over with a new nonce.
    pub async fn verify_rekey(&self, key: &str, nonce: &str) -> Result<VerifyStatus> {
        let (seal, _) = self.rekeyable().await?;
        let mut slot = self.rekey.lock().await;
        let rekey = slot
            .as_mut()
            .ok_or_else(|| Error::bad_request("no rekey in progress"))?;
        let (shares, threshold) = (rekey.shares, rekey.threshold);
        let pending = rekey
            .pending
            .as_mut()
            .ok_or_else(|| Error::bad_request("no rekey verification in progress"))?;
        let submission = Submission {
            operation: "verify",
            repeated_in: "verify",
            nonce,
            key,
        };
        if !submission.collect(&pending.nonce, &mut pending.provided, threshold)? {
            return Ok(pending.status(shares, threshold));
        }
        let provided = Zeroizing::new(std::mem::take(&mut pending.provided));
        let rebuilt = combine_shares(&provided, threshold).map(Zeroizing::new);
        let failure = match rebuilt {
            Err(e) => Some(format!("failed to compute key for verification: {e}")),
            Ok(key) if *key != *pending.unseal_key => {
                Some("incorrect key shares supplied for verification".to_string())
            }
            Ok(_) => None,
        };
        if let Some(failure) = failure {
            pending.nonce = uuid();
            return Err(Error::BadRequest(failure));
        }
        let nonce = pending.nonce.clone();
        let unseal_key = pending.unseal_key.clone();
        self.apply_rekey(seal, &unseal_key, shares, threshold)
            .await?;
        *slot = None;
        Ok(VerifyStatus {
            nonce,
            complete: true,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn share_counts_follow_vaults_rules() {
        assert_eq!(validate(3, 2), Ok((3, 2)));
        assert_eq!(validate(1, 1), Ok((1, 1)));
        assert_eq!(validate(0, 0), Err("shares must be at least one"));
        assert_eq!(validate(3, 0), Err("threshold must be at least one"));
        assert_eq!(
            validate(3, 1),
            Err("threshold must be greater than one for multiple shares")
        );
        assert_eq!(validate(300, 2), Err("shares must be less than 256"));
        assert_eq!(
            validate(3, 4),
            Err("threshold cannot be larger than shares")
        );
    }
}
