//! Fuzz target for the syntax layer: lexing and parsing arbitrary bytes
//! (read as UTF-8, lossily) must never panic, overflow the stack or hang;
//! bad input is an `Err`. Imports are resolved against a directory that
//! does not exist, so the fuzzer cannot read the disk through them.
#![no_main]

use bellhop_adapter::syntax::{parse_with_env, tokenize, SourceFile};
use libfuzzer_sys::fuzz_target;

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("a b {".to_string()),
        "B" => Some("}\n".to_string()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = tokenize(SourceFile::new("Caddyfile", text.as_ref()));
    if let Ok(parsed) = parse_with_env("/nonexistent-bellhop-fuzz/Caddyfile", &text, &env) {
        let _ = bellhop_adapter::syntax::dump(&parsed);
    }
});
