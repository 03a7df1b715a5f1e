//! Encrypted backups: `bizbase backup` (one archive of a consistent database dump and the blobs
//! of the objects in it), `bizbase restore` (into an empty database and store, after checking the
//! whole archive) and `bizbase backup verify` (the restore drill into a scratch database).
//!
//! Layout: [`archive`] seals and opens the chunked AES-256-GCM stream, [`dump`] runs `pg_dump` and
//! `pg_restore`, [`manifest`] describes and checks an archive, [`create`], [`restore`] and
//! [`verify`] are the three commands, and [`schedule`] runs backup, retention and the drill
//! inside `serve`. [`destination`] keeps finished archives in the backup directory or an S3 bucket.

pub mod archive;
pub mod create;
pub mod destination;
pub mod dump;
pub mod manifest;
pub mod restore;
pub mod schedule;
pub mod verify;

pub use archive::BackupKey;
pub use create::{Created, create};
pub use destination::Destination;
pub use manifest::Manifest;
pub use restore::{Restored, Source, restore};
pub use verify::{Report, verify};
