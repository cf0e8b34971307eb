"""One module per pipeline step; each exposes `run(ctx: BuildContext) -> None`."""
