fn main() {
    println!("slitop {}", env!("CARGO_PKG_VERSION"));
}
