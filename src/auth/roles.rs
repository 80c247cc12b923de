//! The named roles of an auth method (`role/:name`, cert's `certs/:name`),
//! kept under one folder of the mount's storage view. Names are
//! case-insensitive, as in Vault.

use serde::de::DeserializeOwned;

use crate::logical::{Request, Response, Result};

pub struct RoleStore {
    folder: &'static str,
}

impl RoleStore {
    /// Roles stored under `folder` (with its trailing `/`).
    pub const fn new(folder: &'static str) -> Self {
        RoleStore { folder }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.folder, name.to_lowercase())
    }

    pub async fn get<T: DeserializeOwned>(&self, req: &Request, name: &str) -> Result<Option<T>> {
        Ok(req.storage.get_json(&self.key(name)).await?)
    }

    /// The existence check of the route's `:name` (create vs update).
    pub async fn exists(&self, req: &Request) -> Result<bool> {
        let key = self.key(req.param("name")?);
        Ok(req.storage.get(&key).await?.is_some())
    }

    /// The stored role names.
    pub async fn names(&self, req: &Request) -> Result<Vec<String>> {
        Ok(req.storage.list_leaves(self.folder).await?)
    }

    /// `LIST` of the role names.
    pub async fn list(&self, req: &Request) -> Result<Option<Response>> {
        Ok(Some(Response::list(self.names(req).await?)))
    }

    /// `DELETE` of the route's `:name` (absent roles too: 204, as Vault).
    pub async fn delete(&self, req: &Request) -> Result<Option<Response>> {
        let key = self.key(req.param("name")?);
        req.storage.delete(&key).await?;
        Ok(None)
    }
}
