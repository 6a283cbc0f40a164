"""Data generators: each returns tensors plus masks and a config that regenerates them."""
