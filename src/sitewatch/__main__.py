"""``python -m sitewatch`` runs the CLI."""

from .cli import main

# The variable the installed `sitewatch` script's completion sets, rather than click's name derived from
# "python -m sitewatch", so a completion script or a test can drive this entry point alike.
main(complete_var="_SITEWATCH_COMPLETE")
