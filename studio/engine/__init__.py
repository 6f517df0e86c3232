"""The engine: a pipeline in a worker process, frames through shared memory."""

from studio.engine.engine import (
    Engine,
    EngineError,
    EngineEvent,
    EngineState,
    ProcessedFrame,
)
from studio.engine.stats import EngineStats

__all__ = ["Engine", "EngineError", "EngineEvent", "EngineState", "EngineStats", "ProcessedFrame"]
