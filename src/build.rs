//! Rebuilds when the embedded runbooks change, and records the git revision for `--version`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=runbooks");
    // git says where HEAD and the branch's file are: in a worktree `.git` is a
    // file, and a path that does not exist would rerun this script every build.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
        // HEAD names a branch; the branch's file is what changes with each commit.
        let reference =
            std::fs::read_to_string(&head).ok().and_then(|h| h.trim().strip_prefix("ref: ").map(String::from));
        // A branch's file may be packed into packed-refs; only files that exist
        // are watched.
        let branch = reference.and_then(|r| git(&["rev-parse", "--git-path", &r]));
        let packed = git(&["rev-parse", "--git-path", "packed-refs"]);
        for path in branch.into_iter().chain(packed).filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let revision = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STEPWISE_GIT_REVISION={revision}");
}
