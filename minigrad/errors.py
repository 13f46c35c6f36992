"""The exceptions minigrad raises.

One small hierarchy: every error is a :class:`MinigradError`, and each also
derives from the built-in exception a Python user would expect, so
``except ValueError`` keeps working around a :class:`ShapeError`.
Messages name the op, the shapes or dtypes involved, and the fix.
"""


class MinigradError(Exception):
    """Base class of every error raised by minigrad."""


class ShapeError(MinigradError, ValueError):
    """Shapes that do not fit an op (broadcasting, matmul, conv, reshape...)."""


class AxisError(ShapeError, IndexError):
    """An ``axis`` argument outside ``[-ndim, ndim)``."""


class IndexingError(ShapeError, IndexError):
    """An index out of bounds, or an index of the wrong kind."""


class ArgumentError(MinigradError, ValueError):
    """An argument with a bad value (negative stride, too much padding...)."""


class DTypeError(MinigradError, TypeError):
    """A dtype an op cannot work with (e.g. ``requires_grad`` on integers)."""


class BackendError(MinigradError, TypeError):
    """Arrays from two backends (NumPy and CuPy) mixed in one op, or a
    backend that is not available."""


class GradientError(MinigradError, RuntimeError):
    """Misuse of automatic differentiation: backward through a freed graph,
    backward from a non-scalar without a gradient, in-place modification of
    a saved tensor, ..."""


class AnomalyError(MinigradError, FloatingPointError):
    """Raised inside :func:`minigrad.detect_anomaly` when an op produces NaN
    or Inf in its forward value or in a gradient."""


class GradcheckError(MinigradError, AssertionError):
    """A gradient check failed; the message holds the full report."""


class CheckpointError(MinigradError, ValueError):
    """A checkpoint file that is corrupted, truncated or does not fit."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the path given."""


class DataError(MinigradError, ValueError):
    """A dataset file that is missing, corrupted, truncated or fails its checksum."""


class TrainingDivergedError(ArgumentError):
    """The training loss became NaN or infinite (the learning rate is too
    large for the rule); ``epoch`` and ``value`` say when and what."""

    def __init__(self, message, epoch=None, value=None):
        super().__init__(message)
        self.epoch, self.value = epoch, value
