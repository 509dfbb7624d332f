//! Compressed recordings: a detector fixture replayed through the recorder in both formats
//! gives the same lines and the same transitions; a compressed file cut anywhere in its last
//! frame still reads with everything before the cut; `zstd -dc` reads it as JSON lines; a
//! newer format and damage before the end are clear errors.

mod common;
mod recorded;

use std::path::{Path, PathBuf};
use std::process::Command;

use slitop::record::read::{Record, Recording};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/detector/{name}.jsonl"))
}

/// `slitop replay FILE --headless --out DIR` with `extra` flags; the replay must agree with
/// the recorded transitions.
fn replay(file: &Path, out: &Path, extra: &[&str]) {
    let o = Command::new(common::slitop_bin())
        .arg("replay")
        .arg(file)
        .args(["--headless", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr_of(&o));
}

fn transitions(rec: &Recording) -> Vec<String> {
    rec.records
        .iter()
        .filter(|r| matches!(r, Record::Stage(_)))
        .map(|r| format!("{r:?}"))
        .collect()
}

fn debug(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| format!("{r:?}")).collect()
}

#[test]
fn a_compressed_recording_holds_the_same_lines_and_replays_to_the_same_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let (zst, plain) = (dir.path().join("zst"), dir.path().join("plain"));
    replay(&fixture("ramp"), &zst, &[]);
    replay(&fixture("ramp"), &plain, &["--record-format", "jsonl"]);
    assert!(!zst.join("recording.jsonl").exists());
    assert!(!plain.join("recording.jsonl.zst").exists());
    let compressed = std::fs::read(zst.join("recording.jsonl.zst")).unwrap();
    let lines = std::fs::read(plain.join("recording.jsonl")).unwrap();
    assert!(
        compressed.len() * 5 < lines.len(),
        "{} compressed bytes for {} plain",
        compressed.len(),
        lines.len()
    );
    assert_eq!(zstd::stream::decode_all(&compressed[..]).unwrap(), lines);

    let a = Recording::read(&zst.join("recording.jsonl.zst")).unwrap();
    let b = Recording::read(&plain.join("recording.jsonl")).unwrap();
    assert!(!a.torn_tail && !b.torn_tail);
    assert_eq!(a.header, b.header);
    assert_eq!(debug(&a.records), debug(&b.records));
    let recorded = Recording::read(&fixture("ramp")).unwrap();
    assert!(!transitions(&recorded).is_empty());
    assert_eq!(transitions(&a), transitions(&recorded));

    // The compressed recording replays in its turn to the same transitions.
    let again = dir.path().join("again");
    replay(&zst.join("recording.jsonl.zst"), &again, &[]);
    let c = Recording::read(&common::recording_in(&again)).unwrap();
    assert_eq!(transitions(&c), transitions(&recorded));
}

/// Where each zstd frame of `data` starts.
fn frame_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < data.len() {
        starts.push(at);
        at += zstd::zstd_safe::find_frame_compressed_size(&data[at..]).expect("a whole frame");
    }
    starts
}

#[test]
fn a_compressed_recording_cut_anywhere_in_its_last_frame_keeps_everything_before() {
    // A run killed after 61 refreshes (the fixture's first 61 ticks, no end line), replayed:
    // its last frame holds a few refreshes, so every cut in it is tried quickly.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("ramp")).unwrap();
    let mut ticks = 0;
    let prefix: String = text
        .split_inclusive('\n')
        .take_while(|l| {
            ticks += usize::from(l.starts_with("{\"k\":\"tick\""));
            ticks <= 61
        })
        .collect();
    let killed = dir.path().join("killed.jsonl");
    std::fs::write(&killed, prefix).unwrap();
    let out = dir.path().join("out");
    replay(&killed, &out, &[]);
    let file = out.join("recording.jsonl.zst");
    let data = std::fs::read(&file).unwrap();
    let whole = Recording::read(&file).unwrap();
    let starts = frame_starts(&data);
    assert!(starts.len() >= 2, "{starts:?}");
    let last = *starts.last().unwrap();

    let cut_file = dir.path().join("cut.jsonl.zst");
    let read_cut = |cut: usize| {
        std::fs::write(&cut_file, &data[..cut]).unwrap();
        Recording::read(&cut_file).unwrap_or_else(|e| panic!("cut at {cut}: {e}"))
    };
    let before = read_cut(last);
    assert!(!before.torn_tail);
    let full = debug(&whole.records);
    let mut seen = before.records.len();
    assert!(seen > 0 && seen < full.len());
    assert_eq!(debug(&before.records), full[..seen]);
    for cut in last + 1..data.len() {
        let rec = read_cut(cut);
        assert!(rec.torn_tail, "cut at {cut}");
        let got = debug(&rec.records);
        assert!(got.len() >= seen, "cut at {cut}: {} < {seen}", got.len());
        assert_eq!(got, full[..got.len()], "cut at {cut}");
        seen = got.len();
    }
    // Refreshes flushed inside the last frame are kept before its end is reached.
    assert!(seen > before.records.len());
}

#[test]
fn the_zstd_tool_reads_a_compressed_recording_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    replay(&fixture("baseline"), &out, &[]);
    let file = out.join("recording.jsonl.zst");
    let Ok(o) = Command::new("zstd").arg("-dc").arg(&file).output() else {
        println!("skipped: no zstd command on this machine to decode with");
        return;
    };
    assert!(o.status.success(), "{}", common::stderr_of(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.lines().count() > 100);
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", n + 1));
        assert!(v.is_object(), "line {}: {line}", n + 1);
    }
    assert_eq!(text, recorded::recording_text(&out));
}

#[test]
fn a_newer_format_or_damage_before_the_end_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("baseline")).unwrap();
    let newer = text.replacen("\"format\":1", "\"format\":99", 1);
    assert_ne!(newer, text);
    let file = dir.path().join("newer.jsonl.zst");
    std::fs::write(
        &file,
        zstd::stream::encode_all(newer.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let e = Recording::read(&file).err().unwrap().to_string();
    assert!(
        e.contains("newer.jsonl.zst") && e.contains("recording format 99 is newer"),
        "{e}"
    );

    // Two frames; the first one's middle overwritten: an error, not a silent cut.
    let half = text.len() / 2;
    let cut = half + text[half..].find('\n').unwrap() + 1;
    let mut data = zstd::stream::encode_all(&text.as_bytes()[..cut], 3).unwrap();
    let first = data.len();
    data.extend(zstd::stream::encode_all(&text.as_bytes()[cut..], 3).unwrap());
    for b in &mut data[first / 2..first / 2 + 16] {
        *b ^= 0x5A;
    }
    let file = dir.path().join("damaged.jsonl.zst");
    std::fs::write(&file, &data).unwrap();
    let e = Recording::read(&file).err().unwrap().to_string();
    assert!(e.contains("damaged.jsonl.zst"), "{e}");
}
