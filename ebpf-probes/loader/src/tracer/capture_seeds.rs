//! Real ring-buffer records, saved as seeds for fuzz/'s `kernel_record`
//! target (fuzz/make-seeds.sh runs this, as root, with a command to trace:
//! a `glassbox run` makes every kind of record and every detail). Not a
//! test of its own: ignored unless asked for by name.
//!
//! One file per kind of record and syscall number seen first, its bytes as
//! the ring gave them; a syscall that came with a detail is saved as the
//! pair, detail first, as they travel. Plus the first 64 records in ring
//! order, for the stream as a whole (forks before execs, namespaces).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use glassbox_probes_common::RecordKind;

use super::{TraceOptions, Tracer};

#[test]
#[ignore = "needs root and GLASSBOX_SEED_DIR / GLASSBOX_SEED_COMMAND: run by fuzz/make-seeds.sh"]
fn capture_kernel_record_seeds() {
    let dir = PathBuf::from(std::env::var_os("GLASSBOX_SEED_DIR").expect("GLASSBOX_SEED_DIR"));
    let command = std::env::var("GLASSBOX_SEED_COMMAND").expect("GLASSBOX_SEED_COMMAND");
    std::fs::create_dir_all(&dir).unwrap();

    let mut tracer = Tracer::load(&TraceOptions::default()).expect("the probes load (root, built probes)");
    // The shell waits for a line on stdin, so it is followed before it execs the command.
    let mut child = Command::new("sh")
        .args(["-c", &format!("read go; exec {command}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    tracer.follow(child.id(), 1).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();

    let mut raw: Vec<Vec<u8>> = Vec::new();
    loop {
        tracer.wait(None, 100).unwrap();
        while let Some(item) = tracer.ring.next() {
            raw.push(item.to_vec());
        }
        if child.try_wait().unwrap().is_some() {
            tracer.wait(None, 100).unwrap();
            while let Some(item) = tracer.ring.next() {
                raw.push(item.to_vec());
            }
            break;
        }
    }
    assert!(!raw.is_empty(), "nothing was recorded");

    let tag = |r: &[u8]| u32::from_ne_bytes(r[..4].try_into().unwrap());
    let nr = |r: &[u8]| u32::from_ne_bytes(r[4..8].try_into().unwrap());
    let mut seen = BTreeSet::new();
    for (i, record) in raw.iter().enumerate() {
        let (name, bytes) = match RecordKind::from_tag(tag(record)) {
            // Its syscall comes right behind it.
            Some(RecordKind::Detail) => {
                let Some(call) = raw.get(i + 1) else { continue };
                (format!("detail+syscall-{}", nr(record)), [record.as_slice(), call].concat())
            }
            Some(RecordKind::Syscall) => (format!("syscall-{}", nr(record)), record.clone()),
            Some(kind) => (format!("{kind:?}").to_lowercase(), record.clone()),
            None => continue,
        };
        if seen.insert(name.clone()) {
            std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
        }
    }
    std::fs::write(dir.join("first-64-records.bin"), raw.iter().take(64).flatten().copied().collect::<Vec<u8>>())
        .unwrap();
    eprintln!("{} records, {} seeds in {}", raw.len(), seen.len() + 1, dir.display());
}
