//! Turns a parsed `q` into one `tsquery`: PostgreSQL tokenizes and normalizes each clause
//! (the `toko_search` configuration, so query words meet indexed words in the same form), and
//! this module composes the clauses, adding to single words
//! - typo corrections: the vocabulary words (`search_terms`) nearest by trigram distance and
//!   within Elasticsearch's `fuzziness: AUTO` edit distance, for words the vocabulary lacks;
//! - a prefix match (`word:*AB`, in names, brands and categories) for the word being typed.
//!
//! Without corrections or a prefix the result equals `websearch_to_tsquery`'s (pinned by a
//! test against the database), but for the deliberate reading of `or` described in
//! [`crate::search::syntax`].

use sqlx::PgPool;

use crate::search::syntax::{Clause, ParsedQuery};

/// Nearest vocabulary words examined per unknown word.
const CANDIDATES: i64 = 16;
/// Corrections kept per word (the nearest).
const MAX_CORRECTIONS: usize = 4;
/// Shorter prefixes would match a large part of the catalog on every keystroke.
const MIN_PREFIX_CHARS: usize = 2;

/// One clause as PostgreSQL tokenized it.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Analysis {
    /// `phraseto_tsquery` of the clause: its lexemes in order, quoted; empty without lexemes.
    pub query: String,
    /// The lexeme, when the clause is a single one (only those get corrections or a prefix).
    pub lexeme: Option<String>,
    /// Vocabulary words near an unknown lexeme (empty when it is known, or being typed and a
    /// prefix of known words, or not correctable).
    pub candidates: Vec<String>,
}

/// Every clause in a fixed order: required groups, then exclusions.
fn clauses(parsed: &ParsedQuery) -> impl Iterator<Item = &Clause> {
    parsed.required.iter().flatten().chain(&parsed.excluded)
}

/// Tokenizes every clause and fetches correction candidates, in one round trip. Clauses are
/// numbered as [`clauses`] lists them.
pub async fn analyze(db: &PgPool, parsed: &ParsedQuery) -> Result<Vec<Analysis>, sqlx::Error> {
    let required = parsed.required.iter().map(Vec::len).sum::<usize>();
    let mut texts = Vec::new();
    let mut fuzzy = Vec::new();
    let mut prefix = Vec::new();
    for (i, clause) in clauses(parsed).enumerate() {
        texts.push(clause.text().to_owned());
        // Typos are forgiven in what is wanted, never in what is excluded or quoted exactly.
        fuzzy.push(i < required && matches!(clause, Clause::Word(_)));
        prefix.push(parsed.is_prefix(clause));
    }
    sqlx::query_as!(
        Analysis,
        r#"select c.query as "query!", l.lexeme, coalesce(k.candidates, '{}') as "candidates!"
      from unnest($1::text[], $2::bool[], $3::bool[]) with ordinality as c0(text, fuzzy, prefix, ord)
      cross join lateral (select phraseto_tsquery('toko_search', c0.text)::text as query) c
      left join lateral (
          select min(v.lexeme) as lexeme from unnest(to_tsvector('toko_search', c0.text)) v having count(*) = 1
      ) l on true
      left join lateral (
          select array_agg(n.term order by n.distance) as candidates
          from (select distinct on (t.term) t.term, t.term <-> l.lexeme as distance
                from (select term from search_terms order by term <-> l.lexeme limit $4) t) n
          where c0.fuzzy and length(l.lexeme) >= 3 and l.lexeme !~ '[0-9]'
            and not exists (select 1 from search_terms s where s.term = l.lexeme)
            and not (c0.prefix and exists (select 1 from search_terms s
                                           where s.term like replace(replace(replace(l.lexeme, '\', '\\'), '%', '\%'), '_', '\_') || '%'))
      ) k on true
      order by c0.ord"#,
        &texts,
        &fuzzy,
        &prefix,
        CANDIDATES,
    )
    .fetch_all(db)
    .await
}

/// A composed text query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// What a product must match.
    pub matches: String,
    /// The required clauses restricted to names (weight A), for the name boost; `None` when
    /// only exclusions were given.
    pub in_name: Option<String>,
}

/// Where a clause is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Anywhere,
    Name,
}

impl Scope {
    fn operand(self, lexeme: &str) -> String {
        match self {
            Self::Anywhere => quote(lexeme),
            Self::Name => format!("{}:A", quote(lexeme)),
        }
    }

    /// The word being typed: a prefix in names, brands and categories (never descriptions,
    /// where prefixes mostly find noise).
    fn prefix(self, lexeme: &str) -> String {
        match self {
            Self::Anywhere => format!("{}:*AB", quote(lexeme)),
            Self::Name => format!("{}:*A", quote(lexeme)),
        }
    }

    fn phrase(self, query: &str) -> String {
        match self {
            Self::Anywhere => format!("( {query} )"),
            Self::Name => format!("( {} )", in_name(query)),
        }
    }
}

/// The query for `parsed`, or `None` when nothing in it is searchable.
pub fn compose(parsed: &ParsedQuery, analyses: &[Analysis]) -> Option<Composed> {
    let required_clauses = parsed
        .required
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .min(analyses.len());
    let (required, excluded) = analyses.split_at(required_clauses);
    let mut parts = required_parts(parsed, required, Scope::Anywhere);
    for analysis in excluded {
        if let Some(clause) = expand(analysis, false, Scope::Anywhere) {
            parts.push(format!("!{clause}"));
        }
    }
    let in_name = required_parts(parsed, required, Scope::Name);
    (!parts.is_empty()).then(|| Composed {
        matches: parts.join(" & "),
        in_name: (!in_name.is_empty()).then(|| in_name.join(" & ")),
    })
}

/// One operand per required group (`a or b` as an alternative).
fn required_parts(parsed: &ParsedQuery, analyses: &[Analysis], scope: Scope) -> Vec<String> {
    let mut analyses = analyses.iter();
    let mut parts = Vec::new();
    for group in &parsed.required {
        let mut alternatives: Vec<String> = group
            .iter()
            .zip(analyses.by_ref())
            .filter_map(|(clause, analysis)| expand(analysis, parsed.is_prefix(clause), scope))
            .collect();
        match alternatives.len() {
            0 => {}
            1 => parts.append(&mut alternatives),
            _ => parts.push(format!("( {} )", alternatives.join(" | "))),
        }
    }
    parts
}

/// One clause with its corrections and prefix; parenthesized unless a single operand.
fn expand(analysis: &Analysis, prefix: bool, scope: Scope) -> Option<String> {
    let Some(lexeme) = &analysis.lexeme else {
        return (!analysis.query.is_empty()).then(|| scope.phrase(&analysis.query));
    };
    let mut alternatives = vec![scope.operand(lexeme)];
    alternatives.extend(corrections(lexeme, &analysis.candidates).map(|c| scope.operand(c)));
    if prefix && lexeme.chars().count() >= MIN_PREFIX_CHARS {
        alternatives.push(scope.prefix(lexeme));
    }
    Some(match alternatives.len() {
        1 => alternatives.remove(0),
        _ => format!("( {} )", alternatives.join(" | ")),
    })
}

/// Restricts every operand of a `tsquery` as PostgreSQL prints it (`'lexeme'`, with quotes
/// doubled and backslashes escaped, no weights) to weight A.
fn in_name(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 16);
    let mut chars = query.chars().peekable();
    let mut in_lexeme = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' if in_lexeme => out.extend(chars.next()),
            '\'' if in_lexeme && chars.peek() == Some(&'\'') => out.extend(chars.next()),
            '\'' if in_lexeme => {
                out.push_str(":A");
                in_lexeme = false;
            }
            '\'' => in_lexeme = true,
            _ => {}
        }
    }
    out
}

/// The candidates within `fuzziness: AUTO` of `word`: no edit up to 2 characters, one up to 5,
/// two beyond (a transposition counts as one edit, as in Elasticsearch).
fn corrections<'a>(word: &'a str, candidates: &'a [String]) -> impl Iterator<Item = &'a str> {
    let allowed = match word.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    candidates
        .iter()
        .map(String::as_str)
        .filter(move |c| *c != word && allowed > 0 && edit_distance(word, c) <= allowed)
        .take(MAX_CORRECTIONS)
}

/// A lexeme as a `tsquery` operand: single-quoted, quotes and backslashes doubled.
fn quote(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions, each one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::syntax::parse;

    fn word(lexeme: &str, candidates: &[&str]) -> Analysis {
        Analysis {
            query: format!("'{lexeme}'"),
            lexeme: Some(lexeme.into()),
            candidates: candidates.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn multi(query: &str) -> Analysis {
        Analysis {
            query: query.into(),
            ..Analysis::default()
        }
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("iphnoe", "iphone"), 1);
        assert_eq!(edit_distance("kaos", "kaus"), 1);
        assert_eq!(edit_distance("sepatu", "spatu"), 1);
        assert_eq!(edit_distance("kemeja", "kmejaa"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn corrections_follow_fuzziness_auto() {
        let candidates = ["iphone", "ipad", "telephone"].map(String::from);
        assert_eq!(
            corrections("iphnoe", &candidates).collect::<Vec<_>>(),
            vec!["iphone"]
        );
        let short = ["ab", "ac"].map(String::from);
        assert_eq!(
            corrections("ab", &short).count(),
            0,
            "two letters allow no edit"
        );
        let five = ["polos", "palsu"].map(String::from);
        assert_eq!(
            corrections("polso", &five).collect::<Vec<_>>(),
            vec!["polos"]
        );
    }

    #[test]
    fn words_get_corrections_and_the_last_a_prefix() {
        let parsed = parse("kaos iphnoe");
        let composed = compose(
            &parsed,
            &[word("kaos", &[]), word("iphnoe", &["iphone", "iphones"])],
        )
        .unwrap();
        assert_eq!(
            composed.matches,
            "'kaos' & ( 'iphnoe' | 'iphone' | 'iphones' | 'iphnoe':*AB )"
        );
        assert_eq!(
            composed.in_name.unwrap(),
            "'kaos':A & ( 'iphnoe':A | 'iphone':A | 'iphones':A | 'iphnoe':*A )"
        );
    }

    #[test]
    fn phrases_or_groups_and_exclusions_compose() {
        let parsed = parse(r#""polos hitam" uniqlo or erigo -merah "#);
        let analyses = [
            multi("'polos' <-> 'hitam'"),
            word("uniqlo", &[]),
            word("erigo", &[]),
            word("merah", &[]),
        ];
        let composed = compose(&parsed, &analyses).unwrap();
        assert_eq!(
            composed.matches,
            "( 'polos' <-> 'hitam' ) & ( 'uniqlo' | 'erigo' ) & !'merah'"
        );
        assert_eq!(
            composed.in_name.unwrap(),
            "( 'polos':A <-> 'hitam':A ) & ( 'uniqlo':A | 'erigo':A )"
        );
        let only_excluded = compose(&parse("-merah"), &[word("merah", &[])]).unwrap();
        assert_eq!(
            (only_excluded.matches.as_str(), only_excluded.in_name),
            ("!'merah'", None)
        );
    }

    #[test]
    fn names_restrict_quoted_operands_only() {
        assert_eq!(
            in_name(r"'it''s' <-> 'a\'b' & 'c'"),
            r"'it''s':A <-> 'a\'b':A & 'c':A"
        );
        assert_eq!(
            in_name("'usb-c' <-> 'usb' <-> 'c'"),
            "'usb-c':A <-> 'usb':A <-> 'c':A"
        );
    }

    #[test]
    fn clauses_without_lexemes_drop_out() {
        // (Whatever the tokenizer found nothing in, shown here as "zz".)
        let parsed = parse("kaos zz");
        assert_eq!(
            compose(&parsed, &[word("kaos", &[]), multi("")])
                .unwrap()
                .matches,
            "'kaos'"
        );
        assert_eq!(compose(&parse("zz"), &[multi("")]), None);
    }

    #[test]
    fn lexemes_are_quoted() {
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(
            compose(&parse("x"), &[word("x", &[])]).unwrap().matches,
            "'x'",
            "one letter is no prefix"
        );
    }
}
