//! Script strings (`notify`, `script`, `misc_path`, ...): keepalived re-tokenises them
//! shell-style: `"..."` and `'...'` quote, adjacent text joins,
//! and backslash escapes `\a \b \E \f \n \r \t \v \nnn \xHH \cC`, `\<any>` are decoded.
#![forbid(unsafe_code)]

use crate::config::diagnostic::Span;

/// A script to run, as configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Script {
    /// Program and arguments after shell-style splitting.
    pub argv: Vec<String>,
    /// The configured text, before splitting.
    pub text: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub span: Span,
}

/// Splits a script string into words the way keepalived does.
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                while let Some(q) = chars.next() {
                    if q == quote {
                        break;
                    }
                    if q == '\\' && quote == '"' {
                        if let Some(e) = unescape(&mut chars) {
                            cur.push(e);
                        }
                    } else {
                        cur.push(q);
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = unescape(&mut chars) {
                    cur.push(e);
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    Some(match c {
        'a' => '\x07',
        'b' => '\x08',
        'E' | 'e' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        'x' => {
            let mut v: u32 = 0;
            let mut n = 0;
            while n < 2 {
                match chars.peek().and_then(|d| d.to_digit(16)) {
                    Some(d) => {
                        v = v * 16 + d;
                        chars.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                'x'
            } else {
                char::from_u32(v).unwrap_or('x')
            }
        }
        'c' => {
            let k = chars.next()?;
            char::from_u32((k.to_ascii_uppercase() as u32) ^ 0x40).unwrap_or(k)
        }
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            char::from_u32(v).unwrap_or('0')
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_keepalived() {
        assert_eq!(
            split_command(r#"/bin/echo "a b" 'c d'"#),
            vec!["/bin/echo", "a b", "c d"]
        );
        assert_eq!(split_command("  /x  y  "), vec!["/x", "y"]);
        assert_eq!(split_command(r#"a"b c"d"#), vec!["ab cd"]);
        assert_eq!(split_command(r"a\ b \x41\101\t"), vec!["a b", "AA\t"]);
        assert_eq!(split_command("''"), vec![""]);
        assert!(split_command("   ").is_empty());
    }
}
