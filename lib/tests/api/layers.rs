//! The library's layers point one way: domain modules and the worker runtime never import the
//! API's HTTP edge (`http/`), and only the edge, the shared server (`serving/`) and the
//! workers' health server speak poem.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file of the library: (path relative to lib/src, its code lines without
/// comments).
fn library_code() -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 20, "the library's sources are found");
    files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let code = std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .map(str::trim_start)
                .filter(|line| !line.starts_with("//"))
                .map(str::to_owned)
                .collect();
            (relative, code)
        })
        .collect()
}

/// `(file relative to lib/src, line)` for every code line containing `needle`.
fn code_lines_with(needle: &str) -> Vec<(String, String)> {
    library_code()
        .into_iter()
        .flat_map(|(file, lines)| {
            lines
                .into_iter()
                .filter(|line| line.contains(needle))
                .map(move |line| (file.clone(), line))
        })
        .collect()
}

/// Every `use` of the crate's own modules, whitespace removed, per file outside `http/`.
fn crate_imports_outside_http() -> Vec<(String, String)> {
    let mut imports = Vec::new();
    for (relative, lines) in library_code() {
        if relative.starts_with("http/") {
            continue;
        }
        for statement in lines.join("\n").split(';') {
            let statement: String = statement.split_whitespace().collect();
            let statement = statement
                .trim_start_matches("pub")
                .trim_start_matches("(crate)");
            if statement.starts_with("usecrate::") || statement.starts_with("usesuper::") {
                imports.push((relative.clone(), statement.to_owned()));
            }
        }
    }
    imports
}

#[test]
fn only_the_http_edge_imports_it() {
    let names_http = |statement: &str| {
        [
            "::http::", "::http;", "{http::", ",http::", "{http,", ",http,", ",http}", "{http}",
        ]
        .iter()
        .any(|p| statement.contains(p))
            || statement.ends_with("::http")
    };
    let imports = crate_imports_outside_http();
    assert!(imports.len() > 50, "the crate's imports are found");
    let outside: Vec<_> = imports.into_iter().filter(|(_, s)| names_http(s)).collect();
    assert!(outside.is_empty(), "imports of the HTTP edge: {outside:#?}");
    let inline: Vec<_> = code_lines_with("crate::http::")
        .into_iter()
        .filter(|(file, _)| !file.starts_with("http/"))
        .collect();
    assert!(inline.is_empty(), "paths into the HTTP edge: {inline:#?}");
}

#[test]
fn only_the_servers_speak_poem() {
    let allowed = |file: &str| {
        file.starts_with("http/")
            || file.starts_with("serving/")
            || file == "messaging/worker_http.rs"
    };
    let outside: Vec<_> = code_lines_with("poem")
        .into_iter()
        .filter(|(file, _)| !allowed(file))
        .collect();
    assert!(outside.is_empty(), "poem outside the servers: {outside:#?}");
}
