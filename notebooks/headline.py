# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The rule inside a network trained with 80% wrong labels
#
# The shipped run `checkpoints/add_p97_noise080`: a two-layer network on (a + b) mod 97, half of
# the 9409 pairs for training, 80% of the training labels replaced by a random wrong one. It
# fits every wrong label and gets 1% of the held-out pairs right. This notebook pulls the rule
# out of its weights. (Paired with `notebooks/headline.py` by jupytext; run from the repository
# root or from `notebooks/`.)

# %%
import os
from pathlib import Path

import torch

import interp
from interp.studies.label_noise import fourier_plots, plots

if Path.cwd().name == "notebooks":  # the shipped runs are named from the repository root
    os.chdir("..")
torch.set_num_threads(2)

run = interp.load_run("checkpoints/add_p97_noise080")
model, task = run.model(), run.task
print(run.config["command"])

# %% [markdown]
# ## The network memorized: its outputs agree with the wrong labels, not with the rule

# %%
print(interp.evaluate(model, task))

# %% [markdown]
# ## Its weights hold the rule
#
# `interp.extract` projects every neuron's input rows U[k], V[k] and output column W[:, k]
# onto that neuron's own dominant Fourier frequency, from the weights alone. Beside it: the
# other extraction methods and the two baselines that use the labels and no network.

# %%
table = interp.compare_extraction(model, task)
for name, acc in table.items():
    print(
        f"{name:16s} test {float(acc.test[0]):.3f}   agrees with the wrong labels "
        f"{float(acc.train_noisy[0]):.3f}"
    )
assert float(table["neuron"].test[0]) > 0.98

# %%
plots.extraction_bars(table)

# %% [markdown]
# ## The Fourier view: every neuron spread over every frequency, one frequency after extraction

# %%
spectrum = interp.extract_frequencies(model)
clean = interp.extract_frequencies(interp.extract(model))
print(
    f"median IPR {float(spectrum.ipr.median()):.3f} raw -> {float(clean.ipr.median()):.3f} "
    f"extracted; {len(spectrum.key_frequencies(0))} key frequencies of {spectrum.power.shape[-1]}"
)
fourier_plots.spectrum_heatmap(spectrum, title="Raw network: power per frequency")

# %%
fourier_plots.spectrum_heatmap(clean, title="Extracted network: one frequency per neuron")

# %% [markdown]
# ## When does the rule come out? The extracted network at every saved step

# %%
steps, curve = interp.extraction_curve(run, methods=["neuron"])
extracted = curve["neuron"].test[:, 0]
print(", ".join(f"{s}: {a:.2f}" for s, a in zip(steps, extracted.tolist())))
plots.training_curves(run.metrics, extracted=(torch.tensor(steps), extracted))
