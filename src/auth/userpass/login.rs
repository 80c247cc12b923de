//! `POST login/:username`: a user's password → token grant.

use std::collections::BTreeMap;

use super::password::verify;
use super::users::{load_user, username};
use super::{UserpassBackend, USERNAME};
use crate::auth::token_fields::peer_in_bound_cidrs;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<UserpassBackend>] = &[Path::new("login/:username")
    .captures(USERNAME)
    .unauthenticated()
    .fields(&[&[Field::string("username"), Field::string("password")]])
    .update(handler!(login))];

async fn login(_: &UserpassBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = username(req)?;
    let password = req.data.str_or("password", "")?;
    if password.is_empty() {
        return Err(Error::bad_request("missing password"));
    }
    let user = load_user(req, &name).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // An unknown user costs a bcrypt check too: no timing tells them apart.
    let (true, Some(user)) = (verify(password, hash).await?, user) else {
        return Err(Error::bad_request("invalid username or password"));
    };
    if !peer_in_bound_cidrs(req, &user.token.token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let mut auth = user.token.to_auth();
    auth.metadata = BTreeMap::from([("username".to_string(), name.clone())]);
    auth.display_name = name.clone();
    auth.alias_name = Some(name);
    Ok(Some(Response::auth(auth)))
}
