//! Redis-style glob matching on bytes (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.

/// True when `text` matches the glob `pattern`, as `KEYS`/`SCAN MATCH` would decide.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Greedy two-pointer walk that backtracks only to the last `*`: O(len(pattern) × len(text)).
    let (mut pi, mut ti) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while ti < text.len() {
        if pattern.get(pi) == Some(&b'*') {
            pi = skip_stars(pattern, pi);
            last_star = Some((pi, ti));
            continue;
        }
        if let Some(next) = step(pattern, pi, text[ti]) {
            pi = next;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = last_star {
            pi = star_pi;
            ti = star_ti + 1;
            last_star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    skip_stars(pattern, pi) == pattern.len()
}

fn skip_stars(pattern: &[u8], mut pi: usize) -> usize {
    while pattern.get(pi) == Some(&b'*') {
        pi += 1;
    }
    pi
}

/// Matches one text byte against the pattern element at `pi`; returns the next element.
fn step(pattern: &[u8], pi: usize, ch: u8) -> Option<usize> {
    let rest = pattern.get(pi..)?;
    match rest {
        [] => None,
        [b'?', ..] => Some(pi + 1),
        [b'[', class @ ..] => {
            let (matched, after) = match_class(class, ch);
            matched.then_some(pattern.len() - after.len())
        }
        [b'\\', lit, ..] => (*lit == ch).then_some(pi + 2),
        [lit, ..] => (*lit == ch).then_some(pi + 1),
    }
}

/// Matches `ch` against a class whose `[` was consumed; returns the result and the pattern
/// after the closing `]` (or the end when it is missing, as Redis does).
fn match_class(mut p: &[u8], ch: u8) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut found = false;
    loop {
        match p {
            [] => break,
            [b']', rest @ ..] => {
                p = rest;
                break;
            }
            [b'\\', esc, rest @ ..] => {
                found |= *esc == ch;
                p = rest;
            }
            [lo, b'-', hi, rest @ ..] if *hi != b']' => {
                let (lo, hi) = if lo <= hi { (*lo, *hi) } else { (*hi, *lo) };
                found |= (lo..=hi).contains(&ch);
                p = rest;
            }
            [c, rest @ ..] => {
                found |= *c == ch;
                p = rest;
            }
        }
    }
    (found != negate, p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn follows_redis_glob_rules() {
        assert!(matches(b"*", b""));
        assert!(matches(b"user:*", b"user:42"));
        assert!(!matches(b"user:*", b"users"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h[b-a]llo", b"hallo"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"*\x00*", b"bin\x00ary"));
        assert!(matches(b"a*b*c", b"aXXbYYc"));
        assert!(!matches(b"a*b*c", b"aXXbYY"));
        assert!(!matches(&b"a*".repeat(50), &b"a".repeat(49)));
        assert!(matches(b"[abc", b"b"));
    }
}
