//! Writing results: standard output that a closed pipe or a full disk cannot turn into a panic,
//! and output files checked before the work starts and written whole (a temporary file in the
//! same directory, then a rename), so a failure or Ctrl-C never leaves half a file.

use anyhow::{anyhow, Result};
use relu_regions::Error;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to standard output. A closed pipe (`| head`) ends the program quietly with exit
/// code 0; any other write error (a full disk) is an error that names standard output.
pub fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(anyhow!(Error::usage(
            "(standard output)",
            format!("cannot write: {e}")
        ))),
    }
}

/// The absolute form of a path whose file may not exist yet: its directory canonicalised.
fn resolved(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(dir.join(p.file_name()?))
}

/// Checks, before any work, that every output file (flag, path) can be written: its directory
/// exists, it is not a directory, it is none of the input files and no other output's path.
pub fn check_outputs(inputs: &[&str], outputs: &[(&str, Option<&str>)]) -> Result<()> {
    let inputs: Vec<(PathBuf, &str)> = inputs
        .iter()
        .filter_map(|p| resolved(p).map(|r| (r, *p)))
        .collect();
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for &(flag, path) in outputs {
        let Some(path) = path else { continue };
        let bad = |reason: String| anyhow!(Error::usage(flag, format!("{path}: {reason}")));
        let p = Path::new(path);
        if p.is_dir() {
            return Err(bad("is a directory; give a file name".into()));
        }
        let Some(full) = resolved(path) else {
            return Err(bad("its directory does not exist".into()));
        };
        if let Some((_, input)) = inputs.iter().find(|(i, _)| *i == full) {
            return Err(bad(format!(
                "is the input file {input}; writing there would overwrite it"
            )));
        }
        if let Some((_, other)) = seen.iter().find(|(o, _)| *o == full) {
            return Err(bad(format!("is also the output of {other}")));
        }
        seen.push((full, flag));
    }
    Ok(())
}

/// Writes `bytes` to `path` whole: a temporary file beside it, then a rename over it.
pub fn write_file(flag: &str, path: &str, bytes: &[u8]) -> Result<()> {
    let target = Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| anyhow!(Error::usage(flag, format!("{path}: not a file name"))))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = target.with_file_name(tmp_name);
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, target));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow!(Error::usage(flag, format!("{path}: cannot write: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_output_that_is_an_input() {
        let dir = std::env::temp_dir().join(format!("rr-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let net = dir.join("net.json");
        std::fs::write(&net, "{}").unwrap();
        let net = net.to_str().unwrap();
        // The same file under another spelling.
        let other = format!("{}/./net.json", dir.to_str().unwrap());
        let err = check_outputs(&[net], &[("--regions", Some(&other))]).unwrap_err();
        assert!(err.to_string().contains("overwrite"), "{err}");
        let missing = format!("{}/no/such/dir/out.json", dir.to_str().unwrap());
        assert!(check_outputs(&[net], &[("--svg", Some(&missing))]).is_err());
        let a = format!("{}/a.svg", dir.to_str().unwrap());
        assert!(check_outputs(&[net], &[("--svg", Some(&a)), ("--png", Some(&a))]).is_err());
        assert!(check_outputs(&[net], &[("--svg", Some(&a))]).is_ok());
        write_file("--svg", &a, b"x").unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
