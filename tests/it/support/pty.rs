//! A program in a pseudo-terminal, for the drills that answer prompts as a
//! person at a terminal would.

use std::process::{Command, Stdio};

/// A program in a pseudo-terminal, answered prompt by prompt the way a person
/// at a terminal would, with everything it showed kept for the test to read.
pub struct Pty {
    session: expectrl::session::OsSession,
    seen: String,
    what: String,
}

impl Pty {
    /// Starts `cmd` (with TERM=xterm) in a pseudo-terminal; `what` names it in
    /// failures. Its standard streams are the terminal, whatever `cmd` said
    /// (the test cluster's commands close stdin, which would replace it).
    pub fn spawn(mut cmd: Command, what: &str) -> Pty {
        cmd.env("TERM", "xterm").stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
        let mut session = expectrl::Session::spawn(cmd).expect("spawn in a pty");
        session.set_expect_timeout(Some(std::time::Duration::from_secs(120)));
        Pty { session, seen: String::new(), what: what.to_string() }
    }

    /// Waits for `prompt` on the screen, then types `keys` (`\r` is Enter, `\x1b[B` the down arrow).
    pub fn answer(&mut self, prompt: &str, keys: &str) {
        use expectrl::Expect;
        let found = self
            .session
            .expect(prompt)
            .unwrap_or_else(|e| panic!("{}: waiting for `{prompt}`: {e}\nso far:\n{}", self.what, self.seen));
        self.seen.push_str(&String::from_utf8_lossy(found.before()));
        self.seen.push_str(prompt);
        self.session.send(keys).unwrap();
    }

    /// Types `keys` now, without waiting for anything on the screen.
    pub fn type_now(&mut self, keys: &str) {
        use expectrl::Expect;
        self.session.send(keys).unwrap();
    }

    /// Reads to the end and returns everything the screen showed.
    pub fn finish(mut self) -> String {
        use expectrl::Expect;
        let rest = self.session.expect(expectrl::Eof);
        self.seen.push_str(&rest.map(|c| String::from_utf8_lossy(c.before()).into_owned()).unwrap_or_default());
        self.seen
    }
}

/// Runs `cmd` in a pseudo-terminal and answers its prompts in order, each
/// `(prompt, keys)` as [`Pty::answer`] does; returns everything it showed once
/// it has ended. Blocks a worker thread of its own, not the test's runtime.
pub async fn answered(cmd: Command, what: &str, answers: &[(&str, &str)]) -> String {
    let what = what.to_string();
    let answers: Vec<(String, String)> = answers.iter().map(|(p, k)| (p.to_string(), k.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let mut p = Pty::spawn(cmd, &what);
        for (prompt, keys) in &answers {
            p.answer(prompt, keys);
        }
        p.finish()
    })
    .await
    .expect("the pseudo-terminal thread")
}
