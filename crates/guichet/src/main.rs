//! `guichet`: everything happens in [`guichet::run`], shared with the test build.

// Every request allocates a little (headers, bodies, JSON); under load
// glibc's malloc and free took about a tenth of the CPU on two cores, and
// mimalloc's per-thread heaps take less.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guichet::run()
}
