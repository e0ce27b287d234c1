//! The UniFFI bindings generator, run in library mode against the built
//! SDK library (`scripts/bindings.sh`). It links no SDK code.
fn main() {
    uniffi::uniffi_bindgen_main()
}
