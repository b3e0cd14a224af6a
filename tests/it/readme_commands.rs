//! Every command in the README's shell code blocks works: each `stepwise ...`
//! and `kubectl stepwise ...` line runs, in the README's order, against a test
//! bed holding NGINX Service Mesh 1.6.0, and must succeed. Lines this test does
//! not run are listed in SKIPPED with the reason; any other line fails it, so a
//! new command in the README is either run here or skipped on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use crate::seed;
use crate::support;

use std::path::Path;
use std::process::Output;

/// Commands not run here, by how they start, and why.
const SKIPPED: &[(&str, &str)] = &[
    ("tests/sandbox/sandbox.sh", "needs a terminal; tests/sandbox.rs runs it in tmux"),
    ("tests/run", "the test command itself; this test runs inside it"),
    ("cargo install", "would install into the machine's ~/.cargo/bin; every test uses the same build"),
    ("benches/backup_restore/run.sh", "the benchmark takes about 50 minutes and rewrites its own README section"),
];

/// The wizard's questions have nobody to answer them here: commands that ask
/// get these answers appended, as an operator at a terminal would give them.
const ANSWERS: &[(&str, &[&str])] = &[
    ("run", &["--yes", "--confirm", "nginx-mesh", "--set", "meshed_namespaces=readme-shop"]),
    ("rehearse", &["--yes", "--set", "meshed_namespaces=readme-shop"]),
    ("resume", &["--yes", "--confirm", "nginx-mesh"]),
];

/// Commands whose right answer here is a refusal, with what they must say: the
/// README's `run` before `resume` finishes its session, so nothing is left to resume.
const REFUSALS: &[(&str, i32, &str)] = &[("stepwise resume", 4, "there is no unfinished session")];

/// What the commands of one code block line are: shell-like words, without a
/// trailing comment, and without a redirection or pipe (their output is kept
/// here instead of written to the machine).
fn words(line: &str) -> Vec<String> {
    let line = line.split(" #").next().unwrap_or(line);
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        if matches!(word, ">" | ">>" | "|") {
            break;
        }
        out.push(word.trim_matches(['"', '\'']).to_string());
    }
    out
}

/// Command lines of the README's `sh` code blocks, continuation lines joined.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(info, "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !in_shell || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => pending.push_str(&format!("{head} ")),
            None => {
                commands.push(format!("{pending}{trimmed}"));
                pending.clear();
            }
        }
    }
    commands
}

fn run(tb: &support::TestCluster, work: &Path, plugins: &Path, words: &[String]) -> Output {
    let (program, args) = match words[0].as_str() {
        "stepwise" => (env!("CARGO_BIN_EXE_stepwise").to_string(), &words[1..]),
        _ => (tb.kubectl.display().to_string(), &words[1..]),
    };
    let mut args: Vec<String> = args.to_vec();
    let sub = args.iter().find(|a| !a.starts_with('-')).cloned().unwrap_or_default();
    if let Some((_, extra)) = ANSWERS.iter().find(|(name, _)| *name == sub)
        && !args.iter().any(|a| a == "--yes")
    {
        args.extend(extra.iter().map(|s| s.to_string()));
    }
    let mut path = vec![plugins.to_path_buf()];
    path.extend(std::env::split_paths(&tb.path_env()));
    // A person's shell: nothing of this test's environment but PATH, HOME and
    // the like, the kubeconfig of the cluster, the vendor CLIs on PATH, and an
    // XDG state folder of its own (so sessions go to the default place under
    // it, not into the machine's ~/.local/state).
    let mut cmd = std::process::Command::new(program);
    support::clean_env(&mut cmd)
        .current_dir(work)
        .args(&args)
        .env("XDG_STATE_HOME", work.join("xdg-state"))
        .env("KUBECONFIG", &tb.kubeconfig)
        .env("PATH", std::env::join_paths(path).unwrap())
        .stdin(std::process::Stdio::null());
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_in_the_readme_works() {
    let tb = support::cluster();
    let client = tb.client().await;
    // What the README's examples assume: the mesh at 1.6.0, deployed with
    // nginx-meshctl, with a meshed workload.
    let tools = tempfile::tempdir().unwrap();
    let meshctl = seed::meshctl_at(tools.path(), "1.6.0", &tb.standins);
    support::run_ok({
        let mut c = tb.command(&meshctl);
        c.args(["--namespace", "nginx-mesh", "deploy"]);
        c
    });
    seed::meshed_app(&client, "readme-shop").await;
    let work = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepwise"), plugins.path().join("kubectl-stepwise")).unwrap();

    let mut ran = 0;
    for line in readme_commands() {
        let words = words(&line);
        let runnable = words.first().is_some_and(|w| w == "stepwise")
            || (words.first().is_some_and(|w| w == "kubectl") && words.get(1).is_some_and(|w| w == "stepwise"));
        if !runnable {
            let Some((_, why)) = SKIPPED.iter().find(|(start, _)| line.starts_with(start)) else {
                panic!("README command `{line}` is neither run by this test nor in its SKIPPED list with a reason");
            };
            eprintln!("not run here: {line}  ({why})");
            continue;
        }
        let out = run(tb, work.path(), plugins.path(), &words);
        if let Some((_, code, says)) = REFUSALS.iter().find(|(l, _, _)| *l == words.join(" ")) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(*code), "`{line}`: {stderr}");
            assert!(stderr.contains(says), "`{line}` should say `{says}`: {stderr}");
            eprintln!("ok (refused as expected): {line}");
            ran += 1;
            continue;
        }
        assert!(
            out.status.success(),
            "README command `{line}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("ok: {line}");
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} README commands were found; is the code-block parsing broken?");
}
