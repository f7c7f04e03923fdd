//! Shared fixture for the hub's integration tests: a real server on a port-0 listener and a
//! raw WebSocket client that speaks the JSON hub protocol by hand, so the tests check the wire
//! format itself rather than our own encoder.

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use signalr_hub::{Caller, Hub, HubBuilder, HubError, HubHandle, HubOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const RS: char = '\u{1e}';

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    pub handle: HubHandle,
}

/// A hub with a few methods, for tests that do not need their own.
pub fn test_hub(options: HubOptions) -> HubBuilder {
    Hub::builder()
        .options(options)
        .method("Echo", |_: Caller, (text,): (String,)| async move {
            Ok::<_, HubError>(text)
        })
        .method("Add", |_: Caller, (a, b): (i64, i64)| async move {
            Ok::<_, HubError>(a + b)
        })
        .method("Throw", |_: Caller, (text,): (String,)| async move {
            Err::<(), _>(HubError::new(text))
        })
        .method("Join", |caller: Caller, (group,): (String,)| async move {
            caller.join_group(&group);
            Ok::<_, HubError>(())
        })
        .method("Leave", |caller: Caller, (group,): (String,)| async move {
            caller.leave_group(&group);
            Ok::<_, HubError>(())
        })
        .method("Whoami", |caller: Caller, (): ()| async move {
            Ok::<_, HubError>(json!({
                "connectionId": caller.connection_id().to_string(),
                "user": caller.user_id().map(ToString::to_string),
            }))
        })
        .method("Sleep", |_: Caller, (millis,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            Ok::<_, HubError>(millis)
        })
        .method("Panic", |_: Caller, (): ()| async move {
            if true {
                panic!("deliberate");
            }
            Ok::<_, HubError>(())
        })
}

pub async fn start(hub: Hub) -> Server {
    let handle = hub.handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = hub.router("/hub");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server { addr, handle }
}

/// A plain HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as received (not chunked responses only).
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one HTTP/1.1 request over a fresh TCP connection and reads the whole answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    request(addr, method, path, headers, b"").await
}

/// Like [`http`], with a request body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("http head");
    let bytes = raw[split + 4..].to_vec();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers,
        body,
        bytes,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

pub async fn negotiate(addr: SocketAddr, query: &str) -> Value {
    let response = http(addr, "POST", &format!("/hub/negotiate{query}"), &[]).await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

/// A raw WebSocket client speaking JSON hub messages.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pending: Vec<Value>,
    pub frames: Vec<String>,
}

pub async fn open(addr: SocketAddr, query: &str) -> Result<Client, tungstenite::Error> {
    open_with(addr, query, &[]).await
}

pub async fn open_with(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<Client, tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{addr}/hub{query}")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Client {
        ws,
        pending: Vec::new(),
        frames: Vec::new(),
    })
}

/// Negotiates (v1), opens the WebSocket with the token and completes the JSON handshake.
pub async fn connect(addr: SocketAddr) -> Client {
    let negotiated = negotiate(addr, "?negotiateVersion=1").await;
    let token = negotiated["connectionToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let mut client = open(addr, &format!("?id={token}")).await.expect("ws");
    client.handshake().await;
    client
}

pub fn http_status(error: &tungstenite::Error) -> Option<u16> {
    match error {
        tungstenite::Error::Http(response) => Some(response.status().as_u16()),
        _ => None,
    }
}

impl Client {
    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send(&mut self, message: Value) {
        self.send_raw(&format!("{message}{RS}")).await;
    }

    pub async fn handshake(&mut self) {
        self.send_raw(&format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"))
            .await;
        let response = self.next().await.expect("handshake response");
        assert_eq!(response, json!({}), "handshake");
    }

    /// The next JSON record from the server, or `None` when the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(Duration::from_secs(5)).await
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        if !self.pending.is_empty() {
            return Some(self.pending.remove(0));
        }
        loop {
            let frame = tokio::time::timeout(wait, self.ws.next())
                .await
                .expect("server answered in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let text = text.to_string();
                    assert!(text.ends_with(RS), "frame holds whole records: {text:?}");
                    self.frames.push(text.clone());
                    for record in text.split_terminator(RS) {
                        self.pending
                            .push(serde_json::from_str(record).expect("record is JSON"));
                    }
                    return Some(self.pending.remove(0));
                }
                Some(Ok(Message::Binary(_))) => panic!("JSON must arrive in text frames"),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next record that is not a ping.
    pub async fn next_non_ping(&mut self) -> Option<Value> {
        loop {
            let message = self.next().await?;
            if message != json!({"type": 6}) {
                return Some(message);
            }
        }
    }

    /// Invokes `target` and returns its Completion.
    pub async fn invoke(&mut self, id: &str, target: &str, arguments: Value) -> Value {
        self.send(json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments}))
            .await;
        loop {
            let message = self.next_non_ping().await.expect("completion");
            if message["type"] == 3 && message["invocationId"] == id {
                return message;
            }
        }
    }
}

/// A Server-Sent Events response read incrementally (chunked transfer decoded by hand).
pub struct EventStream {
    reader: tokio::io::BufReader<TcpStream>,
    pub status: u16,
    pub head: String,
    decoded: Vec<u8>,
}

pub async fn open_event_stream(addr: SocketAddr, path: &str) -> EventStream {
    use tokio::io::AsyncBufReadExt as _;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reader = tokio::io::BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("head");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status");
    EventStream {
        reader,
        status,
        head,
        decoded: Vec::new(),
    }
}

impl EventStream {
    async fn read_chunk(&mut self) -> bool {
        use tokio::io::AsyncBufReadExt as _;
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line).await.unwrap_or(0) == 0 {
            return false;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
        if size == 0 {
            return false;
        }
        let mut chunk = vec![0; size + 2];
        if self.reader.read_exact(&mut chunk).await.is_err() {
            return false;
        }
        chunk.truncate(size);
        self.decoded.extend_from_slice(&chunk);
        true
    }

    /// The raw body bytes received so far.
    pub fn raw(&self) -> &[u8] {
        &self.decoded
    }

    /// Waits until the body holds at least `len` bytes.
    pub async fn read_at_least(&mut self, len: usize) {
        while self.decoded.len() < len {
            let more = tokio::time::timeout(Duration::from_secs(5), self.read_chunk())
                .await
                .expect("event in time");
            assert!(more, "stream ended");
        }
    }

    /// The data of the next event (comment lines skipped), or `None` when the stream ended.
    pub async fn next_event(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.decoded, b"\r\n\r\n") {
                let event: Vec<u8> = self.decoded.drain(..end + 4).collect();
                let text = String::from_utf8(event).expect("utf-8");
                let data: Vec<&str> = text
                    .split("\r\n")
                    .filter_map(|line| line.strip_prefix("data: "))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return Some(data.join("\n"));
            }
            let more = tokio::time::timeout(Duration::from_secs(5), self.read_chunk())
                .await
                .expect("event in time");
            if !more {
                return None;
            }
        }
    }

    /// The next JSON hub record from the stream (events may carry several).
    pub async fn next_record(&mut self, pending: &mut Vec<Value>) -> Option<Value> {
        while pending.is_empty() {
            let data = self.next_event().await?;
            for record in data.split_terminator(RS) {
                pending.push(serde_json::from_str(record).expect("record"));
            }
        }
        Some(pending.remove(0))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
