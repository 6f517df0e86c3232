"""Livepeer Pipeline Studio: write, preview and stream live video AI pipelines.

Pipeline authors need only what this package exports::

    from studio import pipeline, Pipeline, BaseParams, VideoFrame, VideoOutput, PipelineSpec

Importing it is cheap on purpose (no Qt, no torch): the app, the CLI and the discovery
child all start here, and a pipeline file pays only for what it imports itself.
"""

from studio.decorator import pipeline
from studio.frames import VideoFrame, VideoOutput
from studio.interface import Pipeline
from studio.params import BaseParams
from studio.spec import PipelineSpec

__all__ = ["BaseParams", "Pipeline", "PipelineSpec", "VideoFrame", "VideoOutput", "pipeline"]
__version__ = "0.1.0"
