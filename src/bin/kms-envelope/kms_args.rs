//! The CLI's KMS options: `--kms-key ARN` (repeatable; the first is the generator),
//! `--kms-discovery [--discovery-account ID]… [--discovery-partition P]`, `--kms-endpoint URL`,
//! `--region R`, `--kms-stats`. Credentials come from `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`; the endpoint from `AWS_ENDPOINT_URL_KMS`
//! (then `AWS_ENDPOINT_URL`) like the AWS tools, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
//! is `true`.
// `Client` takes `Arc<dyn Keyring>`; the KMS keyring is deliberately !Send (browser transports).
#![allow(clippy::arc_with_non_send_sync)]

use std::sync::Arc;

use kms_envelope::keyring::{DiscoveryFilter, Keyring, KmsKeyring};
use kms_envelope::kms::{Auth, Credentials, Endpoint, KmsArn, KmsClient, Metrics};
use kms_envelope::{Error, Result};

use crate::args::Command;

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(msg.to_string())
}

/// What the user said about KMS.
#[derive(Debug, Default)]
pub struct KmsArgs {
    pub keys: Vec<String>,
    pub discovery: bool,
    pub discovery_accounts: Vec<String>,
    pub discovery_partition: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub stats: bool,
    metrics: Metrics,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl KmsArgs {
    /// Consume `--flag` (and its value) if it is a KMS option.
    pub fn take(&mut self, flag: &str, p: &mut lexopt::Parser) -> Result<bool> {
        let mut value = || -> Result<String> {
            p.value()
                .map_err(bad)?
                .into_string()
                .map_err(|_| bad(format!("--{flag}: value is not valid UTF-8")))
        };
        match flag {
            "kms-key" => self.keys.push(value()?),
            "kms-discovery" => self.discovery = true,
            "discovery-account" => self.discovery_accounts.push(value()?),
            "discovery-partition" => self.discovery_partition = Some(value()?),
            "kms-endpoint" => self.endpoint = Some(value()?),
            "region" => self.region = Some(value()?),
            "kms-stats" => self.stats = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether a KMS keyring was asked for.
    pub fn is_used(&self) -> bool {
        !self.keys.is_empty() || self.discovery
    }

    /// Refuse combinations that cannot work, before anything is read or called.
    pub fn validate(&self, command: Command) -> Result<()> {
        if self.discovery && command == Command::Encrypt {
            return Err(bad(
                "--kms-discovery is for decrypt; encrypt needs --kms-key",
            ));
        }
        if self.discovery && !self.keys.is_empty() {
            return Err(bad("use either --kms-key or --kms-discovery, not both"));
        }
        if !self.discovery
            && (!self.discovery_accounts.is_empty() || self.discovery_partition.is_some())
        {
            return Err(bad(
                "--discovery-account/--discovery-partition need --kms-discovery",
            ));
        }
        if self.discovery_partition.is_some() && self.discovery_accounts.is_empty() {
            return Err(bad(
                "--discovery-partition needs at least one --discovery-account",
            ));
        }
        if command == Command::Decrypt
            && let Some(k) = self.keys.iter().find(|k| KmsArn::parse_key(k).is_err())
        {
            return Err(bad(format!(
                "--kms-key {k:?}: decrypt needs key ARNs (arn:…:kms:<region>:<account>:key/<id>); \
                     messages store the key ARN, so an alias or key id never matches"
            )));
        }
        if command == Command::Inspect && (self.is_used() || self.endpoint.is_some()) {
            return Err(bad("inspect does not call KMS"));
        }
        Ok(())
    }

    fn region(&self) -> Result<String> {
        self.region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| {
                self.keys
                    .iter()
                    .find_map(|k| KmsArn::parse(k).ok().map(|a| a.region))
            })
            .ok_or_else(|| bad("no region: pass --region or set AWS_REGION (or use key ARNs)"))
    }

    fn endpoint(&self, region: &str) -> Result<Endpoint> {
        let ignore_env = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let configured = self.endpoint.clone().or_else(|| {
            if ignore_env {
                None
            } else {
                env("AWS_ENDPOINT_URL_KMS").or_else(|| env("AWS_ENDPOINT_URL"))
            }
        });
        match configured {
            Some(url) => Endpoint::parse(&url),
            None => Endpoint::for_region(region),
        }
        .map_err(|e| bad(e.message))
    }

    /// The KMS client: SigV4 with the environment's credentials. A loopback endpoint (moto,
    /// the dev server) without credentials gets dummy ones: moto routes by the SigV4 scope.
    fn client(&self) -> Result<KmsClient> {
        let region = self.region()?;
        let endpoint = self.endpoint(&region)?;
        let credentials = match Credentials::from_env() {
            Some(c) => c,
            None if endpoint.is_loopback() => Credentials::new("kms-envelope-local", "dummy", None),
            None => {
                return Err(bad(
                    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                     (and AWS_SESSION_TOKEN for temporary credentials)",
                ));
            }
        };
        let client = KmsClient::native(endpoint, region, Auth::static_credentials(credentials))
            .map_err(|e| bad(e.message))?;
        Ok(client.with_metrics(self.metrics.clone()))
    }

    /// The KMS keyring, if one was asked for.
    pub fn keyring(&self) -> Result<Option<Arc<dyn Keyring>>> {
        if !self.is_used() {
            return Ok(None);
        }
        let client = self.client()?;
        let ring = if self.discovery {
            let filter = (!self.discovery_accounts.is_empty()).then(|| DiscoveryFilter {
                partition: self
                    .discovery_partition
                    .clone()
                    .unwrap_or_else(|| "aws".into()),
                accounts: self.discovery_accounts.clone(),
            });
            KmsKeyring::discovery(client, filter)?
        } else {
            let mut keys = self.keys.clone();
            let generator = keys.remove(0);
            KmsKeyring::strict(client, Some(generator), keys)?
        };
        Ok(Some(Arc::new(ring)))
    }

    /// With `--kms-stats`, print the KMS counters to stderr as one JSON line.
    pub fn report(&self) {
        if !self.stats {
            return;
        }
        let s = self.metrics.snapshot();
        let ops: serde_json::Map<String, serde_json::Value> = s
            .operations
            .iter()
            .map(|(op, o)| {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                (
                    (*op).to_string(),
                    serde_json::json!({
                        "calls": o.calls,
                        "attempts": o.attempts,
                        "successes": o.successes,
                        "failures": o.failures,
                        "total_ms": ms(o.total_latency),
                        "max_ms": ms(o.max_latency),
                    }),
                )
            })
            .collect();
        let line = serde_json::json!({
            "kms_calls": s.total_calls(),
            "operations": ops,
            "errors": s.errors,
            "retried_errors": s.retried_errors,
        });
        eprintln!("kms-envelope: kms-stats: {line}");
    }
}
