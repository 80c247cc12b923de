//! The benchmark harness; the work lives in `vaultlet::bench`.

fn main() -> std::process::ExitCode {
    vaultlet::bench::main()
}
