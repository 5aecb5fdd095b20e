"""Inference: the one ``Colorizer`` pipeline used by the CLI, the web server and the video tool."""
