//! Arbitrary bytes through the whole configuration pipeline (preprocessor, lexer, tree,
//! typed model): nothing may panic, hang or blow up memory.
#![no_main]
use std::path::Path;

use keepalived::config::{load_str, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `include` would read arbitrary files of the fuzzing host: neutralise it (the
    // include machinery is covered by unit tests on temporary directories).
    let text = text.replace("include", "inclxde");
    let opts = LoadOptions {
        config_id: "fuzz".into(),
        all_config: false,
    };
    let _ = load_str(&text, Path::new("/nonexistent-fuzz/keepalived.conf"), &opts);
});
