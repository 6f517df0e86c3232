"""Messages between the engine (parent) and its worker process.

Small tuples over a ``multiprocessing`` pipe; pixels travel in shared memory (``shm``).
Parent -> worker: LOAD, FRAME, PARAMS, STOP. Worker -> parent: every other tag.
"""

from __future__ import annotations

LOAD = "load"  # (LOAD, spec_dict, file, params, device, lenient, shm_prefix)
FRAME = "frame"  # (FRAME, seq, shm_name, height, width, pts, tb_num, tb_den)
PARAMS = "params"  # (PARAMS, request_id, values)
STOP = "stop"  # (STOP,)

HELLO = "hello"  # (HELLO, pid)
READY = "ready"  # (READY, info_dict)
LOAD_ERROR = "load_error"  # (LOAD_ERROR, kind, message, traceback, field_errors)
OUT = "out"  # (OUT, seq, shm_name, height, width, pipeline_ms, pts, tb_num, tb_den, metadata)
FAILED = "failed"  # (FAILED, seq, message, traceback, pipeline_ms)
PARAMS_OK = "params_ok"  # (PARAMS_OK, request_id, params)
PARAMS_ERROR = "params_error"  # (PARAMS_ERROR, request_id, field_errors)
LOG = "log"  # (LOG, stream, text)
STOPPED = "stopped"  # (STOPPED, error_or_None)
