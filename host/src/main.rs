//! The `sealbox` command.

fn main() -> std::process::ExitCode {
    sealbox::cli::main()
}
