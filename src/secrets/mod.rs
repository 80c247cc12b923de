//! Secrets engines.
