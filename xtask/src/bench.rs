//! `cargo xtask bench NAME`: runs one benchmark in release mode and splices
//! the Markdown section it writes into docs/benchmarks.md, between
//! `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, so each bench owns its
//! section and re-running one leaves the others alone.

use std::fs;
use std::path::PathBuf;

use crate::cmd::{root, Failed, Step};

/// Benchmarks: name, package, bench target.
pub(crate) const BENCHES: &[(&str, &str, &str)] = &[
    ("waker", "rouse-waker", "waker"),
    ("timer", "rouse-timer", "timer"),
    ("reactor", "rouse-reactor", "reactor"),
    ("batch", "rouse-kafka", "batch"),
    // Not a cargo bench: peers in processes of their own (bench_producer.rs).
    ("producer", "rouse-producer-bench", "producer-bench"),
    // Likewise (bench_consumer.rs).
    ("consumer", "rouse-consumer-bench", "consumer-bench"),
];

pub(crate) fn run(name: &str) -> Result<(), Failed> {
    let Some(&(_, package, target)) = BENCHES.iter().find(|(n, _, _)| *n == name) else {
        let known: Vec<&str> = BENCHES.iter().map(|(n, _, _)| *n).collect();
        eprintln!(
            "xtask bench: no benchmark named {name:?}; choose one of: {}",
            known.join(", ")
        );
        return Err(Failed {
            what: format!("bench {name}"),
            code: 2,
        });
    };
    let dir = results_dir();
    let out = dir.join(format!("bench-{name}.md"));
    if let Err(err) = fs::create_dir_all(&dir) {
        eprintln!(
            "xtask bench: cannot create {} for the bench's results: {err}; \
             point CARGO_TARGET_DIR at a writable directory",
            dir.display()
        );
        return Err(Failed {
            what: format!("bench {name}"),
            code: 1,
        });
    }
    let _ = fs::remove_file(&out);
    if name == "producer" {
        crate::bench_producer::run(&out)?;
    } else if name == "consumer" {
        crate::bench_consumer::run(&out)?;
    } else {
        Step::cargo(&["bench", "-p", package, "--bench", target])
            .env("ROUSE_BENCH_MD", out.display().to_string())
            .run()?;
    }
    let section = fs::read_to_string(&out).map_err(|err| {
        eprintln!(
            "xtask bench: the bench wrote no results to {}: {err}",
            out.display()
        );
        Failed {
            what: format!("bench {name}"),
            code: 1,
        }
    })?;
    let filter = std::env::var("ROUSE_BENCH_FILTER").ok();
    let driven = matches!(name, "producer" | "consumer");
    if let Some(filter) = partial_run(filter).filter(|_| driven) {
        // The producer and consumer drivers write every table of their
        // section; a filtered run measures some rows only, and splicing it
        // would replace the section's other tables with empty ones.
        println!(
            "xtask bench: ROUSE_BENCH_FILTER={filter:?} ran part of the bench; its tables are \
             in {} and docs/benchmarks.md is left as it is (a full run updates it)",
            out.display()
        );
        return Ok(());
    }
    splice(name, &section).map_err(|err| {
        eprintln!("xtask bench: updating docs/benchmarks.md failed: {err}");
        Failed {
            what: "docs/benchmarks.md".into(),
            code: 1,
        }
    })?;
    println!("xtask bench: wrote the {name} section of docs/benchmarks.md");
    Ok(())
}

/// Where the bench writes its Markdown before it is spliced: cargo's target
/// directory, which is `$CARGO_TARGET_DIR` when set (relative to the
/// workspace root if relative, as cargo reads it), else `target/` here. The
/// repository itself may be read-only when the target directory is elsewhere.
fn results_dir() -> PathBuf {
    target_dir(std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
}

fn target_dir(from_env: Option<PathBuf>) -> PathBuf {
    match from_env {
        Some(dir) if dir.as_os_str().is_empty() => root().join("target"),
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The filter of a run that measures only some rows, if this is one.
fn partial_run(filter: Option<String>) -> Option<String> {
    filter.filter(|f| !f.trim().is_empty())
}

fn splice(name: &str, section: &str) -> std::io::Result<()> {
    let path = root().join("docs").join("benchmarks.md");
    let doc = fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    fs::write(&path, replace_section(&doc, name, section))
}

/// Replaces (or appends) the marked section for `name`.
fn replace_section(doc: &str, name: &str, section: &str) -> String {
    let (open, close) = (
        format!("<!-- bench:{name} -->"),
        format!("<!-- /bench:{name} -->"),
    );
    let block = format!("{open}\n{}\n{close}", section.trim_end());
    match (doc.find(&open), doc.find(&close)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{block}{}", &doc[..start], &doc[end + close.len()..])
        }
        _ => format!("{}\n\n{block}\n", doc.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::{partial_run, replace_section, root, target_dir};
    use std::path::PathBuf;

    #[test]
    fn only_an_unfiltered_run_is_spliced() {
        assert_eq!(partial_run(None), None);
        assert_eq!(partial_run(Some(String::new())), None);
        assert_eq!(partial_run(Some("  ".into())), None);
        assert_eq!(partial_run(Some("group".into())), Some("group".into()));
    }

    #[test]
    fn results_go_to_cargo_target_dir_when_set() {
        let outside = std::env::temp_dir().join("rouse-target");
        assert_eq!(target_dir(Some(outside.clone())), outside);
        assert_eq!(
            target_dir(Some(PathBuf::from("t2"))),
            root().join("t2"),
            "relative to the workspace, as cargo reads it"
        );
        assert_eq!(target_dir(None), root().join("target"));
        assert_eq!(target_dir(Some(PathBuf::new())), root().join("target"));
    }

    #[test]
    fn appends_then_replaces_only_its_own_section() {
        let doc = replace_section("# Benchmarks\n", "waker", "## Waker\nold\n");
        let doc = replace_section(&doc, "timer", "## Timers\nt\n");
        let doc = replace_section(&doc, "waker", "## Waker\nnew\n");
        assert!(doc.contains("new") && !doc.contains("old"));
        assert!(doc.contains("## Timers\nt"));
        assert_eq!(doc.matches("<!-- bench:waker -->").count(), 1);
    }
}
