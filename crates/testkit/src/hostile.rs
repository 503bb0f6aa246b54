//! Inputs that once broke a parser somewhere, for every parser's
//! regression tests (the fuzzers' finds go here too).

/// Text inputs: deep nesting, a long operator chain, stray quotes, NUL.
pub fn texts() -> Vec<String> {
    let mut texts = vec![
        format!("{}x", "(".repeat(3000)),
        format!("{}1", "1+".repeat(5000)),
        format!("{}1", "-".repeat(5000)),
    ];
    texts.extend(["", "\u{0}", "((((", "\"", "a = \"", "吉"].map(String::from));
    texts
}

/// Request payloads for each method index `0..12`: empty, and one string
/// field set.
pub fn requests() -> Vec<(u8, Vec<u8>)> {
    (0..12)
        .flat_map(|kind| {
            [
                (kind, Vec::new()),
                (kind, vec![0x0a, 0x03, b'a', b'b', b'c']),
            ]
        })
        .collect()
}

/// Feeds every hostile text to `text` and every request payload to
/// `request`.
pub fn feed(text: impl Fn(&str), request: impl Fn(u8, &[u8])) {
    texts().iter().for_each(|input| text(input));
    for (kind, bytes) in requests() {
        request(kind, &bytes);
    }
}
