//! The OS user the embedded server runs as. PostgreSQL refuses to run as root, so when bizbase is
//! root the cluster belongs to the `postgres` user (which Debian's package creates), and that user
//! is given search access — through a POSIX ACL naming only it — to any ancestor directory of the
//! data dir it could not otherwise enter (such as `/root`).

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use nix::unistd::{Gid, Uid, User, chown, geteuid};

/// The user the server processes run as.
#[derive(Debug, Clone)]
pub struct Owner {
    /// User id.
    pub uid: Uid,
    /// Primary group id.
    pub gid: Gid,
    /// User name (also the database superuser's name is fixed to `postgres`).
    pub name: String,
    /// Whether child processes must switch to this user (bizbase runs as root).
    pub switch: bool,
}

impl Owner {
    /// The current user, or `postgres` when running as root.
    pub fn resolve() -> Result<Self, String> {
        let euid = geteuid();
        if !euid.is_root() {
            let name = User::from_uid(euid)
                .ok()
                .flatten()
                .map_or_else(|| euid.to_string(), |u| u.name);
            return Ok(Self {
                uid: euid,
                gid: nix::unistd::getegid(),
                name,
                switch: false,
            });
        }
        match User::from_name("postgres") {
            Ok(Some(u)) => Ok(Self { uid: u.uid, gid: u.gid, name: u.name, switch: true }),
            _ => Err("bizbase runs as root, and PostgreSQL refuses to run as root: it runs the embedded server \
                      as the `postgres` OS user, which does not exist here. Install Debian's `postgresql` \
                      package (it creates that user), run bizbase as an unprivileged user, or set DATABASE_URL."
                .into()),
        }
    }

    /// Creates `dir` (mode 0700) belonging to this user.
    pub fn make_private_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        if self.switch {
            chown(dir, Some(self.uid), Some(self.gid)).map_err(std::io::Error::from)?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }

    /// Makes every ancestor of `dir` searchable by this user, granting a per-user ACL entry where
    /// needed. Returns the directories that were changed.
    pub fn ensure_reachable(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let mut granted = Vec::new();
        if !self.switch {
            return Ok(granted);
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        for ancestor in dir.ancestors() {
            let meta =
                std::fs::metadata(ancestor).map_err(|e| format!("{}: {e}", ancestor.display()))?;
            let mode = meta.mode();
            let bits = if meta.uid() == self.uid.as_raw() {
                mode >> 6
            } else if meta.gid() == self.gid.as_raw() {
                mode >> 3
            } else {
                mode
            };
            if bits & 0o1 == 0 && !acl::allows_search(ancestor, self.uid.as_raw()) {
                acl::grant_search(ancestor, self.uid.as_raw(), mode).map_err(|e| {
                    format!(
                        "the `{}` OS user cannot enter {} and granting it search access failed ({e}); \
                         choose a data dir it can reach (for example under /var/lib or /srv)",
                        self.name,
                        ancestor.display()
                    )
                })?;
                granted.push(ancestor.to_path_buf());
            }
        }
        Ok(granted)
    }
}

/// The Linux `system.posix_acl_access` extended attribute, edited to add one user's search bit.
mod acl {
    use std::path::Path;

    const NAME: &str = "system.posix_acl_access";
    const VERSION: u32 = 2;
    const USER_OBJ: u16 = 0x01;
    const USER: u16 = 0x02;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    const UNDEFINED_ID: u32 = u32::MAX;
    const EXECUTE: u16 = 0o1;

    #[derive(Clone, Copy)]
    struct Entry {
        tag: u16,
        perm: u16,
        id: u32,
    }

    fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
        let (header, body) = bytes.split_at_checked(4)?;
        if u32::from_le_bytes(header.try_into().ok()?) != VERSION || body.len() % 8 != 0 {
            return None;
        }
        body.chunks_exact(8)
            .map(|c| {
                Some(Entry {
                    tag: u16::from_le_bytes([c[0], c[1]]),
                    perm: u16::from_le_bytes([c[2], c[3]]),
                    id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                })
            })
            .collect()
    }

    fn from_mode(mode: u32) -> Vec<Entry> {
        let bits = |shift: u32| ((mode >> shift) & 0o7) as u16;
        vec![
            Entry {
                tag: USER_OBJ,
                perm: bits(6),
                id: UNDEFINED_ID,
            },
            Entry {
                tag: GROUP_OBJ,
                perm: bits(3),
                id: UNDEFINED_ID,
            },
            Entry {
                tag: OTHER,
                perm: bits(0),
                id: UNDEFINED_ID,
            },
        ]
    }

    /// Whether the directory's ACL already lets `uid` search it.
    pub fn allows_search(dir: &Path, uid: u32) -> bool {
        let Some(entries) = xattr::get(dir, NAME)
            .ok()
            .flatten()
            .as_deref()
            .and_then(parse)
        else {
            return false;
        };
        let has = |tag: u16, id: Option<u32>| {
            entries
                .iter()
                .any(|e| e.tag == tag && id.is_none_or(|id| e.id == id) && e.perm & EXECUTE != 0)
        };
        has(USER, Some(uid)) && has(MASK, None)
    }

    /// Adds (or extends) the entry `user:<uid>:--x` and widens the mask to let it through.
    pub fn grant_search(dir: &Path, uid: u32, mode: u32) -> std::io::Result<()> {
        let current = xattr::get(dir, NAME)?;
        let mut entries = current
            .as_deref()
            .and_then(parse)
            .unwrap_or_else(|| from_mode(mode));
        match entries.iter_mut().find(|e| e.tag == USER && e.id == uid) {
            Some(e) => e.perm |= EXECUTE,
            None => entries.push(Entry {
                tag: USER,
                perm: EXECUTE,
                id: uid,
            }),
        }
        let group_perm = entries
            .iter()
            .find(|e| e.tag == GROUP_OBJ)
            .map_or(0, |e| e.perm);
        match entries.iter_mut().find(|e| e.tag == MASK) {
            Some(m) => m.perm |= EXECUTE,
            None => entries.push(Entry {
                tag: MASK,
                perm: group_perm | EXECUTE,
                id: UNDEFINED_ID,
            }),
        }
        entries.sort_by_key(|e| (e.tag, e.id));
        let mut bytes = VERSION.to_le_bytes().to_vec();
        for e in entries {
            bytes.extend_from_slice(&e.tag.to_le_bytes());
            bytes.extend_from_slice(&e.perm.to_le_bytes());
            bytes.extend_from_slice(&e.id.to_le_bytes());
        }
        xattr::set(dir, NAME, &bytes)
    }
}
