"""worker-build: build Rust `worker` crates into Cloudflare Workers, with panic recovery."""

__version__ = "0.1.0"
