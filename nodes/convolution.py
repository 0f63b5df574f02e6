"""Uniformly partitioned FFT convolution (overlap-save with a frequency-domain delay line).

The impulse response is cut into partitions of P samples, each kept as a spectrum;
every P input samples one FFT, one multiply-add over the partitions and one inverse
FFT give P output samples.  Latency is P samples and memory is the IR's spectra,
however the engine cuts the signal into blocks: partitions fall at fixed positions
of the input, so the result does not depend on the block size.
"""

from __future__ import annotations

import numpy as np

from .base import DTYPE


class PartitionStream:
    """Input gathered into fixed partitions of ``partition`` samples; each full
    partition is handed to ``_partition()`` (which reads ``_window``: the previous
    partition, then this one) and its result is served while the next partition
    fills, so output lags input by one partition whatever the block sizes.

    Subclasses call :meth:`_reset_stream` with the shape of a partition's result and
    implement ``_partition() -> ndarray (..., partition)``.
    """

    partition: int

    def _reset_stream(self, channels: int, ready_shape: tuple[int, ...]) -> None:
        self._window = np.zeros((channels, 2 * self.partition))       # last 2P inputs
        self._fill = 0                                                 # inputs in this one
        self._ready = np.zeros(ready_shape)                            # output being served
        self._served = 0

    def _stream(self, x: np.ndarray, out: np.ndarray) -> None:
        """Feed the block ``x`` (channels, n); fill ``out`` (..., n)."""
        P = self.partition
        n = x.shape[1]
        done = 0
        while done < n:
            take = min(n - done, P - self._fill)
            out[..., done:done + take] = self._ready[..., self._served:self._served + take]
            self._served += take
            self._window[:, P + self._fill:P + self._fill + take] = x[:, done:done + take]
            self._fill += take
            done += take
            if self._fill == P:
                self._ready = self._partition()
                self._served = 0
                self._fill = 0

    def _partition(self) -> np.ndarray:
        raise NotImplementedError


class PartitionedConvolver(PartitionStream):
    """Convolves ``(channels, n)`` blocks with an IR; output lags input by ``partition``.

    ``ir`` is ``(ir_channels, length)``.  Output channel o convolves input channel
    ``min(o, in_channels-1)`` with IR channel ``min(o, ir_channels-1)``, so a mono
    input through a stereo IR gives stereo, and a stereo input through a mono IR
    gives each channel through the same IR.
    """

    def __init__(self, ir: np.ndarray, in_channels: int, partition: int = 1024):
        ir = np.atleast_2d(np.asarray(ir, dtype=DTYPE))
        self.partition = P = int(partition)
        self.in_channels = in_channels
        self.out_channels = max(in_channels, ir.shape[0])
        count = max(1, -(-ir.shape[1] // P))
        padded = np.zeros((ir.shape[0], count * P))
        padded[:, :ir.shape[1]] = ir
        parts = padded.reshape(ir.shape[0], count, P)
        spectra = np.fft.rfft(np.concatenate((parts, np.zeros_like(parts)), axis=2), axis=2)
        # newest input spectrum meets partition 0: store partitions oldest-first
        self._h = np.ascontiguousarray(spectra[:, ::-1, :])
        self._count = count
        self.reset()

    def reset(self) -> None:
        P = self.partition
        self._reset_stream(self.in_channels, (self.out_channels, P))
        self._fdl = np.zeros((self.in_channels, 2 * self._count, P + 1), dtype=complex)
        self._slot = 0

    @property
    def latency(self) -> int:
        return self.partition

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out`` (out_channels, n) with the output for the input block ``x``."""
        self._stream(x, out)

    def _partition(self) -> np.ndarray:
        P, K = self.partition, self._count
        spectrum = np.fft.rfft(self._window, axis=1)
        slot = self._slot
        self._fdl[:, slot] = spectrum
        self._fdl[:, slot + K] = spectrum
        recent = self._fdl[:, slot + 1:slot + K + 1]                  # oldest .. newest
        self._slot = (slot + 1) % K
        self._window[:, :P] = self._window[:, P:]
        y = np.empty((self.out_channels, P))
        ir_ch = self._h.shape[0]
        for o in range(self.out_channels):
            acc = np.einsum("kf,kf->f", recent[min(o, self.in_channels - 1)],
                            self._h[min(o, ir_ch - 1)])
            y[o] = np.fft.irfft(acc, n=2 * P)[P:]
        return y
