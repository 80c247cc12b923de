//! Auth methods: each is a backend whose login path returns an
//! [`crate::logical::Auth`] grant; the core turns it into a token.

pub mod approle;
pub mod cert;
pub mod jose;
pub mod jwt;
pub mod kubernetes;
pub mod legacy_token_fields;
pub mod outbound;
pub mod roles;
pub mod token;
pub mod token_fields;
pub mod userpass;
