"""The std cache: a wasm32 std built once per key and shared by every target directory.

spec.py says what goes into the key and asks cargo for it; store.py keeps the entries.
"""
