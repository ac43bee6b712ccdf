//! Crash-safe file writes: a file is either its old content or its new content, never a mix,
//! and once a write returns it survives a crash (kill -9 or power loss).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Marker in temporary file names; leftovers from a crash are removed at startup.
pub const TMP_MARKER: &str = ".tmp-";

fn open_private(path: &Path, create_new: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).append(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Opens (creating with mode 0600) a file for appending.
pub fn open_append_private(path: &Path) -> io::Result<File> {
    open_private(path, false)
}

/// Creates a directory (and parents) with mode 0700 if it does not exist.
pub fn create_dir_private(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn temp_path(dir: &Path, name: &str) -> io::Result<PathBuf> {
    let r: [u8; 8] = crate::crypto::random().map_err(io::Error::other)?;
    let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(format!(".{name}{TMP_MARKER}{suffix}")))
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = temp_path(dir, name)?;
    let result = open_private(&tmp, true).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replaces `dir/name` atomically: write a temp file, fsync it, rename over, fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(dir, name, bytes)?;
    if let Err(e) = fs::rename(&tmp, dir.join(name)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(dir)
}

/// Creates `dir/name` atomically only if it does not exist yet (a hard link never replaces a
/// file), so two processes racing to create it cannot both win. Returns `AlreadyExists` otherwise.
pub fn create_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(dir, name, bytes)?;
    let linked = fs::hard_link(&tmp, dir.join(name));
    let _ = fs::remove_file(&tmp);
    linked?;
    fsync_dir(dir)
}

/// Removes temp files a crash left behind in `dir`; returns how many.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().contains(TMP_MARKER) {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    if n > 0 {
        fsync_dir(dir)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::scratch;

    #[test]
    fn write_atomic_replaces_content_and_leaves_no_temp() {
        let d = scratch("atomic");
        write_atomic(&d, "f.json", b"one").unwrap();
        write_atomic(&d, "f.json", b"two").unwrap();
        assert_eq!(fs::read(d.join("f.json")).unwrap(), b"two");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(d.join("f.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_atomic_never_overwrites() {
        let d = scratch("create");
        create_atomic(&d, "m", b"first").unwrap();
        let e = create_atomic(&d, "m", b"second").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(d.join("m")).unwrap(), b"first");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_temps_are_removed_and_real_files_kept() {
        let d = scratch("stale");
        fs::write(d.join(".k.json.tmp-0011"), b"partial").unwrap();
        fs::write(d.join("k.json"), b"{}").unwrap();
        assert_eq!(remove_stale_temps(&d).unwrap(), 1);
        assert!(d.join("k.json").exists());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }
}
