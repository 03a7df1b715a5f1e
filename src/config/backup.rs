//! Settings of `bizbase backup` / `restore`: where archives are written and the key that
//! encrypts them.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, Sources};

/// The keys of this section (see [`super::source::KEYS`]).
pub const KEYS: &[&str] = &["BACKUP_DIR", "BACKUP_KEY"];

/// The backup settings.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// Directory archives are written to and `--latest` looks in (`BIZBASE_BACKUP_DIR`);
    /// `<data dir>/backups` by default.
    pub dir: PathBuf,
    /// AES-256-GCM key, base64 of 32 bytes (`BIZBASE_BACKUP_KEY`). Unset: backup and restore refuse
    /// to run. Checked when used, so `serve` starts without it.
    pub key: Option<SecretString>,
}

impl BackupConfig {
    /// Reads the backup settings; `data_dir` gives the default directory.
    pub fn from_sources(src: &Sources, data_dir: &Path) -> Result<Self, ConfigError> {
        let dir = src
            .get("BACKUP_DIR")
            .map_or_else(|| data_dir.join("backups"), |v| PathBuf::from(&v.value));
        let key = src
            .get("BACKUP_KEY")
            .map(|v| SecretString::from(v.value.clone()));
        Ok(Self { dir, key })
    }
}
