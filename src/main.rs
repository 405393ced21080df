fn main() {
    std::process::exit(audience::cli::main());
}
