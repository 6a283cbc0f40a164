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
# # Two clocks: a diffusion model learns the rule, then copies its data
#
# The shipped run `checkpoints/dit_group2_d16`: two diffusion transformers trained on 16-bit
# strings whose every pair of bits has even parity (256 valid strings of 65536), one on N = 16
# of them and one on N = 64. At every saved step we sample strings and count how many obey the
# rule and how many copy a training string: tau_rule is when the rule is learned, tau_mem when
# copying starts. (Paired with `notebooks/two_clocks.py` by jupytext.)

# %%
import os
from pathlib import Path

import torch

import interp
from interp.studies import clocks as study
from interp.studies.clocks import plots

if Path.cwd().name == "notebooks":
    os.chdir("..")
torch.set_num_threads(2)

run = interp.load_run("checkpoints/dit_group2_d16")
task = run.task
labels = [f"N={n}" for n in task.N]
print(task.config, run.steps)

# %% [markdown]
# ## Generate at every checkpoint

# %%
steps, stats = interp.generation_curve(run, samples=256)
threshold = study.threshold_above_chance(task.chance_rate)
clocks = interp.measure_clocks(stats, steps, rule_threshold=threshold)
print(clocks)

# %%
for i, step in enumerate(steps):
    cells = "   ".join(
        f"{labels[m]}: valid {stats.valid[i, m]:.2f} copied {stats.memorized[i, m]:.2f}"
        for m in range(task.models)
    )
    print(f"step {step:>5}   {cells}")
plots.clocks_figure(steps, stats, clocks, labels=labels)

# %% [markdown]
# ## Score basins: where the sampler returns to a string it started near
#
# A memorizing model carves a basin around each training string and none around unseen valid
# strings; a generalizing one gives every valid string a basin. Three checkpoints, 8 targets
# of each kind, 8 starts per noise level.

# %%
targets = study.basin_targets(task, n=8)
steps_b, radii = interp.basin_curve(run, targets, repeats=8, steps=[97, 956, 3000])
for m, label in enumerate(labels):
    print(
        label,
        "training",
        radii["training"][:, m].mean(-1).tolist(),
        "unseen",
        radii["novel"][:, m].mean(-1).tolist(),
    )
plots.basin_radii(steps_b, radii["training"][:, 1], radii["novel"][:, 1])
