//! A Helm chart repository on loopback, so the Helm journeys install and upgrade
//! `REPO/CHART --version V` for real, as an operator does after `helm repo add`.
//! Each fixture chart is packaged once per release, and a thread serves the folder
//! over plain HTTP until the process exits.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct ChartRepo {
    /// The name the repository is added under, as in `REPO/CHART`.
    pub name: String,
    /// Helm's config and cache for this repository only, so neither the
    /// operator's Helm settings nor other tests' are read or changed.
    home: tempfile::TempDir,
}

impl ChartRepo {
    /// Packages each chart folder once per `(chart version, app version)`, indexes
    /// the folder, serves it, and adds it to a private Helm home as `name`.
    pub fn start(helm: &Path, name: &str, charts: &[(PathBuf, &[(&str, &str)])]) -> ChartRepo {
        let home = tempfile::tempdir().unwrap();
        let files = home.path().join("repo");
        std::fs::create_dir_all(&files).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let repo = ChartRepo { name: name.to_string(), home };
        let dest = files.to_str().unwrap();
        for (chart, versions) in charts {
            for (v, app) in *versions {
                let chart = chart.to_str().unwrap();
                repo.helm(helm, &["package", chart, "--version", v, "--app-version", app, "--destination", dest]);
            }
        }
        repo.helm(helm, &["repo", "index", dest, "--url", &url]);
        std::thread::spawn(move || serve(listener, files));
        repo.helm(helm, &["repo", "add", name, &url]);
        repo
    }

    /// The environment that points helm at this repository's config and cache;
    /// give it to every process that runs helm, stepwise included.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let at = |p: &str| self.home.path().join(p).into_os_string();
        vec![
            ("HELM_CONFIG_HOME", at("config")),
            ("HELM_CACHE_HOME", at("cache")),
            ("HELM_DATA_HOME", at("data")),
            ("HELM_REPOSITORY_CONFIG", at("config/repositories.yaml")),
            ("HELM_REPOSITORY_CACHE", at("cache/repository")),
        ]
    }

    /// The NGINX Service Mesh fixture chart as the vendor's 0.6.0 and 0.7.0
    /// (releases 1.6.0 and 1.7.0), the charts of the manual Helm upgrade.
    pub fn nginx_service_mesh(tb: &super::TestCluster, name: &str) -> ChartRepo {
        let releases: &[(&str, &str)] = &[("0.6.0", "1.6.0"), ("0.7.0", "1.7.0")];
        ChartRepo::start(&tb.helm, name, &[(super::fixture_chart("nginx-service-mesh"), releases)])
    }

    /// Runs the test bed's helm against `context` with this repository; panics
    /// with its output if it fails. Returns stdout.
    pub fn run_helm(&self, tb: &super::TestCluster, context: &str, args: &[&str]) -> String {
        let mut c = tb.command(&tb.helm);
        c.args(["--kube-context", context]).args(args).envs(self.env());
        super::run_ok(c)
    }

    /// `REPO/CHART`, the reference an operator installs.
    pub fn chart(&self, chart: &str) -> String {
        format!("{}/{chart}", self.name)
    }

    fn helm(&self, helm: &Path, args: &[&str]) -> String {
        let out = Command::new(helm).args(args).envs(self.env()).output().unwrap();
        assert!(
            out.status.success(),
            "chart repository setup: helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn serve(listener: TcpListener, root: PathBuf) {
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = answer(stream, &root);
        });
    }
}

/// Answers one GET with the file it names (no sub-folders), or 404.
fn answer(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Helm's headers carry nothing this server needs; read past them.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let name = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
    let file = (!name.contains('/') && !name.contains("..")).then(|| root.join(&name));
    match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            stream.write_all(&body)
        }
        None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}
