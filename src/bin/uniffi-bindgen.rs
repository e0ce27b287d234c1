//! The UniFFI bindings generator, run in library mode against the built cdylib.
fn main() {
    uniffi::uniffi_bindgen_main()
}
