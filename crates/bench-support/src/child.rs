//! Running a bench peer as a child process and measuring it alone: its CPU
//! time and peak RSS from `wait4` (the kernel's accounting for exactly that
//! child), and another process's CPU time (a broker's) from /proc.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child process did, as the kernel counted it.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// Its exit code, or `128 + signal` when a signal ended it.
    pub exit_code: i32,
    /// Whether the watchdog killed it for running past the timeout.
    pub timed_out: bool,
    /// User + system CPU time of the child (all its threads).
    pub cpu: Duration,
    /// Its peak resident set size in bytes (`ru_maxrss`).
    pub max_rss_bytes: u64,
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Everything it wrote to stdout (stderr passes through).
    pub stdout: String,
}

/// Spawns `command` with stdout captured, and reaps it with `wait4` so its
/// own rusage comes back; kills it (SIGKILL) if it runs past `timeout`.
///
/// # Errors
///
/// When the command cannot be spawned or waited for.
pub fn run_measured(command: &mut Command, timeout: Duration) -> io::Result<ChildRun> {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut pipe = child.stdout.take().expect("stdout was piped");
    // A full pipe would stall the child: drain it while it runs.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out);
        out
    });
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of the plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own unreaped child; both pointers are to
        // locals we own. WNOHANG: poll, so the watchdog below can act.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        if reaped < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        if !timed_out && started.elapsed() > timeout {
            // Not reaped yet, so the pid is still this child's (a zombie at
            // worst): the signal cannot reach another process.
            let _ = child.kill();
            timed_out = true;
        }
        // Polling costs at most this much extra wall time per run.
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = started.elapsed();
    let stdout = reader.join().unwrap_or_default();
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(ChildRun {
        exit_code,
        timed_out,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: usage.ru_maxrss.max(0) as u64 * 1024,
        wall,
        stdout,
    })
}

/// The CPU time (user + system, all threads) process `pid` has used so far,
/// for a process that is not our child, such as the broker a bench runs
/// against: the sum of its threads' nanosecond run times
/// (/proc/PID/task/*/schedstat), or, where that is missing, utime + stime
/// from /proc/PID/stat in clock ticks (10 ms: too coarse for short runs).
/// Threads that exited between two readings drop out of the sum; a
/// broker's worker threads live as long as it does.
///
/// # Errors
///
/// When /proc/PID/stat cannot be read or parsed (no such process, not
/// Linux).
pub fn process_cpu_of(pid: u32) -> io::Result<Duration> {
    if let Some(ns) = schedstat_ns(pid) {
        return Ok(Duration::from_nanos(ns));
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_proc_stat_cpu(&stat, clock_ticks_per_second()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: no utime/stime fields"),
        )
    })
}

/// The first field of every /proc/PID/task/TID/schedstat (time on a CPU,
/// ns), summed; `None` when the kernel keeps no schedstat.
fn schedstat_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue; // the thread exited while we read
        };
        total += line.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted
/// from its closing parenthesis.
fn parse_proc_stat_cpu(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / ticks_per_second.max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_cpu_counts_from_the_name_s_closing_parenthesis() {
        let line = "4242 (a b) c) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 1 0";
        assert_eq!(parse_proc_stat_cpu(line, 100), Some(Duration::from_secs(2)));
        assert_eq!(parse_proc_stat_cpu("4242 (x) S 1", 100), None);
    }

    #[test]
    fn own_cpu_time_is_readable_from_proc() {
        // Burn 100 ms of CPU by getrusage's clock; /proc must see most of
        // it (other tests' threads only add, or drop out with a few ms).
        let proc_before = process_cpu_of(std::process::id()).expect("/proc");
        let rusage_before = crate::process_cpu_time();
        let mut x = 0u64;
        while crate::process_cpu_time() - rusage_before < Duration::from_millis(100) {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
        }
        std::hint::black_box(x);
        let proc = process_cpu_of(std::process::id()).expect("/proc");
        let burnt = proc.saturating_sub(proc_before);
        assert!(
            burnt >= Duration::from_millis(50),
            "/proc saw {burnt:?} of 100 ms"
        );
        // Threads that exited drop out of /proc's sum, never in.
        assert!(proc <= crate::process_cpu_time() + Duration::from_millis(20));
    }

    #[test]
    fn a_child_s_exit_code_output_and_usage_come_back() {
        let run = run_measured(
            Command::new("sh").args(["-c", "echo hello; exit 3"]),
            Duration::from_secs(10),
        )
        .expect("sh runs");
        assert_eq!(run.exit_code, 3);
        assert_eq!(run.stdout.trim(), "hello");
        assert!(run.max_rss_bytes > 0 && !run.timed_out);
    }

    #[test]
    fn a_child_past_its_timeout_is_killed() {
        let run = run_measured(Command::new("sleep").arg("30"), Duration::from_millis(100))
            .expect("sleep runs");
        assert!(run.timed_out);
        assert_eq!(run.exit_code, 128 + libc::SIGKILL);
        assert!(run.wall < Duration::from_secs(10));
    }
}
