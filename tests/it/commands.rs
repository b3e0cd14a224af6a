//! Vendor CLIs as child processes: real programs, real signals, no mocks.
//!
//! `sh` appears here only as the program under test, to print, sleep or ignore
//! signals on demand; stepwise itself never builds a shell string.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::Signal;
use stepwise::base::{CancelSignal, cancel_pair};
use stepwise::commands::{
    CommandError, CommandOutcome, CommandRequest, Exit, KubeEnv, OutputLine, Planned, Stopped, Stream, plan_for_mode,
    run, version_of, which,
};
use stepwise::runbook::template::{Template, render_argv};
use tokio::sync::mpsc;

const SHORT: Duration = Duration::from_millis(300);

fn sh(script: &str, args: &[&str]) -> CommandRequest {
    let mut argv = vec!["sh".to_string(), "-c".to_string(), script.to_string(), "sh".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    CommandRequest::new(argv).with_timeout(Duration::from_secs(20)).with_grace(SHORT).with_drain(SHORT)
}

async fn run_collect(request: &CommandRequest) -> (CommandOutcome, Vec<OutputLine>) {
    let mut lines = Vec::new();
    let outcome = run(request, |l| lines.push(l), CancelSignal::never()).await.expect("the command runs");
    (outcome, lines)
}

fn texts(lines: &[OutputLine], stream: Stream) -> Vec<String> {
    lines.iter().filter(|l| l.stream == stream).map(|l| l.text.clone()).collect()
}

/// Runs in the background, forwarding every line to the returned channel.
fn spawn_run(
    request: CommandRequest,
    cancel: CancelSignal,
) -> (tokio::task::JoinHandle<Result<CommandOutcome, CommandError>>, mpsc::UnboundedReceiver<OutputLine>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(async move {
        run(
            &request,
            move |line| {
                let _ = tx.send(line);
            },
            cancel,
        )
        .await
    });
    (handle, rx)
}

/// Gone, or a zombie nobody has reaped yet (a container's init may never reap).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn eventually_gone(pid: u32) -> bool {
    for _ in 0..100 {
        if is_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn first_pid(lines: &[OutputLine]) -> u32 {
    let text = lines.iter().find(|l| l.stream == Stream::Stdout).expect("the script printed a pid");
    text.text.trim().parse().expect("a pid")
}

#[tokio::test]
async fn hostile_values_reach_the_program_as_one_argument_each() {
    let hostile = [
        "two words",
        "it's \"quoted\"",
        "x; rm -rf /",
        "$(reboot)",
        "`id`",
        "line one\nline two",
        "*",
        "",
        "--flag=a b",
    ];
    let script = r#"for a in "$@"; do printf '%s\0' "$a"; done"#;
    let mut templates = vec![Template::literal("sh"), Template::literal("-c"), Template::literal(script)];
    templates.push(Template::literal("sh"));
    let mut values = BTreeMap::new();
    for (i, value) in hostile.iter().enumerate() {
        let name = format!("v{i}");
        templates.push(Template::parse(&format!("{{{{{name}}}}}")).unwrap());
        values.insert(name, value.to_string());
    }
    let argv = render_argv(&templates, &values).unwrap();
    let request = CommandRequest::new(argv).with_timeout(Duration::from_secs(10));
    let (outcome, _) = run_collect(&request).await;

    assert_eq!(outcome.exit, Exit::Code(0));
    let printed = outcome.stdout.text();
    let mut received: Vec<&str> = printed.split('\0').collect();
    assert_eq!(received.pop(), Some(""), "every argument ends with NUL");
    assert_eq!(received, hostile);
}

#[tokio::test]
async fn lines_arrive_while_the_program_is_still_running() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("go");
    let request = sh(
        r#"echo ready; echo warming >&2; while [ ! -e "$1" ]; do sleep 0.02; done; echo done"#,
        &[flag.to_str().unwrap()],
    );
    let (handle, mut rx) = spawn_run(request, CancelSignal::never());

    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(rx.recv().await.expect("a line before the program ends"));
    }
    assert!(seen.contains(&OutputLine { stream: Stream::Stdout, text: "ready".into() }));
    assert!(seen.contains(&OutputLine { stream: Stream::Stderr, text: "warming".into() }));
    assert!(!handle.is_finished(), "the lines came while the program was waiting");

    std::fs::write(&flag, "").unwrap();
    let outcome = handle.await.unwrap().unwrap();
    assert_eq!(rx.recv().await.map(|l| l.text), Some("done".to_string()));
    assert_eq!(outcome.stdout.text(), "ready\ndone");
    assert_eq!(outcome.stderr.text(), "warming");
    assert!(outcome.success());
}

#[tokio::test]
async fn each_stream_keeps_its_order() {
    let request = sh(r#"i=1; while [ $i -le 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done"#, &[]);
    let (outcome, lines) = run_collect(&request).await;
    let expected = |prefix: &str| (1..=300).map(|i| format!("{prefix} {i}")).collect::<Vec<_>>();
    assert_eq!(texts(&lines, Stream::Stdout), expected("out"));
    assert_eq!(texts(&lines, Stream::Stderr), expected("err"));
    assert_eq!(outcome.stdout.lines().collect::<Vec<_>>(), expected("out"));
    assert_eq!(outcome.stderr.lines().collect::<Vec<_>>(), expected("err"));
}

#[tokio::test]
async fn invalid_utf8_and_a_last_line_without_newline() {
    let (_, lines) = run_collect(&sh(r"printf '\377ok\r\nlast'", &[])).await;
    assert_eq!(texts(&lines, Stream::Stdout), ["\u{FFFD}ok", "last"]);
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let (outcome, _) = run_collect(&sh("exit 3", &[])).await;
    assert_eq!(outcome.exit, Exit::Code(3));
    assert!(!outcome.success());
    assert_eq!(outcome.exit.to_string(), "exit code 3");
    assert_eq!((outcome.timed_out, outcome.cancelled, outcome.stopped), (false, false, None));

    let (outcome, _) = run_collect(&sh("kill -USR1 $$", &[])).await;
    assert_eq!(outcome.exit, Exit::Signal(Signal::SIGUSR1 as i32));
    assert!(outcome.exit.to_string().contains("SIGUSR1"), "{}", outcome.exit);
    assert_eq!(outcome.stopped, None);
}

#[tokio::test]
async fn timeout_escalates_to_sigkill_for_the_whole_group() {
    let request = sh(r#"trap '' TERM; sleep 30 & echo $!; wait; wait"#, &[]).with_timeout(SHORT);
    let (outcome, lines) = run_collect(&request).await;
    let grandchild = first_pid(&lines);

    assert!(outcome.timed_out);
    assert!(!outcome.cancelled);
    assert_eq!(outcome.stopped, Some(Stopped::Killed));
    assert_eq!(outcome.exit, Exit::Signal(Signal::SIGKILL as i32));
    assert!(outcome.duration >= SHORT * 2, "grace was given: {:?}", outcome.duration);
    assert!(outcome.duration < Duration::from_secs(5), "{:?}", outcome.duration);
    assert!(eventually_gone(grandchild).await, "the grandchild {grandchild} was killed too");
}

#[tokio::test]
async fn sigterm_is_enough_for_a_program_that_honours_it() {
    let request = sh("sleep 30 & echo $!; wait", &[]).with_timeout(SHORT).with_grace(Duration::from_secs(10));
    let (outcome, lines) = run_collect(&request).await;
    assert!(outcome.timed_out);
    assert_eq!(outcome.stopped, Some(Stopped::Terminated));
    assert_eq!(outcome.exit, Exit::Signal(Signal::SIGTERM as i32));
    assert!(outcome.duration < Duration::from_secs(5), "no need to wait out the grace: {:?}", outcome.duration);
    assert!(eventually_gone(first_pid(&lines)).await);
}

#[tokio::test]
async fn cancellation_stops_the_group_like_a_timeout() {
    let (canceller, signal) = cancel_pair();
    let request = sh(r#"trap '' TERM; sleep 30 & echo $!; wait; wait"#, &[]);
    let (handle, mut rx) = spawn_run(request, signal);
    let first = rx.recv().await.expect("the pid line");
    let grandchild: u32 = first.text.parse().unwrap();
    canceller.cancel();
    let outcome = handle.await.unwrap().unwrap();

    assert!(outcome.cancelled);
    assert!(!outcome.timed_out);
    assert!(!outcome.success());
    assert_eq!(outcome.stopped, Some(Stopped::Killed));
    assert_eq!(outcome.exit, Exit::Signal(Signal::SIGKILL as i32));
    assert!(outcome.duration < Duration::from_secs(5));
    assert!(eventually_gone(grandchild).await);
}

#[tokio::test]
async fn cancellation_before_the_start_ends_the_program_at_once() {
    let (canceller, signal) = cancel_pair();
    canceller.cancel();
    let request = sh("sleep 30", &[]).with_grace(Duration::from_secs(10));
    let outcome = run(&request, |_| {}, signal).await.unwrap();
    assert!(outcome.cancelled);
    assert_eq!(outcome.stopped, Some(Stopped::Terminated));
    assert!(outcome.duration < Duration::from_secs(5));
}

#[tokio::test]
async fn processes_left_behind_are_stopped_after_the_drain_period() {
    let request = sh("sleep 30 & echo $!", &[]);
    let (outcome, lines) = run_collect(&request).await;
    assert_eq!(outcome.exit, Exit::Code(0));
    assert!(outcome.lingering);
    assert!(!outcome.timed_out && !outcome.cancelled);
    assert_eq!(outcome.stopped, Some(Stopped::Terminated));
    assert!(outcome.duration < Duration::from_secs(5));
    assert!(eventually_gone(first_pid(&lines)).await);
}

#[tokio::test]
async fn a_missing_program_is_named_with_advice() {
    let program = "stepwise-no-such-program-7f3a";
    let err = run_collect_err(CommandRequest::new(vec![program.into(), "--version".into()])).await;
    assert!(matches!(&err, CommandError::NotFound { program: p, .. } if p == program), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(program) && message.contains("PATH") && message.contains("install"), "{message}");

    let err = run_collect_err(CommandRequest::new(vec!["sh".into()]).with_env("PATH", "/nonexistent-dir")).await;
    assert!(err.to_string().contains("PATH=/nonexistent-dir"), "the PATH the child would see is searched: {err}");

    assert!(which(program).is_none());
    assert!(which("sh").is_some_and(|p| p.is_absolute()));
    assert!(matches!(version_of(program, &["version"]).await, Err(CommandError::NotFound { .. })));
}

#[tokio::test]
async fn empty_and_non_executable_programs_are_errors() {
    assert!(matches!(run_collect_err(CommandRequest::new(vec![])).await, CommandError::EmptyArgv));
    assert!(matches!(run_collect_err(CommandRequest::new(vec![String::new()])).await, CommandError::EmptyArgv));
    assert!(matches!(CommandRequest::checked(vec![]), Err(CommandError::EmptyArgv)));

    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("vendorctl");
    std::fs::write(&tool, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o644)).unwrap();
    let by_path = run_collect_err(CommandRequest::new(vec![tool.to_str().unwrap().into()])).await;
    assert!(matches!(&by_path, CommandError::PermissionDenied { path, .. } if *path == tool), "{by_path:?}");
    let on_path = CommandRequest::new(vec!["vendorctl".into()]).with_env("PATH", dir.path().to_str().unwrap());
    let err = run_collect_err(on_path).await;
    assert!(matches!(err, CommandError::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("not executable"), "{err}");
}

async fn run_collect_err(request: CommandRequest) -> CommandError {
    run(&request, |_| {}, CancelSignal::never()).await.expect_err("the command cannot start")
}

#[tokio::test]
async fn a_relative_program_runs_in_its_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool.sh");
    std::fs::write(&tool, "#!/bin/sh\necho \"$0\"; pwd\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let request = CommandRequest::new(vec!["./tool.sh".into()]).with_cwd(dir.path());
    let (outcome, _) = run_collect(&request).await;
    let here = dir.path().canonicalize().unwrap();
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with("tool.sh"));
    assert_eq!(std::path::Path::new(lines[1]).canonicalize().unwrap(), here);
}

#[tokio::test]
async fn kubeconfig_and_environment_reach_the_child() {
    let kube = KubeEnv { kubeconfig: Some("/tmp/a dir/kube config".into()), context: Some("prod-east".into()) };
    let mut values = BTreeMap::new();
    kube.add_values(&mut values);
    let argv: Vec<Template> =
        ["sh", "-c", r#"printf '%s|%s|%s\n' "$KUBECONFIG" "$STEPWISE_NS" "$2""#, "sh", "--context", "{{kube_context}}"]
            .iter()
            .map(|s| Template::parse(s).unwrap())
            .collect();
    let env = BTreeMap::from([("STEPWISE_NS".to_string(), Template::parse("ns {{kube_context}}").unwrap())]);
    let mut request = CommandRequest::checked(render_argv(&argv, &values).unwrap()).unwrap();
    request.env = env.iter().map(|(name, value)| (name.clone(), value.render(&values).unwrap())).collect();
    let request = kube.apply(request).unwrap();
    let (outcome, _) = run_collect(&request).await;
    assert_eq!(outcome.stdout.text(), "/tmp/a dir/kube config|ns prod-east|prod-east");

    // A KUBECONFIG the runbook sets itself wins over the operator's default.
    let own = CommandRequest::new(vec!["sh".into(), "-c".into(), "printf %s \"$KUBECONFIG\"".into()])
        .with_env("KUBECONFIG", "/zones/west");
    let (outcome, _) = run_collect(&kube.apply(own).unwrap()).await;
    assert_eq!(outcome.stdout.text(), "/zones/west");
}

#[tokio::test]
async fn fifty_megabytes_of_output_keep_memory_bounded() {
    const LINES: usize = 51_200; // of 1024 bytes each: 50 MiB
    let limit = 64 * 1024;
    let script = format!(r#"yes "$(head -c 1023 /dev/zero | tr '\0' x)" | head -n {LINES}; echo 'LAST LINE'"#);
    let request = sh(&script, &[]).with_capture_limit(limit);
    let before = peak_rss_kib();
    let mut count = 0usize;
    let mut longest = 0usize;
    let outcome = run(
        &request,
        |l| {
            count += 1;
            longest = longest.max(l.text.len());
        },
        CancelSignal::never(),
    )
    .await
    .unwrap();
    let grown_mib = (peak_rss_kib() - before) / 1024;

    assert!(outcome.success());
    assert_eq!(count, LINES + 1, "every line was streamed");
    assert_eq!(longest, 1023);
    assert_eq!(outcome.stdout.last_line(), Some("LAST LINE"));
    assert!(outcome.stdout.kept_bytes() <= limit);
    assert!(outcome.stdout.is_truncated());
    assert_eq!(outcome.stdout.dropped_bytes() + outcome.stdout.kept_bytes() as u64, (LINES * 1024 + 10) as u64);
    assert!(grown_mib < 25, "peak memory grew by {grown_mib} MiB");
}

/// A line is never cut below the capture limit, so a long manifest line (a
/// dashboard, a CA bundle) reaches apply whole; only a line longer than would
/// be kept anyway comes in pieces, so it cannot grow without bound.
#[tokio::test]
async fn a_long_line_comes_whole_and_one_without_end_in_bounded_pieces() {
    let (outcome, lines) = run_collect(&sh(r#"head -c 200000 /dev/zero | tr '\0' y"#, &[])).await;
    let sizes: Vec<usize> = lines.iter().map(|l| l.text.len()).collect();
    assert_eq!(sizes, [200000], "longer than 64 KiB, shorter than the capture limit: whole");
    assert!(outcome.success());
    assert_eq!(outcome.stdout.text().len(), 200000);

    let limit = stepwise::commands::DEFAULT_CAPTURE_LIMIT;
    let (_, lines) = run_collect(&sh(&format!("head -c {} /dev/zero | tr '\\0' y", 2 * limit + 5), &[])).await;
    let sizes: Vec<usize> = lines.iter().map(|l| l.text.len()).collect();
    assert_eq!(sizes, [limit, limit, 5], "over the capture limit: pieces of it");
}

fn peak_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn version_of_returns_the_first_line() {
    let version = version_of("sh", &["-c", "echo; echo '  v1.2.3  '; echo other"]).await.unwrap();
    assert_eq!(version, "v1.2.3");
    let on_stderr = version_of("sh", &["-c", "echo 'tool 0.9' >&2"]).await.unwrap();
    assert_eq!(on_stderr, "tool 0.9");
    let err = version_of("sh", &["-c", "echo 'unknown flag' >&2; exit 2"]).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("exit code 2") && message.contains("unknown flag"), "{message}");
}

#[test]
fn rehearsal_runs_only_the_declared_dry_run_form_or_a_read_only_command() {
    let real = vec!["helm", "upgrade", "mesh"];
    let dry = vec!["helm", "upgrade", "mesh", "--dry-run"];
    assert_eq!(plan_for_mode(real.clone(), Some(dry.clone()), false, false), Planned::Run(real.clone()));
    assert_eq!(plan_for_mode(real.clone(), None, false, false), Planned::Run(real.clone()));
    assert_eq!(plan_for_mode(real.clone(), Some(dry.clone()), false, true), Planned::Run(dry.clone()));
    assert_eq!(plan_for_mode(real.clone(), Some(dry.clone()), true, true), Planned::Run(dry));
    assert_eq!(plan_for_mode(real.clone(), None, true, true), Planned::Run(real.clone()));
    let shown = plan_for_mode(real.clone(), None, false, true);
    assert_eq!(shown, Planned::ShowOnly(real.clone()));
    assert!(!shown.runs());
    let rendered: Result<_, ()> = shown.try_map(|argv| Ok(argv.join(" ")));
    assert_eq!(rendered, Ok(Planned::ShowOnly("helm upgrade mesh".to_string())));
}

#[tokio::test]
async fn dropping_a_run_kills_everything_it_started() {
    let request = sh(r#"trap '' TERM; sleep 30 & echo $!; wait; wait"#, &[]);
    let mut pid = None;
    let run = run(&request, |l| pid = pid.or(l.text.parse::<u32>().ok()), CancelSignal::never());
    assert!(tokio::time::timeout(SHORT, run).await.is_err(), "the run was still going");
    let grandchild = pid.expect("the pid line arrived");
    assert!(eventually_gone(grandchild).await);
}
