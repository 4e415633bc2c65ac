"""The product's error hierarchy.

Every error the core raises on purpose derives from :class:`TriageError`. The CLI turns
them into a one-line message and a non-zero exit code; the Function app turns them into
HTTP status codes at the edge. Messages name the offending thing and the fix.
"""


class TriageError(Exception):
    """Base class of every error raised on purpose by the product."""

    exit_code = 1


class InputError(TriageError):
    """Bad input from the user: a missing file, a malformed record, an unknown option value."""

    exit_code = 2


class ConfigError(InputError):
    """A configuration value (environment variable or repository config) is invalid."""


class DataFormatError(InputError):
    """A data file does not have the expected format."""


class EmptyDatasetError(InputError):
    """Nothing is left to train or evaluate on after filtering."""


class UnknownLabelError(InputError):
    """A label named by the user does not exist in the data or the model."""


class NotFoundError(TriageError):
    """A stored object (blob, document, model version, dataset version) does not exist."""

    exit_code = 3


class ConcurrencyError(TriageError):
    """A conditional write lost a race (the stored object changed since it was read)."""


class TrainingError(TriageError):
    """The training job failed or produced incomplete artefacts."""


class GitHubError(TriageError):
    """GitHub answered with an error that retrying will not fix (after bounded retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(GitHubError):
    """GitHub's primary rate limit is exhausted until ``reset_at`` (epoch seconds)."""

    def __init__(self, message: str, reset_at: float) -> None:
        super().__init__(message, 403)
        self.reset_at = reset_at


class IssuesDisabled(GitHubError):
    """The repository has issues turned off (GitHub answers 410 "Issues are disabled for this repo"): nothing to
    scrape or label until a maintainer turns them on again; retrying sooner does not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 410)


class IssueMoved(GitHubError):
    """An issue now lives elsewhere (GitHub answers 301 to another repository or number): it was transferred.

    ``to`` names the new place as ``owner/name#number`` when GitHub's answer says so, else
    ``repositories/{id}#number``.
    """

    def __init__(self, message: str, to: str) -> None:
        super().__init__(message, 301)
        self.to = to


class RepositoryMoved(GitHubError):
    """A repository was renamed or transferred: GitHub redirects ``old`` to ``new`` (both as the product keys them,
    in lower case). Raised by the scraper so that the app carries the repository's data to its new name."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"{old} was renamed or transferred to {new}", 301)
        self.old = old
        self.new = new
