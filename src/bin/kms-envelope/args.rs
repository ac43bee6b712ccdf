//! Command-line parsing (lexopt: no proc macros, small).

use std::ffi::OsString;
use std::path::PathBuf;

use kms_envelope::{AlgorithmSuite, CommitmentPolicy, EncryptionContext, Error, Result};
use lexopt::prelude::*;

/// `NAMESPACE:NAME:KEYFILE`.
#[derive(Debug, Clone)]
pub struct RawAesSpec {
    pub namespace: String,
    pub name: String,
    pub key_file: PathBuf,
}

/// Which subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Encrypt,
    Decrypt,
    Inspect,
}

/// Everything the user said.
#[derive(Debug)]
pub struct Args {
    pub command: Command,
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub context: EncryptionContext,
    pub required_context_keys: Vec<String>,
    pub require_context: EncryptionContext,
    pub suite: Option<AlgorithmSuite>,
    pub frame_length: Option<u32>,
    pub commitment_policy: Option<CommitmentPolicy>,
    pub max_encrypted_data_keys: Option<usize>,
    pub max_frame_length: Option<u32>,
    pub raw_aes: Vec<RawAesSpec>,
    /// `--kms-*` and `--region` (kms_args.rs).
    pub kms: crate::kms_args::KmsArgs,
}

pub const USAGE: &str = "\
usage:
  kms-envelope encrypt --in P --out P [--context k=v]... [--required-context-key K]...
                       [--suite 0478|0578] [--frame-length N] --raw-aes NAMESPACE:NAME:KEYFILE...
  kms-envelope decrypt --in P --out P [--raw-aes NAMESPACE:NAME:KEYFILE]...
                       [--require-context k=v]... [--commitment-policy require-require|require-allow|forbid-allow]
  kms-envelope inspect --in P
  (P may be - for stdin/stdout; --max-encrypted-data-keys N limits wrapped keys;
   decrypt --max-frame-length N raises the 67108864-byte default frame limit)
  KMS keyring: --kms-key ARN... (first generates) | --kms-discovery [--discovery-account ID]...
       [--discovery-partition P] [--kms-endpoint URL] [--region R] [--kms-stats]
       credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; AWS_ENDPOINT_URL_KMS";

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(msg.to_string())
}

fn text(v: OsString, flag: &str) -> Result<String> {
    v.into_string()
        .map_err(|_| bad(format!("{flag}: value is not valid UTF-8")))
}

fn pair(v: &str, flag: &str) -> Result<(String, String)> {
    v.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| bad(format!("{flag} expects k=v, got {v:?}")))
}

fn raw_aes(v: &str) -> Result<RawAesSpec> {
    let mut parts = v.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(ns), Some(name), Some(file))
            if !ns.is_empty() && !name.is_empty() && !file.is_empty() =>
        {
            Ok(RawAesSpec {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                key_file: PathBuf::from(file),
            })
        }
        _ => Err(bad(format!(
            "--raw-aes expects NAMESPACE:NAME:KEYFILE, got {v:?}"
        ))),
    }
}

impl Args {
    /// Parse `argv` (without the program name).
    pub fn parse(argv: Vec<OsString>) -> Result<Args> {
        let mut p = lexopt::Parser::from_args(argv);
        let command = match p.next().map_err(bad)? {
            Some(Value(v)) => match text(v, "command")?.as_str() {
                "encrypt" => Command::Encrypt,
                "decrypt" => Command::Decrypt,
                "inspect" => Command::Inspect,
                other => return Err(bad(format!("unknown command {other:?}\n{USAGE}"))),
            },
            _ => return Err(bad(USAGE)),
        };
        let mut a = Args {
            command,
            input: None,
            output: None,
            context: EncryptionContext::new(),
            required_context_keys: Vec::new(),
            require_context: EncryptionContext::new(),
            suite: None,
            frame_length: None,
            commitment_policy: None,
            max_encrypted_data_keys: None,
            max_frame_length: None,
            raw_aes: Vec::new(),
            kms: Default::default(),
        };
        while let Some(arg) = p.next().map_err(bad)? {
            let Long(flag) = arg else {
                return Err(bad(format!(
                    "unexpected argument {:?}\n{USAGE}",
                    arg.unexpected()
                )));
            };
            let flag = flag.to_owned();
            if a.kms.take(&flag, &mut p)? {
                continue;
            }
            let value = text(p.value().map_err(bad)?, &flag)?;
            match flag.as_str() {
                "in" => a.input = Some(PathBuf::from(value)),
                "out" => a.output = Some(PathBuf::from(value)),
                "context" => {
                    let (k, v) = pair(&value, "--context")?;
                    if a.context.insert(k.clone(), v).is_some() {
                        return Err(bad(format!("--context key {k:?} given twice")));
                    }
                }
                "required-context-key" => a.required_context_keys.push(value),
                "require-context" => {
                    let (k, v) = pair(&value, "--require-context")?;
                    if a.require_context.insert(k.clone(), v).is_some() {
                        return Err(bad(format!("--require-context key {k:?} given twice")));
                    }
                }
                "suite" => a.suite = Some(AlgorithmSuite::parse(&value)?),
                "frame-length" => {
                    a.frame_length = Some(value.parse().map_err(|_| {
                        bad(format!(
                            "--frame-length expects 1..2147483647, got {value:?}"
                        ))
                    })?)
                }
                "commitment-policy" => a.commitment_policy = Some(CommitmentPolicy::parse(&value)?),
                "max-encrypted-data-keys" => {
                    a.max_encrypted_data_keys = Some(value.parse().map_err(|_| {
                        bad(format!(
                            "--max-encrypted-data-keys expects a number, got {value:?}"
                        ))
                    })?)
                }
                "max-frame-length" => {
                    a.max_frame_length = Some(value.parse().map_err(|_| {
                        bad(format!(
                            "--max-frame-length expects 1..2147483647, got {value:?}"
                        ))
                    })?)
                }
                "raw-aes" => a.raw_aes.push(raw_aes(&value)?),
                other => return Err(bad(format!("unknown option --{other}\n{USAGE}"))),
            }
        }
        a.validate()?;
        Ok(a)
    }

    fn validate(&self) -> Result<()> {
        if self.input.is_none() {
            return Err(bad("--in is required"));
        }
        let encrypt_only = !self.context.is_empty()
            || !self.required_context_keys.is_empty()
            || self.suite.is_some()
            || self.frame_length.is_some();
        self.kms.validate(self.command)?;
        match self.command {
            Command::Encrypt | Command::Decrypt if self.output.is_none() => {
                Err(bad("--out is required"))
            }
            Command::Encrypt if self.raw_aes.is_empty() && !self.kms.is_used() => Err(bad(
                "encrypt needs at least one keyring (--raw-aes or --kms-key)",
            )),
            Command::Encrypt if !self.require_context.is_empty() => {
                Err(bad("--require-context is for decrypt; use --context"))
            }
            Command::Decrypt if encrypt_only => Err(bad(
                "--context, --required-context-key, --suite and --frame-length are for encrypt",
            )),
            _ => Ok(()),
        }
    }
}
