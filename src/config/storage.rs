//! Settings of `/storage/v1`: where objects are kept (a local directory, or an S3-compatible
//! service when `BIZBASE_STORAGE_S3_BUCKET` is set) and how large one may be.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, Sources};

/// The keys of this section (see [`super::source::KEYS`]).
pub const KEYS: &[&str] = &[
    "STORAGE_DIR",
    "STORAGE_FILE_SIZE_LIMIT",
    "STORAGE_S3_BUCKET",
    "STORAGE_S3_ENDPOINT",
    "STORAGE_S3_REGION",
    "STORAGE_S3_ACCESS_KEY_ID",
    "STORAGE_S3_SECRET_ACCESS_KEY",
    "STORAGE_S3_PATH_STYLE",
];

/// The storage settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Directory of the local object store (`BIZBASE_STORAGE_DIR`); `<data dir>/storage` by default.
    pub dir: PathBuf,
    /// Largest object any bucket accepts, in bytes (`BIZBASE_STORAGE_FILE_SIZE_LIMIT`, e.g. `50MB`).
    pub file_size_limit: u64,
    /// The S3-compatible service to keep objects in instead of `dir`, when configured.
    pub s3: Option<S3Config>,
}

/// An S3-compatible object store (of objects, `BIZBASE_STORAGE_S3_*`, or of backup archives,
/// `BIZBASE_BACKUP_S3_*`; the field docs name the storage keys).
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Bucket (`BIZBASE_STORAGE_S3_BUCKET`); it must exist.
    pub bucket: String,
    /// Endpoint URL for services other than AWS (`BIZBASE_STORAGE_S3_ENDPOINT`, e.g. MinIO).
    pub endpoint: Option<String>,
    /// Region (`BIZBASE_STORAGE_S3_REGION`, default `us-east-1`).
    pub region: String,
    /// Access key id (`BIZBASE_STORAGE_S3_ACCESS_KEY_ID`); unset: the environment's credentials.
    pub access_key_id: Option<String>,
    /// Secret access key (`BIZBASE_STORAGE_S3_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<SecretString>,
    /// Path-style requests (`BIZBASE_STORAGE_S3_PATH_STYLE`, default true with a custom
    /// endpoint, false on AWS).
    pub path_style: bool,
}

impl S3Config {
    /// Reads `<section>_S3_*` (`STORAGE` for objects, `BACKUP` for archives); `None` when the
    /// section names no bucket.
    pub(super) fn from_sources(src: &Sources, section: &str) -> Result<Option<Self>, ConfigError> {
        let key = |name: &str| format!("{section}_S3_{name}");
        let Some(bucket) = src.get(&key("BUCKET")).map(|v| v.value.clone()) else {
            return Ok(None);
        };
        let endpoint = src.get(&key("ENDPOINT")).map(|v| v.value.clone());
        if let Some(v) = src.get(&key("ENDPOINT"))
            && !(v.value.starts_with("http://") || v.value.starts_with("https://"))
        {
            return Err(v.error("must be an http:// or https:// URL"));
        }
        let path_style = src
            .parsed_bool(&key("PATH_STYLE"))?
            .unwrap_or(endpoint.is_some());
        Ok(Some(Self {
            bucket,
            region: src
                .get(&key("REGION"))
                .map_or_else(|| "us-east-1".to_owned(), |v| v.value.clone()),
            access_key_id: src.get(&key("ACCESS_KEY_ID")).map(|v| v.value.clone()),
            secret_access_key: src
                .get(&key("SECRET_ACCESS_KEY"))
                .map(|v| SecretString::from(v.value.clone())),
            endpoint,
            path_style,
        }))
    }
}

impl StorageConfig {
    /// Reads the storage settings; `data_dir` gives the default directory.
    pub fn from_sources(src: &Sources, data_dir: &Path) -> Result<Self, ConfigError> {
        let dir = src
            .get("STORAGE_DIR")
            .map_or_else(|| data_dir.join("storage"), |v| PathBuf::from(&v.value));
        let file_size_limit = match src.get("STORAGE_FILE_SIZE_LIMIT") {
            None => 50 * 1024 * 1024,
            Some(v) => match parse_size(&v.value) {
                Some(n) if n > 0 => n,
                _ => return Err(v.error("must be a positive size such as 52428800, 50MB or 1GB")),
            },
        };
        Ok(Self {
            dir,
            file_size_limit,
            s3: S3Config::from_sources(src, "STORAGE")?,
        })
    }
}

/// The size of `BIZBASE_STORAGE_FILE_SIZE_LIMIT`: a plain number of bytes, or a number with one
/// of the units `B`, `KB`, `MB`, `GB` (powers of 1024, case-insensitive, spaces allowed). A
/// bucket's `file_size_limit` is read with decimal units, as Supabase reads it
/// (`crate::storage::sizes`); this one keeps its binary units so that a configured limit does not
/// change meaning (`50MB` here is 52,428,800 bytes, the default, as Supabase's own default).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1024,
        "M" | "MB" => 1024 * 1024,
        "G" | "GB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_plain_numbers_and_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1MB"), Some(1024 * 1024));
        assert_eq!(parse_size(" 50 mb "), Some(50 * 1024 * 1024));
        assert_eq!(parse_size("1GB"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("1TB"), None);
        assert_eq!(parse_size("MB"), None);
        assert_eq!(parse_size("-1"), None);
    }
}
