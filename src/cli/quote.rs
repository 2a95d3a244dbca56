//! Quoting for commands hpo prints to be pasted into a shell (`register it: hpo register ...`):
//! every value that is not plainly safe goes between single quotes, so a name such as
//! `demo $(id)` is passed as it is and never runs anything.

/// `s` as one shell word: unchanged if it holds only characters no POSIX shell treats specially
/// (letters, digits and `_@%+=:,./-`), else in single quotes (a `'` inside written `'\''`).
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command line of words, each quoted as needed.
pub(crate) fn shell_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_a_shell_would_interpret() {
        assert_eq!(shell_quote("quickstart-model"), "quickstart-model");
        assert_eq!(shell_quote("sqlite:///a/b.db"), "sqlite:///a/b.db");
        assert_eq!(shell_quote("demo $(id)"), "'demo $(id)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a`b`;c|d&e*?~!#"), "'a`b`;c|d&e*?~!#'");
        assert_eq!(shell_line(&["hpo", "a b"]), "hpo 'a b'");
    }
}
