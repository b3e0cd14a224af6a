//! Checks of the argument vectors steps run: a source for every apply, no
//! shell scripts in disguise, flags written the way the runbook format wants.

use std::sync::Arc;

use crate::runbook::arg::Arg;
use crate::runbook::error::{Problem, SourceFile};
use crate::runbook::hints;
use crate::runbook::located::Pos;
use crate::runbook::model::{ACTION_KEYS, Step};

pub(super) const APPLY_HELP: &str =
    "give it a source: `apply: {file: manifests/crds.yaml}` or `apply: {command: {argv: [linkerd, upgrade]}}`";

/// A step with no action because its action key was written with nothing under
/// it (`apply:` alone): said at that key.
pub(super) fn empty_action(file: &Arc<SourceFile>, step: &Step) -> Option<Problem> {
    let (line, column, key) =
        hints::empty_keys(&file.text, step.id.pos.line).into_iter().find(|(_, _, key)| ACTION_KEYS.contains(key))?;
    let msg = format!("step `{}` has `{key}:` with nothing under it, so it does nothing", step.id.value);
    let help = if key == "apply" {
        APPLY_HELP.to_string()
    } else {
        format!("give `{key}` its fields; `stepwise schema procedure` lists them")
    };
    Some(Problem::new(file, Pos { line, column, offset: 0 }, msg).help(help))
}

/// Programs that run their argument as a shell script with `-c`.
pub(super) const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];

/// An argument vector runs one program without a shell: a shell started to run a
/// script (a warning), or a `|` element (an error: it is never a pipeline),
/// defeats that, and the typed arguments with it.
pub(super) fn check_no_shell(file: &Arc<SourceFile>, step: &str, argv: &[Arg], problems: &mut Vec<Problem>) {
    const HELP: &str = "write the program and its arguments as argv elements, one per argument; \
        to apply what a command prints use `apply: {command: {argv: [...]}}`, and use the step kinds \
        (delete, wait, rollout_restart, check, backup) for the rest";
    if let Some((program, flag, script)) = shell_script(argv) {
        let what = if script.is_some_and(has_pipe) { "a shell pipeline" } else { "a shell script" };
        let msg = format!("step `{step}` runs {what} through `{} {flag}`; argv is never a shell string", program.raw());
        // A warning, not an error: a shell is sometimes the honest tool (a
        // drill's stand-in, a vendor's own script), but never by accident.
        problems.push(Problem::new(file, program.pos(), msg).help(HELP).warning());
    } else if let Some(pipe) = argv.iter().find(|a| a.raw().trim() == "|") {
        let msg = format!(
            "step `{step}` has `|` as an argument: argv runs without a shell, so this is no pipeline but a literal `|`"
        );
        problems.push(Problem::new(file, pipe.pos(), msg).help(HELP));
    }
}

/// `{flag, value}` elements: never the program, and the flag is a flag alone
/// (stepwise adds `=VALUE`).
pub(super) fn check_flags(file: &Arc<SourceFile>, step: &str, argv: &[Arg], problems: &mut Vec<Problem>) {
    let flags = argv.iter().enumerate().filter_map(|(i, a)| match a {
        Arg::Flag(f) => Some((i, &f.flag)),
        Arg::Plain(_) => None,
    });
    for (i, flag) in flags {
        if i == 0 {
            let msg = format!("the program of an `argv` in step `{step}` is a `{{flag, value}}` element");
            problems.push(Problem::new(file, flag.pos, msg).help("the first element is the program: a plain string"));
        } else if !flag.starts_with('-') || flag.contains(['=', ' ']) {
            let msg = format!("`{}` in step `{step}` is not a flag such as `--values`", flag.value);
            let help = "write the flag alone; stepwise passes `FLAG=VALUE` as one argument, or nothing when the value is empty";
            problems.push(Problem::new(file, flag.pos, msg).help(help));
        }
    }
}

/// The shell and its script, when `argv` starts a shell with `-c` (or `-ec`, ...).
pub(super) fn shell_script(argv: &[Arg]) -> Option<(&Arg, &str, Option<&str>)> {
    let program = argv.first()?;
    let name = program.raw().rsplit('/').next().unwrap_or_default();
    if !SHELLS.contains(&name) {
        return None;
    }
    let flag = argv.iter().skip(1).position(|a| {
        let a = a.raw();
        a.starts_with('-') && !a.starts_with("--") && a.contains('c')
    })?;
    Some((program, argv[flag + 1].raw(), argv.get(flag + 2).map(Arg::raw)))
}

/// A `|` that is a pipe rather than part of `||`.
pub(super) fn has_pipe(script: &str) -> bool {
    script.replace("||", "").contains('|')
}
