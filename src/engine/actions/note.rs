//! The `note` step: the front end shows its text; running it only records that
//! the operator read it.

/// A note is done once the operator has read it.
pub fn run() -> String {
    "acknowledged".into()
}
