//! `tokoctl create-admin --email E [--name N]`

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use toko::{
    auth::{AuthService, Registration},
    config,
};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    email: String,
    #[arg(long, default_value = "Administrator")]
    name: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let password = read_password()?;
    let reader = config::Reader(&config::ProcessEnv);
    let environment = reader.environment()?;
    let auth_config = config::AuthConfig::from_reader(&reader, environment)?;
    let pool = super::database().await?;
    let auth = AuthService::new(pool, auth_config).await?;
    let owner = Registration::parse(&args.email, password, &args.name)?;
    let user = auth.create_admin(owner).await?;
    println!("admin ready: {} ({})", user.email, user.id);
    Ok(())
}

/// From `TOKO_ADMIN_PASSWORD`, else the first line of stdin (never a command-line flag, which
/// would end up in shell history and `ps`).
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("TOKO_ADMIN_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password for the admin: ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password given: pipe it on stdin or set TOKO_ADMIN_PASSWORD");
    }
    Ok(password)
}
