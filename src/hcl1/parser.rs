//! HCL1's grammar over the lexer's tokens, with its error texts.

use super::lexer::{Lexer, Spanned, Token};
use super::{Body, Error, Item, Value, MAX_NESTING};

/// Parses an HCL1 document.
pub fn parse(text: &str) -> Result<Body, Error> {
    let mut parser = Parser {
        lexer: Lexer::new(text),
        ahead: None,
        depth: 0,
    };
    let body = parser.items(false)?;
    match parser.next()? {
        Spanned {
            token: Token::Eof, ..
        } => Ok(body),
        other => Err(at(&other, format!("unexpected token {}", other.token))),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    ahead: Option<Spanned>,
    depth: usize,
}

fn at(spanned: &Spanned, message: impl Into<String>) -> Error {
    Error {
        line: spanned.line,
        column: spanned.column,
        message: message.into(),
        too_deep: false,
    }
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Spanned, Error> {
        match self.ahead.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> Result<&Spanned, Error> {
        let token = match self.ahead.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        Ok(self.ahead.insert(token))
    }

    /// Items up to the end of the document, or (`in_object`) up to the
    /// closing brace, which is left for the caller. A comma may follow
    /// each item.
    fn items(&mut self, in_object: bool) -> Result<Body, Error> {
        let mut body = Body::default();
        loop {
            match self.peek()?.token {
                Token::Eof => break,
                Token::RBrace if in_object => break,
                _ => {}
            }
            body.items.push(self.item()?);
            if self.peek()?.token == Token::Comma {
                self.next()?;
            }
        }
        Ok(body)
    }

    /// `keys = value` or `keys { … }`.
    fn item(&mut self) -> Result<Item, Error> {
        let first = self.peek()?.clone();
        let mut keys = Vec::new();
        let mut written = Vec::new();
        loop {
            let spanned = self.next()?;
            match spanned.token {
                Token::Ident(key) => {
                    written.push(key.clone());
                    keys.push(key);
                }
                Token::String(key) => {
                    written.push(format!("{key:?}"));
                    keys.push(key);
                }
                Token::Assign if keys.len() > 1 => {
                    return Err(at(&spanned, "nested object expected: LBRACE got: ASSIGN"))
                }
                Token::Assign if keys.is_empty() => {
                    return Err(at(&spanned, "expected to find at least one object key"))
                }
                Token::Assign => {
                    let value = self.value()?;
                    return Ok(Item {
                        keys,
                        value,
                        line: first.line,
                        assign_line: spanned.line,
                    });
                }
                Token::LBrace if keys.is_empty() => {
                    return Err(at(&spanned, "expected: IDENT | STRING got: LBRACE"))
                }
                Token::LBrace => {
                    let value = self.object(&spanned)?;
                    return Ok(Item {
                        keys,
                        value,
                        line: first.line,
                        assign_line: 0,
                    });
                }
                Token::Eof | Token::RBrace if !keys.is_empty() => {
                    // HCL1's scanner moves one column further each time it
                    // reads the end; here it has read it once less.
                    let column = match spanned.token {
                        Token::Eof => spanned.column - 1,
                        _ => spanned.column,
                    };
                    return Err(at(
                        &Spanned { column, ..spanned },
                        format!(
                            "key '{}' expected start of object ('{{') or assignment ('=')",
                            written.join(" ")
                        ),
                    ));
                }
                ref other => {
                    return Err(at(
                        &spanned,
                        format!("expected: IDENT | STRING | ASSIGN | LBRACE got: {other}"),
                    ))
                }
            }
        }
    }

    /// The value after `=`.
    fn value(&mut self) -> Result<Value, Error> {
        let spanned = self.next()?;
        match spanned.token {
            Token::LBrace => self.object(&spanned),
            Token::LBrack => self.list(&spanned),
            Token::Eof => Err(at(&spanned, "expected a value, got: EOF")),
            ref token => {
                literal(token).ok_or_else(|| at(&spanned, format!("Unknown token: {token}")))
            }
        }
    }

    /// Opens one more level of nesting at `open`.
    fn nest(&mut self, open: &Spanned) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Error {
                too_deep: true,
                ..at(open, format!("nested more than {MAX_NESTING} levels deep"))
            });
        }
        Ok(())
    }

    /// An object's items after its `{`, and the closing `}`.
    fn object(&mut self, open: &Spanned) -> Result<Value, Error> {
        self.nest(open)?;
        let body = self.items(true)?;
        let close = self.next()?;
        if close.token != Token::RBrace {
            return Err(at(
                &close,
                format!("object expected closing RBRACE got: {}", close.token),
            ));
        }
        self.depth -= 1;
        Ok(Value::Object(body))
    }

    /// A list's elements after its `[`, and the closing `]`.
    fn list(&mut self, open: &Spanned) -> Result<Value, Error> {
        self.nest(open)?;
        let mut items = Vec::new();
        let mut need_comma = false;
        loop {
            let spanned = self.next()?;
            if need_comma && !matches!(spanned.token, Token::Comma | Token::RBrack) {
                return Err(at(
                    &spanned,
                    format!(
                        "error parsing list, expected comma or list end, got: {}",
                        spanned.token
                    ),
                ));
            }
            match &spanned.token {
                Token::RBrack => break,
                Token::Comma => need_comma = false,
                Token::LBrace => {
                    items.push(self.object(&spanned)?);
                    need_comma = true;
                }
                Token::LBrack => {
                    items.push(self.list(&spanned)?);
                    need_comma = true;
                }
                token => match literal(token) {
                    Some(value) => {
                        items.push(value);
                        need_comma = true;
                    }
                    None => {
                        return Err(at(
                            &spanned,
                            format!("unexpected token while parsing list: {}", spanned.token),
                        ))
                    }
                },
            }
        }
        self.depth -= 1;
        Ok(Value::List(items))
    }
}

fn literal(token: &Token) -> Option<Value> {
    match token {
        Token::Bool(b) => Some(Value::Bool(*b)),
        Token::Number(n) => Some(Value::Number(n.clone())),
        Token::String(s) | Token::Heredoc(s) => Some(Value::String(s.clone())),
        _ => None,
    }
}
