//! `tokoctl openapi [--output FILE]` and `tokoctl events [--output FILE]`: the generated
//! documents of the API and of the events (no server or database needed).

use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the document; `-` for stdout.
    #[arg(long, short, default_value = "openapi.json")]
    output: PathBuf,
}

#[derive(clap::Args)]
pub struct EventArgs {
    /// Where to write the catalog; `-` for stdout.
    #[arg(long, short, default_value = "docs/EVENTS.md")]
    output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    write(&args.output, &format!("{}\n", toko::http::spec_json()))
}

pub fn events(args: EventArgs) -> anyhow::Result<()> {
    write(&args.output, &toko::events::catalog_markdown())
}

fn write(output: &Path, text: &str) -> anyhow::Result<()> {
    if output.as_os_str() == "-" {
        print!("{text}");
    } else {
        std::fs::write(output, text)?;
        eprintln!("wrote {}", output.display());
    }
    Ok(())
}
