"""Imagery sources: STAC catalogues, local files, the simulator."""
