//! The `hpo` command: a thin shell over the library's `cli` module.

fn main() {
    std::process::exit(hpo::cli::main());
}
