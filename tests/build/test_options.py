from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker_build.build.options import WASM_OPT_FEATURES, PanicBody, RawArgs, resolve
from worker_build.errors import EXIT_USAGE, UsageError
from worker_build.rust.flags import EhEncoding
from worker_build.tools.resolve import InstallPolicy

ROOT = Path("/crate")


def opts(meta: dict[str, Any] | None = None, **raw: Any) -> Any:
    return resolve(RawArgs(**raw), ROOT, meta or {})


def test_defaults_match_the_real_tool() -> None:
    o = opts()
    assert o.profile.name == "release" and o.profile.cargo_args == ("--release",)
    assert o.panic_unwind is False
    assert o.out_dir == ROOT / "build"
    assert o.wasm_opt_args == ("-O", *WASM_OPT_FEATURES, "--debuginfo")
    assert "--enable-exception-handling" in o.wasm_opt_args
    assert o.panic_body is PanicBody.RUNTIME  # panics and aborts reach the runtime
    assert o.loader is True
    assert o.install_policy is InstallPolicy.ALLOW
    assert o.run_to_completion is False


def test_custom_shim_is_read_up_front(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert opts().custom_shim is None and opts().legacy_layout is False
    shim = tmp_path / "my-shim.js"
    shim.write_text("export default {};\n")
    monkeypatch.setenv("CUSTOM_SHIM", str(shim))
    o = opts()
    assert o.custom_shim is not None and o.custom_shim.path == shim
    assert o.legacy_layout is True
    before = o.custom_shim.sha256
    shim.write_text("export default { changed: true };\n")
    assert opts().custom_shim.sha256 != before  # a changed template is another build
    monkeypatch.setenv("CUSTOM_SHIM", str(tmp_path / "missing.js"))
    with pytest.raises(UsageError, match=r"CUSTOM_SHIM: cannot read .*missing\.js") as err:
        opts()
    assert err.value.exit_code == EXIT_USAGE


def test_no_panic_recovery_is_the_legacy_layout() -> None:
    assert opts(no_panic_recovery=True).legacy_layout is True


def test_run_to_completion_is_set_by_the_variable_with_any_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUN_TO_COMPLETION", "")
    assert opts().run_to_completion is True
    monkeypatch.delenv("RUN_TO_COMPLETION")
    assert opts().run_to_completion is False


def test_dev_profile_skips_wasm_opt_and_debugs_bindgen() -> None:
    o = opts(dev=True)
    assert o.profile.name == "dev" and o.profile.cargo_args == ()
    assert o.profile.bindgen_debug
    assert o.wasm_opt_args is None


def test_custom_profile() -> None:
    o = opts(profile="small")
    assert o.profile.cargo_args == ("--profile", "small")
    assert o.wasm_opt_args is not None


@pytest.mark.parametrize(
    "raw",
    [
        {"dev": True, "release": True},
        {"release": True, "profile": "x"},
        {"dev": True, "profiling": True},
    ],
)
def test_profile_conflicts(raw: dict[str, Any]) -> None:
    with pytest.raises(UsageError) as info:
        opts(**raw)
    assert "conflict" in info.value.message
    assert info.value.exit_code == EXIT_USAGE


def test_eh_encoding_needs_panic_unwind() -> None:
    with pytest.raises(UsageError, match="has no effect without --panic-unwind"):
        opts(eh_encoding="exnref")
    assert opts(eh_encoding="exnref", panic_unwind=True).eh_encoding is EhEncoding.EXNREF


def test_unknown_enum_values_list_the_choices() -> None:
    with pytest.raises(UsageError) as info:
        opts(panic_unwind=True, eh_encoding="fancy")
    assert info.value.fix == "use one of: default, legacy, exnref"
    with pytest.raises(UsageError):
        opts(panic_body="verbose")


def test_no_opt_wins_over_everything() -> None:
    meta = {"worker-build": {"wasm-opt": ["-O3"]}}
    assert opts(meta, no_opt=True).wasm_opt_args is None


def test_metadata_defaults_and_cli_precedence() -> None:
    meta = {
        "worker-build": {
            "panic-unwind": True,
            "eh-encoding": "exnref",
            "out-dir": "dist",
            "panic-body": "generic",
            "loader": False,
        }
    }
    o = opts(meta)
    assert o.panic_unwind and o.eh_encoding is EhEncoding.EXNREF
    assert o.out_dir == ROOT / "dist"
    assert o.panic_body is PanicBody.GENERIC and o.loader is False
    # flags win over Cargo.toml
    o = opts(
        meta, panic_unwind=False, eh_encoding="default", out_dir=Path("other"), panic_body="message"
    )
    assert not o.panic_unwind and o.out_dir == ROOT / "other" and o.panic_body is PanicBody.MESSAGE


def test_wasm_pack_profile_keys_are_honoured() -> None:
    meta = {"wasm-pack": {"profile": {"release": {"wasm-opt": ["-Oz"]}, "dev": {"wasm-opt": True}}}}
    assert opts(meta).wasm_opt_args == ("-Oz", *WASM_OPT_FEATURES, "--debuginfo")
    assert opts(meta, dev=True).wasm_opt_args == ("-O", *WASM_OPT_FEATURES, "--debuginfo")
    off = {"wasm-pack": {"profile": {"release": {"wasm-opt": False}}}}
    assert opts(off).wasm_opt_args is None
    # worker-build's own table is more specific than wasm-pack's
    both = {**meta, "worker-build": {"wasm-opt": False}}
    assert opts(both).wasm_opt_args is None


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"worker-build": {"panic_unwind": True}}, "unknown key(s): panic_unwind"),
        ({"worker-build": {"panic-unwind": "yes"}}, "panic-unwind must be true or false"),
        ({"worker-build": {"wasm-opt": "-O"}}, "wasm-opt must be true, false or a list"),
        ({"worker-build": []}, "must be a table"),
    ],
)
def test_bad_metadata(meta: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        opts(meta)


def test_out_dir_cannot_be_the_crate() -> None:
    with pytest.raises(UsageError, match="would replace the crate"):
        opts(out_dir=Path("."))


def test_cargo_target_flag_is_rejected() -> None:
    with pytest.raises(UsageError, match="always builds for wasm32"):
        opts(cargo_args=("--target", "x86_64-unknown-linux-gnu"))
    assert opts(cargo_args=("--features", "x")).cargo_args == ("--features", "x")


def test_no_minify_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_MINIFY", "1")
    assert opts().minify is False
    monkeypatch.delenv("NO_MINIFY")
    assert opts().minify is True


def test_options_are_frozen() -> None:
    o = opts()
    with pytest.raises(AttributeError):
        o.panic_unwind = True  # type: ignore[misc]


def test_no_panic_recovery() -> None:
    assert opts().panic_recovery is True
    assert opts(no_panic_recovery=True).panic_recovery is False


def test_compile_cache_flag_and_metadata_key() -> None:
    assert resolve(RawArgs(), Path("/c"), {}).compile_cache
    assert not resolve(RawArgs(no_compile_cache=True), Path("/c"), {}).compile_cache
    off = {"worker-build": {"compile-cache": False}}
    assert not resolve(RawArgs(), Path("/c"), off).compile_cache
    with pytest.raises(UsageError, match="compile-cache must be true or false"):
        resolve(RawArgs(), Path("/c"), {"worker-build": {"compile-cache": "no"}})


def test_std_cache_flag_and_metadata_key() -> None:
    from worker_build.build.pipeline import plan

    assert resolve(RawArgs(), Path("/c"), {}).std_cache
    off = resolve(RawArgs(no_std_cache=True), Path("/c"), {})
    assert not off.std_cache
    assert not resolve(RawArgs(), Path("/c"), {"worker-build": {"std-cache": False}}).std_cache
    assert "std" in [s.name for s in plan(resolve(RawArgs(), Path("/c"), {}))]
    assert "std" not in [s.name for s in plan(off)]
    with pytest.raises(UsageError, match="std-cache must be true or false"):
        resolve(RawArgs(), Path("/c"), {"worker-build": {"std-cache": "no"}})


def test_replay_on_abort_is_off_by_default_and_the_safe_methods_when_asked() -> None:
    assert opts().replay_on_abort == ()
    assert opts(replay_on_abort=True).replay_on_abort == ("GET", "HEAD", "OPTIONS")
    on = {"worker-build": {"replay-on-abort": True}}
    assert opts(on).replay_on_abort == ("GET", "HEAD", "OPTIONS")
    off = {"worker-build": {"replay-on-abort": False}}
    assert opts(off).replay_on_abort == ()
    assert opts(off, replay_on_abort=True).replay_on_abort == ("GET", "HEAD", "OPTIONS")


def test_replay_rules_in_cargo_toml_replace_the_defaults() -> None:
    rules = {"worker-build": {"replay-on-abort": ["get", "PUT /items/", " POST  /sëarch "]}}
    assert opts(rules).replay_on_abort == ("GET", "PUT /items/", "POST /sëarch")
    assert opts(rules, replay_on_abort=True).replay_on_abort == opts(rules).replay_on_abort


@pytest.mark.parametrize(
    "value", ["yes", [], ["GET items"], ["GET /a /b"], ["/items"], [1], {"methods": ["GET"]}]
)
def test_bad_replay_rules(value: Any) -> None:
    with pytest.raises(UsageError, match="replay-on-abort") as err:
        opts({"worker-build": {"replay-on-abort": value}})
    assert err.value.exit_code == EXIT_USAGE


def test_replay_on_abort_needs_the_recovery_shim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="replay on abort needs the recovery shim") as err:
        opts(replay_on_abort=True, no_panic_recovery=True)
    assert "--no-panic-recovery" in str(err.value.fix)
    shim = tmp_path / "shïm.js"
    shim.write_text("export default {};\n")
    monkeypatch.setenv("CUSTOM_SHIM", str(shim))
    with pytest.raises(UsageError, match="CUSTOM_SHIM replaces"):
        opts({"worker-build": {"replay-on-abort": True}})
    assert opts().replay_on_abort == ()  # off: the legacy layout is fine
