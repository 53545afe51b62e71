"""Browser tests: Playwright drives Chromium against a JupyterLab started for the session."""
