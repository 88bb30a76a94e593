//! The JSON config decoder and the provisioning of every module it names:
//! arbitrary bytes load or are an error naming a place; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bellhop_runtime::validate(data);
});
