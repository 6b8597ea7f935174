//! `tokoctl mail list|show`: reads the emails the quick start's local SMTP catcher saved as
//! `.eml` files (`.tmp/mail`), decoded: MIME parts, quoted-printable and base64 bodies and
//! encoded-word subjects, so a developer sees the text a customer would.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Every saved email, oldest first: number, date, recipient, subject.
    List {
        /// Where the catcher saves the emails.
        #[arg(long, default_value = ".tmp/mail")]
        dir: PathBuf,
    },
    /// One email's headers and its text body (the HTML part with `--html`).
    Show {
        /// Its number in `tokoctl mail list`, `last`, or a file name.
        email: String,
        #[arg(long, default_value = ".tmp/mail")]
        dir: PathBuf,
        /// Print the HTML part instead of the plain text.
        #[arg(long)]
        html: bool,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List { dir } => {
            let files = emails(&dir)?;
            if files.is_empty() {
                println!("no emails in {}", dir.display());
            }
            for (number, file) in files.iter().enumerate() {
                let email = Email::parse(&read(file)?);
                println!(
                    "{:>3}  {}  {}  {}",
                    number + 1,
                    email.header("date").unwrap_or_default(),
                    email.header("to").unwrap_or_default(),
                    email.header("subject").unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Show { email, dir, html } => {
            let files = emails(&dir)?;
            let file = pick(&files, &dir, &email)?;
            let parsed = Email::parse(&read(&file)?);
            for name in ["date", "from", "to", "subject"] {
                println!(
                    "{:<8} {}",
                    format!("{name}:"),
                    parsed.header(name).unwrap_or_default()
                );
            }
            let wanted = if html { "text/html" } else { "text/plain" };
            let body = parsed
                .body(wanted)
                .with_context(|| format!("{} has no {wanted} part", file.display()))?;
            println!("\n{body}");
            Ok(())
        }
    }
}

fn read(file: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The `.eml` files of `dir`, oldest first (the catcher names them by arrival time).
fn emails(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "reading {} (emails land there while scripts/quickstart.sh runs; --dir for another place)",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    files.sort();
    Ok(files)
}

fn pick(files: &[PathBuf], dir: &Path, wanted: &str) -> anyhow::Result<PathBuf> {
    let found = match wanted {
        "last" => files.last(),
        _ => match wanted.parse::<usize>() {
            Ok(number) => number.checked_sub(1).and_then(|index| files.get(index)),
            Err(_) => files
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == wanted)),
        },
    };
    found.cloned().with_context(|| {
        format!(
            "no email {wanted:?} among the {} in {} (see tokoctl mail list)",
            files.len(),
            dir.display()
        )
    })
}

/// A parsed message: unfolded headers (names lowercased) and the raw body.
struct Email {
    headers: Vec<(String, String)>,
    body: String,
}

impl Email {
    fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
            }
        }
        Self {
            headers,
            body: body.to_owned(),
        }
    }

    /// A header's value with its encoded words decoded.
    fn header(&self, name: &str) -> Option<String> {
        self.raw_header(name).map(decode_words)
    }

    fn raw_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn content_type(&self) -> String {
        self.raw_header("content-type")
            .unwrap_or("text/plain")
            .to_lowercase()
    }

    /// The decoded body of the first part of type `mime` (depth first through multiparts).
    fn body(&self, mime: &str) -> Option<String> {
        let content_type = self.content_type();
        if content_type.starts_with("multipart/") {
            let boundary = parameter(self.raw_header("content-type")?, "boundary")?;
            let delimiter = format!("--{boundary}");
            return self
                .body
                .split(&delimiter)
                .skip(1)
                .take_while(|part| !part.starts_with("--"))
                .find_map(|part| Email::parse(part.trim_start_matches('\n')).body(mime));
        }
        if !content_type.starts_with(mime) {
            return None;
        }
        let encoding = self
            .raw_header("content-transfer-encoding")
            .unwrap_or("7bit")
            .to_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => quoted_printable(&self.body),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(self.body.split_whitespace().collect::<String>())
                .unwrap_or_else(|_| self.body.clone().into_bytes()),
            _ => self.body.clone().into_bytes(),
        };
        Some(String::from_utf8_lossy(&bytes).trim_end().to_owned())
    }
}

/// A `name=value` parameter of a header such as `multipart/alternative; boundary="x"`.
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Quoted-printable (RFC 2045): `=XX` bytes and `=` soft line breaks.
fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header value;
/// whitespace between two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        let decoded = word[2..].split_once('?').and_then(|(_charset, tail)| {
            let (encoding, tail) = tail.split_once('?')?;
            let (text, tail) = tail.split_once("?=")?;
            let bytes = match encoding.to_ascii_lowercase().as_str() {
                "b" => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?,
                "q" => quoted_printable(&text.replace('_', " ")),
                _ => return None,
            };
            Some((String::from_utf8_lossy(&bytes).into_owned(), tail))
        });
        let Some((text, tail)) = decoded else {
            out.push_str(before);
            out.push_str("=?");
            rest = &word[2..];
            after_word = false;
            continue;
        };
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        out.push_str(&text);
        rest = tail;
        after_word = true;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use lettre::message::{Mailbox, MultiPart};

    use super::*;

    /// A message as lettre (the notifier's mail library) writes it: multipart/alternative,
    /// a non-ASCII subject, long lines and non-ASCII text that force an encoding.
    fn lettre_message() -> String {
        let text = format!(
            "Halo Sari, pesanan Anda sudah dibayar: Rp 89.000 — terima kasih! {}\nLine two.",
            "Panjang ".repeat(20)
        );
        let message = lettre::Message::builder()
            .from("toko <no-reply@toko.local>".parse::<Mailbox>().unwrap())
            .to("sari@example.com".parse::<Mailbox>().unwrap())
            .subject("Pembayaran diterima — pesanan TK-1 ✓")
            .multipart(MultiPart::alternative_plain_html(
                text,
                "<p>Halo <b>Sari</b> — dibayar</p>".to_owned(),
            ))
            .unwrap();
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn a_lettre_message_reads_as_its_customer_would_see_it() {
        let raw = lettre_message();
        assert!(
            !raw.contains("terima kasih! Panjang"),
            "the body is encoded: {raw}"
        );
        let email = Email::parse(&raw);
        assert_eq!(
            email.header("subject").unwrap(),
            "Pembayaran diterima — pesanan TK-1 ✓"
        );
        assert_eq!(email.header("to").unwrap(), "sari@example.com");
        let text = email.body("text/plain").unwrap();
        assert!(
            text.starts_with(
                "Halo Sari, pesanan Anda sudah dibayar: Rp 89.000 — terima kasih! Panjang Panjang"
            ),
            "{text}"
        );
        assert!(text.ends_with("Panjang \nLine two."), "{text:?}");
        assert_eq!(
            email.body("text/html").unwrap(),
            "<p>Halo <b>Sari</b> — dibayar</p>"
        );
    }

    #[test]
    fn quoted_printable_soft_breaks_and_bytes() {
        assert_eq!(quoted_printable("a=3Db=\nc =E2=80=94"), "a=bc —".as_bytes());
        assert_eq!(
            decode_words("=?utf-8?q?Halo_=E2=9C=93?= =?utf-8?b?IQ==?= x"),
            "Halo ✓! x"
        );
    }
}
