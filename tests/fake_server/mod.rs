//! A stand-in for a PostgreSQL server on 127.0.0.1, speaking just enough of the protocol to see
//! what a client sends before the login: it refuses TLS, asks for a clear-text password, records
//! what it got and refuses the login (SQLSTATE 28P01). Or it closes each connection at once, like
//! a port published by a proxy with nothing behind it. Each connection waits at most 5 s for the
//! client (a bound against hanging, not a measure); the server serves connections one at a time
//! until `finish`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the fake server does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Refuses TLS, asks for a password, records it, refuses the login.
    AskPassword,
    /// Closes the connection as soon as it is accepted.
    CloseAtOnce,
}

/// What one connection showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The client asked for TLS first.
    pub asked_tls: bool,
    pub user: Option<String>,
    pub database: Option<String>,
    /// The password sent, or `None` when the client hung up instead.
    pub password: Option<String>,
}

pub struct FakeServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<Seen>>>,
}

impl FakeServer {
    /// Listens on a free port of 127.0.0.1 and serves connections until `finish`.
    pub fn start(behaviour: Behaviour) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("the bound address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept() else {
                    break;
                };
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                match behaviour {
                    Behaviour::CloseAtOnce => drop(stream),
                    Behaviour::AskPassword => seen.push(serve(stream)),
                }
            }
            seen
        });
        FakeServer {
            port,
            stop,
            handle: Some(handle),
        }
    }

    /// A URL to database `database` as `user` on the fake server, with `query` after `?` if any.
    pub fn url(&self, user: &str, database: &str, query: &str) -> String {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!(
            "postgres://{user}@127.0.0.1:{}/{database}{query}",
            self.port
        )
    }

    /// Stops the server (once the client is done) and returns what the connections showed.
    pub fn finish(mut self) -> Vec<Seen> {
        self.stop_accepting();
        self.handle
            .take()
            .map(|handle| handle.join().expect("the fake server's thread"))
            .unwrap_or_default()
    }

    /// Sets the stop flag and wakes the pending accept with a connection of our own.
    fn stop_accepting(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.stop_accepting();
        }
    }
}

/// Serves one connection; any I/O error ends it with what was seen so far.
fn serve(mut stream: TcpStream) -> Seen {
    let mut seen = Seen::default();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = converse(&mut stream, &mut seen);
    seen
}

fn converse(stream: &mut TcpStream, seen: &mut Seen) -> std::io::Result<()> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSS_REQUEST: u32 = 80_877_104;
    let mut startup = read_untyped(stream)?;
    while startup.len() == 4 {
        let code = u32::from_be_bytes([startup[0], startup[1], startup[2], startup[3]]);
        if code == SSL_REQUEST {
            seen.asked_tls = true;
        } else if code != GSS_REQUEST {
            break;
        }
        stream.write_all(b"N")?;
        startup = read_untyped(stream)?;
    }
    // Protocol version, then key\0value\0 pairs.
    let mut fields = startup.get(4..).unwrap_or_default().split(|b| *b == 0);
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        let value = String::from_utf8_lossy(value).into_owned();
        match key {
            b"user" => seen.user = Some(value),
            b"database" => seen.database = Some(value),
            _ => {}
        }
    }
    // AuthenticationCleartextPassword.
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])?;
    let mut tag = [0u8; 1];
    stream.read_exact(&mut tag)?;
    let body = read_untyped(stream)?;
    if tag[0] == b'p' {
        let password = body.split(|b| *b == 0).next().unwrap_or_default();
        seen.password = Some(String::from_utf8_lossy(password).into_owned());
    }
    let mut error = Vec::new();
    for (field, text) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28P01"),
        (b'M', "password authentication failed (fake server)"),
    ] {
        error.push(field);
        error.extend_from_slice(text.as_bytes());
        error.push(0);
    }
    error.push(0);
    let length = u32::try_from(error.len() + 4).unwrap_or(u32::MAX);
    stream.write_all(b"E")?;
    stream.write_all(&length.to_be_bytes())?;
    stream.write_all(&error)?;
    stream.flush()
}

/// A length-prefixed message body (the length counts itself).
fn read_untyped(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let length = u32::from_be_bytes(length) as usize;
    if !(4..=10_000).contains(&length) {
        return Err(std::io::Error::other("implausible message length"));
    }
    let mut body = vec![0u8; length - 4];
    stream.read_exact(&mut body)?;
    Ok(body)
}
