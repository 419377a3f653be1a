"""The build report: an HTML/Markdown page with figures, rendered from the files of a build folder."""
