//! CORS for browser callers: which origins may call, and the headers preflights and responses
//! carry. An `Origin` that is not allowed is also refused server-side, which keeps a page on
//! another site (or a DNS-rebinding attack) from driving a loopback server through the browser.

use crate::http::{Request, Response};

/// Request headers our SDK and the AWS SDKs send.
pub const ALLOW_HEADERS: &str = "content-type, x-amz-target, x-amz-date, authorization, x-amz-security-token, x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request, x-amz-content-sha256";
pub const ALLOW_METHODS: &str = "POST, GET, OPTIONS";
/// Without these a page cannot read the request id, error type or server clock.
pub const EXPOSE_HEADERS: &str = "x-amzn-RequestId, x-amzn-ErrorType, Date";
pub const MAX_AGE_SECS: u32 = 600;

pub const DEFAULT_ORIGINS: [&str; 3] =
    ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    /// `scheme://host` with any port (or none): written `scheme://host:*`.
    AnyPort {
        scheme: String,
        host: String,
    },
    Exact(String),
}

/// Splits `scheme://host[:port]` (host may be `[v6]`); `None` if it is not an origin.
fn split_origin(origin: &str) -> Option<(String, String, Option<&str>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{h}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    if host.is_empty() || port.is_some_and(|p| p.is_empty()) {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    patterns: Vec<Pattern>,
}

impl Cors {
    /// Parses `--allow-origin` values: `*`, `scheme://host:*` or an exact origin.
    pub fn new<S: AsRef<str>>(origins: &[S]) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for o in origins {
            let o = o.as_ref().trim().trim_end_matches('/');
            if o == "*" {
                patterns.push(Pattern::Any);
                continue;
            }
            let (scheme, host, port) = split_origin(o).ok_or_else(|| {
                format!("--allow-origin {o:?} is not an origin like http://localhost:8080")
            })?;
            patterns.push(match port {
                Some("*") => Pattern::AnyPort { scheme, host },
                Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                    Pattern::Exact(format!("{scheme}://{host}:{p}"))
                }
                None => Pattern::Exact(format!("{scheme}://{host}")),
                Some(_) => return Err(format!("--allow-origin {o:?} has a bad port")),
            });
        }
        Ok(Self { patterns })
    }

    pub fn default_localhost() -> Self {
        Self::new(&DEFAULT_ORIGINS).unwrap_or(Self {
            patterns: Vec::new(),
        })
    }

    pub fn allows(&self, origin: &str) -> bool {
        let parsed = split_origin(origin)
            .filter(|(_, _, p)| p.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit())));
        self.patterns.iter().any(|p| match (p, &parsed) {
            (Pattern::Any, _) => true,
            (Pattern::AnyPort { scheme, host }, Some((s, h, _))) => s == scheme && h == host,
            (Pattern::Exact(e), Some((s, h, port))) => {
                let norm = match port {
                    Some(p) => format!("{s}://{h}:{p}"),
                    None => format!("{s}://{h}"),
                };
                *e == norm
            }
            _ => false,
        })
    }

    fn allow_origin_value(&self, origin: &str) -> String {
        // Echo the origin rather than `*` unless `*` is what was configured.
        if self.patterns.contains(&Pattern::Any) {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    /// Answers an `OPTIONS` preflight (any path). `None` means the origin is not allowed.
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        let origin = req.header("origin")?;
        if !self.allows(origin) {
            return None;
        }
        let mut resp = Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
        .header(
            "Access-Control-Allow-Origin",
            self.allow_origin_value(origin),
        )
        .header("Access-Control-Allow-Methods", ALLOW_METHODS)
        .header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        .header("Access-Control-Expose-Headers", EXPOSE_HEADERS)
        .header("Access-Control-Max-Age", MAX_AGE_SECS.to_string())
        .header("Vary", "Origin, Access-Control-Request-Headers");
        // Chrome's Private Network Access: a public page calling loopback must be allowed explicitly.
        if req
            .header("access-control-request-private-network")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            resp = resp.header("Access-Control-Allow-Private-Network", "true");
        }
        Some(resp)
    }

    /// Adds CORS headers to an actual response for an allowed origin.
    pub fn decorate(&self, origin: Option<&str>, resp: Response) -> Response {
        match origin {
            Some(o) if self.allows(o) => resp
                .header("Access-Control-Allow-Origin", self.allow_origin_value(o))
                .header("Access-Control-Expose-Headers", EXPOSE_HEADERS)
                .header("Vary", "Origin"),
            _ => resp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_allows_localhost_origins_on_any_port_only() {
        let c = Cors::default_localhost();
        for ok in [
            "http://localhost:8080",
            "http://localhost",
            "http://127.0.0.1:5173",
            "http://[::1]:3000",
            "HTTP://LOCALHOST:1",
        ] {
            assert!(c.allows(ok), "{ok}");
        }
        for bad in [
            "https://localhost:8080",
            "http://localhost.evil.com:8080",
            "http://evil.com",
            "http://127.0.0.2:80",
            "http://127.0.0.1.nip.io:80",
            "http://localhost:80/path",
            "http://user@localhost:80",
            "http://localhost:abc",
            "null",
            "",
        ] {
            assert!(!c.allows(bad), "{bad}");
        }
    }

    #[test]
    fn exact_and_wildcard_configurations() {
        let c = Cors::new(&["https://app.example.com", "http://localhost:3000/"]).unwrap();
        assert!(c.allows("https://app.example.com"));
        assert!(c.allows("http://localhost:3000"));
        assert!(!c.allows("http://localhost:3001"));
        assert!(!c.allows("https://app.example.com:8443"));
        let any = Cors::new(&["*"]).unwrap();
        assert!(any.allows("https://whatever.test") && any.allows("null"));
        assert!(Cors::new(&["localhost:3000"]).is_err());
        assert!(Cors::new(&["http://h:x"]).is_err());
    }

    fn preflight_req(origin: &str) -> Request {
        Request {
            method: "OPTIONS".into(),
            path: "/".into(),
            query: String::new(),
            minor_version: 1,
            headers: vec![
                ("origin".into(), origin.into()),
                ("access-control-request-method".into(), "POST".into()),
                (
                    "access-control-request-headers".into(),
                    "content-type,x-amz-target,authorization".into(),
                ),
            ],
            body: Vec::new(),
        }
    }

    #[test]
    fn preflight_lists_sdk_headers_and_exposes_request_id() {
        let c = Cors::default_localhost();
        let r = c
            .preflight(&preflight_req("http://127.0.0.1:8080"))
            .unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(
            r.get_header("access-control-allow-origin"),
            Some("http://127.0.0.1:8080")
        );
        let allowed = r.get_header("access-control-allow-headers").unwrap();
        for h in [
            "content-type",
            "x-amz-target",
            "x-amz-date",
            "authorization",
            "x-amz-security-token",
            "x-amz-user-agent",
            "amz-sdk-invocation-id",
            "amz-sdk-request",
            "x-amz-content-sha256",
        ] {
            assert!(allowed.split(", ").any(|a| a == h), "{h}");
        }
        assert_eq!(
            r.get_header("access-control-expose-headers"),
            Some(EXPOSE_HEADERS)
        );
        assert!(c.preflight(&preflight_req("http://evil.com")).is_none());
        let star = Cors::new(&["*"])
            .unwrap()
            .preflight(&preflight_req("http://evil.com"))
            .unwrap();
        assert_eq!(star.get_header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn responses_are_decorated_only_for_allowed_origins() {
        let c = Cors::default_localhost();
        let base = || Response::new(200, "application/json", Vec::new());
        let r = c.decorate(Some("http://localhost:1234"), base());
        assert_eq!(
            r.get_header("access-control-allow-origin"),
            Some("http://localhost:1234")
        );
        assert_eq!(
            r.get_header("access-control-expose-headers"),
            Some(EXPOSE_HEADERS)
        );
        assert!(
            c.decorate(Some("http://evil.com"), base())
                .get_header("access-control-allow-origin")
                .is_none()
        );
        assert!(
            c.decorate(None, base())
                .get_header("access-control-allow-origin")
                .is_none()
        );
    }
}
