//! The tiny shell that "runs" inside a fake pod for `pods/exec`: a pure state machine fed
//! with stdin bytes, producing stdout/stderr text and, at the end, an exit code.
//!
//! * A command is either run directly (`["echo", "hi"]`) or through a shell: `sh`/`bash`
//!   with `-c <script>` runs the script; without arguments it is interactive: it reads
//!   stdin lines, prints the prompt `# ` when there is a tty, and ends on `exit [n]` or
//!   when stdin closes (with the status of its last command).
//! * Scripts: commands separated by `;`, `&&`, `||` or newlines, with `'...'`/`"..."`
//!   quotes and `\` escapes; parentheses are dropped (`clear; (bash || sh)`, the command
//!   of cube-studio's web terminal, reads as `clear; bash || sh`, so `exit` in a
//!   subshell ends the enclosing shell). No pipes, redirections or variables.
//! * Built-ins: `echo [-n]`, `exit [n]`, `pwd`, `hostname` (the pod name),
//!   `cat /etc/hostname`, `clear`, `true`, `false`, `:`, and `sh`/`bash` nested. Any
//!   other command writes `sh: <cmd>: not found` to stderr and has status 127.
//! * With a tty, the shell plays the terminal too: stderr goes to stdout, `\n` is written
//!   as `\r\n`, typed input is echoed (Enter as `\r\n`, backspace erases, Ctrl-C drops the
//!   line, Ctrl-D on an empty line types `exit`), and `\r` ends a line.

use std::collections::VecDeque;

/// Text the process wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(String),
    Stderr(String),
}

/// What runs a command's list item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connector {
    /// `;`, newline, or the first command.
    Always,
    /// `&&`: only after a success.
    And,
    /// `||`: only after a failure.
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    /// A line typed into an interactive shell.
    Line,
    /// A shell process (or the directly run command): `exit` ends the nearest one.
    Process { interactive: bool },
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    items: VecDeque<(Connector, Vec<String>)>,
    last: i32,
    prompted: bool,
}

impl Frame {
    fn new(kind: FrameKind, items: VecDeque<(Connector, Vec<String>)>) -> Self {
        Frame {
            kind,
            items,
            last: 0,
            prompted: false,
        }
    }
}

/// What the shell knows about its pod.
#[derive(Debug, Clone)]
pub struct Pod {
    /// `hostname` answers it (the pod name).
    pub hostname: String,
    /// `pwd` answers it (the container's `workingDir`, else `/`).
    pub workdir: String,
}

/// A running command with its shells.
#[derive(Debug)]
pub struct Shell {
    pod: Pod,
    tty: bool,
    stdin_open: bool,
    frames: Vec<Frame>,
    /// The line being typed.
    typing: String,
    /// Lines typed but not yet read.
    lines: VecDeque<String>,
    output: Vec<Output>,
    exit: Option<i32>,
}

/// The prompt of an interactive shell with a tty.
pub const PROMPT: &str = "# ";

impl Shell {
    /// Starts `command` and runs it until it waits for input or exits.
    pub fn start(command: &[String], pod: Pod, tty: bool, stdin: bool) -> Shell {
        let mut shell = Shell {
            pod,
            tty,
            stdin_open: stdin,
            frames: Vec::new(),
            typing: String::new(),
            lines: VecDeque::new(),
            output: Vec::new(),
            exit: None,
        };
        shell.frames.push(Frame::new(
            FrameKind::Process { interactive: false },
            VecDeque::from([(Connector::Always, command.to_vec())]),
        ));
        shell.run();
        shell
    }

    /// Feeds stdin bytes.
    pub fn input(&mut self, bytes: &[u8]) {
        for c in String::from_utf8_lossy(bytes).chars() {
            if self.tty {
                self.type_key(c);
            } else if c == '\n' {
                self.lines.push_back(std::mem::take(&mut self.typing));
            } else {
                self.typing.push(c);
            }
        }
        self.run();
    }

    /// Stdin reached its end: a last unterminated line is still run, then every
    /// interactive shell ends.
    pub fn close_stdin(&mut self) {
        if !self.typing.is_empty() {
            self.lines.push_back(std::mem::take(&mut self.typing));
        }
        self.stdin_open = false;
        self.run();
    }

    /// The output written since the last call.
    pub fn take_output(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.output)
    }

    /// The exit code, once the command has ended.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit
    }

    fn type_key(&mut self, c: char) {
        match c {
            '\r' | '\n' => {
                self.echo("\r\n");
                self.lines.push_back(std::mem::take(&mut self.typing));
            }
            '\u{7f}' | '\u{8}' => {
                if self.typing.pop().is_some() {
                    self.echo("\u{8} \u{8}");
                }
            }
            '\u{3}' => {
                self.echo("^C\r\n");
                self.typing.clear();
                self.lines.push_back(String::new());
            }
            '\u{4}' if self.typing.is_empty() => {
                self.echo("exit\r\n");
                self.lines.push_back("exit".into());
            }
            c => {
                self.typing.push(c);
                self.echo(c.encode_utf8(&mut [0; 4]));
            }
        }
    }

    fn echo(&mut self, s: &str) {
        self.output.push(Output::Stdout(s.to_string()));
    }

    fn stdout(&mut self, s: &str) {
        let s = if self.tty {
            s.replace('\n', "\r\n")
        } else {
            s.to_string()
        };
        self.output.push(Output::Stdout(s));
    }

    fn stderr(&mut self, s: &str) {
        if self.tty {
            self.stdout(s);
        } else {
            self.output.push(Output::Stderr(s.to_string()));
        }
    }

    /// Runs until every shell waits for input or the command has exited.
    fn run(&mut self) {
        while self.exit.is_none() {
            let Some(top) = self.frames.last_mut() else {
                return;
            };
            if let Some((connector, argv)) = top.items.pop_front() {
                let skip = match connector {
                    Connector::Always => false,
                    Connector::And => top.last != 0,
                    Connector::Or => top.last == 0,
                };
                if !skip {
                    self.command(&argv);
                }
                continue;
            }
            match top.kind {
                FrameKind::Line => {
                    let status = top.last;
                    self.frames.pop();
                    if let Some(parent) = self.frames.last_mut() {
                        parent.last = status;
                    }
                }
                FrameKind::Process { interactive: false } => {
                    let status = top.last;
                    self.end_process(status);
                }
                FrameKind::Process { interactive: true } => {
                    if let Some(line) = self.lines.pop_front() {
                        top.prompted = false;
                        let items = parse_script(&line);
                        self.frames.push(Frame::new(FrameKind::Line, items));
                    } else if !self.stdin_open {
                        let status = top.last;
                        self.end_process(status);
                    } else {
                        if !top.prompted {
                            top.prompted = true;
                            if self.tty {
                                self.echo(PROMPT);
                            }
                        }
                        return;
                    }
                }
            }
        }
    }

    /// Ends the innermost shell process with `status`.
    fn end_process(&mut self, status: i32) {
        while let Some(frame) = self.frames.pop() {
            if matches!(frame.kind, FrameKind::Process { .. }) {
                break;
            }
        }
        match self.frames.last_mut() {
            Some(parent) => parent.last = status,
            None => self.exit = Some(status),
        }
    }

    fn set_status(&mut self, status: i32) {
        if let Some(top) = self.frames.last_mut() {
            top.last = status;
        }
    }

    fn command(&mut self, argv: &[String]) {
        // `NAME=value` words before a command only set its environment
        let skip = argv.iter().take_while(|w| is_assignment(w)).count();
        let argv = &argv[skip..];
        let Some(first) = argv.first() else {
            return self.set_status(0);
        };
        match first.as_str() {
            // `exec cmd`: runs cmd (the fake does not replace the shell)
            "exec" => return self.command(&argv[1..]),
            "export" => return self.set_status(0),
            "[" | "test" => {
                let status = i32::from(!test_expression(&argv[1..]));
                return self.set_status(status);
            }
            _ => {}
        }
        match shell_invocation(argv) {
            Invocation::Shell(frame) => return self.frames.push(frame),
            Invocation::MissingFile(message) => {
                self.stderr(&message);
                return self.set_status(127);
            }
            Invocation::Other => {}
        }
        let name = first.rsplit('/').next().unwrap_or(first);
        let args = &argv[1..];
        let status = match name {
            "echo" => {
                let (newline, words) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, args),
                };
                let mut text = words.join(" ");
                if newline {
                    text.push('\n');
                }
                self.stdout(&text);
                0
            }
            "exit" => {
                let last = self.frames.last().map_or(0, |f| f.last);
                match args.first().map(|a| a.parse::<i64>()) {
                    None => self.end_process(last),
                    Some(Ok(n)) => self.end_process(n.rem_euclid(256) as i32),
                    Some(Err(_)) => {
                        let msg = format!("sh: exit: Illegal number: {}\n", args[0]);
                        self.stderr(&msg);
                        self.end_process(2);
                    }
                }
                return;
            }
            "pwd" => {
                let dir = format!("{}\n", self.pod.workdir);
                self.stdout(&dir);
                0
            }
            "hostname" => {
                let host = format!("{}\n", self.pod.hostname);
                self.stdout(&host);
                0
            }
            "cat" => self.cat(args),
            "clear" => {
                self.echo("\u{1b}[H\u{1b}[2J");
                0
            }
            "true" | ":" => 0,
            "false" => 1,
            _ => {
                self.stderr(&format!("sh: {first}: not found\n"));
                127
            }
        };
        self.set_status(status);
    }

    fn cat(&mut self, files: &[String]) -> i32 {
        let mut status = 0;
        for f in files {
            if f == "/etc/hostname" {
                let host = format!("{}\n", self.pod.hostname);
                self.stdout(&host);
            } else {
                self.stderr(&format!("cat: {f}: No such file or directory\n"));
                status = 1;
            }
        }
        status
    }
}

/// `NAME=value` (a shell variable assignment).
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The files of the fake container: a shell at the usual places, nothing else.
const FILES: [&str; 5] = [
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/sh",
    "/usr/bin/bash",
    "/etc/hostname",
];

/// `[ -x FILE ]`, `[ -e FILE ]`, `[ -f FILE ]` (the web terminal's probes), `[ a = b ]`.
fn test_expression(args: &[String]) -> bool {
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|w| *w != "]")
        .collect();
    match words.as_slice() {
        ["-x" | "-e" | "-f", file] => FILES.contains(file),
        [a, "=" | "==", b] => a == b,
        [a, "!=", b] => a != b,
        ["-n", s] => !s.is_empty(),
        ["-z", s] => s.is_empty(),
        _ => false,
    }
}

/// How `sh`/`bash` was invoked.
enum Invocation {
    /// Not a shell.
    Other,
    /// A shell running a script (`-c`) or interactive (only flags given).
    Shell(Frame),
    /// A shell asked to run a script file (the fake pod has no files).
    MissingFile(String),
}

/// `sh`/`bash` (by any path), with `-c <script>`, a script file, or only flags.
fn shell_invocation(argv: &[String]) -> Invocation {
    let Some(name) = argv.first().and_then(|a| a.rsplit('/').next()) else {
        return Invocation::Other;
    };
    if !matches!(name, "sh" | "bash") {
        return Invocation::Other;
    }
    let mut args = argv[1..].iter();
    while let Some(a) = args.next() {
        if a == "-c" {
            let script = args.next().map(String::as_str).unwrap_or("");
            return Invocation::Shell(Frame::new(
                FrameKind::Process { interactive: false },
                parse_script(script),
            ));
        }
        if !a.starts_with('-') {
            return Invocation::MissingFile(format!("{name}: {a}: No such file or directory\n"));
        }
    }
    Invocation::Shell(Frame::new(
        FrameKind::Process { interactive: true },
        VecDeque::new(),
    ))
}

/// Splits a script into commands (words) joined by `;`, newlines, `&&` and `||`.
fn parse_script(script: &str) -> VecDeque<(Connector, Vec<String>)> {
    let mut items = VecDeque::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut connector = Connector::Always;
    let mut chars = script.chars().peekable();
    let mut finish = |words: &mut Vec<String>, next: Connector, connector: &mut Connector| {
        if !words.is_empty() {
            items.push_back((*connector, std::mem::take(words)));
        }
        *connector = next;
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            c if c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let next = match c {
                    ';' | '\n' => Some(Connector::Always),
                    '&' if chars.peek() == Some(&'&') => {
                        chars.next();
                        Some(Connector::And)
                    }
                    '|' if chars.peek() == Some(&'|') => {
                        chars.next();
                        Some(Connector::Or)
                    }
                    // a lone `&` or `|`: run in sequence (no background jobs, no pipes)
                    '&' | '|' => Some(Connector::Always),
                    _ => None,
                };
                if let Some(next) = next {
                    finish(&mut words, next, &mut connector);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    finish(&mut words, Connector::Always, &mut connector);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        Pod {
            hostname: "nb-0".into(),
            workdir: "/mnt".into(),
        }
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn texts(out: &[Output]) -> (String, String) {
        let mut o = String::new();
        let mut e = String::new();
        for x in out {
            match x {
                Output::Stdout(s) => o.push_str(s),
                Output::Stderr(s) => e.push_str(s),
            }
        }
        (o, e)
    }

    #[test]
    fn one_shot_commands() {
        let mut s = Shell::start(&argv(&["echo", "hello", "world"]), pod(), false, false);
        assert_eq!(texts(&s.take_output()).0, "hello world\n");
        assert_eq!(s.exit_code(), Some(0));

        let mut s = Shell::start(
            &argv(&[
                "sh",
                "-c",
                "echo 'a  b' \"c\\\"d\"; nope || echo x && exit 3; echo never",
            ]),
            pod(),
            false,
            false,
        );
        let (o, e) = texts(&s.take_output());
        assert_eq!(o, "a  b c\"d\nx\n");
        assert_eq!(e, "sh: nope: not found\n");
        assert_eq!(s.exit_code(), Some(3));

        let s = Shell::start(&argv(&["ls"]), pod(), false, false);
        assert_eq!(s.exit_code(), Some(127));
    }

    #[test]
    fn interactive_shell_with_a_tty() {
        let mut s = Shell::start(
            &argv(&["sh", "-c", "clear; (bash || sh)"]),
            pod(),
            true,
            true,
        );
        assert_eq!(texts(&s.take_output()).0, "\u{1b}[H\u{1b}[2J# ");
        s.input(b"pwd\r");
        assert_eq!(texts(&s.take_output()).0, "pwd\r\n/mnt\r\n# ");
        s.input(b"cat /etc/hostnamX\x7fe\r");
        assert_eq!(
            texts(&s.take_output()).0,
            "cat /etc/hostnamX\u{8} \u{8}e\r\nnb-0\r\n# "
        );
        s.input(b"exit 0\r");
        assert_eq!(s.exit_code(), Some(0));
    }

    #[test]
    fn interactive_shell_without_a_tty_ends_with_stdin() {
        let mut s = Shell::start(&argv(&["bash"]), pod(), false, true);
        s.input(b"hostname\nnope\n");
        let (o, e) = texts(&s.take_output());
        assert_eq!(
            (o.as_str(), e.as_str()),
            ("nb-0\n", "sh: nope: not found\n")
        );
        assert_eq!(s.exit_code(), None);
        s.close_stdin();
        assert_eq!(s.exit_code(), Some(127));
    }

    #[test]
    fn the_web_terminal_command_opens_an_interactive_bash() {
        let script = "TERM=xterm-256color; export TERM; [ -x /bin/bash ] && ([ -x /usr/bin/script ] && /usr/bin/script -q -c \"/bin/bash\" /dev/null || exec /bin/bash) || exec /bin/sh";
        let mut s = Shell::start(&argv(&["/bin/sh", "-c", script]), pod(), true, true);
        s.input(b"echo hello\r");
        s.input(b"exit\r");
        let (out, _) = texts(&s.take_output());
        assert!(out.contains("hello\r\n"), "{out:?}");
        assert!(!out.contains("not found"), "{out:?}");
        assert_eq!(s.exit_code(), Some(0));
    }

    #[test]
    fn a_failed_bash_falls_back_to_sh() {
        let mut s = Shell::start(&argv(&["sh", "-c", "bash || sh"]), pod(), false, true);
        s.input(b"exit 4\n");
        assert_eq!(s.exit_code(), None, "sh runs after bash failed");
        s.input(b"exit 5\n");
        assert_eq!(s.exit_code(), Some(5));
    }
}
