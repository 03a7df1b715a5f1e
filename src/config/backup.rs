//! Settings of `bizbase backup` / `restore`: where archives are written, the key that encrypts
//! them, and the schedule and retention `serve` applies.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, Sources, storage::S3Config};

/// The keys of this section (see [`super::source::KEYS`]).
pub const KEYS: &[&str] = &[
    "BACKUP_DIR",
    "BACKUP_KEY",
    "BACKUP_SCHEDULE",
    "BACKUP_KEEP_DAILY",
    "BACKUP_KEEP_WEEKLY",
    "BACKUP_VERIFY",
    "BACKUP_S3_BUCKET",
    "BACKUP_S3_PREFIX",
    "BACKUP_S3_ENDPOINT",
    "BACKUP_S3_REGION",
    "BACKUP_S3_ACCESS_KEY_ID",
    "BACKUP_S3_SECRET_ACCESS_KEY",
    "BACKUP_S3_PATH_STYLE",
];

/// The backup settings.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// Directory archives are written to and `--latest` looks in (`BIZBASE_BACKUP_DIR`);
    /// `<data dir>/backups` by default. With [`Self::s3`] it only stages archives being written
    /// or read.
    pub dir: PathBuf,
    /// The S3-compatible bucket archives are kept in instead of `dir` (`BIZBASE_BACKUP_S3_BUCKET`,
    /// `_ENDPOINT`, `_REGION`, `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY`, `_PATH_STYLE`, as for
    /// storage), under the key prefix `BIZBASE_BACKUP_S3_PREFIX` (default `backups/`).
    pub s3: Option<(S3Config, String)>,
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
        let s3 = match S3Config::from_sources(src, "BACKUP")? {
            None => None,
            Some(s3) => {
                let prefix = src
                    .get("BACKUP_S3_PREFIX")
                    .map_or("backups/", |v| v.value.as_str());
                let prefix = prefix.trim_matches('/');
                Some((s3, prefix.to_owned()))
            }
        };
        Ok(Self {
            dir,
            s3,
            key,
            schedule,
            keep_daily: src.parsed("BACKUP_KEEP_DAILY")?.unwrap_or(7),
            keep_weekly: src.parsed("BACKUP_KEEP_WEEKLY")?.unwrap_or(4),
            verify: src.parsed_bool("BACKUP_VERIFY")?.unwrap_or(true),
        })
    }
}
