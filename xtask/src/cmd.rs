//! Running cargo and other tools: print what runs, stop on the first failure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The workspace root (xtask lives one level below it).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// A step that failed: what ran, and the exit code to leave with.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) what: String,
    pub(crate) code: u8,
}

impl Failed {
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code.max(1))
    }
}

/// A command line to run from the workspace root, with extra environment.
pub(crate) struct Step {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Step {
    pub(crate) fn cargo(args: &[&str]) -> Step {
        Step::new(
            &std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            args,
        )
    }

    pub(crate) fn new(program: &str, args: &[&str]) -> Step {
        Step {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        }
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Step {
        self.env.push((key.into(), value.into()));
        self
    }

    pub(crate) fn args(mut self, extra: impl IntoIterator<Item = String>) -> Step {
        self.args.extend(extra);
        self
    }

    fn describe(&self) -> String {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v:?} "))
            .collect();
        format!("{}{} {}", env.concat(), self.program, self.args.join(" "))
    }

    /// Runs the step, printing it first; an error says what failed and how.
    pub(crate) fn run(&self) -> Result<(), Failed> {
        let what = self.describe();
        println!("\n==> {what}");
        let status = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(root())
            .status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(Failed {
                what,
                code: s.code().map_or(1, |c| c.clamp(1, 255) as u8),
            }),
            Err(err) => {
                eprintln!("xtask: could not start {}: {err}", self.program);
                Err(Failed { what, code: 127 })
            }
        }
    }
}
