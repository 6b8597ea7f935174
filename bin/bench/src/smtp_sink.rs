//! A tiny SMTP server that accepts every message and counts those addressed to this run,
//! so W7 measures the notifier rather than a mail store.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// Delivery times of the counted messages.
#[derive(Clone, Default)]
pub struct Deliveries(Arc<Mutex<Vec<Instant>>>);

impl Deliveries {
    pub fn count(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    /// The first and the last delivery.
    pub fn span(&self) -> Option<(Instant, Instant)> {
        let times = self.0.lock().expect("not poisoned");
        Some((*times.first()?, *times.last()?))
    }
}

/// Listens on 127.0.0.1:`port`; counts messages with a recipient containing `tag`.
pub async fn start(port: u16, tag: String) -> anyhow::Result<Deliveries> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let deliveries = Deliveries::default();
    let counted = deliveries.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (counted, tag) = (counted.clone(), tag.clone());
            tokio::spawn(async move {
                let _ = session(stream, &tag, &counted).await;
            });
        }
    });
    Ok(deliveries)
}

/// One SMTP session (RFC 5321 without extensions: no STARTTLS, no AUTH, no pipelining).
async fn session(stream: TcpStream, tag: &str, deliveries: &Deliveries) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut for_this_run = false;
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 bench-sink\r\n",
            "MAIL" => {
                for_this_run = false;
                b"250 OK\r\n"
            }
            "RCPT" => {
                for_this_run |= line.contains(tag);
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with .\r\n").await?;
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        break;
                    }
                }
                if for_this_run {
                    deliveries
                        .0
                        .lock()
                        .expect("not poisoned")
                        .push(Instant::now());
                }
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
