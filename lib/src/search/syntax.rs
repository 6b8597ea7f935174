//! The web-search syntax of `q`, parsed once in Rust so both backends read the same structure:
//! words are all required, `"quoted phrases"` match as phrases, `-word` and `-"a phrase"`
//! exclude, and `or` between two clauses makes either one enough: the syntax of PostgreSQL's
//! `websearch_to_tsquery`, except that `or` binds only its two neighbours (`a b or c` is
//! `a and (b or c)`, as web search engines read it). The last word is matched as a prefix
//! while it is being typed, that is when nothing (not even a space) follows it.
//!
//! Backends need the structure rather than a finished query string: typo tolerance and prefix
//! matching apply to single words, never to phrases or exclusions.

/// One thing to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Word(String),
    Phrase(String),
}

impl Clause {
    pub fn text(&self) -> &str {
        match self {
            Self::Word(text) | Self::Phrase(text) => text,
        }
    }
}

/// A parsed `q`. Empty when `q` has nothing searchable (blank, or punctuation only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Every group must match; a group matches when any of its clauses does (`a or b`).
    pub required: Vec<Vec<Clause>>,
    /// No excluded clause may match.
    pub excluded: Vec<Clause>,
    /// The last required clause is a word still being typed.
    pub prefix_last: bool,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty()
    }

    /// The word to match as a prefix, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix_candidate().filter(|_| self.prefix_last)
    }

    fn prefix_candidate(&self) -> Option<&str> {
        match self.required.last().and_then(|group| group.last()) {
            Some(Clause::Word(word)) => Some(word),
            _ => None,
        }
    }

    /// Whether `clause` is the prefix word (compared by address: the same word may repeat).
    pub fn is_prefix(&self, clause: &Clause) -> bool {
        self.prefix_last
            && self
                .required
                .last()
                .and_then(|g| g.last())
                .is_some_and(|last| std::ptr::eq(last, clause))
    }
}

enum Token {
    Clause { clause: Clause, negated: bool },
    Or,
}

/// Splits `q` into words, phrases, exclusions and `or`s. An unterminated quote runs to the end.
fn tokenize(q: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let negated = c == '-';
        if negated {
            chars.next();
            if chars.peek().is_none_or(|c| c.is_whitespace()) {
                continue; // A lone dash excludes nothing.
            }
        }
        let clause = if chars.peek() == Some(&'"') {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            Clause::Phrase(phrase.split_whitespace().collect::<Vec<_>>().join(" "))
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if !negated && word.eq_ignore_ascii_case("or") {
                tokens.push(Token::Or);
                continue;
            }
            Clause::Word(word)
        };
        // Punctuation alone has nothing to match.
        if clause.text().chars().any(char::is_alphanumeric) {
            tokens.push(Token::Clause { clause, negated });
        }
    }
    tokens
}

pub fn parse(q: &str) -> ParsedQuery {
    // Control characters separate words; none reaches an engine (PostgreSQL refuses NUL).
    let q: String = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let q = q.as_str();
    let mut parsed = ParsedQuery::default();
    let mut or_pending = false;
    // Whether the previous token was a required clause, which an `or` may extend.
    let mut after_required = false;
    let mut last_was_word = false;
    for token in tokenize(q) {
        match token {
            Token::Or => {
                or_pending = after_required;
                last_was_word = false;
            }
            Token::Clause {
                clause,
                negated: true,
            } => {
                parsed.excluded.push(clause);
                (or_pending, after_required, last_was_word) = (false, false, false);
            }
            Token::Clause {
                clause,
                negated: false,
            } => {
                last_was_word = matches!(clause, Clause::Word(_));
                match parsed.required.last_mut() {
                    Some(group) if or_pending => group.push(clause),
                    _ => parsed.required.push(vec![clause]),
                }
                (or_pending, after_required) = (false, true);
            }
        }
    }
    // Typed to the very end: no space, and no dropped punctuation, after the word.
    parsed.prefix_last = last_was_word
        && parsed
            .prefix_candidate()
            .is_some_and(|word| q.ends_with(word));
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str) -> Clause {
        Clause::Word(w.into())
    }
    fn phrase(p: &str) -> Clause {
        Clause::Phrase(p.into())
    }

    #[test]
    fn words_are_all_required_and_the_last_one_is_a_prefix() {
        let q = parse("kaos polos hit");
        assert_eq!(
            q.required,
            vec![vec![word("kaos")], vec![word("polos")], vec![word("hit")]]
        );
        assert_eq!(q.prefix(), Some("hit"));
        assert_eq!(parse("kaos polos ").prefix(), None, "a space ends the word");
    }

    #[test]
    fn phrases_exclusions_and_or() {
        let q = parse(r#"kaos "polos  hitam" -merah -"lengan panjang" uniqlo or erigo"#);
        assert_eq!(
            q.required,
            vec![
                vec![word("kaos")],
                vec![phrase("polos hitam")],
                vec![word("uniqlo"), word("erigo")]
            ]
        );
        assert_eq!(q.excluded, vec![word("merah"), phrase("lengan panjang")]);
        assert_eq!(q.prefix(), Some("erigo"));
    }

    #[test]
    fn odd_input_degrades_gracefully() {
        assert!(parse("").is_empty());
        assert!(parse("  ?! - ").is_empty());
        assert_eq!(
            parse(r#""unterminated phrase"#).required,
            vec![vec![phrase("unterminated phrase")]]
        );
        assert_eq!(
            parse(r#""unterminated phrase"#).prefix(),
            None,
            "phrases are never prefixes"
        );
        assert_eq!(
            parse("or kaos or").required,
            vec![vec![word("kaos")]],
            "a dangling or is ignored"
        );
        assert_eq!(
            parse("-merah or kaos").required,
            vec![vec![word("kaos")]],
            "or needs a required clause before it"
        );
        assert_eq!(parse("-merah").excluded, vec![word("merah")]);
        assert_eq!(parse("-merah").prefix(), None);
        assert_eq!(parse("kaos ?").prefix(), None, "the word was finished");
        assert_eq!(
            parse("ka\u{0}os\t").required,
            vec![vec![word("ka")], vec![word("os")]]
        );
        assert_eq!(
            parse("usb-c 2.0").required,
            vec![vec![word("usb-c")], vec![word("2.0")]]
        );
    }

    #[test]
    fn is_prefix_points_at_the_last_word_only() {
        let q = parse("kaos kaos");
        assert!(!q.is_prefix(&q.required[0][0]));
        assert!(q.is_prefix(&q.required[1][0]));
    }
}
