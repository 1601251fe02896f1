//! Release link of the `fieldhouse` binary with identical code folding:
//! DataFusion's and sqlparser's generic code is instantiated once per crate
//! and codegen unit, and many copies come out byte for byte the same. LLD
//! (Rust's default linker on x86_64 Linux) folds them: about 7 MB less code.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_by_default = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if release && lld_by_default {
        println!("cargo::rustc-link-arg-bins=-Wl,--icf=all");
    }
}
