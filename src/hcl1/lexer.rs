//! HCL1's tokens: the text cut into keys, literals and punctuation, with
//! comments dropped and strings and heredocs decoded.

use std::fmt;

use super::Error;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Ident(String),
    String(String),
    Heredoc(String),
    Number(serde_json::Number),
    Bool(bool),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Comma,
    Assign,
    Eof,
}

impl fmt::Display for Token {
    /// HCL1's names for tokens, as its error messages print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Token::Ident(_) => "IDENT",
            Token::String(_) => "STRING",
            Token::Heredoc(_) => "HEREDOC",
            Token::Number(n) if n.is_f64() => "FLOAT",
            Token::Number(_) => "NUMBER",
            Token::Bool(_) => "BOOL",
            Token::LBrace => "LBRACE",
            Token::RBrace => "RBRACE",
            Token::LBrack => "LBRACK",
            Token::RBrack => "RBRACK",
            Token::Comma => "COMMA",
            Token::Assign => "ASSIGN",
            Token::Eof => "EOF",
        })
    }
}

/// A token and where it starts (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spanned {
    pub token: Token,
    pub line: usize,
    pub column: usize,
}

pub(super) struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn error(&self, line: usize, column: usize, message: impl Into<String>) -> Error {
        Error {
            line,
            column,
            message: message.into(),
            too_deep: false,
        }
    }

    pub fn next_token(&mut self) -> Result<Spanned, Error> {
        self.skip_blanks_and_comments()?;
        let (line, column) = (self.line, self.column);
        let spanned = |token| Spanned {
            token,
            line,
            column,
        };
        let Some(c) = self.bump() else {
            // HCL1 places the end one column past the last position.
            return Ok(Spanned {
                token: Token::Eof,
                line,
                column: column + 1,
            });
        };
        let token = match c {
            '{' => Token::LBrace,
            '}' => Token::RBrace,
            '[' => Token::LBrack,
            ']' => Token::RBrack,
            ',' => Token::Comma,
            '=' => Token::Assign,
            '"' => Token::String(self.string(line, column)?),
            '<' if self.peek() == Some('<') => {
                self.bump();
                Token::Heredoc(self.heredoc(line, column)?)
            }
            '-' if self.peek().is_some_and(|c| c.is_ascii_digit()) => {
                self.number(String::from("-"), line, column)?
            }
            c if c.is_ascii_digit() => self.number(c.to_string(), line, column)?,
            c if c.is_alphabetic() || c == '_' => {
                let mut ident = c.to_string();
                while let Some(c) = self
                    .peek()
                    .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    ident.push(c);
                    self.bump();
                }
                match ident.as_str() {
                    "true" => Token::Bool(true),
                    "false" => Token::Bool(false),
                    _ => Token::Ident(ident),
                }
            }
            _ => return Err(self.error(line, column, format!("illegal char {c:?}"))),
        };
        Ok(spanned(token))
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => self.skip_line(),
                Some('/') => {
                    let (line, column) = (self.line, self.column);
                    self.bump();
                    match self.bump() {
                        Some('/') => self.skip_line(),
                        Some('*') => self.skip_block_comment(line, column)?,
                        _ => return Err(self.error(line, column, "illegal char '/'")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    fn skip_block_comment(&mut self, line: usize, column: usize) -> Result<(), Error> {
        let mut star = false;
        while let Some(c) = self.bump() {
            if star && c == '/' {
                return Ok(());
            }
            star = c == '*';
        }
        Err(self.error(line, column, "comment not terminated"))
    }

    /// A quoted string after its opening quote, escapes decoded; `${…}` is
    /// kept as written (quotes may nest inside it).
    fn string(&mut self, line: usize, column: usize) -> Result<String, Error> {
        let unterminated = |lexer: &Self| lexer.error(line, column, "literal not terminated");
        let mut out = String::new();
        let mut braces = 0usize;
        loop {
            let (at_line, at_column) = (self.line, self.column);
            let Some(c) = self.bump() else {
                return Err(unterminated(self));
            };
            match c {
                '\n' if braces == 0 => return Err(unterminated(self)),
                '"' if braces == 0 => return Ok(out),
                '$' if self.peek() == Some('{') => {
                    self.bump();
                    braces += 1;
                    out.push_str("${");
                }
                '{' if braces > 0 => {
                    braces += 1;
                    out.push(c);
                }
                '}' if braces > 0 => {
                    braces -= 1;
                    out.push(c);
                }
                '\\' if braces == 0 => out.push(self.escape(at_line, at_column)?),
                '\\' => {
                    out.push(c);
                    if let Some(next) = self.bump() {
                        out.push(next);
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// One escape sequence after its backslash, as Go's strconv decodes it.
    fn escape(&mut self, line: usize, column: usize) -> Result<char, Error> {
        let invalid = |lexer: &Self| lexer.error(line, column, "unknown escape sequence");
        let Some(c) = self.bump() else {
            return Err(invalid(self));
        };
        let hex = |lexer: &mut Self, digits: usize| -> Result<char, Error> {
            let mut code = 0u32;
            for _ in 0..digits {
                let digit = lexer
                    .bump()
                    .and_then(|c| c.to_digit(16))
                    .ok_or_else(|| invalid(lexer))?;
                code = code * 16 + digit;
            }
            char::from_u32(code).ok_or_else(|| invalid(lexer))
        };
        Ok(match c {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' | '"' | '\'' => c,
            'x' => hex(self, 2)?,
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            '0'..='7' => {
                let mut code = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let digit = self
                        .bump()
                        .and_then(|c| c.to_digit(8))
                        .ok_or_else(|| invalid(self))?;
                    code = code * 8 + digit;
                }
                char::from_u32(code).ok_or_else(|| invalid(self))?
            }
            _ => return Err(invalid(self)),
        })
    }

    /// A heredoc after its `<<`: `EOF` (or `-EOF`, indented) up to the line
    /// holding only the marker. Its value ends with a newline; an indented
    /// one loses the indentation its lines share.
    fn heredoc(&mut self, line: usize, column: usize) -> Result<String, Error> {
        let indented = self.peek() == Some('-');
        if indented {
            self.bump();
        }
        let mut marker = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            marker.push(c);
            self.bump();
        }
        if marker.is_empty() || self.bump() != Some('\n') {
            return Err(self.error(line, column, "heredoc expected a marker and a newline"));
        }
        let mut lines = Vec::new();
        loop {
            if self.peek().is_none() {
                return Err(self.error(line, column, "heredoc not terminated"));
            }
            let mut text = String::new();
            while let Some(c) = self.peek().filter(|c| *c != '\n') {
                text.push(c);
                self.bump();
            }
            if text.trim() == marker {
                break;
            }
            self.bump();
            lines.push(text);
        }
        if indented {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for line in &mut lines {
                *line = line.get(indent..).unwrap_or("").to_owned();
            }
        }
        Ok(lines.iter().map(|l| format!("{l}\n")).collect())
    }

    /// A decimal, hexadecimal (`0x`) or octal (leading `0`) integer, or a
    /// float with a fraction and/or an exponent.
    fn number(&mut self, mut text: String, line: usize, column: usize) -> Result<Token, Error> {
        let mut float = false;
        while let Some(c) = self.peek() {
            let exponent_sign =
                matches!(c, '+' | '-') && text.ends_with(['e', 'E']) && !is_hex(&text);
            if c.is_ascii_alphanumeric() || c == '.' || exponent_sign {
                float |= c == '.' || (matches!(c, 'e' | 'E') && !is_hex(&text));
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        let invalid = || self.error(line, column, format!("invalid number {text:?}"));
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let number = if float {
            digits
                .parse::<f64>()
                .ok()
                .map(|f| if negative { -f } else { f })
                .and_then(serde_json::Number::from_f64)
        } else {
            let (radix, body) =
                if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
                    (16, hex)
                } else if digits.len() > 1 && digits.starts_with('0') {
                    (8, &digits[1..])
                } else {
                    (10, digits)
                };
            i64::from_str_radix(body, radix)
                .ok()
                .map(|n| if negative { -n } else { n })
                .map(serde_json::Number::from)
        };
        number.map(Token::Number).ok_or_else(invalid)
    }
}

fn is_hex(text: &str) -> bool {
    let digits = text.trim_start_matches('-');
    digits.starts_with("0x") || digits.starts_with("0X")
}
