//! A registry that serves fixed responses, for the unit tests of what the
//! client does with hostile answers (test builds only). A real registry
//! checks digests and sizes itself, so it cannot play the liar; this one
//! serves whatever bytes a test puts at a path.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::client::Options;
use super::reference::Reference;

/// One canned answer: status, content type, body.
#[derive(Clone)]
pub(super) struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The Content-Type header.
    pub content_type: String,
    /// Sent whole, with its length, for GET (not for HEAD).
    pub body: Vec<u8>,
}

/// A plain-HTTP server on 127.0.0.1 answering GET and HEAD of the paths it
/// was given (404 otherwise) until the test ends. `GET /v2/` answers 200.
pub(super) struct TestRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    answers: Arc<Mutex<BTreeMap<String, Answer>>>,
    /// Every request line it received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl TestRegistry {
    /// Listens on a free loopback port; answers from another thread.
    pub fn start() -> TestRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let answers: Arc<Mutex<BTreeMap<String, Answer>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        answers.lock().expect("lock").insert("/v2/".into(), Answer::json(b"{}"));
        let (a, r) = (answers.clone(), requests.clone());
        // Detached: it dies with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (a, r) = (a.clone(), r.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                            break;
                        }
                    }
                    r.lock().expect("lock").push(line.trim().to_string());
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("");
                    let path = parts.next().unwrap_or("");
                    let answer = a.lock().expect("lock").get(path).cloned().unwrap_or(Answer {
                        status: 404,
                        content_type: "application/json".into(),
                        body: br#"{"errors":[{"code":"NOT_FOUND"}]}"#.to_vec(),
                    });
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.status,
                        answer.content_type,
                        answer.body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    if method != "HEAD" {
                        let _ = stream.write_all(&answer.body);
                    }
                });
            }
        });
        TestRegistry { host, answers, requests }
    }

    /// Serves `answer` at `path` from now on.
    pub fn serve(&self, path: &str, answer: Answer) {
        self.answers.lock().expect("lock").insert(path.into(), answer);
    }

    /// A reference to `repo:tag` (or `repo@digest`) on this registry.
    pub fn reference(&self, rest: &str) -> Reference {
        Reference::parse(&format!("{}/{rest}", self.host)).expect("reference")
    }

    /// How many requests named `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.requests.lock().expect("lock").iter().filter(|l| l.split_whitespace().nth(1) == Some(path)).count()
    }
}

impl Answer {
    /// 200 with a JSON body.
    pub fn json(body: &[u8]) -> Answer {
        Answer { status: 200, content_type: "application/json".into(), body: body.to_vec() }
    }

    /// 200 with `body` as `content_type`.
    pub fn bytes(content_type: &str, body: &[u8]) -> Answer {
        Answer { status: 200, content_type: content_type.into(), body: body.to_vec() }
    }
}

/// Plain HTTP, one attempt per call: a test's liar does not improve on retry.
pub(super) fn options() -> Options {
    Options { insecure: true, attempts: 1, jobs: 2, ..Options::default() }
}
