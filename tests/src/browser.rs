//! Headless Chromium driven over the Chrome DevTools Protocol (a WebSocket of JSON
//! commands), for tests that need a real browser: its own WebAuthn JSON encodings, its own
//! Content-Security-Policy enforcement. The browser is Debian's `chromium` (or `$CHROMIUM`);
//! `make test` installs it. Without it the test skips loudly, or fails under
//! `REQUIRE_BROWSER=1` (as `.ci/run` sets).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_codec::Framed;
use actix_http::ws::Item;
use awc::BoxedSocket;
use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The browser to start: `$CHROMIUM`, else `chromium` on the `PATH`; `None` (after a loud
/// message) when there is none and `REQUIRE_BROWSER` is unset, a panic when it is set.
pub fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let found = named.or_else(|| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("chromium")).find(|p| p.is_file()))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("REQUIRE_BROWSER").is_none(),
            "REQUIRE_BROWSER is set and no chromium was found (apt-get install chromium, or set CHROMIUM)"
        );
        eprintln!("SKIPPED: no chromium on the PATH (apt-get install chromium; `make test` does)");
    }
    found
}

/// The browser's process group (Chromium starts renderer and helper processes), killed
/// when dropped: from the moment it is spawned, so a failed start leaves nothing running.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium with a profile of its own, killed with its helpers when dropped.
pub struct Browser {
    conn: Framed<BoxedSocket, Codec>,
    next_id: u64,
    // Dropped in this order: the process group before the profile directory it writes to.
    _process: ProcessGroup,
    _profile: TempDir,
}

impl Browser {
    /// Starts `binary` headless and connects to its DevTools endpoint.
    pub async fn launch(binary: &std::path::Path) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(binary)
            .process_group(0)
            .args([
                "--headless",
                // Root in a container: Chromium's sandbox needs user namespaces it may not get.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let process = ProcessGroup(child);
        // Chromium writes the port it bound, and the browser endpoint's path, to this file.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "chromium wrote no DevToolsActivePort in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (_, conn) = awc::Client::new()
            .ws(endpoint.as_str())
            .max_frame_size(64 << 20)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {endpoint}: {e}"));
        Self { conn, next_id: 0, _process: process, _profile: profile }
    }

    /// Sends `method` with `params` (to the page of `session`, or to the browser) and returns
    /// its result; a protocol error panics with the browser's message.
    pub async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.try_call(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// [`Self::call`], with the browser's error as the `Err` (a page navigating away while
    /// it is asked something answers one).
    pub async fn try_call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.conn.send(Message::Text(command.to_string().into())).await.expect("send to chromium");
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.conn.next())
                .await
                .unwrap_or_else(|_| panic!("chromium did not answer {method} in 60 s"))
                .expect("chromium closed the connection")
                .expect("a websocket frame");
            let text = match frame {
                Frame::Text(bytes) => bytes.to_vec(),
                Frame::Continuation(Item::FirstText(bytes)) => {
                    partial = bytes.to_vec();
                    continue;
                }
                Frame::Continuation(Item::Continue(bytes)) => {
                    partial.extend_from_slice(&bytes);
                    continue;
                }
                Frame::Continuation(Item::Last(bytes)) => {
                    partial.extend_from_slice(&bytes);
                    std::mem::take(&mut partial)
                }
                Frame::Ping(bytes) => {
                    self.conn.send(Message::Pong(bytes)).await.expect("pong");
                    continue;
                }
                Frame::Close(reason) => panic!("chromium closed the connection: {reason:?}"),
                _ => continue,
            };
            let message: Value = serde_json::from_slice(&text).expect("CDP messages are JSON");
            // Events (no id) and answers to other commands are not waited for.
            if message["id"] != json!(id) {
                continue;
            }
            if let Some(error) = message.get("error") {
                return Err(error.clone());
            }
            return Ok(message["result"].clone());
        }
    }

    /// Opens a blank tab and returns the session that talks to it.
    pub async fn new_page(&mut self) -> String {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"})).await;
        let attached =
            self.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await;
        attached["sessionId"].as_str().expect("a session id").to_owned()
    }

    /// Evaluates `expression` in the page (awaiting a promise it returns, as if from a user
    /// gesture) and returns its value; an exception in the page panics with its text.
    pub async fn eval(&mut self, session: &str, expression: &str) -> Value {
        let result = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true, "userGesture": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Loads `url` in the page and waits until the document has finished loading.
    pub async fn goto(&mut self, session: &str, url: &str) {
        let navigated = self.call(Some(session), "Page.navigate", json!({"url": url})).await;
        assert!(navigated.get("errorText").is_none(), "{url} did not load: {navigated}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let probe = json!({"expression": "document.readyState + ' ' + location.href", "returnByValue": true});
        loop {
            // Asked mid-navigation, the old document's context may be gone: not loaded yet.
            let state = self.try_call(Some(session), "Runtime.evaluate", probe.clone()).await.unwrap_or_default();
            let state = &state["result"]["value"];
            if state.as_str().is_some_and(|s| s.starts_with("complete ") && s.ends_with(url)) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{url} did not load in 30 s: {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
