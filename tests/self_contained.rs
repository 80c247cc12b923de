//! The repository stands on its own: no git-tracked file cites a document
//! that is not in the repository (private notes, a path outside the checkout)
//! or an issue number. Facts are stated where they are used, or linked to
//! public documentation (HashiCorp Vault, OpenBao, cert-manager, RFCs).
//!
//! Section signs (U+00A7) are allowed only right after an RFC number ("RFC
//! 5280", then the sign and the section): RFCs are public documents. The
//! patterns below are spelled in pieces so that this file does not match them
//! itself.

use std::path::Path;
use std::process::Command;

/// Names of documents that are not in the repository, and paths outside it.
const OUTSIDE_DOCUMENTS: &[&str] = &[
    concat!("vault-api", ".md"),
    concat!("vault-api-more", ".md"),
    concat!("cert-manager-client", ".md"),
    concat!("istio-and-peers", ".md"),
    concat!("vault-ops-acme", ".md"),
    concat!("user-guide", "-istio"),
    concat!("DEVELOPERS", ".md"),
    concat!("shared", "/reference"),
    concat!("/wo", "rk/"),
];

const SECTION_SIGN: char = '\u{a7}';

/// Every offence on one line, as a short description each.
fn offences(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for doc in OUTSIDE_DOCUMENTS {
        if line.contains(doc) {
            found.push(format!("cites {doc:?}"));
        }
    }
    if let Some(at) = issue_number(line) {
        found.push(format!("issue number at column {}", column(line, at)));
    }
    if let Some(at) = item_number(line) {
        found.push(format!("item number at column {}", column(line, at)));
    }
    for (at, c) in line.char_indices() {
        if c == SECTION_SIGN && !after_rfc_number(&line[..at]) {
            found.push(format!(
                "section sign not after an RFC number at column {}",
                column(line, at)
            ));
        }
    }
    found
}

/// The 1-based column (in characters) of byte offset `at`.
fn column(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

/// The word "issue" or "Issue", an optional "s", a space, an optional "#"
/// and a digit: an issue number.
fn issue_number(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len()).find(|&i| {
        let rest = &bytes[i..];
        if rest.len() < 5 || !matches!(rest[0], b'i' | b'I') || &rest[1..5] != b"ssue" {
            return false;
        }
        let mut j = 5;
        if rest.get(j) == Some(&b's') {
            j += 1;
        }
        if rest.get(j) != Some(&b' ') {
            return false;
        }
        j += 1;
        if rest.get(j) == Some(&b'#') {
            j += 1;
        }
        rest.get(j).is_some_and(u8::is_ascii_digit)
    })
}

/// An opening parenthesis, "item", a space and a digit: an item number.
fn item_number(line: &str) -> Option<usize> {
    let needle = concat!("(it", "em ");
    line.match_indices(needle)
        .find(|(at, _)| {
            line.as_bytes()
                .get(at + needle.len())
                .is_some_and(u8::is_ascii_digit)
        })
        .map(|(at, _)| at)
}

/// Whether `before` (the text before a section sign) ends in `RFC ?[0-9]+,? `.
fn after_rfc_number(before: &str) -> bool {
    let Some(rest) = before.strip_suffix(' ') else {
        return false;
    };
    let rest = rest.strip_suffix(',').unwrap_or(rest);
    let digits = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    if digits.len() == rest.len() {
        return false;
    }
    digits.strip_suffix(' ').unwrap_or(digits).ends_with("RFC")
}

/// Files the check does not read: lock files, go.sum, and this file.
fn skipped(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".lock") || name == "go.sum" || path == "tests/self_contained.rs"
}

/// Git's own test for binary content: a NUL byte in the first 8000 bytes.
fn binary(content: &[u8]) -> bool {
    content.iter().take(8000).any(|&b| b == 0)
}

#[test]
fn no_tracked_file_cites_outside_documents_or_issue_numbers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("run git ls-files");
    assert!(
        out.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).expect("git ls-files output is UTF-8");
    let mut scanned = 0;
    let mut problems = Vec::new();
    for path in listing.split('\0').filter(|p| !p.is_empty()) {
        if skipped(path) {
            continue;
        }
        // A tracked file deleted in the working tree (or a submodule) has
        // nothing to read.
        let Ok(content) = std::fs::read(root.join(path)) else {
            continue;
        };
        if binary(&content) {
            continue;
        }
        scanned += 1;
        let text = String::from_utf8_lossy(&content);
        for (n, line) in text.lines().enumerate() {
            for offence in offences(line) {
                problems.push(format!("{path}:{}: {offence}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        scanned > 10,
        "only {scanned} files scanned: is this a git checkout?"
    );
    assert!(
        problems.is_empty(),
        "{} line(s) cite documents outside the repository or issue numbers; \
         state the fact itself or link public documentation instead:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_patterns_catch_what_they_should() {
    let s = SECTION_SIGN;
    let bad = [
        format!("see {} {s}5.6", concat!("vault-api", ".md")),
        format!("({} {s}6)", concat!("cert-manager-client", ".md")),
        format!("{}, done", concat!("DEVELOPERS", ".md")),
        format!("../{}/x.txt", concat!("shared", "/reference")),
        format!("cd {}main", concat!("/wo", "rk/")),
        format!("Crash safety ({}ssue 7 {}4)", "i", concat!("(it", "em ")),
        format!("Targets of {}ssue 9", "i"),
        format!("fixed in {}ssues #12", "I"),
        format!("HTTP method mapping ({s}1.2)"),
        format!("RFC 5280 {s}5.2.3 and {s}5.2.4"),
    ];
    for line in &bad {
        assert!(!offences(line).is_empty(), "not caught: {line}");
    }
    let good = [
        format!("as RFC 5280 {s}5.2.3 requires"),
        format!("(RFC5019 {s}2.2.3)"),
        format!("RFC 6960, {s}4.2.1"),
        "the issuer 7 days later".to_string(),
        "issues are tracked elsewhere".to_string(),
        "an item 4 without parenthesis".to_string(),
        "https://developer.hashicorp.com/vault/api-docs/secret/pki".to_string(),
    ];
    for line in &good {
        assert!(
            offences(line).is_empty(),
            "false positive: {line}: {:?}",
            offences(line)
        );
    }
}
