//! A small, strict HTTP/1.1 server-side codec over blocking streams: request line, headers,
//! `Content-Length` or chunked bodies, `Expect: 100-continue`, keep-alive. Every size is bounded
//! and every malformed input is an error value, never a panic.

use std::io::{self, BufRead, Read, Write};

pub const MAX_LINE: usize = 16 * 1024;
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_HEADERS: usize = 100;
/// KMS requests are small (Plaintext ≤ 4 KiB, blobs ≤ 6 KiB, contexts a few KiB).
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path as received (still percent-encoded), without the query.
    pub path: String,
    /// Raw query string without `?` (empty if none).
    pub query: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names lowercased, values trimmed, in arrival order (repeats kept).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header (name is matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after the response (HTTP/1.1 default; 1.0 opt-in).
    pub fn keep_alive(&self) -> bool {
        let tokens = || {
            self.header_values("connection")
                .flat_map(|v| v.split(','))
                .map(str::trim)
        };
        if self.minor_version >= 1 {
            !tokens().any(|t| t.eq_ignore_ascii_case("close"))
        } else {
            tokens().any(|t| t.eq_ignore_ascii_case("keep-alive"))
        }
    }

    /// A query parameter's raw value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

#[derive(Debug)]
pub enum ReadError {
    /// The peer closed (or went idle) between requests: not an error worth answering.
    Closed,
    Io(io::Error),
    /// Answer 400 and close.
    Malformed(&'static str),
    /// Answer 413 (body) or 431 (headers) and close.
    TooLarge(&'static str),
    /// Answer 501 and close.
    Unsupported(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Self::Malformed("connection closed mid-request"),
            _ => Self::Io(e),
        }
    }
}

/// Reads one CRLF- (or LF-) terminated line without its terminator.
fn read_line<R: BufRead>(r: &mut R, limit: usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut buf = Vec::new();
    let n = r.take(limit as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > limit {
            ReadError::TooLarge("header line too long")
        } else {
            ReadError::Malformed("connection closed mid-line")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(buf))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads one request. `interim` receives `100 Continue` if the client asked for it.
pub fn read_request<R: BufRead, W: Write>(
    r: &mut R,
    interim: &mut W,
) -> Result<Request, ReadError> {
    // Tolerate blank lines before a request (RFC 9112 §2.2).
    let line = loop {
        match read_line(r, MAX_LINE) {
            Ok(None) => return Err(ReadError::Closed),
            Ok(Some(l)) if l.is_empty() => continue,
            Ok(Some(l)) => break l,
            Err(ReadError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Err(ReadError::Closed);
            }
            Err(ReadError::Malformed(_)) => return Err(ReadError::Closed),
            Err(e) => return Err(e),
        }
    };
    let line =
        String::from_utf8(line).map_err(|_| ReadError::Malformed("request line is not UTF-8"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !is_token(method) {
        return Err(ReadError::Malformed("bad method"));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => {
            return Err(ReadError::Unsupported(
                "only HTTP/1.0 and HTTP/1.1 are supported",
            ));
        }
    };
    let (path, query) = if target == "*" {
        ("*".to_owned(), String::new())
    } else if target.starts_with('/') {
        let (p, q) = target.split_once('?').unwrap_or((target, ""));
        (p.to_owned(), q.to_owned())
    } else {
        return Err(ReadError::Malformed("request target must be a path"));
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut total = 0usize;
    loop {
        let Some(l) = read_line(r, MAX_LINE)? else {
            return Err(ReadError::Malformed("connection closed in headers"));
        };
        if l.is_empty() {
            break;
        }
        total += l.len();
        if total > MAX_HEADER_BYTES || headers.len() >= MAX_HEADERS {
            return Err(ReadError::TooLarge("too many header bytes"));
        }
        if matches!(l.first(), Some(b' ' | b'\t')) {
            return Err(ReadError::Malformed("obsolete header folding"));
        }
        let l = String::from_utf8(l).map_err(|_| ReadError::Malformed("header is not UTF-8"))?;
        let (name, value) = l
            .split_once(':')
            .ok_or(ReadError::Malformed("header without colon"))?;
        if !is_token(name) {
            return Err(ReadError::Malformed("bad header name"));
        }
        if value.bytes().any(|b| b == 0 || b == b'\r' || b == b'\n') {
            return Err(ReadError::Malformed("bad header value"));
        }
        headers.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }
    let mut req = Request {
        method: method.to_owned(),
        path,
        query,
        minor_version,
        headers,
        body: Vec::new(),
    };

    let chunked = match req.header("transfer-encoding") {
        None => false,
        Some(te)
            if te.eq_ignore_ascii_case("chunked")
                && req.header_values("transfer-encoding").count() == 1 =>
        {
            true
        }
        Some(_) => return Err(ReadError::Unsupported("unsupported transfer-encoding")),
    };
    let lengths: Vec<&str> = req.header_values("content-length").collect();
    let content_length = match (lengths.first().copied(), lengths.get(1)) {
        (None, _) => None,
        (Some(v), None) => {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ReadError::Malformed("bad content-length"));
            }
            Some(
                v.parse::<usize>()
                    .map_err(|_| ReadError::TooLarge("body too large"))?,
            )
        }
        _ => return Err(ReadError::Malformed("repeated content-length")),
    };
    if chunked && content_length.is_some() {
        // Both together is how request smuggling starts (RFC 9112 §6.3).
        return Err(ReadError::Malformed(
            "content-length with transfer-encoding",
        ));
    }
    if content_length.is_some_and(|n| n > MAX_BODY) {
        return Err(ReadError::TooLarge("body too large"));
    }
    let wants_body = chunked || content_length.is_some_and(|n| n > 0);
    if wants_body
        && minor_version == 1
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(n) = content_length {
        let mut body = vec![0u8; n];
        r.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(req)
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, MAX_LINE)?.ok_or(ReadError::Malformed("eof in chunk size"))?;
        let line = String::from_utf8(line).map_err(|_| ReadError::Malformed("bad chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        if size_hex.is_empty() || size_hex.len() > 8 {
            return Err(ReadError::Malformed("bad chunk size"));
        }
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailers (ignored) until the blank line.
            loop {
                let t = read_line(r, MAX_LINE)?.ok_or(ReadError::Malformed("eof in trailers"))?;
                if t.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::TooLarge("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(body.get_mut(start..).unwrap_or_default())?;
        let end = read_line(r, 2)?.ok_or(ReadError::Malformed("eof after chunk"))?;
        if !end.is_empty() {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Serializes a response; `Content-Length` and `Connection` are added here.
pub fn write_response<W: Write>(
    w: &mut W,
    resp: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (n, v) in &resp.headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &[u8]) -> (Result<Request, ReadError>, Vec<u8>) {
        let mut interim = Vec::new();
        let r = read_request(&mut Cursor::new(raw.to_vec()), &mut interim);
        (r, interim)
    }

    #[test]
    fn parses_a_botocore_style_request() {
        let raw = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:4599\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\n\r\n{}";
        let (r, interim) = parse(raw);
        let r = r.unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.minor_version),
            ("POST", "/", 1)
        );
        assert_eq!(r.header("x-amz-target"), Some("TrentService.ListKeys"));
        assert_eq!(r.header("HOST"), Some("127.0.0.1:4599"));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive());
        assert!(interim.is_empty());
    }

    #[test]
    fn expect_100_continue_gets_an_interim_response() {
        let raw = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
        let (r, interim) = parse(raw);
        assert_eq!(r.unwrap().body, b"x");
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"POST /?a=1&b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{\"a\r\n2\r\n\":\r\n3\r\n\"b\"\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n";
        let r = parse(raw).0.unwrap();
        assert_eq!(r.body, b"{\"a\":\"b\"}");
        assert_eq!(r.query_param("a"), Some("1"));
        assert_eq!(r.query_param("b"), Some(""));
        assert_eq!(r.query_param("c"), None);
    }

    #[test]
    fn connection_semantics_by_version() {
        let r = parse(b"GET /health HTTP/1.0\r\n\r\n").0.unwrap();
        assert!(!r.keep_alive());
        let r = parse(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .0
            .unwrap();
        assert!(r.keep_alive());
        let r = parse(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
            .0
            .unwrap();
        assert!(!r.keep_alive());
    }

    #[test]
    fn hostile_requests_are_errors_not_panics() {
        let long_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_LINE + 10));
        let many_headers = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        let big_body = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let big_chunk =
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n".to_owned();
        let cases: Vec<(&[u8], &str)> = vec![
            (b"GARBAGE\r\n\r\n", "malformed"),
            (b"GET / HTTP/2.0\r\n\r\n", "unsupported"),
            (b"GET http://x/ HTTP/1.1\r\n\r\n", "malformed"),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed"),
            (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "malformed"),
            (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "malformed"),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "malformed"),
            (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", "malformed"),
            (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "malformed"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported"),
            (b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", "too large"),
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "malformed"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "malformed"),
            (b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n", "malformed"),
            (long_header.as_bytes(), "too large"),
            (many_headers.as_bytes(), "too large"),
            (big_body.as_bytes(), "too large"),
            (big_chunk.as_bytes(), "too large"),
        ];
        for (raw, want) in cases {
            let got = match parse(raw).0 {
                Err(ReadError::Malformed(_)) => "malformed",
                Err(ReadError::TooLarge(_)) => "too large",
                Err(ReadError::Unsupported(_)) => "unsupported",
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
            };
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn clean_eof_between_requests_is_closed() {
        assert!(matches!(parse(b"").0, Err(ReadError::Closed)));
        assert!(matches!(parse(b"\r\n").0, Err(ReadError::Closed)));
    }

    #[test]
    fn response_has_length_and_connection() {
        let mut out = Vec::new();
        let resp =
            Response::new(400, "application/x-amz-json-1.1", b"{}".to_vec()).header("X-A", "b");
        write_response(&mut out, &resp, false, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("\r\nX-A: b\r\n"));
        assert!(text.contains("\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"));
        let mut head = Vec::new();
        write_response(&mut head, &resp, true, true).unwrap();
        assert!(
            String::from_utf8(head)
                .unwrap()
                .ends_with("Connection: keep-alive\r\n\r\n")
        );
    }
}
