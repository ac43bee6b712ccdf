fn main() { eprintln!("kms-dev-server: not built yet"); std::process::exit(1) }
