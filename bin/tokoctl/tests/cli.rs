//! The `tokoctl` binary as a developer meets it: how it reports an expected failure, and
//! reading the emails the quick start's SMTP catcher saved.

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use lettre::message::{Mailbox, MultiPart};

/// A fresh directory to run in: no `.env` above it is picked up, nothing is shared.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tokoctl-{name}-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn tokoctl(dir: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokoctl"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("run tokoctl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_expected_failure_prints_its_error_chain_without_a_backtrace() {
    let dir = scratch_dir("failure");
    // Nothing listens on port 1: connecting fails, as with a stopped database.
    let output = tokoctl(
        &dir,
        &["migrate"],
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/toko"),
            ("RUST_BACKTRACE", "1"),
            ("RUST_LIB_BACKTRACE", "1"),
        ],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with("error: connecting to Postgres: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line, the chain: {stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");

    let output = tokoctl(&dir, &["audit"], &[("RUST_BACKTRACE", "1")]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with("error: ") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn mail_list_and_show_decode_the_saved_emails() {
    let dir = scratch_dir("mail");
    let mail = dir.join(".tmp/mail");
    std::fs::create_dir_all(&mail).unwrap();
    for (n, (subject, text)) in [
        ("Selamat datang di toko", "Halo Sari, akun Anda siap."),
        (
            "Pembayaran diterima — pesanan TK-7 ✓",
            "Pesanan TK-7 sudah dibayar: Rp 89.000 — terima kasih!",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let message = lettre::Message::builder()
            .from("toko <no-reply@toko.local>".parse::<Mailbox>().unwrap())
            .to("sari@example.com".parse::<Mailbox>().unwrap())
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                format!("<p>{text}</p>"),
            ))
            .unwrap();
        std::fs::write(mail.join(format!("{n}-message.eml")), message.formatted()).unwrap();
    }

    let list = tokoctl(&dir, &["mail", "list"], &[]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list = text(&list.stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].trim_start().starts_with("1 ") && lines[0].ends_with("Selamat datang di toko"),
        "{list}"
    );
    assert!(
        lines[1].contains("sari@example.com") && lines[1].ends_with("pesanan TK-7 ✓"),
        "{list}"
    );

    let shown = tokoctl(&dir, &["mail", "show", "last"], &[]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("subject: Pembayaran diterima — pesanan TK-7 ✓"),
        "{shown}"
    );
    assert!(
        shown.ends_with("\nPesanan TK-7 sudah dibayar: Rp 89.000 — terima kasih!\n"),
        "{shown}"
    );
    let html = text(&tokoctl(&dir, &["mail", "show", "2", "--html"], &[]).stdout);
    assert!(html.contains("<p>Pesanan TK-7"), "{html}");

    let missing = tokoctl(&dir, &["mail", "show", "9"], &[]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no email \"9\" among the 2"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The quick start writes `.env` at the repository root; `tokoctl` run from there or any
/// directory below finds its settings without exports.
#[test]
fn settings_come_from_a_dotenv_in_this_or_a_parent_directory() {
    let dir = scratch_dir("dotenv");
    std::fs::write(
        dir.join(".env"),
        "DATABASE_URL=postgres://postgres@127.0.0.1:1/from_dotenv\n",
    )
    .unwrap();
    let below = dir.join("scripts/deeper");
    std::fs::create_dir_all(&below).unwrap();
    for cwd in [&dir, &below] {
        let output = tokoctl(cwd, &["migrate"], &[]);
        let stderr = text(&output.stderr);
        // It got as far as connecting to the database the .env names.
        assert!(
            stderr.starts_with("error: connecting to Postgres: "),
            "{}: {stderr}",
            cwd.display()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
