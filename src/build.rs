//! Rebuilds when the embedded runbooks change, and records the git revision for `--version`.

fn main() {
    println!("cargo:rerun-if-changed=runbooks");
    println!("cargo:rerun-if-changed=.git/HEAD");
    // HEAD names a branch; the branch's file is what changes with each commit.
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{reference}");
    }
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STEPWISE_GIT_REVISION={revision}");
}
