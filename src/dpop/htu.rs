//! RFC 9449 §4.3 check 9: the proof's `htu` against the request's URI,
//! without query and fragment, after RFC 3986 §6.2.2 normalisation (scheme
//! and host case, default port, dot segments, percent-encoding).
//!
//! The request's URI is the API's public base URL (a setting, never the
//! untrusted `Host` header) with the request's path appended: behind a
//! proxy the server cannot see what the client called.

use url::Url;

/// The API's public base URL, parsed once: the origin and a path prefix.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    /// `scheme://host[:port]`, normalised by [`Url`].
    origin: String,
    /// The path before the request's own, without a trailing `/`.
    prefix: String,
}

impl BaseUrl {
    /// `None` for a URL with a query or fragment, or one that cannot be a
    /// base (`mailto:`).
    pub(crate) fn parse(text: &str) -> Option<BaseUrl> {
        let url = Url::parse(text).ok()?;
        if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
            return None;
        }
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return None;
        }
        Some(BaseUrl {
            origin: url.origin().ascii_serialization(),
            prefix: normalise_path(url.path().trim_end_matches('/')),
        })
    }

    /// Whether `htu` names the request at `path` (the request URI's path,
    /// as the server received it) under this base URL.
    pub(crate) fn matches(&self, htu: &str, path: &str) -> bool {
        self.is_exactly(htu, path) || self.matches_normalised(htu, path)
    }

    /// The common case, without parsing: `htu` is, byte for byte, the
    /// canonical origin, the prefix and `path`, and `path` is plain (a `/`,
    /// then only RFC 3986 `pchar`s other than `%`, no `.` or `..` segment).
    ///
    /// [`matches_normalised`](Self::matches_normalised) accepts every such
    /// `htu`: it compares the path of `htu` parsed with the path of the
    /// very same text (origin, prefix and `path`) parsed, so the paths are
    /// equal; the origin is this one, its authority ended by the `/` that
    /// follows it; and a plain path holds no `?` or `#` to start a query
    /// or fragment. Plain paths are not even rewritten by the parse.
    fn is_exactly(&self, htu: &str, path: &str) -> bool {
        is_plain_path(path)
            && htu
                .strip_prefix(self.origin.as_str())
                .and_then(|rest| rest.strip_prefix(self.prefix.as_str()))
                == Some(path)
    }

    /// RFC 3986 §6.2.2: both URIs parsed, their origins and normalised
    /// paths compared.
    fn matches_normalised(&self, htu: &str, path: &str) -> bool {
        let Ok(claimed) = Url::parse(htu) else {
            return false;
        };
        // §4.2: the URI "without query and fragment parts".
        if claimed.query().is_some() || claimed.fragment().is_some() {
            return false;
        }
        if claimed.origin().ascii_serialization() != self.origin {
            return false;
        }
        // The request's path, resolved as the claimed one was (dot
        // segments, percent-encoding), under the prefix.
        let Ok(expected) = Url::parse(&format!("{}{}{}", self.origin, self.prefix, path)) else {
            return false;
        };
        normalise_path(claimed.path()) == normalise_path(expected.path())
    }
}

/// A request path that no URL parser rewrites: `/`, then RFC 3986 `pchar`s
/// (unreserved, sub-delims, `:`, `@`) and `/`, without percent-encoding,
/// and without a `.` or `..` segment.
fn is_plain_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'-'
                        | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                )
        })
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// RFC 3986 §6.2.2.1-2: percent-encoded octets with upper-case hex digits,
/// and unreserved characters never encoded. `Url` already resolved dot
/// segments and encoded what must be.
fn normalise_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(hi), Some(lo)) = (hex(h), hex(l))
        {
            let decoded = hi << 4 | lo;
            if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(h.to_ascii_uppercase()));
                out.push(char::from(l.to_ascii_uppercase()));
            }
            i += 3;
            continue;
        }
        out.push(char::from(b));
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `htu`s naming `/notes` under `https://API.Example.test:443`.
    const ACCEPTED: [&str; 5] = [
        "https://api.example.test/notes",
        "HTTPS://api.EXAMPLE.test/notes",
        "https://api.example.test:443/notes",
        "https://api.example.test/a/../notes",
        "https://api.example.test/%6Eotes",
    ];
    /// `htu`s that do not.
    const REFUSED: [&str; 12] = [
        "https://api.example.test/notes?x=1",
        "https://api.example.test/notes#f",
        "https://api.example.test/notes/",
        "https://api.example.test//notes",
        "http://api.example.test/notes",
        "https://api.example.test:8443/notes",
        "https://evil.example.test/notes",
        "https://api.example.test/Notes",
        "https://api.example.test/other",
        "/notes",
        "not a url",
        "",
    ];

    #[test]
    fn the_public_base_url_and_the_request_path_make_the_target() {
        let base = BaseUrl::parse("https://API.Example.test:443").expect("base");
        for htu in ACCEPTED {
            assert!(base.matches(htu, "/notes"), "{htu}");
        }
        for htu in REFUSED {
            assert!(!base.matches(htu, "/notes"), "{htu}");
        }
        // The root, and an encoded reserved character kept encoded.
        assert!(base.matches("https://api.example.test", "/"));
        assert!(base.matches("https://api.example.test/a%2fb", "/a%2Fb"));
        assert!(!base.matches("https://api.example.test/a/b", "/a%2Fb"));
    }

    /// Base URLs, claimed `htu`s (the vectors above, and for each request
    /// path the very text the fast path compares with, and variants) and
    /// request paths, crossed: whenever the fast path accepts, the full
    /// comparison does too, and the answer is always the full comparison's.
    #[test]
    fn the_exact_fast_path_never_accepts_what_the_full_comparison_refuses() {
        let bases = [
            "https://API.Example.test:443",
            "https://api.example.test",
            "http://127.0.0.1:8080/api/",
            "https://api.example.test:8443/v1/%7Euser/",
            "https://api.example.test/a%2fb/",
            "http://[::1]:3000",
            "https://xn--bcher-kva.example/x",
            "https://bücher.example/x",
        ];
        let paths = [
            "/notes",
            "/",
            "",
            "*",
            "notes",
            "/Notes",
            "/notes/",
            "//notes",
            "/a/../notes",
            "/./notes",
            "/notes/.",
            "/notes/..",
            "/..",
            "/.",
            "/.hidden",
            "/notes..json",
            "/a/.../b",
            "/%6Eotes",
            "/a%2Fb",
            "/a%2fb",
            "/%2e%2e/notes",
            "/a b",
            "/a\\b",
            "/a?b",
            "/a#b",
            "/ä",
            "/a\tb",
            "/a\nb",
            "/a|b",
            "/a`b",
            "/a{b}",
            "/a\"b",
            "/a<b>",
            "/x:y@z!$&'()*+,;=~_-.",
            ":8443/notes",
            ".evil.test/notes",
            "@evil.test/notes",
            "/notes?x=1",
        ];
        let mut fast = 0;
        for base_text in bases {
            let base = BaseUrl::parse(base_text).expect("base");
            let mut claimed: Vec<String> = ACCEPTED
                .iter()
                .chain(REFUSED.iter())
                .map(|s| (*s).to_owned())
                .collect();
            for path in paths {
                let exact = format!("{}{}{}", base.origin, base.prefix, path);
                claimed.push(exact.to_uppercase());
                claimed.push(format!("{exact}/"));
                claimed.push(format!("{exact}?"));
                claimed.push(format!("{exact}#"));
                claimed.push(exact);
                claimed.push(format!("{base_text}{path}"));
                claimed.push(format!("{}{path}", base.origin));
            }
            for htu in &claimed {
                for path in paths {
                    let full = base.matches_normalised(htu, path);
                    if base.is_exactly(htu, path) {
                        fast += 1;
                        assert!(
                            full,
                            "fast path accepted {htu:?} for {path:?} under {base_text}"
                        );
                    }
                    assert_eq!(
                        base.matches(htu, path),
                        full,
                        "{htu:?} {path:?} {base_text}"
                    );
                }
            }
        }
        // The fast path was taken: for each base, by each plain path.
        let plain = paths.iter().filter(|p| is_plain_path(p)).count();
        assert_eq!(plain, 9);
        assert!(fast >= bases.len() * plain, "{fast}");
    }

    #[test]
    fn only_paths_no_parser_rewrites_are_plain() {
        for plain in [
            "/",
            "/notes",
            "/a/b/",
            "//a",
            "/.hidden",
            "/a..b",
            "/.../x",
            "/x:y@z!$&'()*+,;=~_-.",
        ] {
            assert!(is_plain_path(plain), "{plain}");
        }
        for not in [
            "", "*", "notes", "/.", "/..", "/./a", "/a/../b", "/a/.", "/a/..", "/%41", "/a b",
            "/a\\b", "/a?b", "/a#b", "/ä", "/a\tb", "/a|b", "/a\"b", "/a<b", "/a`b", "/a{b",
            "/a^b", "/a[b]",
        ] {
            assert!(!is_plain_path(not), "{not}");
        }
    }

    #[test]
    fn a_base_url_with_a_path_prefixes_the_request_path() {
        let base = BaseUrl::parse("http://127.0.0.1:8080/api/").expect("base");
        assert!(base.matches("http://127.0.0.1:8080/api/notes", "/notes"));
        assert!(!base.matches("http://127.0.0.1:8080/notes", "/notes"));
        assert!(!base.matches("http://localhost:8080/api/notes", "/notes"));
    }

    #[test]
    fn base_urls_that_cannot_be_one_are_refused() {
        for bad in [
            "https://api.example.test/?q",
            "https://api.example.test/#f",
            "mailto:a@example.test",
            "ftp://api.example.test",
            "api.example.test",
        ] {
            assert!(BaseUrl::parse(bad).is_none(), "{bad}");
        }
    }
}
