"""The GitHub adapter: GitHub's REST API through PyGithub, with retries and rate limits."""
