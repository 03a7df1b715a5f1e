//! The encrypted archive: a stream of named entries (`u16` name length, name, `u64` size, bytes;
//! a zero-length name ends it) sealed with AES-256-GCM in chunks of [`CHUNK`] bytes.
//!
//! The file starts with a 24-byte header: [`MAGIC`], an 8-byte key id (an HMAC of the key, so a
//! wrong key is named as such) and an 8-byte random nonce prefix. Chunk `i` is sealed under the
//! nonce `prefix ‖ i` (big-endian `u32`) with the header plus a last-chunk flag as associated
//! data — the STREAM construction: a chunk altered, moved, dropped or cut off fails to open.
//! Every chunk but the last holds exactly [`CHUNK`] bytes, so memory stays bounded.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read},
    path::Path,
};

use aes_gcm::{
    Aes256Gcm, Key,
    aead::{Aead, KeyInit, Nonce, Payload},
};
use anyhow::{Context, anyhow, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::ExposeSecret;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::{
    auth::crypto::{hmac_sha256, random_bytes},
    config::BackupConfig,
};

/// The first bytes of every archive (format version 1).
pub const MAGIC: &[u8; 8] = b"BIZBKP01";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1024 * 1024;
const TAG: usize = 16;
const HEADER: usize = 24;

/// The backup key (`BIZBASE_BACKUP_KEY`) and its public id.
pub struct BackupKey {
    cipher: Aes256Gcm,
    id: [u8; 8],
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey([REDACTED])")
    }
}

impl BackupKey {
    /// The configured key; a missing or malformed key is an error naming the variable.
    pub fn from_config(config: &BackupConfig) -> anyhow::Result<Self> {
        let Some(secret) = &config.key else {
            bail!(
                "BIZBASE_BACKUP_KEY is not set: backups are encrypted, set it to the base64 of 32 random \
                 bytes (for example `openssl rand -base64 32`) and keep a copy outside this machine"
            );
        };
        let raw = STANDARD
            .decode(secret.expose_secret().trim())
            .map_err(|_| anyhow!("BIZBASE_BACKUP_KEY: not base64"))?;
        let key = Key::<Aes256Gcm>::try_from(raw.as_slice())
            .map_err(|_| anyhow!("BIZBASE_BACKUP_KEY: must be 32 bytes, got {}", raw.len()))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&hmac_sha256(&raw, &[b"bizbase backup key id"])[..8]);
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
            id,
        })
    }
}

fn nonce(header: &[u8; HEADER], counter: u32) -> anyhow::Result<Nonce<Aes256Gcm>> {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&header[16..]);
    n[8..].copy_from_slice(&counter.to_be_bytes());
    Nonce::<Aes256Gcm>::try_from(n.as_slice()).map_err(|_| anyhow!("nonce"))
}

fn aad(header: &[u8; HEADER], last: bool) -> [u8; HEADER + 1] {
    let mut a = [0u8; HEADER + 1];
    a[..HEADER].copy_from_slice(header);
    a[HEADER] = u8::from(last);
    a
}

/// Writes an archive: entries in, sealed chunks out, into `<path>` only once finished.
pub struct ArchiveWriter<'k> {
    key: &'k BackupKey,
    header: [u8; HEADER],
    counter: u32,
    buf: Vec<u8>,
    out: BufWriter<tokio::fs::File>,
    /// Bytes the current entry still expects.
    remaining: u64,
}

impl<'k> ArchiveWriter<'k> {
    /// Creates `path` (which must not exist) and writes the header.
    pub async fn create(path: &Path, key: &'k BackupKey) -> anyhow::Result<Self> {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .await
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..16].copy_from_slice(&key.id);
        header[16..].copy_from_slice(&random_bytes::<8>());
        let mut out = BufWriter::with_capacity(CHUNK + TAG, file);
        out.write_all(&header).await?;
        Ok(Self {
            key,
            header,
            counter: 0,
            buf: Vec::with_capacity(CHUNK + 64),
            out,
            remaining: 0,
        })
    }

    async fn seal(&mut self, len: usize, last: bool) -> anyhow::Result<()> {
        let plain: Vec<u8> = self.buf.drain(..len).collect();
        let sealed = self
            .key
            .cipher
            .encrypt(
                &nonce(&self.header, self.counter)?,
                Payload {
                    msg: &plain,
                    aad: &aad(&self.header, last),
                },
            )
            .map_err(|_| anyhow!("encryption failed"))?;
        self.counter = self
            .counter
            .checked_add(1)
            .context("archive too large (chunk counter exhausted)")?;
        self.out.write_all(&sealed).await?;
        Ok(())
    }

    async fn put(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.buf.extend_from_slice(bytes);
        // Strictly more than a chunk: the last chunk, sealed by `finish`, may be a full one.
        while self.buf.len() > CHUNK {
            self.seal(CHUNK, false).await?;
        }
        Ok(())
    }

    /// Starts an entry of `size` bytes named `name` (the previous one must be complete).
    pub async fn begin_entry(&mut self, name: &str, size: u64) -> anyhow::Result<()> {
        if self.remaining != 0 {
            bail!("the previous entry is {} bytes short", self.remaining);
        }
        let len = u16::try_from(name.len()).context("entry name too long")?;
        if len == 0 {
            bail!("empty entry name");
        }
        self.put(&len.to_be_bytes()).await?;
        self.put(name.as_bytes()).await?;
        self.put(&size.to_be_bytes()).await?;
        self.remaining = size;
        Ok(())
    }

    /// Writes bytes of the current entry.
    pub async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.remaining = self
            .remaining
            .checked_sub(bytes.len() as u64)
            .context("more bytes than the entry announced (did the source change?)")?;
        self.put(bytes).await
    }

    /// Ends the entry stream, seals the last chunk and flushes the file to disk.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if self.remaining != 0 {
            bail!("the last entry is {} bytes short", self.remaining);
        }
        self.put(&0u16.to_be_bytes()).await?;
        let len = self.buf.len();
        self.seal(len, true).await?;
        self.out.flush().await?;
        self.out.get_mut().sync_all().await?;
        Ok(())
    }
}

/// Reads an archive's plaintext, opening (and so authenticating) one chunk at a time.
pub struct ChunkReader<'k> {
    key: &'k BackupKey,
    header: [u8; HEADER],
    counter: u32,
    input: BufReader<File>,
    plain: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Why an archive cannot be read, worded for the operator.
fn damaged(detail: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the archive is damaged, truncated or was altered ({detail})"),
    )
}

impl<'k> ChunkReader<'k> {
    /// Opens `path` and checks its header: the format, and that `key` is the one it was sealed with.
    pub fn open(path: &Path, key: &'k BackupKey) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut input = BufReader::with_capacity(CHUNK + TAG, file);
        let mut header = [0u8; HEADER];
        input
            .read_exact(&mut header)
            .map_err(|_| anyhow!("it is not a bizbase backup archive (too short)"))?;
        if &header[..8] != MAGIC {
            bail!("it is not a bizbase backup archive");
        }
        if header[8..16] != key.id {
            bail!("it was encrypted with a different key than BIZBASE_BACKUP_KEY");
        }
        Ok(Self {
            key,
            header,
            counter: 0,
            input,
            plain: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    fn next_chunk(&mut self) -> std::io::Result<()> {
        let mut sealed = Vec::with_capacity(CHUNK + TAG);
        (&mut self.input)
            .take((CHUNK + TAG) as u64)
            .read_to_end(&mut sealed)?;
        if sealed.len() < TAG {
            return Err(damaged(format!("ends before chunk {}", self.counter)));
        }
        let last = sealed.len() < CHUNK + TAG || self.input.fill_buf()?.is_empty();
        let nonce = nonce(&self.header, self.counter).map_err(damaged)?;
        self.plain = self
            .key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &aad(&self.header, last),
                },
            )
            .map_err(|_| damaged(format!("chunk {} fails authentication", self.counter)))?;
        self.pos = 0;
        self.done = last;
        self.counter = self.counter.wrapping_add(1);
        Ok(())
    }
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One entry's header as read back: `None` at the end marker.
pub fn read_entry_header(r: &mut impl Read) -> anyhow::Result<Option<(String, u64)>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).map_err(eof_is_damage)?;
    let len = u16::from_be_bytes(len);
    if len == 0 {
        return Ok(None);
    }
    let mut name = vec![0u8; usize::from(len)];
    r.read_exact(&mut name).map_err(eof_is_damage)?;
    let name = String::from_utf8(name).map_err(|_| damaged("an entry name is not UTF-8"))?;
    let mut size = [0u8; 8];
    r.read_exact(&mut size).map_err(eof_is_damage)?;
    Ok(Some((name, u64::from_be_bytes(size))))
}

/// A clean end of the plaintext where more was announced means the archive was cut.
pub fn eof_is_damage(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        damaged("it ends inside an entry").into()
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackupConfig;

    fn key(byte: u8) -> BackupKey {
        BackupKey::from_config(&BackupConfig {
            dir: "/nonexistent".into(),
            s3: None,
            key: Some(STANDARD.encode([byte; 32]).into()),
            schedule: None,
            keep_daily: 7,
            keep_weekly: 4,
            verify: true,
        })
        .unwrap()
    }

    async fn write(path: &Path, key: &BackupKey, size: usize) {
        let mut w = ArchiveWriter::create(path, key).await.unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        w.begin_entry("a", size as u64).await.unwrap();
        w.write(&data).await.unwrap();
        w.finish().await.unwrap();
    }

    fn read(path: &Path, key: &BackupKey) -> anyhow::Result<(String, Vec<u8>)> {
        let mut r = ChunkReader::open(path, key)?;
        let (name, size) = read_entry_header(&mut r)?.context("no entry")?;
        let mut data = vec![0u8; usize::try_from(size)?];
        r.read_exact(&mut data).map_err(eof_is_damage)?;
        anyhow::ensure!(read_entry_header(&mut r)?.is_none());
        Ok((name, data))
    }

    #[tokio::test]
    async fn archives_round_trip_at_and_around_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(7);
        // Entry framing takes 11 bytes + 2 for the end marker: these sizes put the end of the
        // plaintext just before, at and just after a chunk boundary.
        for size in [
            0,
            5,
            CHUNK - 13,
            CHUNK - 12,
            CHUNK - 11,
            2 * CHUNK - 13,
            3 * CHUNK,
        ] {
            let path = dir.path().join(format!("{size}"));
            write(&path, &k, size).await;
            let (name, data) = read(&path, &k).unwrap();
            assert_eq!((name.as_str(), data.len()), ("a", size));
            assert!(data.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        }
    }

    #[tokio::test]
    async fn a_cut_altered_or_foreign_archive_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(7);
        let path = dir.path().join("a");
        write(&path, &k, 2 * CHUNK + 100).await;
        let good = std::fs::read(&path).unwrap();
        let sealed = CHUNK + TAG;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "cut at a chunk boundary",
                good[..HEADER + 2 * sealed].to_vec(),
            ),
            ("cut inside a chunk", good[..HEADER + sealed + 10].to_vec()),
            ("cut after the header", good[..HEADER].to_vec()),
            ("a flipped byte", {
                let mut b = good.clone();
                b[HEADER + sealed + 5] ^= 1;
                b
            }),
            ("two chunks swapped", {
                let mut b = good[..HEADER].to_vec();
                b.extend_from_slice(&good[HEADER + sealed..HEADER + 2 * sealed]);
                b.extend_from_slice(&good[HEADER..HEADER + sealed]);
                b.extend_from_slice(&good[HEADER + 2 * sealed..]);
                b
            }),
        ];
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let e = read(&path, &k).unwrap_err();
            assert!(format!("{e:#}").contains("damaged"), "{what}: {e:#}");
        }
        std::fs::write(&path, &good).unwrap();
        let e = read(&path, &key(8)).unwrap_err();
        assert!(e.to_string().contains("different key"), "{e:#}");
    }
}
