"""The studies, one folder each: its analyses (pure functions, tensors in and out on the input's
device), its figures (plotly, no science inside) and its CLI commands.

- `label_noise`: label noise on modular arithmetic (Liu & Lu; Doshi et al.): extraction of the
  rule from the weights, partitions into general and memorizing subnetworks, the logit circuit,
  the report.
- `clocks`: the two clocks and score basins of generative models (Wang, Finn, Liu): generation
  over training, tau_rule / tau_mem, basins against the optimal denoiser.
"""
