//! The book and the narrator point at each other: every stage `--explain`
//! names has its chapter, and every chapter shows the narrator's real,
//! tested output for its stage (an mdBook include of the snapshot file).

use std::path::Path;

use glassbox_events::Stage;

#[test]
fn every_stage_has_a_chapter_that_includes_its_narration() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let summary = std::fs::read_to_string(repo.join("book/src/SUMMARY.md")).unwrap();
    for stage in Stage::ALL {
        let name = stage.name();
        let chapter = repo.join(format!("book/src/making-a-container/{name}.md"));
        let text = std::fs::read_to_string(&chapter).unwrap_or_else(|e| panic!("{}: {e}", chapter.display()));
        let include = format!("{{{{#include ../../../explain/snapshots/{name}.txt}}}}");
        assert!(text.contains(&include), "{} does not include its narration: {include}", chapter.display());
        let snapshot = repo.join(format!("explain/snapshots/{name}.txt"));
        assert!(snapshot.exists(), "{} is missing", snapshot.display());
        assert!(summary.contains(&format!("making-a-container/{name}.md")), "SUMMARY.md lists {name}.md");
    }
}
