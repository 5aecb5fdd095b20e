"""Inference: the one ``Colorizer`` pipeline used by the CLI, the web server and the video tool."""

#: Ways to run a network (``Colorizer.from_pretrained(backend=...)``); ``auto`` picks ONNX Runtime on the CPU
#: when it is installed. Here, not in the pipeline, so the command line can offer them without importing torch.
BACKENDS = ("auto", "torch", "onnx")
