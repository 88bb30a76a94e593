//! The JSON config decoder and the provisioning of every module it names:
//! arbitrary bytes load or are an error naming a place; nothing panics.
//!
//! Provisioning opens log files and storage as `validate` does in Caddy,
//! wherever a mutated config points; the target therefore runs in a
//! directory of its own under the temporary directory (tools/fuzz.sh points
//! TMPDIR at a scratch directory it removes), with HOME and the XDG
//! directories there too, so relative paths and default storage never land
//! in the checkout or the user's home. The directory change happens
//! before libFuzzer reads its inputs: name corpora and crash files by
//! absolute path (`cargo fuzz run config $PWD/artifacts/config/crash-…`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        let dir = std::env::temp_dir().join(format!("bellhop-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz target's scratch directory");
        std::env::set_current_dir(&dir).expect("enter the fuzz target's scratch directory");
        for var in ["HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"] {
            std::env::set_var(var, &dir);
        }
    },
    |data: &[u8]| {
        let _ = bellhop_runtime::validate(data);
    }
);
