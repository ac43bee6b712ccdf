//! Command-line flags.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::auth::AccessKey;

pub const DEFAULT_PORT: u16 = 4599;
pub const DEFAULT_DATA_DIR: &str = "./.kms-dev-data";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT: &str = "111122223333";
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

pub const USAGE: &str = "\
kms-dev-server: a development/test server for the AWS KMS JSON 1.1 API subset.
NOT for production keys.

USAGE:
    kms-dev-server [OPTIONS]

OPTIONS:
    --listen ADDR:PORT      address to listen on [default: 127.0.0.1:4599]; port 0 picks a free port
    --data-dir DIR          where keys, aliases, the master key and audit.log live [default: ./.kms-dev-data]
    --region REGION         region in ARNs and SigV4 scopes [default: us-east-1]
    --account-id ID         12-digit account id in ARNs [default: 111122223333]
    --allow-origin ORIGIN   CORS origin allowed to call (repeatable): exact (http://localhost:8080),
                            any port (http://localhost:*), or *
                            [default: http://localhost:* http://127.0.0.1:* http://[::1]:*]
    --seed-key ALIAS        create a key with this alias at startup unless the alias exists (repeatable)
    --access-key ID:SECRET[:SESSION_TOKEN]
                            require valid SigV4 signatures made with these credentials (repeatable)
    --bearer-token TOKEN    accept (and require) 'Authorization: Bearer TOKEN'
    --allow-remote          allow a non-loopback --listen address (think twice: see README)
    --max-connections N     concurrent connections served [default: 256]
    -h, --help              print this help
    -V, --version           print the version
";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    pub allow_origins: Vec<String>,
    pub seed_keys: Vec<String>,
    pub access_keys: Vec<AccessKey>,
    pub bearer_token: Option<String>,
    pub allow_remote: bool,
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT.into(),
            allow_origins: crate::cors::DEFAULT_ORIGINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            seed_keys: Vec::new(),
            access_keys: Vec::new(),
            bearer_token: None,
            allow_remote: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s
        .strip_prefix("localhost:")
        .map(|p| format!("127.0.0.1:{p}"))
        .unwrap_or_else(|| s.to_owned());
    s.parse()
        .map_err(|_| format!("--listen wants ADDR:PORT such as 127.0.0.1:4599, got {s:?}"))
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses arguments (without the program name). Accepts `--flag value` and `--flag=value`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut cfg = Config::default();
    let mut origins: Option<Vec<String>> = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--listen" => cfg.listen = parse_listen(&value()?)?,
            "--data-dir" => cfg.data_dir = PathBuf::from(value()?),
            "--region" => {
                let r = value()?;
                if !valid_region(&r) {
                    return Err(format!(
                        "--region {r:?} is not a region name like us-east-1"
                    ));
                }
                cfg.region = r;
            }
            "--account-id" => {
                let a = value()?;
                if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("--account-id {a:?} must be 12 digits"));
                }
                cfg.account_id = a;
            }
            "--allow-origin" => origins.get_or_insert_with(Vec::new).push(value()?),
            "--seed-key" => {
                let v = value()?;
                let alias = if v.starts_with("alias/") {
                    v
                } else {
                    format!("alias/{v}")
                };
                crate::ids::validate_alias_name(&alias)
                    .map_err(|e| format!("--seed-key: {}", e.message))?;
                cfg.seed_keys.push(alias);
            }
            "--access-key" => cfg.access_keys.push(AccessKey::parse(&value()?)?),
            "--bearer-token" => {
                let t = value()?;
                if t.is_empty() || t.chars().any(char::is_whitespace) {
                    return Err("--bearer-token must be non-empty without whitespace".into());
                }
                cfg.bearer_token = Some(t);
            }
            "--allow-remote" => cfg.allow_remote = true,
            "--max-connections" => {
                let v = value()?;
                cfg.max_connections = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--max-connections {v:?} must be a positive number"))?;
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if let Some(o) = origins {
        cfg.allow_origins = o;
    }
    crate::cors::Cors::new(&cfg.allow_origins)?;
    if !cfg.listen.ip().is_loopback() && !cfg.allow_remote {
        return Err(format!(
            "--listen {} is not a loopback address; this development server keeps keys without real access control, so pass --allow-remote if you really mean it",
            cfg.listen
        ));
    }
    Ok(Command::Run(Box::new(cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse_args(args.iter().map(|s| (*s).to_owned()))? {
            Command::Run(c) => Ok(*c),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn defaults_are_loopback_4599_and_localhost_origins() {
        let c = run(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4599");
        assert_eq!(c.data_dir, PathBuf::from("./.kms-dev-data"));
        assert_eq!(
            (c.region.as_str(), c.account_id.as_str()),
            ("us-east-1", "111122223333")
        );
        assert_eq!(c.allow_origins.len(), 3);
        assert!(c.access_keys.is_empty() && c.bearer_token.is_none());
    }

    #[test]
    fn all_flags_parse_in_both_forms() {
        let c = run(&[
            "--listen",
            "127.0.0.1:0",
            "--data-dir=/tmp/x",
            "--region",
            "eu-west-1",
            "--account-id=123456789012",
            "--allow-origin",
            "http://localhost:3000",
            "--allow-origin=*",
            "--seed-key",
            "demo",
            "--seed-key",
            "alias/two",
            "--access-key",
            "AKID:SECRET",
            "--bearer-token",
            "tok",
            "--max-connections",
            "8",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.allow_origins, ["http://localhost:3000", "*"]);
        assert_eq!(c.seed_keys, ["alias/demo", "alias/two"]);
        assert_eq!(c.access_keys[0].id, "AKID");
        assert_eq!(c.bearer_token.as_deref(), Some("tok"));
        assert_eq!(c.max_connections, 8);
        assert_eq!(
            run(&["--listen", "localhost:5"])
                .unwrap()
                .listen
                .to_string(),
            "127.0.0.1:5"
        );
        assert_eq!(
            run(&["--listen", "[::1]:5"]).unwrap().listen.to_string(),
            "[::1]:5"
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        for args in [
            &["--listen", "0.0.0.0:1"][..],
            &["--listen", "nope"],
            &["--region", "US EAST"],
            &["--account-id", "12345"],
            &["--allow-origin", "localhost"],
            &["--seed-key", "bad name"],
            &["--access-key", "nosecret"],
            &["--bearer-token", ""],
            &["--max-connections", "0"],
            &["--frobnicate"],
            &["--listen"],
        ] {
            assert!(run(args).is_err(), "{args:?}");
        }
        assert!(run(&["--listen", "0.0.0.0:1", "--allow-remote"]).is_ok());
        assert!(matches!(
            parse_args(["--help".to_owned()]),
            Ok(Command::Help)
        ));
    }
}
