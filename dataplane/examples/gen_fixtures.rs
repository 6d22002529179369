//! Writes tests/fixtures/dataplane.json (run from the workspace root):
//! `cargo run -p anycast6-dataplane --example gen_fixtures`
fn main() -> std::io::Result<()> {
    let file = anycast6_dataplane::fixtures::gen::generate();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(anycast6_dataplane::fixtures::FIXTURE_FILE);
    std::fs::write(&path, file.to_json())?;
    println!("{} cases -> {}", file.cases.len(), path.display());
    Ok(())
}
