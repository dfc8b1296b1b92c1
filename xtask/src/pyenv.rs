//! The Python virtualenv some integration tests drive real, independent
//! clients from (kafka-python). Created under target/pyenv from PyPI with
//! the pinned requirements each crate keeps in `tests/python/requirements.txt`;
//! reused when it is already there. It also holds tansu, the real broker
//! (`cargo xtask broker`).

use std::path::{Path, PathBuf};

use crate::cmd::{root, Failed, Step};

/// Makes sure the venv exists with every crate's requirements; returns its
/// interpreter.
pub(crate) fn ensure() -> Result<PathBuf, Failed> {
    let venv = root().join("target").join("pyenv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        Step::new("python3", &["-m", "venv", &venv.display().to_string()]).run()?;
    }
    pip_install(&python, &[crate::broker::TANSU_PACKAGE])?;
    for requirements in requirement_files() {
        pip_install(&python, &["-r", &requirements.display().to_string()])?;
    }
    Ok(python)
}

fn pip_install(python: &Path, what: &[&str]) -> Result<(), Failed> {
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    args.extend_from_slice(what);
    Step::new(&python.display().to_string(), &args).run()
}

fn requirement_files() -> Vec<PathBuf> {
    let Ok(crates) = std::fs::read_dir(root().join("crates")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = crates
        .flatten()
        .map(|c| {
            c.path()
                .join("tests")
                .join("python")
                .join("requirements.txt")
        })
        .filter(|p| p.exists())
        .collect();
    files.sort();
    files
}
