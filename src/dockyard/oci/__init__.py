"""Pure data from the OCI specs: digests, image references, media types, image
configs, and the runtime spec (config.json) Dockyard hands to a runtime."""
