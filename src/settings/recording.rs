//! Where a run's recording goes and in which form: `--record-format`, and the file names every
//! reader of a run directory looks for.

use std::path::{Path, PathBuf};

/// A run directory's recording, compressed (the default).
pub const COMPRESSED_FILE: &str = "recording.jsonl.zst";
/// A run directory's recording as plain JSON lines (`--record-format jsonl`, and older runs).
pub const PLAIN_FILE: &str = "recording.jsonl";

/// How a run writes its recording.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// zstd-compressed JSON lines, `recording.jsonl.zst` (`zstd -dc FILE | jq` reads it).
    #[default]
    Zstd,
    /// Plain JSON lines, `recording.jsonl`, for `tail -f`.
    Jsonl,
}

impl RecordFormat {
    pub fn file_name(self) -> &'static str {
        match self {
            RecordFormat::Zstd => COMPRESSED_FILE,
            RecordFormat::Jsonl => PLAIN_FILE,
        }
    }
}

/// The recording in run directory `dir`, compressed or plain, if it has one: every reader of
/// a run directory finds it here.
pub fn find_in(dir: &Path) -> Option<PathBuf> {
    [COMPRESSED_FILE, PLAIN_FILE]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}
