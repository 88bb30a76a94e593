//! The Go-regexp translation: any pattern compiles or is an error, and a
//! compiled one matches a few strings without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(re) = bellhop_runtime::util::goregex::compile(pattern) {
        for s in ["", "/foo/bar", "aaaa", "ÿ\u{1F600}x\n"] {
            let _ = re.captures(s);
        }
    }
});
