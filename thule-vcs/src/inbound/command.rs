//! Comment commands: `/thule plan`, `/thule plan PROJECT...`, `/thule plan -d DIR`,
//! `/thule help`, and Atlantis's `atlantis plan` as an alias.
//!
//! A command is a line of the comment that starts with `/thule` (any case, after leading
//! spaces) or with `atlantis` followed by one of Atlantis's command words. Lines inside
//! fenced code blocks and quoted lines (`> …`) are never commands, so quoting a command or
//! showing one in a code block does not run it. The first command line wins; the rest of
//! the comment is free text.

/// What a comment asks thule to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Plan the merge request, all affected projects unless narrowed.
    Plan {
        /// Only these projects (positional words, `-p`/`--project`), in order, no repeats.
        projects: Vec<String>,
        /// Only projects under these directories (`-d`/`--dir`), in order, no repeats.
        dirs: Vec<String>,
    },
    /// Show the command help (`/thule help`, `/thule`, `/thule --help`).
    Help,
    /// A word thule does not know (`/thule apply`): answer with the help.
    Unknown {
        /// The word, as written.
        word: String,
    },
    /// A known command with unusable arguments (`/thule plan -d`): answer with the reason
    /// and the help.
    Invalid {
        /// What is wrong, for the reply.
        reason: String,
    },
}

/// How the command was spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandPrefix {
    /// `/thule …`.
    Thule,
    /// `atlantis …` (an alias for teams coming from Atlantis; the service may refuse it).
    Atlantis,
}

/// A command found in a comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// How it was spelled.
    pub prefix: CommandPrefix,
    /// What it asks.
    pub command: Command,
    /// The 1-based line of the comment it was on.
    pub line: usize,
}

/// Atlantis's command words; `atlantis` followed by anything else is prose, not a command.
const ATLANTIS_WORDS: &[&str] = &[
    "plan",
    "apply",
    "unlock",
    "approve_policies",
    "import",
    "state",
    "version",
    "help",
];

/// The first command in `body`, if any (see the module docs for what counts).
pub fn parse_command(body: &str) -> Option<Invocation> {
    let mut fence: Option<(char, usize)> = None;
    for (index, raw) in body.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(marker) = fence_marker(line) {
            match fence {
                None => fence = Some(marker),
                Some((c, n)) if marker.0 == c && marker.1 >= n => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_some() || line.starts_with('>') {
            continue;
        }
        if let Some(command) = parse_line(line) {
            let (prefix, command) = command;
            return Some(Invocation {
                prefix,
                command,
                line: index + 1,
            });
        }
    }
    None
}

/// A fence opener/closer: three or more backticks or tildes.
fn fence_marker(line: &str) -> Option<(char, usize)> {
    let c = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = line.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

fn parse_line(line: &str) -> Option<(CommandPrefix, Command)> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let rest: Vec<&str> = words.collect();
    if first.eq_ignore_ascii_case("/thule") {
        return Some((CommandPrefix::Thule, parse_words(&rest, false)));
    }
    if first.eq_ignore_ascii_case("atlantis") {
        let verb = rest.first()?;
        if !ATLANTIS_WORDS.iter().any(|w| verb.eq_ignore_ascii_case(w)) {
            return None;
        }
        return Some((CommandPrefix::Atlantis, parse_words(&rest, true)));
    }
    None
}

fn parse_words(words: &[&str], atlantis: bool) -> Command {
    let Some((verb, args)) = words.split_first() else {
        return Command::Help;
    };
    if is_help(verb) || verb.eq_ignore_ascii_case("help") {
        return Command::Help;
    }
    if !verb.eq_ignore_ascii_case("plan") {
        return Command::Unknown {
            word: (*verb).to_owned(),
        };
    }
    let mut projects: Vec<String> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    let push = |list: &mut Vec<String>, value: &str| {
        if !list.iter().any(|v| v == value) {
            list.push(value.to_owned());
        }
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if is_help(arg) {
            return Command::Help;
        }
        if atlantis && arg == "--" {
            // Atlantis passes what follows to Terraform; nothing there is for thule.
            break;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        let target = match flag {
            "-d" | "--dir" => Some(&mut dirs),
            "-p" | "--project" => Some(&mut projects),
            "-w" | "--workspace" if atlantis => None,
            _ if flag.starts_with('-') => {
                return Command::Invalid {
                    reason: format!("unknown option `{flag}`"),
                };
            }
            _ => {
                if atlantis {
                    return Command::Invalid {
                        reason: format!("unexpected argument `{arg}` (name projects with -p)"),
                    };
                }
                push(&mut projects, arg);
                continue;
            }
        };
        let value = match inline {
            Some(v) => v,
            None => match args.get(i) {
                Some(v) if !v.starts_with('-') => {
                    i += 1;
                    v
                }
                _ => {
                    return Command::Invalid {
                        reason: format!("`{flag}` needs a value"),
                    };
                }
            },
        };
        if value.is_empty() {
            return Command::Invalid {
                reason: format!("`{flag}` needs a value"),
            };
        }
        if let Some(list) = target {
            push(list, value);
        }
    }
    Command::Plan { projects, dirs }
}

fn is_help(word: &str) -> bool {
    word == "-h" || word == "--help"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(body: &str) -> Option<Command> {
        parse_command(body).map(|i| i.command)
    }

    fn plan(projects: &[&str], dirs: &[&str]) -> Option<Command> {
        Some(Command::Plan {
            projects: projects.iter().map(|s| (*s).to_owned()).collect(),
            dirs: dirs.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    #[test]
    fn plan_forms() {
        assert_eq!(cmd("/thule plan"), plan(&[], &[]));
        assert_eq!(cmd("  /thule   plan  \n"), plan(&[], &[]));
        assert_eq!(cmd("/Thule PLAN"), plan(&[], &[]));
        assert_eq!(cmd("/thule plan apps-prod"), plan(&["apps-prod"], &[]));
        assert_eq!(cmd("/thule plan a b a"), plan(&["a", "b"], &[]));
        assert_eq!(
            cmd("/thule plan -d clusters/prod"),
            plan(&[], &["clusters/prod"])
        );
        assert_eq!(
            cmd("/thule plan --dir clusters/prod"),
            plan(&[], &["clusters/prod"])
        );
        assert_eq!(cmd("/thule plan --dir=x -p y z"), plan(&["y", "z"], &["x"]));
        assert_eq!(cmd("/thule plan\tapps"), plan(&["apps"], &[]));
    }

    #[test]
    fn help_unknown_and_invalid() {
        assert_eq!(cmd("/thule help"), Some(Command::Help));
        assert_eq!(cmd("/thule"), Some(Command::Help));
        assert_eq!(cmd("/thule --help"), Some(Command::Help));
        assert_eq!(cmd("/thule plan -h"), Some(Command::Help));
        assert_eq!(
            cmd("/thule apply"),
            Some(Command::Unknown {
                word: "apply".into()
            })
        );
        assert_eq!(
            cmd("/thule plan -d"),
            Some(Command::Invalid {
                reason: "`-d` needs a value".into()
            })
        );
        assert_eq!(
            cmd("/thule plan --dir -p x"),
            Some(Command::Invalid {
                reason: "`--dir` needs a value".into()
            })
        );
        assert_eq!(
            cmd("/thule plan --dir="),
            Some(Command::Invalid {
                reason: "`--dir` needs a value".into()
            })
        );
        assert_eq!(
            cmd("/thule plan --force"),
            Some(Command::Invalid {
                reason: "unknown option `--force`".into()
            })
        );
    }

    #[test]
    fn only_a_line_start_outside_code_and_quotes_counts() {
        assert_eq!(cmd("please run /thule plan"), None);
        assert_eq!(cmd("/thuleplan"), None);
        assert_eq!(cmd("/thule-bot plan"), None);
        assert_eq!(cmd("> /thule plan"), None);
        assert_eq!(cmd("```\n/thule plan\n```"), None);
        assert_eq!(cmd("~~~~\n```\n/thule plan\n~~~~\n"), None);
        assert_eq!(cmd("`/thule plan`"), None);
        assert_eq!(cmd(""), None);
        assert_eq!(cmd("This MR needs work."), None);
        assert_eq!(cmd("/build"), None);
        // Not only the first line: a command on a later line counts, the first one wins.
        let inv = parse_command("Looks good.\n\n/thule plan apps\n/thule help").unwrap();
        assert_eq!(inv.line, 3);
        assert_eq!(inv.command, plan(&["apps"], &[]).unwrap());
        assert_eq!(cmd("```\n/thule help\n```\n/thule plan"), plan(&[], &[]));
    }

    #[test]
    fn atlantis_alias() {
        let inv = parse_command("atlantis plan").unwrap();
        assert_eq!(inv.prefix, CommandPrefix::Atlantis);
        assert_eq!(Some(inv.command), plan(&[], &[]));
        assert_eq!(
            cmd("atlantis plan -p app -d dir -w staging -- -var x=1"),
            plan(&["app"], &["dir"])
        );
        assert_eq!(
            cmd("atlantis apply"),
            Some(Command::Unknown {
                word: "apply".into()
            })
        );
        assert_eq!(cmd("atlantis help"), Some(Command::Help));
        assert_eq!(cmd("atlantis is down again"), None);
        assert_eq!(cmd("atlantis"), None);
        assert!(matches!(
            cmd("atlantis plan app"),
            Some(Command::Invalid { .. })
        ));
        assert_eq!(
            parse_command("/thule plan").unwrap().prefix,
            CommandPrefix::Thule
        );
    }
}
