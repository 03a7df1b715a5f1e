//! Where configuration values come from: the environment first, then the TOML file.

use std::{collections::BTreeMap, fmt, path::Path, str::FromStr};

/// Every key bizbase understands. The environment variable is `BIZBASE_<KEY>` (except
/// `DATABASE_URL`), the TOML key is the lower-case key.
pub const KEYS: &[&str] = &[
    "ADDR",
    "ADMIN_ADDR",
    "PUBLIC_URL",
    "DATA_DIR",
    "DATABASE_URL",
    "API_DATABASE_URL",
    "PG_BIN_DIR",
    "DB_POOL_MAX",
    "MIGRATE",
    "JWT_SECRET",
    "LOG",
    "LOG_FORMAT",
    "CORS_ORIGINS",
    "MAX_BODY_BYTES",
    "REQUEST_TIMEOUT_SECS",
    "REST_SCHEMAS",
    "REST_MAX_ROWS",
    "REST_MAX_UNFILTERED_AFFECTED",
    "REST_STATEMENT_TIMEOUT_MS",
    "REST_MAX_QUERY_BYTES",
    "AUDIT_RETENTION_DAYS",
    "SENTIMENT",
];

fn known(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .chain(super::auth::KEYS)
        .chain(super::storage::KEYS)
        .chain(super::backup::KEYS)
        .find(|k| **k == key)
        .copied()
}

/// Keys whose values must never be echoed back, not even in an error message.
const SECRET_KEYS: &[&str] = &[
    "DATABASE_URL",
    "API_DATABASE_URL",
    "JWT_SECRET",
    "SMTP_URL",
    "ENCRYPTION_KEY",
    "BACKUP_KEY",
    "STORAGE_S3_SECRET_ACCESS_KEY",
    "BACKUP_S3_SECRET_ACCESS_KEY",
];

/// A configuration value that stopped start-up, naming where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// `BIZBASE_ADDR`, or `addr in bizbase.toml`.
    pub origin: String,
    /// What is wrong with it.
    pub message: String,
}

/// One raw value and where it was read.
#[derive(Debug, Clone)]
pub struct Value {
    /// The text as given.
    pub value: String,
    origin: String,
}

impl Value {
    /// An error about this value, naming its origin.
    pub fn error(&self, message: impl fmt::Display) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            message: message.to_string(),
        }
    }
}

/// The raw values of every known key, environment over file.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    values: BTreeMap<&'static str, Value>,
    /// `BIZBASE_*` variables that name no known key (probably typos).
    pub unknown_env: Vec<String>,
}

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    if key == "DATABASE_URL" {
        key.to_owned()
    } else {
        format!("BIZBASE_{key}")
    }
}

impl Sources {
    /// Reads the process environment and the optional TOML file.
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    origin: format!("--config {}", path.display()),
                    message: format!("cannot read the file: {e}"),
                })?;
                Some((path.display().to_string(), text))
            }
        };
        Self::from_parts(
            std::env::vars(),
            file.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        )
    }

    /// Builds sources from explicit environment pairs and an optional `(file name, TOML text)`.
    pub fn from_parts(
        env: impl IntoIterator<Item = (String, String)>,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ConfigError> {
        let mut sources = Self::default();
        if let Some((name, text)) = file {
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
                origin: name.to_owned(),
                message: format!("not valid TOML: {}", e.message()),
            })?;
            for (k, v) in table {
                let origin = format!("{k} in {name}");
                let key = known(&k.to_ascii_uppercase())
                    .filter(|key| key.to_ascii_lowercase() == k)
                    .ok_or_else(|| ConfigError {
                        origin: origin.clone(),
                        message: "unknown setting".into(),
                    })?;
                let value = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Array(items) => {
                        let mut parts = Vec::with_capacity(items.len());
                        for item in items {
                            match item {
                                toml::Value::String(s) => parts.push(s),
                                _ => {
                                    return Err(ConfigError {
                                        origin,
                                        message: "must be a list of strings".into(),
                                    });
                                }
                            }
                        }
                        parts.join(",")
                    }
                    _ => {
                        return Err(ConfigError {
                            origin,
                            message: "must be a string, number or boolean".into(),
                        });
                    }
                };
                sources.values.insert(key, Value { value, origin });
            }
        }
        for (name, value) in env {
            let key = match name.strip_prefix("BIZBASE_") {
                Some(rest) => known(rest).filter(|k| *k != "DATABASE_URL"),
                None => known(&name).filter(|k| *k == "DATABASE_URL"),
            };
            if let Some(key) = key {
                sources.values.insert(
                    key,
                    Value {
                        value,
                        origin: name,
                    },
                );
            } else if name.starts_with("BIZBASE_") {
                sources.unknown_env.push(name);
            }
        }
        Ok(sources)
    }

    /// Sets a key as if it came from its environment variable.
    pub fn set(&mut self, key: &'static str, value: &str) {
        self.values.insert(
            key,
            Value {
                value: value.to_owned(),
                origin: env_name(key),
            },
        );
    }

    /// The value of `key`, if set (empty values count as unset, as shells make them easily).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.value.trim().is_empty())
    }

    /// An error about `key`, naming where it was set (or its variable when unset).
    pub fn error_for(&self, key: &str, message: &str) -> ConfigError {
        match self.values.get(key) {
            Some(v) => v.error(message),
            None => ConfigError {
                origin: env_name(key),
                message: message.to_owned(),
            },
        }
    }

    /// Parses `key` with [`FromStr`]; the error names the variable and, unless secret, the value.
    pub fn parsed<T: FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        v.value.trim().parse().map(Some).map_err(|e| {
            if SECRET_KEYS.contains(&key) {
                v.error(format!("invalid value: {e}"))
            } else {
                v.error(format!("invalid value {:?}: {e}", v.value))
            }
        })
    }

    /// Parses a boolean: `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn parsed_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            other => Err(v.error(format!("invalid value {other:?}: expected true or false"))),
        }
    }
}
