//! The `kms-envelope` command line: round trips, stdin/stdout, streaming of files larger than
//! the read chunk, and every kind of bad input. A failure must exit non-zero (2 for
//! `INVALID_ARGUMENT`, 1 otherwise), print exactly one line on stderr,
//! `kms-envelope: error: CODE: message`, and leave no output file (nor a temporary one) behind;
//! an existing output file is left untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_kms-envelope");

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!(
            "kms-envelope-cli-{}-{test}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Names of everything in the directory, hidden files included.
    fn listing(&self) -> BTreeSet<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Write from a thread so a child that fails early cannot deadlock us.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr on success: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Non-zero exit (2 for INVALID_ARGUMENT, else 1), exactly one stderr line naming `code`.
/// Returns the stderr line, or what is wrong.
fn check_failure(out: &Output, code: &str) -> Result<String, String> {
    let err = String::from_utf8(out.stderr.clone()).map_err(|e| e.to_string())?;
    let expected_exit = if code == "INVALID_ARGUMENT" { 2 } else { 1 };
    if out.status.code() != Some(expected_exit) {
        return Err(format!(
            "exit status {:?}, expected {expected_exit}; stderr: {err:?}",
            out.status.code()
        ));
    }
    if !err.ends_with('\n') || err.matches('\n').count() != 1 {
        return Err(format!("stderr must be exactly one line: {err:?}"));
    }
    let prefix = format!("kms-envelope: error: {code}: ");
    if !err.starts_with(&prefix) || err.len() <= prefix.len() + 1 {
        return Err(format!("expected {prefix:?} and a message, got {err:?}"));
    }
    Ok(err)
}

fn fails(out: &Output, code: &str) -> String {
    check_failure(out, code).unwrap_or_else(|e| panic!("{e}"))
}

/// A working directory with two wrapping keys and a plaintext.
struct Setup {
    dir: TempDir,
    key1: PathBuf,
    key2: PathBuf,
    pt: Vec<u8>,
    input: PathBuf,
}

const NS: &str = "kms-envelope-cli-tests";

impl Setup {
    fn new(test: &str) -> Setup {
        let dir = TempDir::new(test);
        let key1 = dir.write("key1.bin", &[0x61; 32]);
        let key2 = dir.write("key2.bin", &[0x62; 16]);
        let pt: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let input = dir.write("plain.txt", &pt);
        Setup {
            dir,
            key1,
            key2,
            pt,
            input,
        }
    }

    fn raw1(&self) -> String {
        format!("{NS}:key-1:{}", s(&self.key1))
    }

    fn raw2(&self) -> String {
        format!("{NS}:key-2:{}", s(&self.key2))
    }

    /// Encrypt `plain.txt` to `name` with key 1 and `extra` arguments.
    fn encrypt(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.dir.path(name);
        let raw = self.raw1();
        let mut args = vec![
            "encrypt",
            "--in",
            s(&self.input),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ];
        args.extend_from_slice(extra);
        ok(&run(&args, None));
        out
    }

    /// Run a command expected to fail writing `out.bin`; checks that the directory is unchanged
    /// (no output, no temporary file).
    fn refuse(&self, args: &[&str], code: &str) -> String {
        let before = self.dir.listing();
        let err = fails(&run(args, None), code);
        assert_eq!(
            self.dir.listing(),
            before,
            "a failed command left files behind ({args:?})"
        );
        err
    }

    fn out(&self) -> PathBuf {
        self.dir.path("out.bin")
    }
}

fn inspect(path: &Path) -> serde_json::Value {
    let out = run(&["inspect", "--in", s(path)], None);
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Success.

#[test]
fn round_trip_both_suites_with_context_and_frame_length() {
    let t = Setup::new("round-trip");
    for (suite, id) in [("0478", "0x0478"), ("0578", "0x0578"), ("0x0578", "0x0578")] {
        let ct = t.encrypt(
            "ct.bin",
            &[
                "--suite",
                suite,
                "--frame-length",
                "1000",
                "--context",
                "purpose=cli test",
                "--context",
                "ключ=значение",
            ],
        );
        let h = inspect(&ct);
        assert_eq!(h["suite_id"], id);
        assert_eq!(h["frame_length"], 1000);
        assert_eq!(h["content_type"], "framed");
        assert_eq!(h["encryption_context"]["purpose"], "cli test");
        assert_eq!(h["encryption_context"]["ключ"], "значение");
        assert_eq!(
            h["encryption_context"]
                .get("aws-crypto-public-key")
                .is_some(),
            id == "0x0578"
        );
        assert_eq!(h["encrypted_data_keys"][0]["provider_id"], NS);
        let out = t.dir.path("back.txt");
        let raw = t.raw1();
        ok(&run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&out),
                "--raw-aes",
                &raw,
            ],
            None,
        ));
        assert_eq!(std::fs::read(&out).unwrap(), t.pt);
        // With the context required back.
        ok(&run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&out),
                "--raw-aes",
                &raw,
                "--require-context",
                "purpose=cli test",
            ],
            None,
        ));
        assert_eq!(std::fs::read(&out).unwrap(), t.pt);
    }
    let names = t.dir.listing();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporary files remain: {names:?}"
    );
}

#[test]
fn default_suite_is_0578_with_64_kib_frames() {
    let t = Setup::new("defaults");
    let ct = t.encrypt("ct.bin", &[]);
    let h = inspect(&ct);
    assert_eq!(h["suite_id"], "0x0578");
    assert_eq!(h["version"], 2);
    assert_eq!(h["frame_length"], 65536);
    assert_eq!(h["authenticated"], false);
}

#[test]
fn empty_plaintext_round_trips() {
    let t = Setup::new("empty");
    let empty = t.dir.write("empty.txt", b"");
    let ct = t.dir.path("ct.bin");
    let raw = t.raw1();
    ok(&run(
        &[
            "encrypt",
            "--in",
            s(&empty),
            "--out",
            s(&ct),
            "--raw-aes",
            &raw,
        ],
        None,
    ));
    let back = t.dir.path("back.txt");
    ok(&run(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&back),
            "--raw-aes",
            &raw,
        ],
        None,
    ));
    assert_eq!(std::fs::read(&back).unwrap(), b"");
}

#[test]
fn stdin_and_stdout() {
    let t = Setup::new("stdio");
    let raw = t.raw1();
    let enc = run(
        &[
            "encrypt",
            "--in",
            "-",
            "--out",
            "-",
            "--raw-aes",
            &raw,
            "--suite",
            "0478",
        ],
        Some(&t.pt),
    );
    ok(&enc);
    assert_eq!(&enc.stdout[..3], &[0x02, 0x04, 0x78]);
    let dec = run(
        &["decrypt", "--in", "-", "--out", "-", "--raw-aes", &raw],
        Some(&enc.stdout),
    );
    ok(&dec);
    assert_eq!(dec.stdout, t.pt);
    // Mixed: file in, stdout out; stdin in, file out.
    let ct = t.dir.write("ct.bin", &enc.stdout);
    let dec = run(
        &["decrypt", "--in", s(&ct), "--out", "-", "--raw-aes", &raw],
        None,
    );
    ok(&dec);
    assert_eq!(dec.stdout, t.pt);
    let back = t.dir.path("back.txt");
    ok(&run(
        &["decrypt", "--in", "-", "--out", s(&back), "--raw-aes", &raw],
        Some(&enc.stdout),
    ));
    assert_eq!(std::fs::read(&back).unwrap(), t.pt);
    // inspect reads stdin too.
    let h = run(&["inspect", "--in", "-"], Some(&enc.stdout));
    ok(&h);
    let h: serde_json::Value = serde_json::from_slice(&h.stdout).unwrap();
    assert_eq!(h["suite_id"], "0x0478");
    // Failure on stdin/stdout: one line, non-zero, and nothing on stdout for a header error.
    let mut bad = enc.stdout.clone();
    bad[0] = 9;
    let out = run(
        &["decrypt", "--in", "-", "--out", "-", "--raw-aes", &raw],
        Some(&bad),
    );
    fails(&out, "MALFORMED_MESSAGE");
    assert!(out.stdout.is_empty());
}

#[test]
fn two_keys_either_decrypts() {
    let t = Setup::new("two-keys");
    let raw1 = t.raw1();
    let raw2 = t.raw2();
    let ct = t.dir.path("ct.bin");
    ok(&run(
        &[
            "encrypt",
            "--in",
            s(&t.input),
            "--out",
            s(&ct),
            "--raw-aes",
            &raw1,
            "--raw-aes",
            &raw2,
        ],
        None,
    ));
    let h = inspect(&ct);
    let edks = h["encrypted_data_keys"].as_array().unwrap();
    assert_eq!(edks.len(), 2);
    // The first --raw-aes is the generator, written first.
    assert!(
        edks[0]["provider_info_hex"]
            .as_str()
            .unwrap()
            .starts_with(&hex::encode("key-1"))
    );
    assert!(
        edks[1]["provider_info_hex"]
            .as_str()
            .unwrap()
            .starts_with(&hex::encode("key-2"))
    );
    assert_eq!(
        edks[1]["ciphertext_length"], 48,
        "a 32-byte data key wrapped under AES-128"
    );
    for raw in [&raw1, &raw2] {
        let back = t.dir.path("back.txt");
        ok(&run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&back),
                "--raw-aes",
                raw,
            ],
            None,
        ));
        assert_eq!(std::fs::read(&back).unwrap(), t.pt);
    }
    // A limit of one wrapped key refuses it.
    let out = t.out();
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&out),
            "--raw-aes",
            &raw1,
            "--max-encrypted-data-keys",
            "1",
        ],
        "TOO_MANY_ENCRYPTED_DATA_KEYS",
    );
}

#[test]
fn required_context_key_must_be_supplied_on_decrypt() {
    let t = Setup::new("required");
    let ct = t.encrypt(
        "ct.bin",
        &[
            "--context",
            "tenant=acme",
            "--context",
            "purpose=x",
            "--required-context-key",
            "tenant",
        ],
    );
    let h = inspect(&ct);
    assert!(
        h["encryption_context"].get("tenant").is_none(),
        "required pairs are not stored"
    );
    assert_eq!(h["encryption_context"]["purpose"], "x");
    let raw = t.raw1();
    let out = t.out();
    ok(&run(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
            "--require-context",
            "tenant=acme",
        ],
        None,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), t.pt);
    std::fs::remove_file(&out).unwrap();
    // Missing or wrong: the key cannot be unwrapped (its AAD is the full context).
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ],
        "NO_DECRYPTABLE_KEY",
    );
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
            "--require-context",
            "tenant=evil",
        ],
        "NO_DECRYPTABLE_KEY",
    );
}

#[test]
fn commitment_policy_on_decrypt() {
    let t = Setup::new("policy");
    let ct = t.encrypt("ct.bin", &[]);
    let raw = t.raw1();
    let out = t.out();
    // forbid-allow forbids *encrypting* with committing suites; it decrypts anything.
    for policy in [
        "forbid-allow",
        "require-allow",
        "require-require",
        "FORBID_ENCRYPT_ALLOW_DECRYPT",
    ] {
        ok(&run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&out),
                "--raw-aes",
                &raw,
                "--commitment-policy",
                policy,
            ],
            None,
        ));
        assert_eq!(std::fs::read(&out).unwrap(), t.pt);
    }
    std::fs::remove_file(&out).unwrap();
    // A legacy (non-committing, 0x0178) message from the Python ESDK.
    let legacy = common::shared_dir().join("vectors/nonframed/v1_nonframed_aes256_0178.bin");
    let expected = std::fs::read(
        common::shared_dir().join("vectors/nonframed/v1_nonframed_plaintext_small.bin"),
    )
    .unwrap();
    // The `aes-256` key of the vectors' keys.json.
    let key = t.dir.write(
        "vector-key.bin",
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "AAECAwQFBgcICRAREhMUFRYXGBkgISIjJCUmJygpMDE=",
        )
        .unwrap(),
    );
    let vraw = format!("aws-raw-vectors-persistant:aes-256:{}", s(&key));
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&legacy),
            "--out",
            s(&out),
            "--raw-aes",
            &vraw,
        ],
        "COMMITMENT_POLICY",
    );
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&legacy),
            "--out",
            s(&out),
            "--raw-aes",
            &vraw,
            "--commitment-policy",
            "require-require",
        ],
        "COMMITMENT_POLICY",
    );
    for policy in ["require-allow", "forbid-allow"] {
        ok(&run(
            &[
                "decrypt",
                "--in",
                s(&legacy),
                "--out",
                s(&out),
                "--raw-aes",
                &vraw,
                "--commitment-policy",
                policy,
            ],
            None,
        ));
        assert_eq!(std::fs::read(&out).unwrap(), expected);
    }
    std::fs::remove_file(&out).unwrap();
    // forbid-allow with a committing suite asked for explicitly is refused.
    let input = t.input.clone();
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
            "--commitment-policy",
            "forbid-allow",
            "--suite",
            "0578",
        ],
        "COMMITMENT_POLICY",
    );
}

#[test]
fn a_file_larger_than_the_read_chunk_streams() {
    let t = Setup::new("large");
    // 3 MiB, not a multiple of anything in particular.
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let input = t.dir.write("big.bin", &big);
    let ct = t.dir.path("big.ct");
    let raw = t.raw1();
    ok(&run(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&ct),
            "--raw-aes",
            &raw,
            "--frame-length",
            "4096",
        ],
        None,
    ));
    let ct_bytes = std::fs::read(&ct).unwrap();
    // 768 full frames of 4096 bytes + a final frame of 17 bytes, then the footer.
    let h = inspect(&ct);
    let header_len = h["header_length"].as_u64().unwrap() as usize;
    let body = 768 * (4 + 12 + 4096 + 16) + (4 + 4 + 12 + 4 + 17 + 16);
    let footer = ct_bytes.len() - header_len - body;
    assert!(
        (2 + 8..=2 + 104).contains(&footer),
        "footer of {footer} bytes"
    );
    let back = t.dir.path("big.back");
    ok(&run(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&back),
            "--raw-aes",
            &raw,
        ],
        None,
    ));
    assert_eq!(std::fs::read(&back).unwrap(), big);
    // Through pipes as well.
    let dec = run(
        &["decrypt", "--in", "-", "--out", "-", "--raw-aes", &raw],
        Some(&ct_bytes),
    );
    ok(&dec);
    assert_eq!(dec.stdout.len(), big.len());
    assert!(dec.stdout == big);

    // Streaming shows when the input is damaged near its end: to a file, nothing is left; to
    // stdout, the frames that authenticated before the damage were already written (which is
    // why a consumer must discard a stream that ends in an error), and they are genuine.
    let cut = t.dir.write("cut.ct", &ct_bytes[..ct_bytes.len() - 200]);
    let before = t.dir.listing();
    fails(
        &run(
            &[
                "decrypt",
                "--in",
                s(&cut),
                "--out",
                s(&t.out()),
                "--raw-aes",
                &raw,
            ],
            None,
        ),
        "TRUNCATED",
    );
    assert_eq!(t.dir.listing(), before);
    let dec = run(
        &["decrypt", "--in", s(&cut), "--out", "-", "--raw-aes", &raw],
        None,
    );
    fails(&dec, "TRUNCATED");
    assert!(
        !dec.stdout.is_empty(),
        "plaintext was streamed before the end of the input"
    );
    assert!(dec.stdout.len() < big.len());
    assert!(dec.stdout[..] == big[..dec.stdout.len()]);
}

// ---------------------------------------------------------------------------------------------
// Bad arguments.

#[test]
fn bad_arguments_are_invalid_argument() {
    let t = Setup::new("args");
    let raw = t.raw1();
    let input = s(&t.input).to_owned();
    let out_path = t.out();
    let out = s(&out_path).to_owned();
    let short_key = t.dir.write("short.key", &[1; 31]);
    let short = format!("{NS}:k:{}", s(&short_key));
    let empty_key = t.dir.write("empty.key", b"");
    let empty = format!("{NS}:k:{}", s(&empty_key));
    let long_key = t.dir.write("long.key", &[1; 33]);
    let long = format!("{NS}:k:{}", s(&long_key));
    let kms_ns = format!("aws-kms:k:{}", s(&t.key1));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "no command"),
        (vec!["frobnicate", "--in", &input], "unknown command"),
        (
            vec!["encrypt", "--out", &out, "--raw-aes", &raw],
            "missing --in",
        ),
        (
            vec!["encrypt", "--in", &input, "--raw-aes", &raw],
            "missing --out",
        ),
        (
            vec!["encrypt", "--in", &input, "--out", &out],
            "encrypt without a key",
        ),
        (
            vec!["decrypt", "--in", &input, "--out", &out],
            "decrypt without a key",
        ),
        (vec!["inspect"], "inspect without --in"),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--bogus",
                "1",
            ],
            "unknown flag",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "stray",
            ],
            "positional argument",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "-x",
            ],
            "short flag",
        ),
        (
            vec!["encrypt", "--in", &input, "--out", &out, "--raw-aes"],
            "flag without value",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                "ns:name",
            ],
            "--raw-aes without key file",
        ),
        (
            vec!["encrypt", "--in", &input, "--out", &out, "--raw-aes", "::"],
            "--raw-aes all empty",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                "ns::file",
            ],
            "--raw-aes without name",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &short,
            ],
            "31-byte key",
        ),
        (
            vec!["encrypt", "--in", &input, "--out", &out, "--raw-aes", &long],
            "33-byte key",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &empty,
            ],
            "empty key file",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &short,
            ],
            "31-byte key on decrypt",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &kms_ns,
            ],
            "reserved aws-kms namespace",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--suite",
                "bogus",
            ],
            "unknown suite",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--frame-length",
                "0",
            ],
            "frame length 0",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--frame-length",
                "2147483648",
            ],
            "frame length 2^31",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--frame-length",
                "-1",
            ],
            "negative frame length",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--frame-length",
                "4k",
            ],
            "frame length not a number",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--context",
                "novalue",
            ],
            "--context without =",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--context",
                "a=1",
                "--context",
                "a=2",
            ],
            "--context key twice",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--context",
                "aws-crypto-public-key=x",
            ],
            "reserved context key",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--required-context-key",
                "absent",
            ],
            "required key not in the context",
        ),
        (
            vec![
                "encrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--require-context",
                "a=1",
            ],
            "--require-context on encrypt",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--context",
                "a=1",
            ],
            "--context on decrypt",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--suite",
                "0478",
            ],
            "--suite on decrypt",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--frame-length",
                "16",
            ],
            "--frame-length on decrypt",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--commitment-policy",
                "lax",
            ],
            "unknown commitment policy",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--require-context",
                "x",
            ],
            "--require-context without =",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--max-encrypted-data-keys",
                "0",
            ],
            "max EDKs 0",
        ),
        (
            vec![
                "decrypt",
                "--in",
                &input,
                "--out",
                &out,
                "--raw-aes",
                &raw,
                "--max-encrypted-data-keys",
                "many",
            ],
            "max EDKs not a number",
        ),
    ];
    for (args, what) in &cases {
        let before = t.dir.listing();
        let outcome = run(args, None);
        if let Err(e) = check_failure(&outcome, "INVALID_ARGUMENT") {
            panic!("{what}: {args:?}: {e}");
        }
        assert_eq!(t.dir.listing(), before, "{what}: files left behind");
    }
    println!("{} bad argument lists refused", cases.len());
}

#[test]
fn non_committing_suite_is_refused_for_encryption() {
    let t = Setup::new("suite");
    let raw = t.raw1();
    let input = t.input.clone();
    let out = t.out();
    for suite in [
        "0178",
        "0x0078",
        "0578-no",
        "AES_256_GCM_IV12_TAG16_HKDF_SHA256",
    ] {
        // The default policy (require-require) forbids writing non-committing suites.
        let code = if suite == "0578-no" {
            "INVALID_ARGUMENT"
        } else {
            "COMMITMENT_POLICY"
        };
        t.refuse(
            &[
                "encrypt",
                "--in",
                s(&input),
                "--out",
                s(&out),
                "--raw-aes",
                &raw,
                "--suite",
                suite,
            ],
            code,
        );
    }
    // P-256 signing (0x0214) is not implemented, whatever the policy.
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
            "--commitment-policy",
            "forbid-allow",
            "--suite",
            "0214",
        ],
        "UNSUPPORTED_SUITE",
    );
    // A suite id that does not exist at all.
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
            "--suite",
            "0x1234",
        ],
        "UNSUPPORTED_SUITE",
    );
}

// ---------------------------------------------------------------------------------------------
// Bad files.

#[test]
fn missing_files_are_io_errors() {
    let t = Setup::new("io");
    let raw = t.raw1();
    let out = t.out();
    let missing = t.dir.path("does-not-exist");
    let missing_key = format!("{NS}:k:{}", s(&missing));
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&missing),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ],
        "IO_ERROR",
    );
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&missing),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ],
        "IO_ERROR",
    );
    t.refuse(&["inspect", "--in", s(&missing)], "IO_ERROR");
    let input = t.input.clone();
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&out),
            "--raw-aes",
            &missing_key,
        ],
        "IO_ERROR",
    );
    // Output into a directory that does not exist.
    let nowhere = t.dir.path("no-such-dir").join("out.bin");
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&nowhere),
            "--raw-aes",
            &raw,
        ],
        "IO_ERROR",
    );
    // The output is an existing directory: refused, and the temporary file is cleaned up.
    let sub = t.dir.path("sub");
    std::fs::create_dir(&sub).unwrap();
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&sub),
            "--raw-aes",
            &raw,
        ],
        "IO_ERROR",
    );
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 0);
    // The key file is a directory.
    let dir_key = format!("{NS}:k:{}", s(&t.dir.0));
    t.refuse(
        &[
            "encrypt",
            "--in",
            s(&input),
            "--out",
            s(&out),
            "--raw-aes",
            &dir_key,
        ],
        "IO_ERROR",
    );
}

#[test]
fn undecryptable_messages_leave_nothing_behind() {
    let t = Setup::new("bad-messages");
    let raw = t.raw1();
    let ct_path = t.encrypt(
        "ct.bin",
        &["--context", "purpose=tests", "--frame-length", "512"],
    );
    let ct = std::fs::read(&ct_path).unwrap();
    let header_len = inspect(&ct_path)["header_length"].as_u64().unwrap() as usize;
    let out = t.out();
    let o = s(&out).to_owned();

    let wrong_key = t.dir.write("wrong.key", &[0x77; 32]);
    let wrong = format!("{NS}:key-1:{}", s(&wrong_key));
    let other_name = format!("{NS}:key-9:{}", s(&t.key1));
    let ctp = s(&ct_path).to_owned();
    t.refuse(
        &["decrypt", "--in", &ctp, "--out", &o, "--raw-aes", &wrong],
        "NO_DECRYPTABLE_KEY",
    );
    t.refuse(
        &[
            "decrypt",
            "--in",
            &ctp,
            "--out",
            &o,
            "--raw-aes",
            &other_name,
        ],
        "NO_DECRYPTABLE_KEY",
    );
    t.refuse(
        &[
            "decrypt",
            "--in",
            &ctp,
            "--out",
            &o,
            "--raw-aes",
            &raw,
            "--require-context",
            "purpose=other",
        ],
        "CONTEXT_MISMATCH",
    );
    // A pair the message does not have is treated as a required (bound, unstored) pair: the
    // data key's AAD then differs.
    t.refuse(
        &[
            "decrypt",
            "--in",
            &ctp,
            "--out",
            &o,
            "--raw-aes",
            &raw,
            "--require-context",
            "extra=1",
        ],
        "NO_DECRYPTABLE_KEY",
    );

    let mut variants: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut tampered = ct.clone();
    tampered[header_len + 100] ^= 1; // inside frame 1's ciphertext
    variants.push(("tampered frame", tampered, "AUTHENTICATION_FAILED"));
    let mut tampered = ct.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1; // signature
    variants.push(("tampered signature", tampered, "AUTHENTICATION_FAILED"));
    let mut tampered = ct.clone();
    tampered[header_len - 1] ^= 1; // header tag
    variants.push(("tampered header tag", tampered, "AUTHENTICATION_FAILED"));
    let mut tampered = ct.clone();
    tampered[1] = 0x01; // suite 0x0178 in a v2 header
    variants.push(("v1 suite in a v2 header", tampered, "MALFORMED_MESSAGE"));
    let mut tampered = ct.clone();
    tampered[2] = 0x79;
    variants.push(("unknown suite", tampered, "UNSUPPORTED_SUITE"));
    variants.push((
        "truncated in the body",
        ct[..ct.len() / 2].to_vec(),
        "TRUNCATED",
    ));
    variants.push((
        "truncated in the header",
        ct[..header_len / 2].to_vec(),
        "TRUNCATED",
    ));
    variants.push(("one byte short", ct[..ct.len() - 1].to_vec(), "TRUNCATED"));
    variants.push(("empty", Vec::new(), "TRUNCATED"));
    let mut trailing = ct.clone();
    trailing.push(0);
    variants.push(("trailing byte", trailing, "MALFORMED_MESSAGE"));
    let mut twice = ct.clone();
    twice.extend_from_slice(&ct);
    variants.push(("two messages", twice, "MALFORMED_MESSAGE"));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &ct);
    variants.push(("Base64 text", b64.into_bytes(), "MALFORMED_MESSAGE"));
    variants.push(("plaintext", t.pt.clone(), "MALFORMED_MESSAGE"));

    for (what, bytes, code) in &variants {
        let bad = t.dir.write("bad.bin", bytes);
        let bad_s = s(&bad).to_owned();
        let err = t.refuse(
            &["decrypt", "--in", &bad_s, "--out", &o, "--raw-aes", &raw],
            code,
        );
        // Same through pipes: one line, and for failures before any frame nothing on stdout.
        let piped = run(
            &["decrypt", "--in", "-", "--out", "-", "--raw-aes", &raw],
            Some(bytes),
        );
        let err2 = fails(&piped, code);
        assert_eq!(err, err2, "{what}: file and pipe report the same error");
        if *code != "TRUNCATED" && *code != "MALFORMED_MESSAGE" {
            assert!(
                piped.stdout.is_empty(),
                "{what}: no plaintext before the damage"
            );
        }
        assert!(
            t.pt.starts_with(&piped.stdout),
            "{what}: only genuine plaintext, if any"
        );
        if *what == "Base64 text" {
            assert!(err.contains("Base64"), "{err}");
        }
    }
    println!("{} damaged messages refused", variants.len());
}

#[test]
fn a_failed_decrypt_leaves_an_existing_output_untouched() {
    let t = Setup::new("existing");
    let raw = t.raw1();
    let ct = t.encrypt("ct.bin", &[]);
    let mut bytes = std::fs::read(&ct).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    let bad = t.dir.write("bad.bin", &bytes);
    let out = t.dir.write("out.bin", b"precious");
    t.refuse(
        &[
            "decrypt",
            "--in",
            s(&bad),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ],
        "AUTHENTICATION_FAILED",
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    // A successful one replaces it.
    ok(&run(
        &[
            "decrypt",
            "--in",
            s(&ct),
            "--out",
            s(&out),
            "--raw-aes",
            &raw,
        ],
        None,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), t.pt);
}

#[test]
fn inspect_refuses_what_is_not_a_header() {
    let t = Setup::new("inspect");
    let ct = t.encrypt("ct.bin", &[]);
    let bytes = std::fs::read(&ct).unwrap();
    let h = inspect(&ct);
    let header_len = h["header_length"].as_u64().unwrap() as usize;
    // The header alone is enough for inspect.
    let header_only = t.dir.write("header.bin", &bytes[..header_len]);
    assert_eq!(inspect(&header_only), h);
    for (what, data, code) in [
        ("empty", Vec::new(), "TRUNCATED"),
        ("header cut", bytes[..header_len - 1].to_vec(), "TRUNCATED"),
        ("plaintext", t.pt.clone(), "MALFORMED_MESSAGE"),
        (
            "unknown suite",
            [&[2u8, 0x12, 0x34][..], &bytes[3..]].concat(),
            "UNSUPPORTED_SUITE",
        ),
    ] {
        let f = t.dir.write("x.bin", &data);
        let out = run(&["inspect", "--in", s(&f)], None);
        if let Err(e) = check_failure(&out, code) {
            panic!("{what}: {e}");
        }
        assert!(out.stdout.is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// What the CLI writes, the CLI reads.

/// Encrypt with `--frame-length fl`; `None` if encrypt refuses it up front (fine, with a clear
/// code and nothing written).
fn encrypt_with_frame_length(t: &Setup, fl: &str) -> Option<PathBuf> {
    let ct = t.dir.path(&format!("ct-{fl}.bin"));
    let raw = t.raw1();
    let enc = run(
        &[
            "encrypt",
            "--in",
            s(&t.input),
            "--out",
            s(&ct),
            "--raw-aes",
            &raw,
            "--frame-length",
            fl,
        ],
        None,
    );
    if enc.status.success() {
        return Some(ct);
    }
    assert!(
        check_failure(&enc, "INVALID_ARGUMENT").is_ok()
            || check_failure(&enc, "LIMIT_EXCEEDED").is_ok(),
        "{fl}: {}",
        String::from_utf8_lossy(&enc.stderr)
    );
    assert!(!ct.exists());
    None
}

// Decrypt bounds memory by refusing frame lengths over 2^26 by default. A frame length that
// encrypt accepts must then either be refused by encrypt up front, or decrypt (and inspect,
// which decrypts nothing) must accept the message it produced.
const LARGE_FRAME_LENGTHS: [&str; 3] = ["67108864", "67108865", "2147483647"];

#[test]
fn inspect_accepts_every_header_encrypt_writes() {
    let t = Setup::new("big-frames-inspect");
    for fl in LARGE_FRAME_LENGTHS {
        let Some(ct) = encrypt_with_frame_length(&t, fl) else {
            continue;
        };
        let h = run(&["inspect", "--in", s(&ct)], None);
        assert!(
            h.status.success(),
            "frame length {fl}: inspect refuses a header encrypt wrote: {}",
            String::from_utf8_lossy(&h.stderr)
        );
        let h: serde_json::Value = serde_json::from_slice(&h.stdout).unwrap();
        assert_eq!(h["frame_length"].to_string(), fl);
    }
}

#[test]
fn decrypt_accepts_every_message_encrypt_writes() {
    let t = Setup::new("big-frames-decrypt");
    let raw = t.raw1();
    for fl in LARGE_FRAME_LENGTHS {
        let Some(ct) = encrypt_with_frame_length(&t, fl) else {
            continue;
        };
        let out = t.dir.path("back.txt");
        let dec = run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&out),
                "--raw-aes",
                &raw,
            ],
            None,
        );
        assert!(
            dec.status.success(),
            "frame length {fl}: encrypt accepted it but decrypt refuses its own output: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(std::fs::read(&out).unwrap(), t.pt);
    }
}

#[test]
fn forbid_allow_writes_legacy_suites_that_require_allow_reads() {
    let t = Setup::new("legacy-suite");
    let raw = t.raw1();
    for (suite, expect) in [
        (None, "0x0378"),
        (Some("0178"), "0x0178"),
        (Some("0346"), "0x0346"),
    ] {
        let ct = t.dir.path("legacy.bin");
        let mut args = vec![
            "encrypt",
            "--in",
            s(&t.input),
            "--out",
            s(&ct),
            "--raw-aes",
            &raw,
            "--commitment-policy",
            "forbid-allow",
        ];
        if let Some(suite) = suite {
            args.extend(["--suite", suite]);
        }
        let enc = run(&args, None);
        assert!(
            enc.status.success(),
            "{suite:?}: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let inspect = run(&["inspect", "--in", s(&ct)], None);
        assert!(
            String::from_utf8_lossy(&inspect.stdout).contains(expect),
            "{suite:?}"
        );
        // The default policy refuses to read it; require-allow reads it.
        let back = t.dir.path("legacy.out");
        let refused = run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&back),
                "--raw-aes",
                &raw,
            ],
            None,
        );
        assert!(String::from_utf8_lossy(&refused.stderr).contains("COMMITMENT_POLICY"));
        let dec = run(
            &[
                "decrypt",
                "--in",
                s(&ct),
                "--out",
                s(&back),
                "--raw-aes",
                &raw,
                "--commitment-policy",
                "require-allow",
            ],
            None,
        );
        assert!(
            dec.status.success(),
            "{}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(std::fs::read(&back).unwrap(), t.pt);
    }
}
