//! The bootstrap file: `vault` CLI commands (the user guide's Step 2, say)
//! run once against the server right after it starts. Lines are read as a
//! shell would: `#` comments, `\` continuations, quotes and `<<EOF`
//! heredocs feeding the command's stdin. On a durable store the run is
//! recorded, so a restart does not repeat it; a failing line stops the
//! server with its line number and the server's error.

use std::path::Path;

use crate::cli::client::{with_target, Target};
use crate::cli::commands::{run, Ui};

/// Storage key recording that the bootstrap ran on this store.
pub const RECORD_KEY: &str = "core/bootstrap-applied";

/// One command of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// 1-based line where the command starts.
    pub line: usize,
    /// The command line as written (for error messages).
    pub text: String,
    /// Arguments after `vault`.
    pub args: Vec<String>,
    /// Heredoc content, fed to stdin.
    pub stdin: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("bootstrap file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("bootstrap line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("bootstrap line {line}: `{text}` failed (exit {code}):\n{output}")]
    Failed {
        line: usize,
        text: String,
        code: i32,
        output: String,
    },
}

/// Splits the file into commands.
pub fn parse(text: &str) -> Result<Vec<Command>, BootstrapError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut joined = String::new();
        loop {
            let line = lines.get(i).copied().unwrap_or("");
            i += 1;
            match line.strip_suffix('\\') {
                Some(head) if i < lines.len() => {
                    joined.push_str(head);
                    joined.push(' ');
                }
                _ => {
                    joined.push_str(line);
                    break;
                }
            }
        }
        let trimmed = joined.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let parse_err = |message: String| BootstrapError::Parse {
            line: start + 1,
            message,
        };
        let mut words = shell_words::split(trimmed).map_err(|e| parse_err(e.to_string()))?;
        let stdin = match heredoc_delimiter(&mut words) {
            Some(delimiter) => {
                let mut body = String::new();
                loop {
                    let Some(line) = lines.get(i) else {
                        return Err(parse_err(format!(
                            "here-document delimited by {delimiter:?} is not closed"
                        )));
                    };
                    i += 1;
                    if line.trim() == delimiter {
                        break;
                    }
                    body.push_str(line);
                    body.push('\n');
                }
                Some(body)
            }
            None => None,
        };
        match words.first().map(String::as_str) {
            Some("vault" | "vaultlet" | "bao") => {}
            _ => {
                return Err(parse_err(format!(
                    "only `vault` commands can be bootstrapped: {trimmed}"
                )))
            }
        }
        words.remove(0);
        commands.push(Command {
            line: start + 1,
            text: trimmed.to_string(),
            args: words,
            stdin,
        });
    }
    Ok(commands)
}

/// Removes a trailing `<<EOF` / `<< 'EOF'` / `<<-EOF` and returns the
/// delimiter.
fn heredoc_delimiter(words: &mut Vec<String>) -> Option<String> {
    let pos = words.iter().position(|w| w.starts_with("<<"))?;
    let marker = words.remove(pos);
    let inline = marker.trim_start_matches("<<").trim_start_matches('-');
    let delimiter = if inline.is_empty() {
        (pos < words.len()).then(|| words.remove(pos))?
    } else {
        inline.to_string()
    };
    Some(
        delimiter
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string(),
    )
}

/// Runs every command against `address` with `token`, on the calling
/// (blocking) thread. Output goes to the server's stdout/stderr.
pub fn run_commands(
    commands: &[Command],
    address: &str,
    token: &str,
) -> Result<(), BootstrapError> {
    let target = Target {
        address: address.to_string(),
        token: token.to_string(),
        skip_verify: true,
    };
    with_target(target, || {
        for command in commands {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let stdin_text = command.stdin.clone().unwrap_or_default();
            let mut stdin = stdin_text.as_bytes();
            let code = {
                let mut ui = Ui {
                    out: &mut out,
                    err: &mut err,
                    stdin: &mut stdin,
                    tty: false,
                    stdin_tty: false,
                };
                run(&command.args, &mut ui)
            };
            let output =
                String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err);
            if code != 0 {
                return Err(BootstrapError::Failed {
                    line: command.line,
                    text: command.text.clone(),
                    code,
                    output: output.trim_end().to_string(),
                });
            }
            println!("bootstrap line {}: {}", command.line, command.text);
            for line in output.lines().filter(|l| !l.trim().is_empty()) {
                println!("    {line}");
            }
        }
        Ok(())
    })
}

/// Reads and parses a bootstrap file.
pub fn load(path: &Path) -> Result<Vec<Command>, BootstrapError> {
    let text = std::fs::read_to_string(path).map_err(|source| BootstrapError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guides_step_two_as_a_shell_would() {
        let text = "# comment\n\nvault secrets enable pki\nvault write pki/root/generate/internal \\\n    common_name=\"my-org rootca\" \\\n    ttl=8760h\n\nvault policy write cert-manager - <<EOF\npath \"pki/root/sign-intermediate\" {\n  capabilities = [\"create\", \"update\"]\n}\nEOF\nvault write -force auth/approle/role/x/secret-id\n";
        let commands = parse(text).expect("parses");
        assert_eq!(commands.len(), 4);
        assert_eq!(commands[0].args, ["secrets", "enable", "pki"]);
        assert_eq!(commands[0].line, 3);
        assert_eq!(
            commands[1].args,
            [
                "write",
                "pki/root/generate/internal",
                "common_name=my-org rootca",
                "ttl=8760h"
            ]
        );
        assert_eq!(commands[2].args, ["policy", "write", "cert-manager", "-"]);
        assert_eq!(
            commands[2].stdin.as_deref(),
            Some("path \"pki/root/sign-intermediate\" {\n  capabilities = [\"create\", \"update\"]\n}\n")
        );
        assert_eq!(commands[3].line, 13);
    }

    #[test]
    fn refuses_what_is_not_a_vault_command_and_unclosed_heredocs() {
        assert!(matches!(
            parse("rm -rf /\n"),
            Err(BootstrapError::Parse { line: 1, .. })
        ));
        assert!(matches!(
            parse("vault policy write p - <<EOF\npath \"a\" {}\n"),
            Err(BootstrapError::Parse { .. })
        ));
        assert!(matches!(
            parse("vault write \"unclosed\n"),
            Err(BootstrapError::Parse { .. })
        ));
    }
}
