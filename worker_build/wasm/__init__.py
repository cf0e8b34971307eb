"""A small, pure-Python WebAssembly binary decoder (no wasm library)."""
