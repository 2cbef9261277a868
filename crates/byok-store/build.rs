// `refinery::embed_migrations!` embeds the migrations folders at compile time, but cargo does not
// know about files added there: without this, a new migration is silently left out of
// an incremental build (and the upgrade test runs without it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
