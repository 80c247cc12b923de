//! Passwords: bcrypt at Go's default cost (what Vault stores), a
//! caller's own bcrypt hash (`password_hash`), and `users/:username/password`
//! to reset either.

use std::sync::OnceLock;

use super::users::{load_user, save_user, username, UserEntry};
use super::{UserpassBackend, USERNAME};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, FieldData, Request, Response, Result};

/// Go's `bcrypt.DefaultCost`, which Vault hashes user passwords with.
const COST: u32 = 10;

/// The fields that set a password.
pub(super) const PASSWORD_FIELDS: &[Field] =
    &[Field::string("password"), Field::string("password_hash")];

pub(super) const PATHS: &[Path<UserpassBackend>] = &[Path::new("users/:username/password")
    .captures(USERNAME)
    .fields(&[&[Field::string("username")], PASSWORD_FIELDS])
    .update(handler!(reset))];

/// What a write asked the password to become.
pub(super) enum NewPassword {
    Plain(String),
    Hash(String),
}

impl NewPassword {
    /// `password` or `password_hash`, exactly one of them, not empty.
    pub(super) fn from_data(data: &FieldData) -> Result<Option<NewPassword>> {
        let password = data.str("password")?.filter(|p| !p.is_empty());
        let hash = data.str("password_hash")?.filter(|h| !h.is_empty());
        match (password, hash) {
            (Some(_), Some(_)) => Err(Error::bad_request(
                "only one of password or password_hash may be provided",
            )),
            (Some(p), None) => Ok(Some(NewPassword::Plain(p))),
            (None, Some(h)) => Ok(Some(NewPassword::Hash(h))),
            (None, None) => Ok(None),
        }
    }

    /// The bcrypt hash to store (hashing runs off the async workers).
    pub(super) async fn into_hash(self) -> Result<String> {
        match self {
            NewPassword::Hash(hash) => {
                if hash.parse::<bcrypt::HashParts>().is_err() {
                    return Err(Error::bad_request(
                        "password_hash is not a valid bcrypt hash",
                    ));
                }
                Ok(hash)
            }
            NewPassword::Plain(password) => {
                if password.len() > 72 {
                    return Err(Error::bad_request(
                        "bcrypt: password length exceeds 72 bytes",
                    ));
                }
                tokio::task::spawn_blocking(move || bcrypt::hash(password, COST))
                    .await
                    .map_err(Error::internal)?
                    .map_err(Error::internal)
            }
        }
    }
}

/// The error of a write that must set a password and sets none.
pub(super) fn missing_password() -> Error {
    Error::bad_request("must provide either password or password_hash")
}

/// Whether `password` matches the stored `hash`; with no user, the check
/// runs against a hash of nothing so that the answer takes as long.
pub(super) async fn verify(password: String, hash: Option<String>) -> Result<bool> {
    static ABSENT: OnceLock<String> = OnceLock::new();
    let known = hash.is_some();
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| {
            ABSENT
                .get_or_init(|| bcrypt::hash("", COST).unwrap_or_default())
                .clone()
        });
        let matches = bcrypt::verify(password, &hash).unwrap_or(false);
        known && matches
    })
    .await
    .map_err(Error::internal)
}

/// `POST users/:username/password`.
async fn reset(_: &UserpassBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = username(req)?;
    let Some(mut user): Option<UserEntry> = load_user(req, &name).await? else {
        return Err(Error::bad_request("username does not exist"));
    };
    let new = NewPassword::from_data(&req.data)?.ok_or_else(missing_password)?;
    user.password_hash = new.into_hash().await?;
    save_user(req, &name, &user).await?;
    Ok(None)
}
