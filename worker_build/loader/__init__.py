"""The Python loader: call a wasm-bindgen module built by worker-build from Python.

Build time (worker_build/build/steps/python_loader.py): `glue/` reads the
signatures out of wasm-bindgen's JS glue and `emit/` writes `loader.py`.
Run time: the generated `loader.py` imports `runtime`, which hosts the module
on wasmtime with the modules beside it here (instance, rawcall, objects, errors).

The two sides share the vocabulary of value kinds, which the runtime owns:
kinds.py and abi*.py (how each kind crosses the wasm boundary), codegen.py (the
call spec `emit` writes and the runtime compiles) and host_imports.py (the JS
import kinds `glue` recognises and the runtime implements). None of these
imports wasmtime, and nothing here imports glue/ or emit/, so the build never
loads wasmtime and a generated loader never loads the build's code.
"""
