//! Routing, the accept loop and per-connection threads.

use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::json;
use zeroize::Zeroizing;

use crate::api::{self, AuditInfo, Ctx};
use crate::audit::{Audit, Entry};
use crate::auth::{AuthConfig, parse_authorization};
use crate::config::Config;
use crate::cors::Cors;
use crate::error::{ErrorKind, KmsError};
use crate::http::{self, ReadError, Request, Response};
use crate::ids::{self, AliasPolicy, KeyRef, Scope};
use crate::store::{KeyRecord, Store, StoreError};
use crate::time;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";
/// How long an idle keep-alive connection (or a slow request) may hold a thread.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub enum StartError {
    Store(StoreError),
    Io {
        what: String,
        source: std::io::Error,
    },
    Config(String),
    Seed(KmsError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "data directory: {e}"),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Config(m) => f.write_str(m),
            Self::Seed(e) => write!(f, "--seed-key: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Everything a request handler needs; shared by all connection threads.
pub struct App {
    pub scope: Scope,
    pub store: Store,
    pub audit: Audit,
    pub auth: AuthConfig,
    pub cors: Cors,
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    Response::new(status, CONTENT_TYPE, body)
}

fn error_response(e: &KmsError, request_id: &str) -> Response {
    json_response(e.kind.status(), e.to_body())
        .header("x-amzn-RequestId", request_id)
        .header("X-Amzn-ErrorType", e.kind.type_name())
}

fn new_request_id() -> String {
    ids::new_uuid()
        .map(|u| ids::format_uuid(&u))
        .unwrap_or_else(|_| "00000000-0000-0000-0000-000000000000".into())
}

impl App {
    pub fn open(cfg: &Config) -> Result<(Self, Vec<String>), StartError> {
        let (store, notes) = Store::open(&cfg.data_dir).map_err(StartError::Store)?;
        let audit = Audit::open(&cfg.data_dir).map_err(|source| StartError::Io {
            what: "audit log".into(),
            source,
        })?;
        let cors = Cors::new(&cfg.allow_origins).map_err(StartError::Config)?;
        let auth = AuthConfig {
            access_keys: cfg.access_keys.clone(),
            bearer_token: cfg.bearer_token.clone().map(Zeroizing::new),
            region: cfg.region.clone(),
        };
        let scope = Scope {
            region: cfg.region.clone(),
            account: cfg.account_id.clone(),
        };
        let app = Self {
            scope,
            store,
            audit,
            auth,
            cors,
        };
        app.store
            .maintain(time::now_ms())
            .map_err(StartError::Seed)?;
        Ok((app, notes))
    }

    /// Creates a key for `alias` unless the alias exists; returns the new key's ARN if it did.
    pub fn seed(&self, alias: &str) -> Result<Option<String>, KmsError> {
        let now = time::now_ms();
        if self
            .store
            .read()
            .resolve(&KeyRef::Alias(alias.to_owned()), &self.scope, now)
            .is_ok()
        {
            return Ok(None);
        }
        let rec = KeyRecord::generate(
            format!("seed key for {alias} (kms-dev-server)"),
            Vec::new(),
            now,
        )
        .map_err(|e| KmsError::internal(e.to_string()))?;
        let id = rec.id.clone();
        self.store.insert_new(rec)?;
        self.store
            .create_alias(alias, &KeyRef::Key(id.clone()), &self.scope, now)?;
        Ok(Some(self.scope.key_arn(&id)))
    }

    /// Answers one request. Never panics on request content (see `serve_connection` for the net).
    pub fn handle(&self, req: &Request, peer: SocketAddr) -> Response {
        let origin = req.header("origin");
        let resp = if req.method == "OPTIONS" {
            match (self.cors.preflight(req), origin) {
                (Some(r), _) => return r.header("Date", time::http_date(time::now_ms())),
                (None, Some(o)) => self.origin_denied(o),
                (None, None) => Response {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                }
                .header("Allow", "GET, HEAD, POST, OPTIONS"),
            }
        } else {
            self.route(req, peer, origin)
        };
        self.cors
            .decorate(origin, resp)
            .header("Date", time::http_date(time::now_ms()))
    }

    fn origin_denied(&self, origin: &str) -> Response {
        let e = KmsError::new(
            ErrorKind::AccessDenied,
            format!(
                "Origin '{origin}' is not allowed; start kms-dev-server with --allow-origin {origin}"
            ),
        );
        json_response(403, e.to_body()).header("X-Amzn-ErrorType", e.kind.type_name())
    }

    fn route(&self, req: &Request, peer: SocketAddr, origin: Option<&str>) -> Response {
        let origin_ok = origin.is_none_or(|o| self.cors.allows(o));
        let get = matches!(req.method.as_str(), "GET" | "HEAD");
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/") => self.handle_kms(req, peer, origin),
            _ if !origin_ok => self.origin_denied(origin.unwrap_or_default()),
            (_, "/health") if get => Response::new(200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            (_, "/audit") if get => self.handle_audit(req),
            (_, "/") if get => Response::new(
                200,
                "application/json",
                json!({
                    "service": "kms-dev-server",
                    "version": env!("CARGO_PKG_VERSION"),
                    "note": "development/test server for the AWS KMS JSON 1.1 API; not for production keys",
                    "region": self.scope.region,
                    "account": self.scope.account,
                    "operations": api::OPERATIONS,
                })
                .to_string()
                .into_bytes(),
            ),
            (_, "/" | "/health" | "/audit") => {
                let e = KmsError::new(ErrorKind::UnknownOperation, format!("Method {} is not allowed here", req.method));
                json_response(405, e.to_body()).header("Allow", "GET, HEAD, POST, OPTIONS")
            }
            _ => {
                let e = KmsError::new(ErrorKind::UnknownOperation, format!("No such path {}; KMS requests are POST /", req.path));
                json_response(404, e.to_body())
            }
        }
    }

    fn handle_audit(&self, req: &Request) -> Response {
        let request_id = new_request_id();
        if let Err(e) = self.auth.authenticate(req, time::now_ms()) {
            return error_response(&e, &request_id);
        }
        let limit = match req.query_param("limit") {
            None => 100,
            Some(v) => match v.parse::<usize>() {
                Ok(n) => n.min(crate::audit::RECENT),
                Err(_) => {
                    return error_response(
                        &KmsError::validation("limit must be a non-negative integer"),
                        &request_id,
                    );
                }
            },
        };
        Response::new(
            200,
            "application/json",
            self.audit.recent_json(limit).into_bytes(),
        )
        .header("x-amzn-RequestId", request_id)
    }

    fn handle_kms(&self, req: &Request, peer: SocketAddr, origin: Option<&str>) -> Response {
        let request_id = new_request_id();
        let now = time::now_ms();
        let target = req.header("x-amz-target");
        let op = target.and_then(|t| t.strip_prefix(TARGET_PREFIX));
        let mut entry = Entry {
            time: time::rfc3339(now),
            request_id: request_id.clone(),
            operation: op
                .or(target)
                .unwrap_or("(none)")
                .chars()
                .take(128)
                .collect(),
            key_arn: None,
            encryption_context: None,
            source_key_arn: None,
            source_encryption_context: None,
            access_key_id: req
                .header("authorization")
                .and_then(|h| parse_authorization(h).ok())
                .map(|h| h.access_key_id),
            auth: "rejected".into(),
            source_address: peer.to_string(),
            user_agent: req
                .header("user-agent")
                .map(|u| u.chars().take(256).collect()),
            outcome: "error".into(),
            error_type: None,
        };
        let mut info = AuditInfo::default();
        let result = (|| {
            if let Some(o) = origin.filter(|o| !self.cors.allows(o)) {
                return Err(KmsError::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "Origin '{o}' is not allowed; start kms-dev-server with --allow-origin {o}"
                    ),
                ));
            }
            let caller = self.auth.authenticate(req, now)?;
            entry.access_key_id = caller.access_key_id;
            entry.auth = caller.method.as_str().into();
            let op = op.ok_or_else(|| match target {
                None => KmsError::new(
                    ErrorKind::UnknownOperation,
                    "Missing X-Amz-Target header (expected TrentService.<Operation>)",
                ),
                Some(t) => KmsError::new(
                    ErrorKind::UnknownOperation,
                    format!("Unknown X-Amz-Target '{t}' (expected TrentService.<Operation>)"),
                ),
            })?;
            let ctx = Ctx {
                store: &self.store,
                scope: &self.scope,
                now_ms: now,
            };
            api::dispatch(&ctx, op, &req.body, &mut info)
        })();
        entry.key_arn = info.key_arn;
        entry.encryption_context = info.encryption_context;
        entry.source_key_arn = info.source_key_arn;
        entry.source_encryption_context = info.source_encryption_context;
        let resp = match result {
            Ok(value) => {
                entry.outcome = "ok".into();
                let body = if value.is_null() {
                    b"{}".to_vec()
                } else {
                    value.to_string().into_bytes()
                };
                json_response(200, body).header("x-amzn-RequestId", request_id)
            }
            Err(e) => {
                entry.error_type = Some(e.kind.type_name().into());
                let mut r = error_response(&e, &request_id);
                if e.kind == ErrorKind::AccessDenied && origin.is_some_and(|o| !self.cors.allows(o))
                {
                    r.status = 403;
                }
                r
            }
        };
        self.audit.record(&entry);
        resp
    }
}

/// A bound listener plus the app; `run` serves forever.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    max_connections: usize,
}

struct ConnSlot(Arc<AtomicUsize>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Server {
    pub fn bind(cfg: &Config) -> Result<(Self, Vec<String>), StartError> {
        let (app, notes) = App::open(cfg)?;
        let listener = TcpListener::bind(cfg.listen).map_err(|source| StartError::Io {
            what: format!("listen on {}", cfg.listen),
            source,
        })?;
        Ok((
            Self {
                listener,
                app: Arc::new(app),
                max_connections: cfg.max_connections,
            },
            notes,
        ))
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn app(&self) -> Arc<App> {
        Arc::clone(&self.app)
    }

    /// Serves until the process ends. Every change is durable before it is answered, so
    /// stopping the process at any moment (SIGTERM, SIGKILL) loses nothing that was acknowledged.
    pub fn run(self) {
        let maint = Arc::clone(&self.app);
        let spawned = thread::Builder::new()
            .name("maintenance".into())
            .spawn(move || {
                loop {
                    thread::sleep(MAINTENANCE_EVERY);
                    match maint.store.maintain(time::now_ms()) {
                        Ok(m) => {
                            for id in m.deleted {
                                eprintln!("kms-dev-server: deleted key {id} (waiting period over)");
                            }
                            for id in m.rotated {
                                eprintln!("kms-dev-server: rotated key {id} (automatic rotation)");
                            }
                        }
                        Err(e) => eprintln!("kms-dev-server: maintenance failed: {e}"),
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("kms-dev-server: could not start the maintenance thread: {e}");
        }
        let active = Arc::new(AtomicUsize::new(0));
        for conn in self.listener.incoming() {
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    eprintln!("kms-dev-server: accept failed: {e}");
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if active.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
                active.fetch_sub(1, Ordering::AcqRel);
                reject_busy(stream);
                continue;
            }
            let slot = ConnSlot(Arc::clone(&active));
            let app = Arc::clone(&self.app);
            let spawned = thread::Builder::new().name("conn".into()).spawn(move || {
                let _slot = slot;
                serve_connection(&app, stream);
            });
            if let Err(e) = spawned {
                eprintln!("kms-dev-server: could not start a connection thread: {e}");
            }
        }
    }
}

fn reject_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let e = KmsError::new(
        ErrorKind::LimitExceeded,
        "Too many concurrent connections to kms-dev-server",
    );
    let _ = http::write_response(&mut stream, &json_response(503, e.to_body()), false, false);
}

fn transport_error(status: u16, message: &str) -> Response {
    let kind = if status == 400 {
        ErrorKind::Serialization
    } else {
        ErrorKind::Validation
    };
    let e = KmsError::new(kind, message);
    json_response(status, e.to_body()).header("X-Amzn-ErrorType", kind.type_name())
}

/// Serves requests on one connection until it closes, errs or idles out.
pub fn serve_connection(app: &App, stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = BufWriter::new(stream);
    loop {
        let req = match http::read_request(&mut reader, &mut writer) {
            Ok(r) => r,
            Err(ReadError::Closed | ReadError::Io(_)) => return,
            Err(ReadError::Malformed(m)) => {
                let _ = http::write_response(&mut writer, &transport_error(400, m), false, false);
                return;
            }
            Err(ReadError::TooLarge(m)) => {
                let status = if m.contains("body") { 413 } else { 431 };
                let _ =
                    http::write_response(&mut writer, &transport_error(status, m), false, false);
                return;
            }
            Err(ReadError::Unsupported(m)) => {
                let _ = http::write_response(&mut writer, &transport_error(501, m), false, false);
                return;
            }
        };
        let resp = catch_unwind(AssertUnwindSafe(|| app.handle(&req, peer))).unwrap_or_else(|_| {
            let e = KmsError::internal("kms-dev-server hit an internal error (see its stderr)");
            error_response(&e, &new_request_id())
        });
        let keep_alive = req.keep_alive();
        if http::write_response(&mut writer, &resp, keep_alive, req.method == "HEAD").is_err()
            || !keep_alive
        {
            let _ = writer.flush();
            return;
        }
    }
}

/// A KeyId for `--seed-key` reporting; exposed for main.
pub fn describe_alias(app: &App, alias: &str) -> Option<String> {
    let r = ids::parse_key_ref(alias, &app.scope, AliasPolicy::Allowed).ok()?;
    let inner = app.store.read();
    inner
        .resolve(&r, &app.scope, time::now_ms())
        .ok()
        .map(|k| app.scope.key_arn(&k.id))
}
