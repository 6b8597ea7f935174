//! `tokoctl openapi [--output FILE]`

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the document; `-` for stdout.
    #[arg(long, short, default_value = "openapi.json")]
    output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = toko::http::spec_json();
    if args.output.as_os_str() == "-" {
        println!("{spec}");
    } else {
        std::fs::write(&args.output, format!("{spec}\n"))?;
        eprintln!("wrote {}", args.output.display());
    }
    Ok(())
}
