//! What bellhop's own HTTP/1.1 parser notes of a head's fields as it
//! builds the map (`te: trailers`, the framing facts, the names'
//! separators) agrees with what hyper and the checks read from the map.

use super::head;
use bytes::BytesMut;

#[test]
fn te_trailers_is_noted_as_hyper_reads_it_from_the_map() {
    for (te, lists) in [
        (&b""[..], false),
        (b"TE: trailers\r\n", true),
        (b"te: gzip, Trailers \r\n", true),
        (b"TE: deflate\r\nTE: trailers\r\n", true),
        (b"TE: trailersx, gzip\r\n", false),
        (b"TE: gzip;q=1\r\n", false),
        // An obs-text byte: `to_str` refuses the value, which lists nothing.
        (b"TE: \xfftrailer, trailers\r\n", false),
        (b"X-TE: trailers\r\n", false),
    ] {
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n"[..]);
        buf.extend_from_slice(te);
        buf.extend_from_slice(b"\r\n");
        let r = head::parse(&mut buf, 9 << 10, &mut Vec::new(), &mut Default::default()).unwrap();
        let te = String::from_utf8_lossy(te);
        assert_eq!(r.te_trailers, lists, "{te:?}");
        assert_eq!(super::te_trailers(&r.parts.headers), lists, "{te:?}");
    }
}

#[test]
fn the_facts_noted_while_parsing_are_what_the_checks_read_from_the_map() {
    let mut names = super::names::Names::default();
    for fields in [
        "Host: x\r\n",
        "",
        "Host: x\r\nHost: y\r\n",
        "Host: x\r\nContent-Length: 0\r\n",
        "Host: x\r\nContent-Length: 2\r\n\r\nab",
        "Host: x\r\nTransfer_Encoding: chunked\r\n",
        "Host: x\r\nContent--Length: 3\r\n",
        "Host: x\r\nX_Real_Ip: 1\r\n",
        "Host: x\r\nX.Forwarded.For: 1\r\nX-Ok: 2\r\n",
        "Host: x\r\nX-Ok: 2\r\n",
    ] {
        for method in ["GET", "POST"] {
            let mut buf = BytesMut::from(format!("{method} / HTTP/1.1\r\n{fields}\r\n").as_str());
            if fields.contains("\r\n\r\n") {
                buf = BytesMut::from(format!("{method} / HTTP/1.1\r\n{fields}").as_str());
            }
            // (The connection's names are kept across these heads, as
            // they are across a connection's requests.)
            let r = head::parse(&mut buf, 9 << 10, &mut Vec::new(), &mut names).unwrap();
            let from_map = crate::http::framing::check(&r.parts, None);
            let noted = crate::http::framing::check(&r.parts, Some(&r.facts));
            assert_eq!(noted, from_map, "{method} {fields:?}");
            let separator = fields
                .lines()
                .any(|l| l.split(':').next().is_some_and(|n| n.contains(['_', '.'])));
            assert_eq!(r.facts.separator, separator, "{fields:?}");
        }
    }
}
