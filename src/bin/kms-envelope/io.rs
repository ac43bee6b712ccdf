//! Input and output streams. Files are written to a temporary sibling and renamed into place
//! only when the whole command succeeded, so a failure never leaves a partial output behind.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kms_envelope::{Error, Result};

/// Chunk size for reads; independent of the frame length.
pub const CHUNK: usize = 64 * 1024;

pub fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub fn open_input(path: &Path) -> Result<Box<dyn Read>> {
    if is_std(path) {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = File::open(path).map_err(|e| io_err("cannot open", path, e))?;
    Ok(Box::new(f))
}

/// Read until `buf` is full or the input ends; returns the bytes read.
pub fn read_chunk(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(format!("read failed: {e}"))),
        }
    }
    Ok(n)
}

/// An output that becomes visible only on [`Output::commit`]; dropped uncommitted, it deletes
/// its temporary file.
pub struct Output {
    target: Option<PathBuf>,
    temp: Option<PathBuf>,
    writer: Box<dyn Write>,
}

impl Output {
    pub fn create(path: &Path) -> Result<Output> {
        if is_std(path) {
            return Ok(Output {
                target: None,
                temp: None,
                writer: Box::new(std::io::stdout().lock()),
            });
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("--out {} is not a file", path.display()))
        })?;
        let mut suffix = [0u8; 6];
        kms_envelope::crypto::random::fill(&mut suffix)?;
        let tag: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let temp = dir.join(format!(".{}.tmp-{tag}", name.to_string_lossy()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io_err("cannot create", &temp, e))?;
        Ok(Output {
            target: Some(path.to_path_buf()),
            temp: Some(temp),
            writer: Box::new(std::io::BufWriter::with_capacity(CHUNK, f)),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.writer
            .write_all(bytes)
            .map_err(|e| Error::Io(format!("write failed: {e}")))
    }

    pub fn commit(mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| Error::Io(format!("write failed: {e}")))?;
        // Close the file before renaming it.
        self.writer = Box::new(std::io::sink());
        if let (Some(temp), Some(target)) = (self.temp.take(), self.target.as_ref())
            && let Err(e) = std::fs::rename(&temp, target)
        {
            let _ = std::fs::remove_file(&temp);
            return Err(io_err("cannot rename into", target, e));
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            self.writer = Box::new(std::io::sink());
            let _ = std::fs::remove_file(temp);
        }
    }
}
