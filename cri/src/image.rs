//! The ImageService: the kubelet asks whether an image is there
//! (ImageStatus) and pulls it if not (PullImage). With no registry to pull
//! from, images reach containerd through `ctr -n k8s.io images import`
//! (`k8s.io` is the containerd namespace the CRI works in), and this client
//! only looks. No image call reaches the runtime: images are containerd's.

use std::time::Duration;

use crate::api::{Image, ImageSpec};
use crate::{api, Cri, CriError};

impl Cri {
    /// `ImageService.ImageStatus`: the image `image` names (a reference like
    /// `localhost/busybox:cri`, or an id), or `None` when containerd lacks it.
    pub fn image_status(&mut self, image: &str) -> Result<Option<Image>, CriError> {
        let request = api::ImageStatusRequest {
            image: Some(ImageSpec { image: image.into(), ..Default::default() }),
            verbose: false,
        };
        Ok(self.caller.call("ImageStatus", Duration::ZERO, self.images.image_status(request))?.image)
    }

    /// `ImageService.ListImages`: every image in the CRI's namespace.
    pub fn list_images(&mut self) -> Result<Vec<Image>, CriError> {
        let request = api::ListImagesRequest { filter: None };
        Ok(self.caller.call("ListImages", Duration::ZERO, self.images.list_images(request))?.images)
    }
}
