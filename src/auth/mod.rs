//! Auth methods: each is a backend whose login path returns an
//! [`crate::logical::Auth`] grant; the core turns it into a token.

pub mod token;
