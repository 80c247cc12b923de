//! HCL1 layout for the HCL2 parser. Vault parses policies with HCL1, which
//! lets a block or object hold several items on one line
//! (`path "x" { capabilities = ["read"] allowed_parameters = {…} }`); HCL2
//! wants one item per line. `relayout` puts each such item on its own line
//! and opens and closes block bodies on their own lines, touching nothing
//! inside strings, comments or heredocs. The parser only falls back to it
//! when a policy does not parse as written, so what HCL2 accepts is read
//! exactly as before.

/// What an open bracket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nest {
    /// `label "x" { … }`: items, one per line in HCL2.
    Block,
    /// `= { … }`: items, separated by commas or newlines.
    Object,
    /// `[ … ]` or `( … )`: values, separated by commas.
    Sequence,
}

/// Where the current item of a block or object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// Nothing yet on this item.
    Start,
    /// A key or block labels.
    Key,
    /// After `=` or `:`, waiting for the value.
    Equals,
    /// The value is complete: another key on this line starts a new item.
    Value,
}

/// The policy laid out one item per line, or `None` when it has nothing
/// HCL1-specific to lay out (or cannot be read: an unterminated string,
/// comment or heredoc).
pub fn relayout(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut nests: Vec<(Nest, Item)> = Vec::new();
    let mut top = Item::Start;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let state = nests.last().map_or(top, |n| n.1);
        let in_items = nests.last().is_none_or(|n| n.0 != Nest::Sequence);
        match c {
            '\n' => {
                out.push(c);
                if in_items && state == Item::Value {
                    set(&mut nests, &mut top, Item::Start);
                }
            }
            '#' => copy_line(text, at, &mut chars, &mut out),
            '/' if text[at..].starts_with("//") => copy_line(text, at, &mut chars, &mut out),
            '/' if text[at..].starts_with("/*") => {
                let end = text[at + 2..].find("*/")? + at + 4;
                copy_until(text, at, end, &mut chars, &mut out);
            }
            '<' if text[at..].starts_with("<<") => {
                let end = heredoc_end(text, at)?;
                copy_until(text, at, end, &mut chars, &mut out);
                set(&mut nests, &mut top, Item::Value);
            }
            '"' => {
                if in_items {
                    start_item(&mut out, &mut nests, &mut top, state);
                }
                let end = string_end(text, at)?;
                copy_until(text, at, end, &mut chars, &mut out);
                if in_items && state != Item::Equals {
                    set(&mut nests, &mut top, Item::Key);
                } else if in_items {
                    set(&mut nests, &mut top, Item::Value);
                }
            }
            '=' | ':' => {
                out.push(c);
                if in_items {
                    set(&mut nests, &mut top, Item::Equals);
                }
            }
            ',' => {
                out.push(c);
                if in_items {
                    set(&mut nests, &mut top, Item::Start);
                }
            }
            '{' if in_items && state != Item::Equals => {
                // A block body: its items go on lines of their own.
                out.push_str("{\n");
                nests.push((Nest::Block, Item::Start));
            }
            '{' | '[' | '(' => {
                out.push(c);
                let nest = if c == '{' {
                    Nest::Object
                } else {
                    Nest::Sequence
                };
                nests.push((nest, Item::Start));
            }
            '}' | ']' | ')' => {
                let (nest, _) = nests.pop()?;
                if nest == Nest::Block {
                    out.push_str("\n}");
                    // A block ends its item: what follows on this line is
                    // the next one.
                    set(&mut nests, &mut top, Item::Value);
                } else {
                    out.push(c);
                    set(&mut nests, &mut top, Item::Value);
                }
            }
            c if c.is_whitespace() => out.push(c),
            _ => {
                // A bare word: a key, a label or a value (number, bool).
                if in_items {
                    start_item(&mut out, &mut nests, &mut top, state);
                }
                out.push(c);
                while let Some(&(_, next)) = chars.peek() {
                    if next.is_alphanumeric() || matches!(next, '_' | '-' | '.') {
                        out.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if in_items {
                    let after = if state == Item::Equals {
                        Item::Value
                    } else {
                        Item::Key
                    };
                    set(&mut nests, &mut top, after);
                }
            }
        }
    }
    if !nests.is_empty() || out == text {
        return None;
    }
    Some(out)
}

/// A key after a complete value on the same line starts a new item: it
/// goes on the next line.
fn start_item(out: &mut String, nests: &mut [(Nest, Item)], top: &mut Item, state: Item) {
    if state == Item::Value {
        out.push('\n');
        set(nests, top, Item::Start);
    }
}

fn set(nests: &mut [(Nest, Item)], top: &mut Item, item: Item) {
    match nests.last_mut() {
        Some(last) if last.0 != Nest::Sequence => last.1 = item,
        Some(_) => {}
        None => *top = item,
    }
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// Copies from `at` up to (not including) the end of its line.
fn copy_line(text: &str, at: usize, chars: &mut Chars<'_>, out: &mut String) {
    let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
    copy_until(text, at, end, chars, out);
}

/// Copies `text[at..end]` verbatim (the character at `at` is the one the
/// caller just took) and moves past it.
fn copy_until(text: &str, at: usize, end: usize, chars: &mut Chars<'_>, out: &mut String) {
    out.push_str(&text[at..end]);
    while chars.peek().is_some_and(|&(i, _)| i < end) {
        chars.next();
    }
}

/// The byte just past the closing quote of the string starting at `at`.
fn string_end(text: &str, at: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text[at + 1..].char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(at + 1 + i + 1),
            '\n' => return None,
            _ => escaped = false,
        }
    }
    None
}

/// The byte just past the closing marker line of the heredoc at `at`.
fn heredoc_end(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let marker: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if marker.is_empty() {
        return None;
    }
    let body_start = at + text[at..].find('\n')? + 1;
    let mut offset = body_start;
    for line in text[body_start..].split_inclusive('\n') {
        offset += line.len();
        if line.trim() == marker {
            return Some(offset - usize::from(line.ends_with('\n')));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::relayout;

    fn same_as(one_line: &str, multi_line: &str) {
        let laid_out = relayout(one_line).expect("something to lay out");
        assert_eq!(
            hcl::parse(&laid_out).expect("laid out parses"),
            hcl::parse(multi_line).expect("reference parses"),
            "{laid_out}"
        );
    }

    #[test]
    fn several_attributes_on_one_line_become_one_per_line() {
        same_as(
            r#"path "pki/roles/web" { capabilities = ["read"] allowed_parameters = { "ttl" = [] "max_ttl" = [] } }"#,
            "path \"pki/roles/web\" {\n  capabilities = [\"read\"]\n  allowed_parameters = {\n    \"ttl\" = []\n    \"max_ttl\" = []\n  }\n}\n",
        );
        same_as(
            r#"path "a" { capabilities = ["read"] } path "b" { capabilities = ["deny"] min_wrapping_ttl = "1h" }"#,
            "path \"a\" {\n capabilities = [\"read\"]\n}\npath \"b\" {\n capabilities = [\"deny\"]\n min_wrapping_ttl = \"1h\"\n}\n",
        );
    }

    #[test]
    fn strings_comments_and_heredocs_are_left_as_they_are() {
        same_as(
            "# a = b { c = d }\npath \"x{y}=z\" { capabilities = [\"read\", \"list\"] /* k = v */ max_wrapping_ttl = \"a \\\" b = c\" }",
            "# a = b { c = d }\npath \"x{y}=z\" {\n capabilities = [\"read\", \"list\"]\n max_wrapping_ttl = \"a \\\" b = c\"\n}\n",
        );
    }

    #[test]
    fn a_heredoc_body_is_copied_verbatim() {
        same_as(
            "path \"x\" { capabilities = [\"read\"] note = <<EOT\nk = v { w }\nEOT\n}",
            "path \"x\" {\n capabilities = [\"read\"]\n note = <<EOT\nk = v { w }\nEOT\n}\n",
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_laid_out_without_panicking(text in r#"[a-z"{}\[\]()=#/*<\n ,:\\E-]{0,60}"#) {
            let _ = relayout(&text);
        }
    }

    #[test]
    fn what_cannot_be_read_is_left_to_the_parser_to_refuse() {
        assert_eq!(relayout(r#"path "x { capabilities = ["read"] }"#), None);
        assert_eq!(relayout(r#"path "x" { capabilities = ["read"]"#), None);
    }
}
