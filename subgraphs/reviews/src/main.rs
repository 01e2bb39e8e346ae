/// Every request builds and drops many small values (resolver futures, JSON nodes); mimalloc
/// takes a fifth of the CPU glibc's allocator spent on them under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    subgraph_kit::cli::run::<reviews::Reviews>()
}
