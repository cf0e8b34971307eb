"""The Python loader: call a wasm-bindgen module built by worker-build from Python.

Build time: `glue` reads the signatures out of wasm-bindgen's JS glue and
`emit` writes `loader.py` (see worker_build/steps/loader.py). Run time: the
generated `loader.py` imports `runtime`, which hosts the module on wasmtime.
Nothing is imported here, so the build step does not load wasmtime.
"""
