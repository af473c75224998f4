//! Builds the C half of the interop tests (`c/blocking_client.c`).
fn main() {
    println!("cargo::rerun-if-changed=c/blocking_client.c");
    cc::Build::new().file("c/blocking_client.c").warnings(true).compile("interop_c");
}
