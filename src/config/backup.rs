//! Settings of `bizbase backup` / `restore`: where archives are written, the key that encrypts
//! them, and the schedule and retention `serve` applies.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, Sources};

/// The keys of this section (see [`super::source::KEYS`]).
pub const KEYS: &[&str] = &[
    "BACKUP_DIR",
    "BACKUP_KEY",
    "BACKUP_SCHEDULE",
    "BACKUP_KEEP_DAILY",
    "BACKUP_KEEP_WEEKLY",
    "BACKUP_VERIFY",
];

/// The backup settings.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// Directory archives are written to and `--latest` looks in (`BIZBASE_BACKUP_DIR`);
    /// `<data dir>/backups` by default.
    pub dir: PathBuf,
    /// AES-256-GCM key, base64 of 32 bytes (`BIZBASE_BACKUP_KEY`). Unset: backup and restore refuse
    /// to run. Checked when used, so `serve` starts without it.
    pub key: Option<SecretString>,
    /// When `serve` takes backups: a cron expression in UTC (`BIZBASE_BACKUP_SCHEDULE`, e.g.
    /// `0 3 * * *`); unset, none.
    pub schedule: Option<croner::Cron>,
    /// Newest archive of each of this many most recent days kept (`BIZBASE_BACKUP_KEEP_DAILY`, 7).
    pub keep_daily: usize,
    /// Newest archive of each of this many most recent ISO weeks kept
    /// (`BIZBASE_BACKUP_KEEP_WEEKLY`, 4).
    pub keep_weekly: usize,
    /// Run the restore drill after each scheduled backup (`BIZBASE_BACKUP_VERIFY`, true).
    pub verify: bool,
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
        let schedule = match src.get("BACKUP_SCHEDULE") {
            None => None,
            Some(v) => Some(
                <croner::Cron as std::str::FromStr>::from_str(v.value.trim())
                    .map_err(|e| v.error(format!("not a cron expression ({e})")))?,
            ),
        };
        if schedule.is_some() && key.is_none() {
            return Err(src.error_for(
                "BACKUP_KEY",
                "scheduled backups (BIZBASE_BACKUP_SCHEDULE) need the encryption key",
            ));
        }
        Ok(Self {
            dir,
            key,
            schedule,
            keep_daily: src.parsed("BACKUP_KEEP_DAILY")?.unwrap_or(7),
            keep_weekly: src.parsed("BACKUP_KEEP_WEEKLY")?.unwrap_or(4),
            verify: src.parsed_bool("BACKUP_VERIFY")?.unwrap_or(true),
        })
    }
}
