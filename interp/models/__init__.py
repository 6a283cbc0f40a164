"""Hooked models (TransformerLens `HookedRootModule`s) with a leading models axis."""
