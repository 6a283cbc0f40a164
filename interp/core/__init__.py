"""The machinery every study shares and none of them knows: the ensemble base and the registry
of kinds, the one training loop and its objectives, runs on disk, hooks, metrics and devices."""
