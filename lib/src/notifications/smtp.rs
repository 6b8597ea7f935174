//! The notifier's SMTP client: lettre's protocol code ([`AsyncSmtpConnection`]) over sockets
//! opened here with `TCP_NODELAY`, kept open in a pool.
//!
//! Why not lettre's `AsyncSmtpTransport`: it writes a message and its `\r\n.\r\n` terminator
//! as two writes on a socket without `TCP_NODELAY`, and has no setting for it. Nagle's
//! algorithm then holds the terminator until the server acknowledges the body, and servers
//! delay that ACK (40 ms on Linux): ~45 ms per email per connection, 90 emails/s at the
//! notifier's default concurrency. With `TCP_NODELAY` every command leaves at once.
//!
//! Pooling: a sent email leaves its connection idle in the pool for the next one (no TCP or
//! TLS handshake, EHLO or AUTH per email). A connection idle for more than
//! [`CHECK_AFTER_IDLE`] is checked with `NOOP` before reuse, one idle for more than
//! [`MAX_IDLE_TIME`] is closed (servers drop idle clients after a few minutes), and a
//! connection on which anything failed is closed, never reused mid-transaction.
//!
//! `SMTP_URL` reads as lettre's `from_url` does: `smtp://host:port` (plain, port 25),
//! `?tls=required` or `?tls=opportunistic` (STARTTLS, port 587), `smtps://` (implicit TLS,
//! port 465), `user:password@` (percent-encoded) for AUTH PLAIN/LOGIN, and a path as the
//! EHLO name.

use std::{
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll},
    time::{Duration, Instant},
};

#[allow(deprecated)] // lettre's own TLS stream, reused for implicit TLS (see `connect`).
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        extension::ClientId,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use super::MailError;

/// Idle connections kept for reuse; more may be open while sending.
const MAX_IDLE: usize = 32;
/// Idle longer than this: `NOOP` before reusing.
pub const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);
/// Idle longer than this: closed rather than reused.
pub const MAX_IDLE_TIME: Duration = Duration::from_secs(60);

/// How the connection is encrypted.
#[derive(Clone)]
enum Encryption {
    None,
    StartTls {
        parameters: TlsParameters,
        required: bool,
    },
    Implicit(TlsParameters),
}

/// An SMTP server and how to talk to it (no `Debug`: it holds the password).
#[derive(Clone)]
struct Server {
    host: String,
    port: u16,
    tls: Encryption,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Server {
    fn from_url(url: &str) -> Result<Self, MailError> {
        let invalid = |reason: &str| MailError::Config(reason.to_owned());
        let url = url::Url::parse(url).map_err(|e| MailError::Config(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls_parameters =
            || TlsParameters::new(host.clone()).map_err(|e| MailError::Config(e.to_string()));
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
            ("smtp", None) => (Encryption::None, 25),
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => (
                Encryption::StartTls {
                    parameters: tls_parameters()?,
                    required: mode == "required",
                },
                587,
            ),
            ("smtps", _) => (Encryption::Implicit(tls_parameters()?), 465),
            _ => {
                return Err(invalid(
                    "expected smtp://, smtp://...?tls=required|opportunistic or smtps://",
                ))
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid("credentials are not UTF-8"))
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let path = url.path().trim_matches('/');
        let hello = if path.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(path.to_owned())
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            tls,
            credentials,
            hello,
        })
    }
}

struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// A pool of SMTP connections to one server.
pub struct SmtpClient {
    server: Server,
    /// Bound on one connect (TCP, TLS, EHLO, AUTH) and on one send.
    timeout: Duration,
    idle: Mutex<Vec<Idle>>,
}

impl SmtpClient {
    /// A client for `SMTP_URL` (see the module docs); connects on first use.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, MailError> {
        Ok(Self {
            server: Server::from_url(url)?,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message (MAIL FROM, RCPT TO, DATA) on a pooled or new connection.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), MailError> {
        let mut connection = self.checkout().await?;
        match tokio::time::timeout(self.timeout, connection.send(envelope, message)).await {
            Ok(Ok(_)) => {
                self.checkin(connection);
                Ok(())
            }
            Ok(Err(e)) => {
                discard(connection);
                Err(e.into())
            }
            Err(_) => {
                discard(connection);
                Err(MailError::Timeout(self.timeout))
            }
        }
    }

    /// Connections idle in the pool now.
    pub fn idle_connections(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, MailError> {
        loop {
            let next = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(Idle {
                mut connection,
                since,
            }) = next
            else {
                break;
            };
            let idle_for = since.elapsed();
            if idle_for > MAX_IDLE_TIME {
                discard(connection);
            } else if idle_for <= CHECK_AFTER_IDLE
                || tokio::time::timeout(self.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(connection);
            }
        }
        tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| MailError::Timeout(self.timeout))?
    }

    fn checkin(&self, connection: AsyncSmtpConnection) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() < MAX_IDLE && !connection.has_broken() {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        } else {
            drop(idle);
            discard(connection);
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let s = &self.server;
        let tcp = TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(MailError::Connect)?;
        // The point of this client: see the module docs.
        tcp.set_nodelay(true).map_err(MailError::Connect)?;
        let mut connection = match &s.tls {
            Encryption::Implicit(parameters) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(parameters.clone()).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Encrypted(stream)), &s.hello)
                    .await?
            }
            Encryption::None | Encryption::StartTls { .. } => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello).await?
            }
        };
        if let Encryption::StartTls {
            parameters,
            required,
        } = &s.tls
        {
            if *required || connection.can_starttls() {
                connection.starttls(parameters.clone(), &s.hello).await?;
            }
        }
        if let Some(credentials) = &s.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// Closes a connection in the background (QUIT, unless it is broken).
fn discard(mut connection: AsyncSmtpConnection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), connection.abort()).await;
    });
}

/// A TLS stream from lettre, handed back to lettre as a plain transport (implicit TLS:
/// `connect_with_transport` takes any stream, and the handshake must precede the greeting).
#[allow(deprecated)]
#[derive(Debug)]
struct Encrypted(AsyncNetworkStream);

#[allow(deprecated)]
impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

// lettre's stream speaks the `futures` I/O traits; `connect_with_transport` wants tokio's.
impl AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let read =
            futures::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, buf.initialize_unfilled());
        read.map_ok(|n| buf.advance(n))
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let plain = Server::from_url("smtp://127.0.0.1:1025").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 1025));
        assert!(matches!(plain.tls, Encryption::None));
        assert!(plain.credentials.is_none());

        let submission =
            Server::from_url("smtp://u%40x:p%2Fw@mail.example.com/shop.example?tls=required")
                .unwrap();
        assert_eq!(submission.port, 587);
        assert!(matches!(
            submission.tls,
            Encryption::StartTls { required: true, .. }
        ));
        assert_eq!(
            submission.credentials,
            Some(Credentials::new("u@x".into(), "p/w".into()))
        );
        assert_eq!(submission.hello, ClientId::Domain("shop.example".into()));

        let implicit = Server::from_url("smtps://mail.example.com").unwrap();
        assert_eq!(implicit.port, 465);
        assert!(matches!(implicit.tls, Encryption::Implicit(_)));

        assert!(Server::from_url("smtp://mail.example.com?tls=sometimes").is_err());
        assert!(Server::from_url("http://mail.example.com").is_err());
    }
}
