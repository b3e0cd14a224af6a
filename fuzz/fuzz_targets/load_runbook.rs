//! Feeds arbitrary bytes to the runbook loader, as a product file and as a
//! procedure file. Any outcome but a panic is fine: bad input must become problems.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::runbook::error::SourceFile;
use stepwise::runbook::load::{RawFile, build, embedded_files, merge};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for name in ["fuzz/product.yaml", "fuzz/procedure.yaml"] {
        let file = RawFile::new("nginx-service-mesh", SourceFile::new(name, text), None);
        let _ = build(merge(embedded_files(), vec![file]));
    }
});
