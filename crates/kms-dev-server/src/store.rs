//! Keys and aliases: in memory behind a `RwLock`, persisted as one file per key plus
//! `aliases.json`, with all key material wrapped (AES-256-GCM) under the data directory's
//! master key. Every change is on disk (fsynced, atomically replaced) before it is visible.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use zeroize::Zeroizing;

use crate::crypto::{self, KEY_LEN};
use crate::error::{ErrorKind, KmsError};
use crate::fsutil;
use crate::ids::{KeyRef, Scope};
pub use crate::record::{AliasRecord, KeyRecord, KeyVersion, Tag, VersionOrigin};
use crate::record::{AliasesFile, FILE_FORMAT, decode_key, encode_key};
use crate::state::{self, KeyState};
use crate::time::MS_PER_DAY;

pub const MASTER_KEY_FILE: &str = "master.key";
pub const KEYS_DIR: &str = "keys";
pub const ALIASES_FILE: &str = "aliases.json";
pub const LOCK_FILE: &str = ".lock";
/// KMS limits on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: usize = 25;
pub const DEFAULT_ROTATION_DAYS: i64 = 365;

/// Why the store could not be opened. Startup refuses to run rather than lose or shadow keys.
#[derive(Debug)]
pub enum StoreError {
    Io { path: PathBuf, source: io::Error },
    Corrupt { path: PathBuf, reason: String },
    MasterKeyMissing { dir: PathBuf },
    Locked { path: PathBuf },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Corrupt { path, reason } => {
                write!(f, "{} is unreadable: {reason}", path.display())
            }
            Self::MasterKeyMissing { dir } => write!(
                f,
                "{} holds keys but no {MASTER_KEY_FILE}; refusing to create a new master key that could not decrypt them",
                dir.display()
            ),
            Self::Locked { path } => write!(
                f,
                "{} is locked: another kms-dev-server is using this data directory",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

// ---- in-memory view --------------------------------------------------------------------------

#[derive(Default)]
pub struct Inner {
    pub keys: HashMap<String, KeyRecord>,
    pub aliases: BTreeMap<String, AliasRecord>,
}

fn key_not_found(scope: &Scope, id: &str) -> KmsError {
    KmsError::not_found(format!("Key '{}' does not exist", scope.key_arn(id)))
}

impl Inner {
    /// Resolves a parsed `KeyId` to a live key.
    pub fn resolve(&self, r: &KeyRef, scope: &Scope, now_ms: i64) -> Result<&KeyRecord, KmsError> {
        let id = match r {
            KeyRef::Key(id) => id.as_str(),
            KeyRef::Alias(name) => self
                .aliases
                .get(name)
                .map(|a| a.target_key_id.as_str())
                .ok_or_else(|| {
                    KmsError::not_found(format!("Alias {} is not found.", scope.alias_arn(name)))
                })?,
        };
        self.live(id, now_ms)
            .ok_or_else(|| key_not_found(scope, id))
    }

    /// A key by bare id, unless it is (past its deletion date and so) gone.
    pub fn live(&self, id: &str, now_ms: i64) -> Option<&KeyRecord> {
        self.keys.get(id).filter(|k| !k.is_deleted(now_ms))
    }

    /// Live keys in creation order (then by id), the order ListKeys pages through.
    pub fn sorted_keys(&self, now_ms: i64) -> Vec<&KeyRecord> {
        let mut v: Vec<&KeyRecord> = self
            .keys
            .values()
            .filter(|k| !k.is_deleted(now_ms))
            .collect();
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        v
    }
}

/// What a maintenance pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    pub deleted: Vec<String>,
    pub rotated: Vec<String>,
}

pub struct Store {
    keys_dir: PathBuf,
    dir: PathBuf,
    master: Zeroizing<[u8; KEY_LEN]>,
    inner: RwLock<Inner>,
    /// Held for the process lifetime: an exclusive lock on `DATA_DIR/.lock`.
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) a data directory. Refuses a directory another server holds,
    /// one whose key files do not all decode, and one that has keys but lost its master key.
    pub fn open(dir: &Path) -> Result<(Self, Vec<String>), StoreError> {
        let mut notes = Vec::new();
        fsutil::create_dir_private(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fsutil::open_append_private(&lock_path).map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path: lock_path });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let keys_dir = dir.join(KEYS_DIR);
        fsutil::create_dir_private(&keys_dir).map_err(io_err(&keys_dir))?;
        for d in [dir, keys_dir.as_path()] {
            let n = fsutil::remove_stale_temps(d).map_err(io_err(d))?;
            if n > 0 {
                notes.push(format!(
                    "removed {n} unfinished temporary file(s) in {}",
                    d.display()
                ));
            }
        }
        let key_files = list_key_files(&keys_dir)?;
        let master = load_or_create_master(dir, !key_files.is_empty(), &mut notes)?;
        let mut inner = Inner::default();
        for path in key_files {
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let rec = decode_key(&bytes, &master).map_err(|reason| StoreError::Corrupt {
                path: path.clone(),
                reason,
            })?;
            if path.file_stem().and_then(|s| s.to_str()) != Some(rec.id.as_str()) {
                return Err(StoreError::Corrupt {
                    path,
                    reason: "file name does not match key id".into(),
                });
            }
            inner.keys.insert(rec.id.clone(), rec);
        }
        let alias_path = dir.join(ALIASES_FILE);
        match fs::read(&alias_path) {
            Ok(bytes) => {
                let f: AliasesFile =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        path: alias_path.clone(),
                        reason: e.to_string(),
                    })?;
                for a in f.aliases {
                    // An alias whose key is gone (deleted between two writes) is dropped, as KMS does.
                    if inner.keys.contains_key(&a.target_key_id) {
                        inner.aliases.insert(a.name.clone(), a);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&alias_path)(e)),
        }
        let store = Self {
            keys_dir,
            dir: dir.to_owned(),
            master,
            inner: RwLock::new(inner),
            _lock: lock,
        };
        Ok((store, notes))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic elsewhere must not take the store down: the data is only replaced whole.
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn persist_key(&self, rec: &KeyRecord) -> Result<(), KmsError> {
        let bytes = encode_key(rec, &self.master).map_err(|e| KmsError::internal(e.to_string()))?;
        fsutil::write_atomic(&self.keys_dir, &format!("{}.json", rec.id), &bytes)
            .map_err(|e| persist_failed(&self.keys_dir, &e))
    }

    fn persist_aliases(&self, aliases: &BTreeMap<String, AliasRecord>) -> Result<(), KmsError> {
        let f = AliasesFile {
            format: FILE_FORMAT,
            aliases: aliases.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&f).map_err(|e| KmsError::internal(e.to_string()))?;
        fsutil::write_atomic(&self.dir, ALIASES_FILE, &bytes)
            .map_err(|e| persist_failed(&self.dir, &e))
    }

    /// Stores a new key; it is durable on disk before this returns.
    pub fn insert_new(&self, rec: KeyRecord) -> Result<(), KmsError> {
        // A fresh random id cannot collide, so the slow fsync happens outside the lock.
        self.persist_key(&rec)?;
        self.write().keys.insert(rec.id.clone(), rec);
        Ok(())
    }

    /// Applies `change` to a copy of a key, persists the copy, then publishes it. If `change` or
    /// the write fails, nothing changes.
    pub fn update_key<F>(
        &self,
        r: &KeyRef,
        scope: &Scope,
        now_ms: i64,
        change: F,
    ) -> Result<KeyRecord, KmsError>
    where
        F: FnOnce(&mut KeyRecord) -> Result<(), KmsError>,
    {
        let mut inner = self.write();
        let mut rec = inner.resolve(r, scope, now_ms)?.clone();
        change(&mut rec)?;
        self.persist_key(&rec)?;
        inner.keys.insert(rec.id.clone(), rec.clone());
        Ok(rec)
    }

    /// CreateAlias: the alias must be new and the target a key (not an alias) not pending deletion.
    pub fn create_alias(
        &self,
        name: &str,
        target: &KeyRef,
        scope: &Scope,
        now_ms: i64,
    ) -> Result<String, KmsError> {
        let mut inner = self.write();
        if inner.aliases.contains_key(name) {
            return Err(KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "An alias with the name {} already exists",
                    scope.alias_arn(name)
                ),
            ));
        }
        let key = inner.resolve(target, scope, now_ms)?;
        let arn = scope.key_arn(&key.id);
        state::require_not_pending(key.state, &arn)?;
        let mut aliases = inner.aliases.clone();
        let rec = AliasRecord {
            name: name.to_owned(),
            target_key_id: key.id.clone(),
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        aliases.insert(name.to_owned(), rec);
        self.persist_aliases(&aliases)?;
        inner.aliases = aliases;
        Ok(arn)
    }

    /// UpdateAlias: points an existing alias at another live key.
    pub fn update_alias(
        &self,
        name: &str,
        target: &KeyRef,
        scope: &Scope,
        now_ms: i64,
    ) -> Result<String, KmsError> {
        let mut inner = self.write();
        let key = inner.resolve(target, scope, now_ms)?;
        let (id, arn) = (key.id.clone(), scope.key_arn(&key.id));
        state::require_not_pending(key.state, &arn)?;
        let mut aliases = inner.aliases.clone();
        let a = aliases.get_mut(name).ok_or_else(|| {
            KmsError::not_found(format!("Alias {} is not found.", scope.alias_arn(name)))
        })?;
        a.target_key_id = id;
        a.updated_ms = now_ms;
        self.persist_aliases(&aliases)?;
        inner.aliases = aliases;
        Ok(arn)
    }

    /// DeleteAlias; returns the ARN of the key it pointed to.
    pub fn delete_alias(&self, name: &str, scope: &Scope) -> Result<String, KmsError> {
        let mut inner = self.write();
        let mut aliases = inner.aliases.clone();
        let removed = aliases.remove(name).ok_or_else(|| {
            KmsError::not_found(format!("Alias {} is not found.", scope.alias_arn(name)))
        })?;
        self.persist_aliases(&aliases)?;
        inner.aliases = aliases;
        Ok(scope.key_arn(&removed.target_key_id))
    }

    /// Deletes keys whose waiting period is over (and their aliases), and rotates enabled keys
    /// whose automatic rotation is due. Runs at startup and periodically.
    pub fn maintain(&self, now_ms: i64) -> Result<Maintenance, KmsError> {
        let mut report = Maintenance::default();
        let mut inner = self.write();
        let gone: Vec<String> = inner
            .keys
            .values()
            .filter(|k| k.is_deleted(now_ms))
            .map(|k| k.id.clone())
            .collect();
        if !gone.is_empty() {
            let mut aliases = inner.aliases.clone();
            aliases.retain(|_, a| !gone.contains(&a.target_key_id));
            if aliases.len() != inner.aliases.len() {
                self.persist_aliases(&aliases)?;
                inner.aliases = aliases;
            }
            for id in gone {
                match fs::remove_file(self.keys_dir.join(format!("{id}.json"))) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(persist_failed(&self.keys_dir, &e)),
                }
                inner.keys.remove(&id);
                report.deleted.push(id);
            }
            fsutil::fsync_dir(&self.keys_dir).map_err(|e| persist_failed(&self.keys_dir, &e))?;
        }
        let due: Vec<String> = inner
            .keys
            .values()
            .filter(|k| {
                k.state == KeyState::Enabled && k.next_rotation_ms.is_some_and(|t| t <= now_ms)
            })
            .map(|k| k.id.clone())
            .collect();
        for id in due {
            let Some(mut rec) = inner.keys.get(&id).cloned() else {
                continue;
            };
            rec.rotate(VersionOrigin::Automatic, now_ms)
                .map_err(|e| KmsError::internal(e.to_string()))?;
            let period = rec.rotation_period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
            rec.next_rotation_ms = Some(now_ms.saturating_add(period.saturating_mul(MS_PER_DAY)));
            self.persist_key(&rec)?;
            inner.keys.insert(id.clone(), rec);
            report.rotated.push(id);
        }
        Ok(report)
    }
}

fn persist_failed(dir: &Path, e: &io::Error) -> KmsError {
    eprintln!("kms-dev-server: write in {} failed: {e}", dir.display());
    KmsError::internal("The dev server could not persist the change.")
}

fn list_key_files(keys_dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(keys_dir).map_err(io_err(keys_dir))? {
        let path = entry.map_err(io_err(keys_dir))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn load_or_create_master(
    dir: &Path,
    have_keys: bool,
    notes: &mut Vec<String>,
) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let path = dir.join(MASTER_KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            if bytes.len() != KEY_LEN {
                return Err(StoreError::Corrupt {
                    path,
                    reason: format!("expected {KEY_LEN} bytes"),
                });
            }
            key.copy_from_slice(&bytes);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&path)
                    .map_err(io_err(&path))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    notes.push(format!(
                        "warning: {} is readable by others (mode {:o}); chmod 600 it",
                        path.display(),
                        mode & 0o777
                    ));
                }
            }
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if have_keys {
                return Err(StoreError::MasterKeyMissing {
                    dir: dir.to_owned(),
                });
            }
            let key = crypto::random_key().map_err(|e| StoreError::Io {
                path: path.clone(),
                source: io::Error::other(e),
            })?;
            fsutil::create_atomic(dir, MASTER_KEY_FILE, key.as_slice()).map_err(io_err(&path))?;
            notes.push(format!("created master key {}", path.display()));
            Ok(key)
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::scratch;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    fn scope() -> Scope {
        Scope {
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    #[test]
    fn keys_aliases_and_versions_survive_reopen() {
        let d = scratch("store-reopen");
        let (store, notes) = Store::open(&d).unwrap();
        assert!(notes.iter().any(|n| n.contains("created master key")));
        let rec = KeyRecord::generate("desc".into(), vec![], 1000).unwrap();
        let id = rec.id.clone();
        let material_v1 = rec.versions[0].material.clone();
        store.insert_new(rec).unwrap();
        let kref = KeyRef::Key(id.clone());
        store
            .update_key(&kref, &scope(), 2000, |k| {
                k.state = KeyState::Disabled;
                k.rotate(VersionOrigin::OnDemand, 2000)
                    .map_err(|e| KmsError::internal(e.to_string()))
            })
            .unwrap();
        store
            .create_alias("alias/a", &kref, &scope(), 3000)
            .unwrap();
        drop(store);

        let (store, _) = Store::open(&d).unwrap();
        let inner = store.read();
        let k = inner
            .resolve(&KeyRef::Alias("alias/a".into()), &scope(), 4000)
            .unwrap();
        assert_eq!(k.id, id);
        assert_eq!(k.state, KeyState::Disabled);
        assert_eq!(k.versions.len(), 2);
        assert_eq!(*k.versions[0].material, *material_v1);
        assert_ne!(*k.versions[1].material, *material_v1);
        drop(inner);
        drop(store);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn key_files_hold_no_plaintext_material_and_master_key_is_private() {
        let d = scratch("store-private");
        let (store, _) = Store::open(&d).unwrap();
        let rec = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let (id, material) = (rec.id.clone(), rec.versions[0].material.clone());
        store.insert_new(rec).unwrap();
        let file = fs::read(d.join(KEYS_DIR).join(format!("{id}.json"))).unwrap();
        let b64 = B64.encode(material.as_slice());
        assert!(!file.windows(KEY_LEN).any(|w| w == material.as_slice()));
        assert!(!String::from_utf8_lossy(&file).contains(&b64));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(d.join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(store);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn second_server_on_same_dir_is_refused() {
        let d = scratch("store-lock");
        let (store, _) = Store::open(&d).unwrap();
        assert!(matches!(Store::open(&d), Err(StoreError::Locked { .. })));
        drop(store);
        assert!(Store::open(&d).is_ok());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn lost_master_key_with_existing_keys_refuses_to_start() {
        let d = scratch("store-nomaster");
        let (store, _) = Store::open(&d).unwrap();
        store
            .insert_new(KeyRecord::generate(String::new(), vec![], 0).unwrap())
            .unwrap();
        drop(store);
        fs::remove_file(d.join(MASTER_KEY_FILE)).unwrap();
        assert!(matches!(
            Store::open(&d),
            Err(StoreError::MasterKeyMissing { .. })
        ));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wrong_master_key_or_moved_material_is_corrupt_not_silently_dropped() {
        let d = scratch("store-wrongmaster");
        let (store, _) = Store::open(&d).unwrap();
        let a = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let b = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let (ida, idb) = (a.id.clone(), b.id.clone());
        store.insert_new(a).unwrap();
        store.insert_new(b).unwrap();
        drop(store);
        // Give key B's file key A's id: B's wrapped material is bound to B, so it must not load.
        let kd = d.join(KEYS_DIR);
        let text = fs::read_to_string(kd.join(format!("{idb}.json")))
            .unwrap()
            .replace(&idb, &ida);
        fs::write(kd.join(format!("{ida}.json")), text).unwrap();
        assert!(matches!(Store::open(&d), Err(StoreError::Corrupt { .. })));
        fs::write(d.join(MASTER_KEY_FILE), [0u8; KEY_LEN]).unwrap();
        assert!(matches!(Store::open(&d), Err(StoreError::Corrupt { .. })));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn maintenance_deletes_expired_keys_with_their_aliases_and_rotates_due_keys() {
        let d = scratch("store-maint");
        let (store, _) = Store::open(&d).unwrap();
        let s = scope();
        let doomed = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let rotating = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let (dead, live) = (doomed.id.clone(), rotating.id.clone());
        store.insert_new(doomed).unwrap();
        store.insert_new(rotating).unwrap();
        store
            .create_alias("alias/doomed", &KeyRef::Key(dead.clone()), &s, 0)
            .unwrap();
        store
            .update_key(&KeyRef::Key(dead.clone()), &s, 0, |k| {
                k.state = KeyState::PendingDeletion;
                k.deletion_ms = Some(7 * MS_PER_DAY);
                Ok(())
            })
            .unwrap();
        store
            .update_key(&KeyRef::Key(live.clone()), &s, 0, |k| {
                k.rotation_period_days = Some(90);
                k.next_rotation_ms = Some(90 * MS_PER_DAY);
                Ok(())
            })
            .unwrap();
        assert_eq!(store.maintain(MS_PER_DAY).unwrap(), Maintenance::default());
        // After the waiting period the key is gone for lookups even before maintenance runs.
        let later = 100 * MS_PER_DAY;
        assert_eq!(
            store
                .read()
                .resolve(&KeyRef::Key(dead.clone()), &s, later)
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        let m = store.maintain(later).unwrap();
        assert_eq!(m.deleted, vec![dead.clone()]);
        assert_eq!(m.rotated, vec![live.clone()]);
        drop(store);
        let (store, _) = Store::open(&d).unwrap();
        let inner = store.read();
        assert!(!inner.keys.contains_key(&dead));
        assert!(inner.aliases.is_empty());
        let k = inner.live(&live, later).unwrap();
        assert_eq!(k.versions.len(), 2);
        assert_eq!(k.next_rotation_ms, Some(later + 90 * MS_PER_DAY));
        drop(inner);
        drop(store);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn alias_rules_duplicate_missing_and_pending_targets() {
        let d = scratch("store-alias");
        let (store, _) = Store::open(&d).unwrap();
        let s = scope();
        let k = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let id = k.id.clone();
        store.insert_new(k).unwrap();
        let kref = KeyRef::Key(id.clone());
        store.create_alias("alias/x", &kref, &s, 0).unwrap();
        assert_eq!(
            store
                .create_alias("alias/x", &kref, &s, 0)
                .unwrap_err()
                .kind,
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            store
                .update_alias("alias/nope", &kref, &s, 0)
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            store.delete_alias("alias/nope", &s).unwrap_err().kind,
            ErrorKind::NotFound
        );
        let missing = KeyRef::Key("00000000-0000-4000-8000-000000000000".into());
        assert_eq!(
            store
                .create_alias("alias/y", &missing, &s, 0)
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        store
            .update_key(&kref, &s, 0, |k| {
                k.state = KeyState::PendingDeletion;
                k.deletion_ms = Some(MS_PER_DAY * 7);
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store
                .create_alias("alias/y", &kref, &s, 0)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidState
        );
        assert_eq!(store.delete_alias("alias/x", &s).unwrap(), s.key_arn(&id));
        drop(store);
        fs::remove_dir_all(&d).unwrap();
    }
}
