"""Run files: input formats, output writers, and the resume journal."""
