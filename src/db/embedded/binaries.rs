//! Finding the machine's PostgreSQL server binaries.

use std::path::{Path, PathBuf};

/// The programs the supervisor runs.
const PROGRAMS: &[&str] = &["initdb", "postgres"];

/// Why no usable binaries were found, with what to do about it.
pub fn not_found_message(looked: &[PathBuf]) -> String {
    let places: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    format!(
        "no PostgreSQL server binaries (initdb, postgres) found; looked in: {}.\n\
         Install them (Debian/Ubuntu: `apt-get install postgresql`), point BIZBASE_PG_BIN_DIR at their \
         directory, or set DATABASE_URL to use an existing PostgreSQL server.",
        if places.is_empty() {
            "nowhere".to_owned()
        } else {
            places.join(", ")
        }
    )
}

fn has_programs(dir: &Path) -> bool {
    PROGRAMS.iter().all(|p| dir.join(p).is_file())
}

/// Finds a directory holding `initdb` and `postgres`: the configured one, else `pg_config
/// --bindir`, else `PATH`, else the newest `/usr/lib/postgresql/<version>/bin`.
pub fn find(configured: Option<&Path>) -> Result<PathBuf, String> {
    let mut looked = Vec::new();
    if let Some(dir) = configured {
        if has_programs(dir) {
            return Ok(dir.to_path_buf());
        }
        return Err(format!(
            "BIZBASE_PG_BIN_DIR: {} does not contain initdb and postgres",
            dir.display()
        ));
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_programs(&dir) {
            return Ok(dir);
        }
        looked.push(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_programs(&dir) {
                return Ok(dir);
            }
        }
        looked.push(PathBuf::from("$PATH"));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_programs(bin))
        .collect();
    versions.sort();
    looked.push(PathBuf::from("/usr/lib/postgresql/*/bin"));
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| not_found_message(&looked))
}
