//! (placeholder)
pub fn features_json() -> serde_json::Value {
    serde_json::json!({})
}
