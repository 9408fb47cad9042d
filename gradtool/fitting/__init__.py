"""Fitting models to data: CSV tables, expression and mlp models, losses, backprop training, saved models."""
