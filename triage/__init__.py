"""Issue triage: a GitHub issue labeler that learns from the repository's own history.

The package is plain Python (no Azure Functions import, no torch import) so that the
serving path stays light and every decision can be tested directly.
"""

__version__ = "0.1.0"
