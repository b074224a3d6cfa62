//! (placeholder, replaced by the real default config)
pub fn default_spec(_rootless: bool) -> oci_spec::runtime::Spec {
    oci_spec::runtime::Spec::default()
}
