"""Browser end-to-end suite for the reference app (Playwright, real Chromium)."""
