//! `docker save` tarballs: a tar with a top-level `manifest.json` listing,
//! per image, its `Config` JSON and its `Layers` tars.
//!
//! Like OCI blobs, their members are named by digest or random ids, so two
//! saves of one image would pair nothing. The tar reader hands its entries
//! here; when `manifest.json` has the docker shape, the config and layers
//! are renamed by role (`image 1 [repo:tag]/config.json`,
//! `image 1 [repo:tag]/layer 2 of 3`) and the differ recurses into them.
//! Anything else in the tar keeps its name.

use serde_json::Value;

use crate::model::{Cx, Entry};
use crate::Result;

/// Largest manifest.json read into memory.
const MAX_MANIFEST: u64 = 4 << 20;

/// Renames the entries of a docker-save tar by role; a tar that is not one
/// is left as it is.
pub(crate) fn relabel(entries: &mut [Entry], cx: &Cx<'_>, name: &str) -> Result<()> {
    let Some(manifest) = entries.iter().find(|e| e.path == "manifest.json") else {
        return Ok(());
    };
    let entry = format!("{name}::manifest.json");
    let bytes = manifest.content.with_reader(cx, &entry, |r| {
        super::read_capped(r, MAX_MANIFEST).map_err(|e| cx.io(e, &entry, "reading"))
    })?;
    let Some(Ok(Value::Array(images))) = bytes.map(|b| serde_json::from_slice::<Value>(&b)) else {
        return Ok(());
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let (Some(config), Some(layers)) = (image["Config"].as_str(), image["Layers"].as_array())
        else {
            // Not docker's shape: leave the tar alone.
            return Ok(());
        };
        let mut label = format!("image {}", i + 1);
        if let Some(tag) = image["RepoTags"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(Value::as_str)
        {
            label.push_str(&format!(" [{tag}]"));
        }
        renames.push((config.to_owned(), format!("{label}/config.json")));
        for (j, layer) in layers.iter().enumerate() {
            if let Some(layer) = layer.as_str() {
                renames.push((
                    layer.to_owned(),
                    format!("{label}/layer {} of {}", j + 1, layers.len()),
                ));
            }
        }
    }
    for e in entries.iter_mut() {
        let path = e.path.trim_start_matches("./");
        if let Some((_, to)) = renames.iter().find(|(from, _)| from == path) {
            e.path = to.clone();
        }
    }
    Ok(())
}
