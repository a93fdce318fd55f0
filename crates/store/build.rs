//! Rebuilds the crate when a migration file changes: `sqlx::migrate!` embeds the folders at
//! compile time, and stable cargo does not track files a proc macro reads.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
