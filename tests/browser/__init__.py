"""Browser tests: the Function app's pages in headless Chromium (Debian's, installed by `make test`)."""
