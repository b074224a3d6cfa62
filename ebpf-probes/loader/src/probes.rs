//! The eBPF object build.rs compiled from ebpf-probes/kernel, embedded in
//! this library (32-byte aligned, as the ELF parser wants), or the reason it
//! could not be built.

/// The object's bytes, or why there are none.
pub fn object() -> Result<&'static [u8], &'static str> {
    #[cfg(probes_built)]
    {
        Ok(aya::include_bytes_aligned!(env!("GLASSBOX_PROBES_OBJ")))
    }
    #[cfg(not(probes_built))]
    {
        Err(env!("GLASSBOX_PROBES_UNAVAILABLE"))
    }
}
