//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "stepwise",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("STEPWISE_GIT_REVISION"), ")"),
    about = "Upgrade products on Kubernetes one confirmed step at a time",
    long_about = "stepwise walks you through upgrading NGINX Service Mesh, Kong Mesh, Kuma and Kong Gateway: \
it plans the path, backs up custom resources, and runs every step after you confirm it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Also load runbooks from this directory (repeatable). A product directory
    /// with its own product.yaml replaces the built-in one of the same name.
    #[arg(long = "runbooks", value_name = "DIR", global = true)]
    pub runbooks: Vec<PathBuf>,
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config), for the commands
    /// that use a cluster: plan, run, rehearse, resume, backup, restore.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context to use (default: the kubeconfig's current context), for the
    /// commands that use a cluster.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Where sessions are kept (default: $XDG_STATE_HOME/stepwise).
    #[arg(long, value_name = "DIR", env = "STEPWISE_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Log more: -v what stepwise does, -vv details, -vvv the libraries too. Logs go to
    /// <state dir>/logs/stepwise.log, and to standard error unless the full screen is up.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List products and procedures with the versions they cover.
    #[command(after_help = "Examples:\n  stepwise list\n  stepwise list -o json")]
    List(OutputArg),
    /// Show the upgrade path and every step, without touching anything.
    #[command(
        after_help = "Examples:\n  stepwise plan nginx-service-mesh --from 1.6.0 --to 1.7.0\n  stepwise plan kong-mesh --from 1.2 --to 1.6 --output json"
    )]
    Plan(PlanArgs),
    /// Show a product, or one of its procedures in full.
    #[command(after_help = "Examples:\n  stepwise show kuma\n  stepwise show nginx-service-mesh in-place -o yaml")]
    Show {
        #[arg(add = super::complete::products())]
        product: String,
        #[arg(add = super::complete::procedures())]
        procedure: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Check runbook files: format, references, variables and overlaps.
    #[command(after_help = "Examples:\n  stepwise lint\n  stepwise lint ./my-runbooks/acme -o json")]
    Lint {
        /// Files or directories to check together with the built-in runbooks;
        /// without any, the built-in runbooks and --runbooks directories are checked.
        paths: Vec<PathBuf>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Upgrade a product, one confirmed step at a time.
    #[command(
        after_help = "Examples:\n  stepwise run nginx-service-mesh --to 1.7.0\n  stepwise run kong-mesh --to 2.11 --yes --confirm kong-mesh-system"
    )]
    Run(RunArgs),
    /// Rehearse an upgrade: every write is a server-side dry run; ends with a report.
    /// With --shadow-context, runs the procedure for real on a scratch cluster instead,
    /// from a copy of this cluster's installation; this cluster is only read.
    #[command(
        after_help = "Examples:\n  stepwise rehearse nginx-service-mesh --to 1.7.0 --yes\n  stepwise rehearse nginx-service-mesh --to 1.7.0 --shadow-context kind-scratch"
    )]
    Rehearse(RehearseArgs),
    /// Continue an unfinished session where it stopped.
    #[command(
        after_help = "Examples:\n  stepwise resume\n  stepwise resume 20261122-031500-nginx-service-mesh-1.6.0-to-1.7.0"
    )]
    Resume(ResumeArgs),
    /// Back up custom resources to a folder, with a manifest of counts and SHA-256 sums;
    /// or, with --check, prove an earlier backup still matches the cluster.
    #[command(
        after_help = "Examples:\n  stepwise backup --product nginx-service-mesh --to ./nsm-backup\n  stepwise backup trafficsplits.split.smi-spec.io -n shop --to ./splits\n  stepwise backup --check ./nsm-backup   # does the cluster still match it?"
    )]
    Backup(BackupArgs),
    /// Re-create the objects of a backup folder; never overwrites what exists.
    #[command(after_help = "Examples:\n  stepwise restore ./nsm-backup\n  stepwise restore ./nsm-backup --dry-run")]
    Restore(RestoreArgs),
    /// List sessions, newest first.
    #[command(after_help = "Examples:\n  stepwise sessions\n  stepwise sessions -o json")]
    Sessions(OutputArg),
    /// Write a commented procedure file to start a runbook from; it passes `lint` as written.
    #[command(
        after_help = "Examples:\n  stepwise new-runbook nginx-service-mesh --id canary --out my-runbooks/nginx-service-mesh/canary.yaml\n  stepwise new-runbook acme-mesh   # a new product: writes acme-mesh/product.yaml too"
    )]
    NewRunbook(NewRunbookArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  stepwise completions bash > /etc/bash_completion.d/stepwise")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write every command's page to a directory.
    #[command(
        after_help = "Examples:\n  stepwise man --out ~/.local/share/man/man1   # stepwise.1, stepwise-run.1, ...\n  stepwise man | man -l -"
    )]
    Man {
        /// Write stepwise.1 and a stepwise-COMMAND.1 page per command into DIR (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of runbook files, for editor validation, or of a command's -o json output.
    #[command(
        after_help = "Examples:\n  stepwise schema procedure > procedure.schema.json\n  stepwise schema output-plan > output-plan.schema.json"
    )]
    Schema {
        #[arg(value_enum)]
        kind: SchemaArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaArg {
    /// A product.yaml file.
    Product,
    /// A procedure file.
    Procedure,
    /// What `stepwise list -o json` prints.
    OutputList,
    /// What `stepwise show -o json` prints.
    OutputShow,
    /// What `stepwise plan -o json` prints.
    OutputPlan,
    /// What `stepwise lint -o json` prints.
    OutputLint,
    /// What `stepwise sessions -o json` prints.
    OutputSessions,
    /// What `stepwise run|rehearse|resume -o json` prints at the end.
    OutputRun,
}

/// Which cluster, on the commands that use one; before the command name works too.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context to use (default: the kubeconfig's current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(add = super::complete::products())]
    pub product: String,
    /// The version to upgrade to (`2.8` means the newest known 2.8 release).
    #[arg(long)]
    pub to: String,
    /// The installed version; without it, `plan` (like `run`) detects it on the cluster.
    #[arg(long)]
    pub from: Option<String>,
    /// Use this procedure instead of the least disruptive one.
    #[arg(long, add = super::complete::procedures())]
    pub procedure: Option<String>,
    /// A fact about the installation, such as `platform=openshift` (repeatable).
    #[arg(long = "fact", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub facts: Vec<(String, String)>,
    /// A variable's value, such as `namespace=mesh` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub values: Vec<(String, String)>,
    #[command(flatten)]
    pub output: OutputArg,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct NewRunbookArgs {
    /// The product the procedure upgrades: a known one, or a new one (then a
    /// product.yaml is written beside the procedure).
    #[arg(add = super::complete::products())]
    pub product: String,
    /// The procedure's id, also its file name.
    #[arg(long, default_value = "custom-upgrade")]
    pub id: String,
    /// Where to write it (default: PRODUCT/ID.yaml); its directory must be named after the product.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace a file that is already there.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub answers: AnswerArgs,
    /// Rehearse instead (same as `stepwise rehearse`).
    #[arg(long)]
    pub dry_run: bool,
    /// Start a new session even though this product has an unfinished one on
    /// this cluster (by default `run` refuses and names it for `stepwise resume`).
    #[arg(long)]
    pub new_session: bool,
    /// Take this product's lease on the cluster even from a session that still
    /// holds it, after typing the product's name (with --yes: --confirm PRODUCT).
    #[arg(long)]
    pub break_lease: bool,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub shadow: ShadowArgs,
}

/// A shadow rehearsal's scratch cluster.
#[derive(Debug, Clone, Default, Args)]
pub struct ShadowArgs {
    /// Rehearse for real on this kube context, a scratch cluster of your own (kind,
    /// k3d, staging) that does not run the product: stepwise installs the release
    /// installed now, copies the custom resources, runs the procedure there and
    /// reports. The cluster of --context is only read.
    #[arg(long, value_name = "NAME")]
    pub shadow_context: Option<String>,
    /// The kubeconfig holding the shadow's context (default: the one of --kubeconfig).
    #[arg(long, value_name = "FILE", requires = "shadow_context")]
    pub shadow_kubeconfig: Option<PathBuf>,
    /// Leave the product and the copied resources on the shadow afterwards.
    #[arg(long, requires = "shadow_context")]
    pub keep_shadow: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Kinds as `plural.group`; with --product, the kinds its runbooks back up.
    #[arg(conflicts_with = "check")]
    pub kinds: Vec<String>,
    /// Take the kinds from this product's runbooks.
    #[arg(long, add = super::complete::products())]
    pub product: Option<String>,
    /// Only these namespaces (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespaces: Vec<String>,
    /// Every namespace (the default).
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// The folder to write; created 0700, files 0600. An existing folder must be empty.
    #[arg(long, value_name = "DIR", required_unless_present = "check")]
    pub to: Option<PathBuf>,
    /// Write into a folder that is not empty (an earlier backup's files there are replaced).
    #[arg(long)]
    pub force: bool,
    /// Take no backup: prove the one in DIR against the cluster as it is now, as before a
    /// destructive step (files match their SHA-256 sums; every object there, unchanged since).
    /// Exits 4 and lists each object created, changed or deleted since, when there is one.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["to", "force", "product", "namespaces", "all_namespaces"]
    )]
    pub check: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder written by `stepwise backup` or by a session's backup step.
    pub dir: PathBuf,
    /// How many objects are created at once.
    #[arg(long, default_value_t = crate::engine::standalone::DEFAULT_RESTORE_CONCURRENCY)]
    pub concurrency: usize,
    /// Validate every object with a server-side dry run; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The session to continue; the newest unfinished one when omitted.
    #[arg(add = super::complete::sessions())]
    pub id: Option<String>,
    /// Continue even though runbook files changed since the session began.
    #[arg(long)]
    pub accept_changed_runbooks: bool,
    /// As for `run`: take the product's lease from a session that still holds it.
    #[arg(long)]
    pub break_lease: bool,
    #[command(flatten)]
    pub answers: AnswerArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub output: OutputArg,
}

/// How questions are answered.
#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// Answer every confirmation with yes, for automation; never waits for input.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// With --yes: the word a destructive step asks to be typed (repeatable).
    #[arg(long = "confirm", value_name = "WORD")]
    pub confirm: Vec<String>,
    /// Use the line-by-line front end.
    #[arg(long)]
    pub plain: bool,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArg {
    /// text for people; json or yaml for programs, one versioned document
    /// (`apiVersion: stepwise/v1`) whose JSON Schema `stepwise schema output-COMMAND` prints.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub format: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Yaml,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}
