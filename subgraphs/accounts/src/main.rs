fn main() -> std::process::ExitCode {
    subgraph_kit::cli::run::<accounts::Accounts>()
}
