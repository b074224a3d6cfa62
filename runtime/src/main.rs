//! The `glassbox` binary: everything lives in the library; this only hands
//! over to the command line and turns an error into runc's exit status.

fn main() {
    std::process::exit(glassbox::cli::main());
}
