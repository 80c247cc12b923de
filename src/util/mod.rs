//! Small helpers every layer may use (the core and the backends alike):
//! random identifiers, the keyed hash of stored credentials, Go's time
//! formats, go-multierror texts and a minimal DER writer and reader.
//! Nothing here depends on the rest of the crate.

pub mod base64_serde;
pub mod der;
pub mod gotime;
pub mod ids;
pub mod keyed_hash;
pub mod metric;
pub mod multierror;
