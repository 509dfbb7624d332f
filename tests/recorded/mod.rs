//! A run's recording as text, whichever form the run wrote it in (kept apart from `common`,
//! which the pipeline's tests share and which cannot decompress).

use std::path::Path;

/// A run directory's recording as its JSON lines, decompressed when compressed.
pub fn recording_text(dir: &Path) -> String {
    let file = slitop::settings::recording::find_in(dir)
        .unwrap_or_else(|| panic!("{}: the run wrote no recording", dir.display()));
    let bytes = std::fs::read(file).unwrap();
    let plain = if bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        zstd::stream::decode_all(&bytes[..]).unwrap()
    } else {
        bytes
    };
    String::from_utf8(plain).unwrap()
}
