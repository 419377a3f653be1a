"""Design-space sweeps: a grid of bit widths, width multipliers, parts and frame-rate targets, each point
fine-tuned (QAT), evaluated and planned as one trial on Ray, with the Pareto front of accuracy against
frames/s (`python -m sqzfpga sweep`).

spec.py reads the TOML spec into typed data, trial.py is one trial (it runs on a Ray worker), engine.py
runs functions as Ray tasks with retries, run.py is the sweep over its folder (resumable), pareto.py
picks the front and page.py renders the page.
"""
