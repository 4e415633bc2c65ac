"""Thin trigger adapters: decode the binding, call one core function, return.

Scrape, webhook, labeler, training and model-created triggers arrive with the Azure
Functions issue; this package registers what exists so far.
"""

from .health import bp as health

BLUEPRINTS = [health]
