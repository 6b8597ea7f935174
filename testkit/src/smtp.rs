//! A real SMTP server for tests: `testkit/smtp_catcher.py` (aiosmtpd) in a child process,
//! storing each accepted message as a file we can count and read.

use std::{
    ffi::OsString,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::poll::{at_least, eventually};

pub struct SmtpCatcher {
    child: Child,
    pub port: u16,
    directory: PathBuf,
}

/// The Python of the project's tool virtualenv (created by `scripts/test.sh`).
fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/tools/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/test.sh` once, or create .venv/tools with the \
         packages its `ensure_venv .venv/tools` line names",
        python.display()
    );
    python
}

/// Starts one of testkit's Python scripts with the tool virtualenv's Python and waits for
/// the "READY" it prints once listening; `what` names it in the panic when it does not start.
pub(crate) fn spawn_tool_script(script: &str, args: &[OsString], what: &str) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = Command::new(python())
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what} output: {e}"));
    if line.trim() != "READY" {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the {what} did not start (its error is above; is .venv/tools up to date with scripts/test.sh?)");
    }
    child
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpCatcher {
    /// Starts the server; `rcpt_delay` slows each RCPT reply (to kill senders mid-message).
    pub fn spawn(rcpt_delay: Duration) -> Self {
        Self::spawn_on(free_port(), rcpt_delay)
    }

    /// Starts the server on a given port (e.g. one a sender was already failing to reach).
    pub fn spawn_on(port: u16, rcpt_delay: Duration) -> Self {
        let directory =
            std::env::temp_dir().join(format!("toko-smtp-{}", uuid::Uuid::new_v4().simple()));
        let child = spawn_tool_script(
            "smtp_catcher.py",
            &[
                port.to_string().into(),
                directory.clone().into(),
                rcpt_delay.as_millis().to_string().into(),
            ],
            "SMTP catcher",
        );
        Self {
            child,
            port,
            directory,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first (raw RFC 5322 text).
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.directory)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits until at least `count` messages arrived; returns them all. Panics, listing what
    /// did arrive, after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<String> {
        eventually(&format!("{count} emails"), timeout, || async {
            at_least(count, self.messages())
        })
        .await
    }
}

impl Drop for SmtpCatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
