//! `schema.graphql` is generated from the code and must not go stale.

#[test]
fn schema_graphql_is_up_to_date() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql");
    assert!(
        checked_in == the_eye::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn the_schema_command_prints_the_same_schema() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        the_eye::graphql::sdl()
    );
}
