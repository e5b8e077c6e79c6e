"""Command-line entry points of sfclip."""
