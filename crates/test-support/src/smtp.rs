//! A small real SMTP server on 127.0.0.1 for testing mail clients (plain text only).
//!
//! It speaks enough of RFC 5321 for lettre: greeting, EHLO/HELO (advertising `AUTH PLAIN LOGIN`
//! and `SIZE`), AUTH PLAIN and LOGIN, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP
//! and QUIT. Accepted messages are recorded; a [`Behaviour`] makes it refuse or misbehave.
//! Start one with `SmtpSink::start(Behaviour::AcceptAll).await`, point the client at
//! `127.0.0.1:sink.port()`, send, then look at `sink.messages()`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the sink answers. Replies are whole SMTP lines without CRLF, e.g. `550 5.1.1 no such user`.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Accepts every message.
    AcceptAll,
    /// Answers every RCPT TO with this reply.
    RejectRcpt(String),
    /// Takes the whole message, then answers the final dot with this reply (nothing recorded).
    RejectData(String),
    /// Greets with this reply (e.g. `421 4.3.2 try later`) and hangs up.
    RefuseConnection(String),
    /// Accepts the TCP connection and never says a word.
    Hang,
    /// Greylisting: on the first `n` connections RCPT TO gets `451 4.7.1 greylisted`; later
    /// connections are accepted.
    GreylistFirst(usize),
}

/// A message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The MAIL FROM address, without angle brackets.
    pub from: String,
    /// The RCPT TO addresses, without angle brackets.
    pub to: Vec<String>,
    /// Everything between DATA and the final dot, dot-unstuffed, with CRLF line ends.
    pub data: String,
    /// The username of a successful AUTH on that connection.
    pub authenticated_as: Option<String>,
}

#[derive(Debug)]
struct Shared {
    behaviour: Behaviour,
    credentials: Option<(String, String)>,
    messages: Mutex<Vec<ReceivedMail>>,
    connections: AtomicUsize,
}

/// A running sink; it stops (with all its connections) when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink on 127.0.0.1 and a free port that accepts any AUTH.
    pub async fn start(behaviour: Behaviour) -> Self {
        Self::spawn(behaviour, None).await
    }

    /// Starts a sink that requires AUTH with exactly these credentials before MAIL FROM and
    /// answers others with `535 5.7.8`.
    pub async fn start_with_credentials(
        behaviour: Behaviour,
        username: &str,
        password: &str,
    ) -> Self {
        Self::spawn(behaviour, Some((username.to_owned(), password.to_owned()))).await
    }

    async fn spawn(behaviour: Behaviour, credentials: Option<(String, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("the sink's address");
        let shared = Arc::new(Shared {
            behaviour,
            credentials,
            messages: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Self { addr, shared, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().expect("sink lock").clone()
    }

    /// How many TCP connections the sink has accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so aborting this task drops (and aborts) every open connection too.
    let mut sessions = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let number = shared.connections.fetch_add(1, Ordering::SeqCst);
        sessions.spawn(session(stream, Arc::clone(&shared), number));
        while sessions.try_join_next().is_some() {}
    }
}

/// One connection. I/O errors (the client hanging up) just end it.
async fn session(stream: TcpStream, shared: Arc<Shared>, number: usize) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut reply = async |line: &str| write.write_all(format!("{line}\r\n").as_bytes()).await;

    match &shared.behaviour {
        Behaviour::Hang => {
            // Read (and ignore) until the client gives up and closes.
            let mut ignored = Vec::new();
            while lines.read_until(b'\n', &mut ignored).await? > 0 {}
            return Ok(());
        }
        Behaviour::RefuseConnection(line) => return reply(line).await,
        _ => reply("220 sink.test ESMTP test sink").await?,
    }

    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut user: Option<String> = None;
    while let Some(line) = read_line(&mut lines).await? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default();
        match verb {
            "EHLO" => {
                reply("250-sink.test greets you").await?;
                reply("250-AUTH PLAIN LOGIN").await?;
                reply("250 SIZE 52428800").await?;
            }
            "HELO" => reply("250 sink.test").await?,
            "AUTH" => {
                let args: Vec<&str> = line.split_whitespace().skip(1).collect();
                let (name, password) = match args.first().map(|m| m.to_ascii_uppercase()).as_deref()
                {
                    Some("PLAIN") => {
                        let initial = match args.get(1) {
                            Some(initial) => (*initial).to_owned(),
                            None => {
                                reply("334 ").await?;
                                read_line(&mut lines).await?.unwrap_or_default()
                            }
                        };
                        // authzid \0 authcid \0 password
                        let decoded = decode(&initial);
                        let mut parts = decoded.split('\0').skip(1);
                        (
                            parts.next().unwrap_or_default().to_owned(),
                            parts.next().unwrap_or_default().to_owned(),
                        )
                    }
                    Some("LOGIN") => {
                        reply("334 VXNlcm5hbWU6").await?;
                        let name = decode(&read_line(&mut lines).await?.unwrap_or_default());
                        reply("334 UGFzc3dvcmQ6").await?;
                        (
                            name,
                            decode(&read_line(&mut lines).await?.unwrap_or_default()),
                        )
                    }
                    _ => {
                        reply("504 5.5.4 unrecognized authentication type").await?;
                        continue;
                    }
                };
                let accepted = shared
                    .credentials
                    .as_ref()
                    .is_none_or(|(u, p)| *u == name && *p == password);
                if accepted {
                    user = Some(name);
                    reply("235 2.7.0 authentication successful").await?;
                } else {
                    reply("535 5.7.8 authentication credentials invalid").await?;
                }
            }
            "MAIL" if shared.credentials.is_some() && user.is_none() => {
                reply("530 5.7.0 authentication required").await?;
            }
            "MAIL" => {
                from = Some(angle_address(&line));
                to.clear();
                reply("250 2.1.0 OK").await?;
            }
            "RCPT" if from.is_none() => reply("503 5.5.1 MAIL first").await?,
            "RCPT" => match &shared.behaviour {
                Behaviour::RejectRcpt(line) => reply(line).await?,
                Behaviour::GreylistFirst(n) if number < *n => {
                    reply("451 4.7.1 greylisted, try again later").await?;
                }
                _ => {
                    to.push(angle_address(&line));
                    reply("250 2.1.5 OK").await?;
                }
            },
            "DATA" if to.is_empty() => reply("503 5.5.1 RCPT first").await?,
            "DATA" => {
                reply("354 end data with <CR><LF>.<CR><LF>").await?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut lines).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                if let Behaviour::RejectData(line) = &shared.behaviour {
                    reply(line).await?;
                } else {
                    let mail = ReceivedMail {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        data,
                        authenticated_as: user.clone(),
                    };
                    shared.messages.lock().expect("sink lock").push(mail);
                    reply("250 2.0.0 OK queued as SINK1").await?;
                }
                from = None;
                to.clear();
            }
            "RSET" => {
                from = None;
                to.clear();
                reply("250 2.0.0 OK").await?;
            }
            "NOOP" => reply("250 2.0.0 OK").await?,
            "QUIT" => return reply("221 2.0.0 bye").await,
            _ => reply("502 5.5.2 command not recognized").await?,
        }
    }
    Ok(())
}

/// The next line without its CRLF; `None` at end of stream.
async fn read_line(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut raw = Vec::new();
    if lines.read_until(b'\n', &mut raw).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&raw);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn angle_address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| i + start);
    line[start..end].to_owned()
}

fn decode(b64: &str) -> String {
    String::from_utf8_lossy(&BASE64.decode(b64.trim()).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speaks raw SMTP: `(client line, expected reply prefix)` pairs, in order.
    async fn converse(sink: &SmtpSink, script: &[(&str, &str)]) {
        let stream = TcpStream::connect(sink.addr()).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        assert!(
            read_line(&mut lines)
                .await
                .unwrap()
                .unwrap()
                .starts_with("220 ")
        );
        for (send, expect) in script {
            write
                .write_all(format!("{send}\r\n").as_bytes())
                .await
                .unwrap();
            if expect.is_empty() {
                continue;
            }
            let mut answer = read_line(&mut lines).await.unwrap().unwrap();
            while answer.as_bytes().get(3) == Some(&b'-') {
                answer = read_line(&mut lines).await.unwrap().unwrap();
            }
            assert!(
                answer.starts_with(expect),
                "{send:?} got {answer:?}, wanted {expect:?}"
            );
        }
    }

    #[tokio::test]
    async fn records_an_unstuffed_message_after_login_and_a_reset() {
        let sink = SmtpSink::start_with_credentials(Behaviour::AcceptAll, "u", "p").await;
        converse(
            &sink,
            &[
                ("HELO client", "250"),
                ("NOOP", "250"),
                ("MAIL FROM:<early@x>", "530"),
                ("AUTH LOGIN", "334"),
                (&BASE64.encode("u"), "334"),
                (&BASE64.encode("p"), "235"),
                ("MAIL FROM:<dropped@x>", "250"),
                ("RSET", "250"),
                ("DATA", "503"),
                ("MAIL FROM:<a@x> SIZE=10", "250"),
                ("RCPT TO:<b@y>", "250"),
                ("DATA", "354"),
                ("Subject: hi", ""),
                ("", ""),
                ("..leading dot", ""),
                (".", "250"),
                ("QUIT", "221"),
            ],
        )
        .await;
        let expected = ReceivedMail {
            from: "a@x".into(),
            to: vec!["b@y".into()],
            data: "Subject: hi\r\n\r\n.leading dot\r\n".into(),
            authenticated_as: Some("u".into()),
        };
        assert_eq!(sink.messages(), [expected]);
    }

    #[tokio::test]
    async fn refuses_wrong_plain_credentials() {
        let sink = SmtpSink::start_with_credentials(Behaviour::AcceptAll, "u", "p").await;
        let wrong = BASE64.encode("\0u\0nope");
        let right = BASE64.encode("\0u\0p");
        converse(
            &sink,
            &[
                ("EHLO c", "250"),
                (&format!("AUTH PLAIN {wrong}"), "535"),
                (&format!("AUTH PLAIN {right}"), "235"),
            ],
        )
        .await;
        assert_eq!(sink.connections(), 1);
    }
}
