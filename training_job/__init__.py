"""The training job: fine-tunes a transformer encoder on a dataset folder and writes a servable model.

Runs as an Azure ML command job (code snapshot = the repository root) or as a local process.
"""
