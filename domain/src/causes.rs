//! How an error is shown with its causes: each message apart (`main` prints them a line each),
//! or one line, `what: why: why` (logs, and reports that give each problem one line).

use std::error::Error;

/// The messages of an error and of each of its causes, outermost first.
///
/// ```
/// use gridcase_domain::{error_chain, error_messages};
///
/// #[derive(Debug)]
/// struct Opening(std::io::Error);
/// impl std::fmt::Display for Opening {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("opening grids.csv")
///     }
/// }
/// impl std::error::Error for Opening {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let e = Opening(std::io::Error::other("no such file"));
/// assert_eq!(error_messages(&e), ["opening grids.csv", "no such file"]);
/// assert_eq!(error_chain(&e), "opening grids.csv: no such file");
/// ```
pub fn error_messages(e: &dyn Error) -> Vec<String> {
    let mut messages = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        messages.push(c.to_string());
        cause = c.source();
    }
    messages
}

/// An error and its causes on one line: `what: why: why`.
pub fn error_chain(e: &dyn Error) -> String {
    error_messages(e).join(": ")
}
