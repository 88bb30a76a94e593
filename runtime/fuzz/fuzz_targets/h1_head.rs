//! Raw bytes as the front of an HTTP/1 connection's buffer, read by
//! bellhop's own HTTP/1 server (`http::h1`): nothing panics, a request
//! taken off the buffer leaves exactly what follows it, anything else
//! leaves every byte for hyper, and an answer written with the request's
//! headers is a whole head.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bellhop_runtime::http::h1::fuzz_head(data);
});
