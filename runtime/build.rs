//! Link the `glassbox` binary as a fixed-address (non-PIE) executable.
//!
//! A runtime is a short-lived process started once per container verb. As a
//! position-independent executable, the dynamic loader must patch tens of
//! thousands of relocations at every start, dirtying the pages that hold
//! them; linked at a fixed address, the linker resolves them once, so each
//! start is quicker and its peak memory (RSS) smaller.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
