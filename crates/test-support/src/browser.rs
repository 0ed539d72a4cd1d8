//! A real headless Chromium for the web UI's tests, driven through chromedriver over the W3C
//! WebDriver protocol (plain HTTP and JSON, so no client crate is needed).
//!
//! [`Browser::start`] returns `None` (with a note on stderr) where chromedriver or Chromium is
//! missing, unless [`BROWSER_ENV`] is `required` (CI installs both and sets it), in which case
//! a missing browser fails the test.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// `required`: a test that needs the browser fails instead of skipping when it is missing.
pub const BROWSER_ENV: &str = "JOBPILOT_TEST_BROWSER";

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session with its own chromedriver process and profile directory.
#[derive(Debug)]
pub struct Browser {
    _driver: Driver,
    /// chromedriver's address, `127.0.0.1:port`.
    address: String,
    /// `/session/<id>`.
    session_path: String,
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

/// The chromedriver process, stopped when dropped (also when starting the session panics).
#[derive(Debug)]
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates.iter().find_map(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|status| status.success())
            .map(|_| (*name).to_owned())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Option<Self> {
        let required = std::env::var(BROWSER_ENV).is_ok_and(|v| v == "required");
        let driver = find_program(&["chromedriver"]);
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            assert!(
                !required,
                "{BROWSER_ENV}=required but chromedriver or Chromium is not installed"
            );
            eprintln!(
                "skipping a browser test: install chromium and chromium-driver to run it \
                 ({BROWSER_ENV}=required makes this a failure)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Driver(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(response) = ready
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path(&chromium),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {response}"))
            .to_owned();
        Some(Self {
            _driver: child,
            address: format!("127.0.0.1:{port}"),
            session_path: format!("/session/{session}"),
            http,
            session: format!("{base}/session/{session}"),
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(value) => value,
            Err((error, message)) => panic!("WebDriver {method} {path}: {error}: {message}"),
        }
    }

    /// A WebDriver command, with its error (name, message) returned rather than raised.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        let value = response["value"].clone();
        match value.get("error") {
            Some(error) => Err((
                error.as_str().unwrap_or_default().to_owned(),
                value["message"].clone(),
            )),
            None => Ok(value),
        }
    }

    /// Opens a page and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item[ELEMENT_KEY].as_str())
                    .map(|id| Element(id.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The element matching a CSS selector, waiting up to 10 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(element) = self.find_all(css).await.into_iter().next() {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The rendered text of the element matching a CSS selector. A page that is
    /// replaced between finding the element and reading it (a navigation still
    /// under way) is looked up again.
    pub async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let element = self.find(css).await;
            let path = format!("/element/{}/text", element.0);
            match self.try_call(reqwest::Method::GET, &path, None).await {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err((error, _))
                    if error == "stale element reference" && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err((error, message)) => panic!("WebDriver GET {path}: {error}: {message}"),
            }
        }
    }

    /// Types into the field matching a CSS selector, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            None,
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks the element matching a CSS selector.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            None,
        )
        .await;
    }

    /// The text of the open `alert`/`confirm` dialog, if one is open.
    pub async fn dialog_text(&self) -> Option<String> {
        let response: Value = self
            .http
            .get(format!("{}/alert/text", self.session))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["value"].as_str().map(str::to_owned)
    }

    /// Presses OK in the open dialog.
    pub async fn accept_dialog(&self) {
        self.call(reqwest::Method::POST, "/alert/accept", None)
            .await;
    }

    /// Runs a script in the page and returns its result.
    pub async fn run_script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits until the current address satisfies `check`.
    pub async fn wait_for_url(&self, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url().await;
            if check(&url) {
                return url;
            }
            assert!(Instant::now() < deadline, "the browser stayed at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (closing Chromium) and stops chromedriver.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
        // Drop's request then finds no session; the driver stops with it.
    }
}

impl Drop for Browser {
    /// A test that failed half-way still closes Chromium: killing chromedriver alone would leave
    /// the browser running. (Blocking, plain HTTP: no runtime may be left to run a request on.)
    fn drop(&mut self) {
        use std::io::{Read as _, Write as _};
        if let Ok(mut stream) = std::net::TcpStream::connect(&self.address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.session_path, self.address
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        // Dropping the driver field then stops chromedriver.
    }
}

/// The browser binary's full path, as chromedriver wants it.
fn chromium_path(name: &str) -> String {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
        .map_or_else(|| name.to_owned(), |path| path.display().to_string())
}
