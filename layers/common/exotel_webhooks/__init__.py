"""Exotel campaign webhooks: callback models, normalisation, and the receiving pipeline."""
