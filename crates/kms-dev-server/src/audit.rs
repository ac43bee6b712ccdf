//! A CloudTrail-like audit log: one JSON line per KMS request in `DATA_DIR/audit.log`, plus the
//! most recent entries in memory for `GET /audit`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::blob::EncryptionContext;
use crate::fsutil;

pub const AUDIT_FILE: &str = "audit.log";
/// Entries kept in memory (and the most `GET /audit?limit=` returns).
pub const RECENT: usize = 1000;
/// How much of an existing log is read back at startup.
const TAIL_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub time: String,
    pub request_id: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// ReEncrypt only: the key and context the ciphertext came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_encryption_context: Option<EncryptionContext>,
    pub access_key_id: Option<String>,
    /// none | sigv4-unverified | sigv4 | bearer
    pub auth: String,
    pub source_address: String,
    pub user_agent: Option<String>,
    /// "ok" or "error"
    pub outcome: String,
    pub error_type: Option<String>,
}

pub struct Audit {
    file: Mutex<File>,
    recent: Mutex<VecDeque<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Audit {
    /// Opens (creating, mode 0600) the log and reloads its tail. A last line cut short by a
    /// crash is skipped and terminated, so the next entry starts on its own line.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(AUDIT_FILE);
        let mut file = fsutil::open_append_private(&path)?;
        let mut reader = File::open(&path)?;
        let len = reader.metadata()?.len();
        reader.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail)?;
        if tail.last().is_some_and(|b| *b != b'\n') {
            file.write_all(b"\n")?;
        }
        let mut recent = VecDeque::with_capacity(RECENT);
        for line in tail.split(|b| *b == b'\n') {
            if serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.is_object()) {
                if recent.len() == RECENT {
                    recent.pop_front();
                }
                recent.push_back(String::from_utf8_lossy(line).into_owned());
            }
        }
        Ok(Self {
            file: Mutex::new(file),
            recent: Mutex::new(recent),
        })
    }

    /// Appends one entry. One `write` per line on an `O_APPEND` file; not fsynced (losing the
    /// last lines in a power cut is acceptable for a dev log, unlike losing a key).
    pub fn record(&self, entry: &Entry) {
        let Ok(line) = serde_json::to_string(entry) else {
            return;
        };
        {
            let mut f = lock(&self.file);
            let mut buf = line.clone().into_bytes();
            buf.push(b'\n');
            if let Err(e) = f.write_all(&buf) {
                eprintln!("kms-dev-server: audit log write failed: {e}");
            }
        }
        let mut r = lock(&self.recent);
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(line);
    }

    /// The last `limit` entries as a JSON array, oldest first (newest last).
    pub fn recent_json(&self, limit: usize) -> String {
        let r = lock(&self.recent);
        let skip = r.len().saturating_sub(limit);
        let items: Vec<&str> = r.iter().skip(skip).map(String::as_str).collect();
        format!("[{}]", items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::scratch;

    fn entry(op: &str) -> Entry {
        Entry {
            time: "2026-01-01T00:00:00.000Z".into(),
            request_id: "r".into(),
            operation: op.into(),
            key_arn: None,
            encryption_context: Some([("a".to_owned(), "b".to_owned())].into()),
            source_key_arn: None,
            source_encryption_context: None,
            access_key_id: Some("AKID".into()),
            auth: "sigv4".into(),
            source_address: "127.0.0.1:1".into(),
            user_agent: None,
            outcome: "ok".into(),
            error_type: None,
        }
    }

    #[test]
    fn entries_are_lines_and_recent_is_newest_last() {
        let d = scratch("audit");
        let a = Audit::open(&d).unwrap();
        for op in ["A", "B", "C"] {
            a.record(&entry(op));
        }
        let v: Vec<serde_json::Value> = serde_json::from_str(&a.recent_json(2)).unwrap();
        assert_eq!(
            v.iter()
                .map(|e| e["operation"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["B", "C"]
        );
        assert_eq!(v[0]["encryption_context"]["a"], "b");
        assert_eq!(a.recent_json(0), "[]");
        let text = std::fs::read_to_string(d.join(AUDIT_FILE)).unwrap();
        assert_eq!(text.lines().count(), 3);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reopen_reloads_tail_and_heals_a_torn_last_line() {
        let d = scratch("audit-torn");
        let a = Audit::open(&d).unwrap();
        a.record(&entry("A"));
        drop(a);
        // A crash mid-write leaves half a line.
        let mut f = fsutil::open_append_private(&d.join(AUDIT_FILE)).unwrap();
        f.write_all(b"{\"time\":\"2026").unwrap();
        drop(f);
        let a = Audit::open(&d).unwrap();
        a.record(&entry("B"));
        let v: Vec<serde_json::Value> = serde_json::from_str(&a.recent_json(10)).unwrap();
        assert_eq!(
            v.iter()
                .map(|e| e["operation"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["A", "B"]
        );
        let text = std::fs::read_to_string(d.join(AUDIT_FILE)).unwrap();
        assert!(text.lines().last().unwrap().contains("\"B\""));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
