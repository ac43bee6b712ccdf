//! The server over real loopback sockets, in-process: wire shapes that Python's clients hide.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use kms_dev_server::config::Config;
use kms_dev_server::server::Server;
use serde_json::{Value, json};

fn scratch(name: &str) -> PathBuf {
    let r: [u8; 8] = kms_dev_server::crypto::random().unwrap();
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    // Cargo's per-target scratch dir, so test data stays out of the system temp dir.
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kms-dev-server-it-{name}-{hex}"))
}

fn start(name: &str, tweak: impl FnOnce(&mut Config)) -> SocketAddr {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: scratch(name),
        ..Config::default()
    };
    tweak(&mut cfg);
    let (server, _) = Server::bind(&cfg).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    addr
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Reads one response (Content-Length framed) from a stream.
fn read_reply(s: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "connection closed in head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let reply = Reply {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = reply.header("content-length").unwrap().parse().unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    Reply { body, ..reply }
}

fn send(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    read_reply(&mut s)
}

fn kms_request(op: &str, body: &Value, extra: &str) -> Vec<u8> {
    let b = body.to_string();
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.{op}\r\n{extra}Content-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .into_bytes()
}

fn call(addr: SocketAddr, op: &str, body: Value) -> Reply {
    send(addr, &kms_request(op, &body, ""))
}

#[test]
fn create_generate_decrypt_over_the_wire() {
    let addr = start("roundtrip", |_| {});
    let created = call(addr, "CreateKey", json!({}));
    assert_eq!(created.status, 200);
    assert_eq!(
        created.header("content-type").as_deref(),
        Some("application/x-amz-json-1.1")
    );
    assert!(created.header("x-amzn-requestid").is_some());
    let arn = created.json()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let gdk = call(
        addr,
        "GenerateDataKey",
        json!({"KeyId": arn, "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(gdk.status, 200);
    let gdk = gdk.json();
    assert_eq!(gdk["KeyId"], arn.as_str());
    let dec = call(
        addr,
        "Decrypt",
        json!({"CiphertextBlob": gdk["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(dec.json()["Plaintext"], gdk["Plaintext"]);
    let wrong = call(
        addr,
        "Decrypt",
        json!({"CiphertextBlob": gdk["CiphertextBlob"], "EncryptionContext": {"a": "c"}}),
    );
    assert_eq!(
        (wrong.status, wrong.json()),
        (400, json!({"__type": "InvalidCiphertextException"}))
    );
    assert_eq!(
        wrong.header("x-amzn-errortype").as_deref(),
        Some("InvalidCiphertextException")
    );
}

#[test]
fn keep_alive_serves_pipelined_requests_in_order() {
    let addr = start("pipeline", |_| {});
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut both = kms_request("ListKeys", &json!({}), "");
    both.extend(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(&both).unwrap();
    let first = read_reply(&mut s);
    assert_eq!(
        (first.status, first.json()["Keys"].as_array().unwrap().len()),
        (200, 0)
    );
    let second = read_reply(&mut s);
    assert_eq!(
        (second.status, second.json()),
        (200, json!({"status": "ok"}))
    );
}

#[test]
fn malformed_http_gets_a_json_400_and_the_server_keeps_serving() {
    let addr = start("malformed", |_| {});
    let bad = send(
        addr,
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["__type"], "SerializationException");
    assert_eq!(bad.header("connection").as_deref(), Some("close"));
    let big = send(
        addr,
        b"POST / HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n",
    );
    assert_eq!(big.status, 413);
    let body = send(addr, &kms_request("Encrypt", &json!({"KeyId": 5}), ""));
    assert_eq!(
        (body.status, body.json()["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let health = send(addr, b"GET /health HTTP/1.0\r\n\r\n");
    assert_eq!(health.status, 200);
}

#[test]
fn expect_continue_and_chunked_bodies_work() {
    let addr = start("continue", |_| {});
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.CreateKey\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"{}").unwrap();
    assert_eq!(read_reply(&mut s).status, 200);
    let chunked = send(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
    );
    assert_eq!(chunked.json()["Keys"].as_array().unwrap().len(), 1);
}

#[test]
fn preflight_and_origin_checks() {
    let addr = start("cors", |_| {});
    let ok = send(
        addr,
        b"OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:5173\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization,x-amz-target\r\n\r\n",
    );
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );
    assert_eq!(
        ok.header("access-control-expose-headers").as_deref(),
        Some("x-amzn-RequestId, x-amzn-ErrorType, Date")
    );
    let denied = send(
        addr,
        &kms_request(
            "ListKeys",
            &json!({}),
            "Origin: http://attacker.example\r\n",
        ),
    );
    assert_eq!(
        (denied.status, denied.json()["__type"].as_str()),
        (403, Some("AccessDeniedException"))
    );
    assert!(denied.header("access-control-allow-origin").is_none());
}

#[test]
fn bearer_mode_over_the_wire() {
    let addr = start("bearer", |c| c.bearer_token = Some("t0ken".into()));
    let ok = send(
        addr,
        &kms_request("ListKeys", &json!({}), "Authorization: Bearer t0ken\r\n"),
    );
    assert_eq!(ok.status, 200);
    let wrong = send(
        addr,
        &kms_request("ListKeys", &json!({}), "Authorization: Bearer nope\r\n"),
    );
    assert_eq!(
        (wrong.status, wrong.json()["__type"].as_str()),
        (400, Some("AccessDeniedException"))
    );
    let audit = send(
        addr,
        b"GET /audit?limit=10 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n\r\n",
    );
    let entries = audit.json();
    let outcomes: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "error"]);
    assert_eq!(entries[1]["error_type"], "AccessDeniedException");
    assert_eq!(entries[0]["auth"], "bearer");
}

#[test]
fn connections_beyond_the_limit_get_a_json_503() {
    let addr = start("limit", |c| c.max_connections = 1);
    let mut held = TcpStream::connect(addr).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    held.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut held).status, 200); // the slot is now held by an idle keep-alive
    let busy = send(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        (busy.status, busy.json()["__type"].as_str()),
        (503, Some("LimitExceededException"))
    );
    drop(held);
    // The slot is released when the held connection's thread ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = send(addr, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
        if r.status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never released");
        std::thread::sleep(Duration::from_millis(20));
    }
}
