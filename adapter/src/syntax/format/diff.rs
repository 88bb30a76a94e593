//! The line diff `caddy fmt --diff` prints.
//!
//! Both texts are split on `\n` (so a final newline yields a last, empty
//! line, as in Caddy). Lines shared by both are printed with two leading
//! spaces, removed lines with `- ` and added lines with `+ `, each followed
//! by a newline. The lines in common are a longest common subsequence after
//! the shared head and tail are set aside; where several alignments are
//! equally long, removals come before additions, as in the diff library
//! Caddy uses.

/// Above this many cells (lines × lines of the differing middle part) the
/// quadratic table is not built; the middle part is then shown as removed
/// and re-added wholesale, which is still a correct (if not minimal) diff.
const MAX_TABLE_CELLS: usize = 1 << 26;

/// One line of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Common(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// Renders the `caddy fmt --diff` output for `original` → `formatted`.
pub fn diff(original: &str, formatted: &str) -> String {
    let left: Vec<&str> = original.split('\n').collect();
    let right: Vec<&str> = formatted.split('\n').collect();
    let mut out = String::with_capacity(original.len() + formatted.len());
    for line in diff_lines(&left, &right) {
        let (mark, text) = match line {
            Line::Common(t) => ("  ", t),
            Line::Removed(t) => ("- ", t),
            Line::Added(t) => ("+ ", t),
        };
        out.push_str(mark);
        out.push_str(text);
        out.push('\n');
    }
    out
}

/// Aligns two sequences of lines.
fn diff_lines<'a>(left: &[&'a str], right: &[&'a str]) -> Vec<Line<'a>> {
    let head = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    let mut tail = 0;
    while left.len() > head + tail
        && right.len() > head + tail
        && left[left.len() - 1 - tail] == right[right.len() - 1 - tail]
    {
        tail += 1;
    }
    let mut out: Vec<Line<'a>> = left[..head].iter().map(|t| Line::Common(t)).collect();
    let (mid_left, mid_right) = (
        &left[head..left.len() - tail],
        &right[head..right.len() - tail],
    );
    middle(mid_left, mid_right, &mut out);
    out.extend(left[left.len() - tail..].iter().map(|t| Line::Common(t)));
    out
}

/// Aligns the differing middle parts with a longest-common-subsequence
/// table over suffixes, walking forwards and preferring, at each step, to
/// drop a line of the original, then to add one of the result, and only
/// then to keep a common line (this is the tie-break of Caddy's diff).
fn middle<'a>(left: &[&'a str], right: &[&'a str], out: &mut Vec<Line<'a>>) {
    let (n, m) = (left.len(), right.len());
    if n.saturating_mul(m) > MAX_TABLE_CELLS {
        out.extend(left.iter().map(|t| Line::Removed(t)));
        out.extend(right.iter().map(|t| Line::Added(t)));
        return;
    }
    // lcs[i * (m + 1) + j]: length of the LCS of left[i..] and right[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if left[i] == right[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let here = lcs[i * width + j];
        if i < n && lcs[(i + 1) * width + j] == here {
            out.push(Line::Removed(left[i]));
            i += 1;
        } else if j < m && lcs[i * width + j + 1] == here {
            out.push(Line::Added(right[j]));
            j += 1;
        } else {
            out.push(Line::Common(left[i]));
            i += 1;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn identical_texts_are_all_common() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), "  a\n  b\n  \n");
    }

    #[test]
    fn a_changed_line_is_removed_then_added() {
        let got = diff("a {\n  b  c\n}\n", "a {\n\tb c\n}\n");
        assert_eq!(got, "  a {\n-   b  c\n+ \tb c\n  }\n  \n");
    }

    #[test]
    fn ties_drop_before_adding_before_keeping() {
        // Checked against `caddy fmt --diff`: the blank lines of the result
        // pair with the later blank lines of the original.
        let got = diff("a\n\nb\n\nc", "d\n\ne\n\nf\n");
        assert_eq!(got, "- a\n+ d\n+ \n+ e\n  \n- b\n+ f\n  \n- c\n");
    }

    #[test]
    fn insertions_and_deletions_keep_the_common_lines() {
        let got = diff("x\n\n\ny\nz", "x\n\ny\nw\nz");
        assert_eq!(got, "  x\n  \n- \n  y\n+ w\n  z\n");
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(diff("", ""), "  \n");
        assert_eq!(diff("", "\n"), "  \n+ \n");
        assert_eq!(diff("a\n\n\n", "a\n"), "  a\n  \n- \n- \n");
    }
}
