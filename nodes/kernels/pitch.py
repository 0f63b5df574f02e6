"""Pitch correction loops: YIN pitch detection and PSOLA resynthesis.

One call of :func:`pitch_correct` runs sample by sample over a block, so that any
block size gives the same samples.  Each input sample goes into a ring (every
channel, the low-passed mono sum, and every ``decimate``-th low-passed sample);
every ``hop`` samples of song time an analysis frame runs:

1. **YIN** (de Cheveigné and Kawahara 2002) on the decimated ring: the difference
   function over ``width`` samples, its cumulative mean normalised form, the first
   dip under the threshold (then on to the dip's bottom); its depth is the frame's
   aperiodicity (0 = periodic).  The lag is refined at the full rate: the normalised
   cross-correlation at the lags around it and a parabola through the best.
2. **The correction**: the pitch as a MIDI number, the nearest note the scale allows
   (kept unless another is nearer by ``HYSTERESIS``), and a one-pole glide of the
   correction towards that note's (time constant: the retune time, made longer for
   a note held longer by ``humanize``).  A note within ``IN_TUNE`` of its target is
   not corrected at all.  A frame one half of which holds a quarter of the other's
   energy or less (a note starting or ending inside it, where the pitch reads less
   well) keeps the correction as it was.
3. **Analysis marks**, one detected period apart in voiced stretches (the first at
   the largest low-passed sample one period on), ``unvoiced`` apart elsewhere, each
   with the voicing, period and correction at its place (interpolated between
   frames).
4. **Synthesis marks** (TD-PSOLA): each takes the grain of the analysis mark nearest
   it, the input between that mark's neighbours under a raised-cosine window whose
   halves reach the neighbours, scaled by 1 / ratio, and adds it at the synthesis
   mark (a fractional shift read by 4-point Hermite interpolation).  The next
   synthesis mark is one period on, divided by the ratio 2^(correction / 12); grains
   laid that much closer together (further apart) overlap that much more (less), so
   the scale keeps the level.  Where nothing is corrected the synthesis marks are the
   analysis marks themselves: a grain laid where it was taken adds only its window's
   weights (``dry``), and the output is the input times their sum; neighbours' window
   halves sum to one (within float rounding, taken as exactly one), so the input
   comes out as it went in, bit for bit.

The output is the overlap-add ring, plus the input times the weights of grains laid
in place, read ``latency`` samples behind the input.

**Non-finite input.**  A NaN or an infinity in any channel (or a channel sum too large
to hold) counts as unvoiced and is kept out of everything else: the detector hears
silence in its place and its low-pass restarts from rest (so detection recovers at
once), every frame whose window holds it is unvoiced, and a grain that would read it
is laid where it was taken.  So the sample comes out at its own place as it went in
(a NaN as a NaN, for the output's check to catch) and every other sample is finite.
"""

from __future__ import annotations

import math

import numba as nb

from .jit import A2, C1, C2, F8, I1, at, kernel

# the int state: samples in, the last analysis mark placed, the analysis mark nearest
# the next synthesis mark, whether synthesis marks are the analysis marks, the note
# aimed at (-1: none), grains that came too late, non-finite input samples so far
N_IN, K_LAST, K_CUR, SYNCED, NOTE, LATE, BAD = range(7)
INT_STATE = 7
# the float state: the next synthesis mark, the correction (semitones), seconds the
# note has been held, then the low-pass's memories (two sections, two each)
S_NEXT, CORRECTION, HELD, LOWPASS = range(4)
FLOAT_STATE = 8
# a frame's and a mark's columns
F_TIME, F_PERIOD, F_VOICED, F_CORRECTION = range(4)
M_POS, M_VOICED, M_PERIOD, M_CORRECTION = range(4)
# the layout: ints
(C_DECIMATE, C_HOP, C_WIDTH, C_LAG_LO, C_LAG_HI, C_SPAN, C_REFINE, C_HALF, C_LATENCY,
 C_UNVOICED, C_LONGEST) = range(11)

IN_TUNE = 0.01               # semitones: a note this close to its target is left alone
HYSTERESIS = 0.4             # semitones another note must be nearer by to be taken
HUMANIZE_MS = 400.0          # retune time humanize 1 adds to a sustained note
SUSTAIN_S = 0.25             # ... reached once the note has been held this long
ENERGY_FLOOR = 1e-10         # mean square (-100 dBFS) under which a frame is unvoiced
SNAP = 1e-6                  # semitones: a smaller correction is none
STEADY = 0.25                # the energy share (-6 dB) under which one half of a frame
                             # makes it a note's start or end
WHOLE = 1e-12                # summed in-place window weights this near 1 are taken as 1


@nb.njit(inline="always")
def _hermite(ring, c, mask, r):
    """4-point, 3rd-order Hermite interpolation of ring[c] at fractional index r."""
    i0 = int(math.floor(r))
    t = r - i0
    xm1 = ring[c, (i0 - 1) & mask]
    x0 = ring[c, i0 & mask]
    x1 = ring[c, (i0 + 1) & mask]
    x2 = ring[c, (i0 + 2) & mask]
    c1 = 0.5 * (x1 - xm1)
    c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2
    c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1)
    return ((c3 * t + c2) * t + c1) * t + x0


@nb.njit(inline="always")
def yin(y, width, lag_lo, lag_hi, threshold, diff, cmnd):
    """YIN on ``y`` (at least width + lag_hi + 2 samples): (lag, aperiodicity), the lag
    fractional (a parabola through the normalised difference at its dip), or (-1.0,
    the least normalised difference) where no dip between lag_lo and lag_hi goes under
    ``threshold``.  diff and cmnd: work arrays of lag_hi + 2."""
    top = lag_hi + 1
    for tau in range(1, top + 1):
        s = 0.0
        for j in range(width):
            d = y[j] - y[j + tau]
            s += d * d
        diff[tau] = s
    cmnd[0] = 1.0
    running = 0.0
    for tau in range(1, top + 1):
        running += diff[tau]
        cmnd[tau] = diff[tau] * tau / running if running > 0.0 else 1.0
    least = 1.0
    for tau in range(lag_lo, lag_hi + 1):
        if cmnd[tau] < threshold:
            while tau + 1 <= lag_hi and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
            a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
            curve = a - 2.0 * b + c
            shift = 0.5 * (a - c) / curve if curve > 0.0 else 0.0
            shift = min(max(shift, -1.0), 1.0)
            return tau + shift, max(b, 0.0)
        least = min(least, cmnd[tau])
    return -1.0, least


@nb.njit(inline="always")
def refine(z, width, lag0, reach, work):
    """The period at the full rate near lag0: the lag at lag0 - reach .. lag0 + reach
    where ``z`` over ``width`` samples is most like itself that much later (the
    normalised cross-correlation, which a swelling or fading level does not pull
    aside as it does the difference function), and a parabola through the best and
    its neighbours (none at an end of the reach).  z holds width + lag0 + reach
    samples."""
    e0 = 0.0
    for j in range(width):
        e0 += z[j] * z[j]
    best = 0
    for r in range(2 * reach + 1):
        lag = lag0 - reach + r
        cross = 0.0
        e1 = 0.0
        for j in range(width):
            v = z[j + lag]
            cross += z[j] * v
            e1 += v * v
        work[r] = 1.0 - cross / math.sqrt(e0 * e1) if e0 * e1 > 0.0 else 1.0
        if work[r] < work[best]:
            best = r
    lag = float(lag0 - reach + best)
    if 0 < best < 2 * reach:
        a, b, c = work[best - 1], work[best], work[best + 1]
        curve = a - 2.0 * b + c
        if curve > 0.0:
            lag += min(max(0.5 * (a - c) / curve, -1.0), 1.0)
    return lag


@nb.njit(inline="always")
def _nearest(p, allowed):
    """The allowed MIDI note nearest pitch ``p`` (allowed[pitch class])."""
    base = int(math.floor(p + 0.5))
    best = base
    far = 1e9
    for k in range(-7, 8):
        note = base + k
        if allowed[note % 12] and abs(p - note) < far:
            far = abs(p - note)
            best = note
    return best


@nb.njit(inline="always")
def _frame_at(frames, f, frames_done):
    """(voiced, period, correction) of frame f; a frame not yet (or no longer) held is
    unvoiced."""
    if f < 1 or f > frames_done:
        return False, 0.0, 0.0
    row = f & (frames.shape[0] - 1)
    return frames[row, F_VOICED] > 0.0, frames[row, F_PERIOD], frames[row, F_CORRECTION]


@nb.njit(inline="always")
def _track(frames, t, layout, frames_done):
    """(voiced, period, correction) at song sample t, between the frames either side:
    the voicing of the nearer, the period and correction interpolated linearly (a
    voiced frame's period where only one is voiced; an unvoiced one corrects 0)."""
    u = (t + layout[C_HALF]) / layout[C_HOP]
    f0 = int(math.floor(u))
    w = u - f0
    va, pa, ca = _frame_at(frames, f0, frames_done)
    vb, pb, cb = _frame_at(frames, f0 + 1, frames_done)
    voiced = va if w < 0.5 else vb
    if va and vb:
        period = (1.0 - w) * pa + w * pb
    else:
        period = pa if va else pb
    return voiced, period, (1.0 - w) * ca + w * cb


@nb.njit(inline="always")
def _any_bad(bad, lo, hi):
    """Whether a non-finite input sample lies at song samples lo .. hi (bad: their
    running count by song sample; hi already in, lo - 1 not yet overwritten)."""
    mask = bad.shape[0] - 1
    return bad[hi & mask] != bad[(lo - 1) & mask]


@kernel(x=A2, out=A2, ring=C2, lowpassed=C1, decimated=C1, acc=C2, dry=C1, bad=I1,
        frames=C2, marks=C2, si=I1, sf=C1, report=C1, sos=C2, retune_ms=C1, humanize=C1,
        reference_hz=C1, allowed=I1, layout=I1, rate=F8, threshold=F8, work=C1)
def pitch_correct(x, out, ring, lowpassed, decimated, acc, dry, bad, frames, marks, si,
                  sf, report, sos, retune_ms, humanize, reference_hz, allowed, layout,
                  rate, threshold, work):
    """Pitch-correct ``x`` (channels, n) into ``out`` (see the module notes).

    ring, acc (channels, size), lowpassed, dry and bad (size,): by song sample (size a
    power of two), the input, the overlap-add sums of moved grains, the low-passed
    mono sum, the summed window weights of grains laid where they were taken, and the
    running count of non-finite input samples.  decimated (size2,): every
    decimate-th low-passed sample.  frames (nf, 4), marks (nm, 4): rings of the
    analysis frames and marks (powers of two).  si, sf: the int and float state (see
    the constants).  report: [sum of |correction| in cents, voiced frames, largest
    |correction|].  sos (2, 6): the low-pass before decimation.  retune_ms, humanize,
    reference_hz: (n,) or (1,), read at each frame.  allowed (12,): 1 for the scale's
    pitch classes.  layout: the ints C_*.  threshold: YIN's.  work: scratch.
    """
    channels, n = x.shape
    mask = ring.shape[1] - 1
    dmask = decimated.shape[0] - 1
    decimate = layout[C_DECIMATE]
    hop = layout[C_HOP]
    latency = layout[C_LATENCY]
    for i in range(n):
        t = si[N_IN]
        m = 0.0
        for c in range(channels):
            v = x[c, i]
            ring[c, t & mask] = v
            m += v
        y = m / channels
        if not math.isfinite(y):
            # a NaN or an infinity (or a sum too large): the detector hears silence
            # from rest, so its low-pass keeps nothing of it, and every frame it
            # reaches is unvoiced (see _analyse and _synthesise)
            si[BAD] += 1
            y = 0.0
            for j in range(4):
                sf[LOWPASS + j] = 0.0
        bad[t & mask] = si[BAD]
        if decimate > 1:
            for b in range(2):
                z1 = sf[LOWPASS + 2 * b]
                z2 = sf[LOWPASS + 2 * b + 1]
                o = sos[b, 0] * y + z1
                sf[LOWPASS + 2 * b] = sos[b, 1] * y - sos[b, 4] * o + z2
                sf[LOWPASS + 2 * b + 1] = sos[b, 2] * y - sos[b, 5] * o
                y = o
        lowpassed[t & mask] = y
        if t % decimate == decimate - 1:
            decimated[(t // decimate) & dmask] = y
        t += 1
        si[N_IN] = t
        if t % hop == 0:
            _analyse(t, lowpassed, decimated, bad, frames, si, sf, report,
                     at(retune_ms, i), at(humanize, i), at(reference_hz, i), allowed,
                     layout, rate, threshold, work)
            _place_marks(t, lowpassed, frames, marks, si, layout)
            _synthesise(t, ring, acc, dry, bad, marks, si, sf, layout)
        k = (t - 1 - latency) & mask
        d = dry[k]
        dry[k] = 0.0
        if abs(d - 1.0) <= WHOLE:
            # grains laid where they were taken, whose window halves sum to one: the
            # input itself, copied (plus any moved grain reaching here)
            for c in range(channels):
                a = acc[c, k]
                out[c, i] = ring[c, k] if a == 0.0 else a + ring[c, k]
                acc[c, k] = 0.0
        elif d != 0.0:
            for c in range(channels):
                out[c, i] = acc[c, k] + d * ring[c, k]
                acc[c, k] = 0.0
        else:
            for c in range(channels):
                out[c, i] = acc[c, k]
                acc[c, k] = 0.0


@nb.njit(inline="always")
def _analyse(t, lowpassed, decimated, bad, frames, si, sf, report, retune_ms, humanize,
             reference_hz, allowed, layout, rate, threshold, work):
    """The frame ending at song sample t - 1: YIN, then the correction.  A frame whose
    windows (and a hop more, for the low-pass to settle) hold a non-finite input
    sample is unvoiced."""
    mask = lowpassed.shape[0] - 1
    dmask = decimated.shape[0] - 1
    decimate = layout[C_DECIMATE]
    hop = layout[C_HOP]
    span = layout[C_SPAN]
    lag_hi = layout[C_LAG_HI]
    reach = layout[C_REFINE]
    centre = t - layout[C_HALF]
    # the decimated window, ending at the newest decimated sample
    y = work[:span]
    first = t // decimate - span
    energy = 0.0
    early = 0.0
    for j in range(span):
        v = decimated[(first + j) & dmask]
        y[j] = v
        energy += v * v
        if j == span // 2:
            early = energy
    late = energy - early
    steady = min(early, late) >= STEADY * max(early, late)
    voiced = False
    period = 0.0
    back = max(span * decimate, 2 * layout[C_HALF] + 2) + hop
    if energy > ENERGY_FLOOR * span and not _any_bad(bad, t - back, t - 1):
        diff = work[span:span + lag_hi + 2]
        cmnd = work[span + lag_hi + 2:span + 2 * lag_hi + 4]
        lag, _ = yin(y, layout[C_WIDTH], layout[C_LAG_LO], lag_hi, threshold, diff, cmnd)
        if lag > 0.0:
            width = layout[C_WIDTH] * decimate
            lag0 = max(int(math.floor(lag * decimate + 0.5)), reach + 2)
            start = centre - (width + lag0) // 2
            z = work[:width + lag0 + reach + 1]
            for j in range(width + lag0 + reach + 1):
                z[j] = lowpassed[(start + j) & mask]
            period = refine(z, width, lag0, reach, work[width + lag0 + reach + 1:])
            voiced = period > 1.0
    c = 0.0
    if voiced and not steady:
        # a note starting or ending within the window: its pitch is read less well,
        # so the correction holds (none before the note's first steady frame)
        if si[NOTE] >= 0:
            c = sf[CORRECTION]
    elif voiced:
        p = 69.0 + 12.0 * math.log2(rate / (period * reference_hz))
        candidate = _nearest(p, allowed)
        if si[NOTE] < 0:
            note = candidate
            held = 0.0
        else:
            note = si[NOTE]
            held = sf[HELD] + hop / rate
            if candidate != note and abs(p - candidate) + HYSTERESIS < abs(p - note):
                note = candidate
                held = 0.0
        tau_ms = retune_ms + humanize * HUMANIZE_MS * min(1.0, held / SUSTAIN_S)
        target = note - p
        if abs(target) < IN_TUNE:
            target = 0.0
        if tau_ms <= 0.0:
            c = target
        else:
            c = sf[CORRECTION]
            c += (1.0 - math.exp(-hop * 1000.0 / (tau_ms * rate))) * (target - c)
            if abs(c) < SNAP:
                c = 0.0
        si[NOTE] = note
        sf[HELD] = held
    else:
        si[NOTE] = -1
        sf[HELD] = 0.0
    if voiced:
        report[0] += abs(c) * 100.0
        report[1] += 1.0
        report[2] = max(report[2], abs(c) * 100.0)
    sf[CORRECTION] = c
    row = (t // hop) & (frames.shape[0] - 1)
    frames[row, F_TIME] = centre
    frames[row, F_PERIOD] = period
    frames[row, F_VOICED] = 1.0 if voiced else 0.0
    frames[row, F_CORRECTION] = c


@nb.njit(inline="always")
def _place_marks(t, lowpassed, frames, marks, si, layout):
    """Analysis marks up to the horizon the frames so far allow: the last one placed
    waits there for its voicing, period and correction."""
    mask = lowpassed.shape[0] - 1
    mmask = marks.shape[0] - 1
    frames_done = t // layout[C_HOP]
    longest = layout[C_LONGEST]
    unvoiced = layout[C_UNVOICED]
    horizon = t - layout[C_HALF] - longest - 2
    k = si[K_LAST]
    while marks[k & mmask, M_POS] <= horizon:
        row = k & mmask
        a = marks[row, M_POS]
        voiced, period, c = _track(frames, a, layout, frames_done)
        marks[row, M_VOICED] = 1.0 if voiced else 0.0
        marks[row, M_PERIOD] = period if voiced else 0.0
        marks[row, M_CORRECTION] = c if voiced else 0.0
        if voiced:
            following = a + period
        else:
            ahead, onset, _ = _track(frames, a + unvoiced, layout, frames_done)
            if ahead:           # a note starts: the next mark on its largest peak
                lo = int(math.ceil(a + 0.5 * onset))
                hi = int(math.floor(a + 1.5 * onset))
                best = lo
                peak = -1.0
                for u in range(lo, hi + 1):
                    v = abs(lowpassed[u & mask])
                    if v > peak:
                        peak = v
                        best = u
                following = float(best)
            else:
                following = a + unvoiced
        k += 1
        marks[k & mmask, M_POS] = following
    si[K_LAST] = k


@nb.njit(inline="always")
def _synthesise(t, ring, acc, dry, bad, marks, si, sf, layout):
    """Every synthesis mark whose grain is known: its grain overlap-added, scaled by
    the ratio of the synthesis period to the analysis one (grains laid closer
    together overlap more).  A grain laid where it was taken adds only its window's
    weights (to ``dry``: the output multiplies the input by their sum); so does one
    that would read a non-finite input sample, so that the sample comes out at its
    own place and nowhere else."""
    channels = ring.shape[0]
    mask = ring.shape[1] - 1
    mmask = marks.shape[0] - 1
    due = t - 1 - layout[C_LATENCY]          # the next output sample to go out
    while True:
        s = sf[S_NEXT]
        k = si[K_CUR]
        last = si[K_LAST]
        while k + 1 <= last:
            ahead = marks[(k + 1) & mmask, M_POS]
            if ahead <= s or ahead - s < s - marks[k & mmask, M_POS]:
                k += 1
            else:
                break
        si[K_CUR] = k
        if k >= last:
            return
        row = k & mmask
        a = marks[row, M_POS]
        left = a - marks[(k - 1) & mmask, M_POS]
        right = marks[(k + 1) & mmask, M_POS] - a
        shift = s - a
        u0 = int(math.floor(s - left)) + 1
        u1 = int(math.ceil(s + right)) - 1
        if u0 < due:
            si[LATE] += 1
        if shift != 0.0 and _any_bad(bad, int(math.floor(u0 - shift)) - 1,
                                     int(math.floor(u1 - shift)) + 2):
            shift = 0.0
        correction = marks[row, M_CORRECTION]
        ratio = 1.0 if correction == 0.0 else 2.0 ** (correction / 12.0)
        gain = 1.0 / ratio
        for u in range(u0, u1 + 1):
            tau = u - s
            if tau < 0.0:
                w = gain * (0.5 + 0.5 * math.cos(math.pi * tau / left))
            else:
                w = gain * (0.5 + 0.5 * math.cos(math.pi * tau / right))
            slot = u & mask
            if shift == 0.0:
                dry[slot] += w
            else:
                for c in range(channels):
                    acc[c, slot] += w * _hermite(ring, c, mask, u - shift)
        if marks[row, M_VOICED] == 0.0:           # unvoiced: back onto the analysis marks
            sf[S_NEXT] = marks[(k + 1) & mmask, M_POS]
            si[SYNCED] = 1
        elif correction == 0.0 and si[SYNCED] == 1:
            sf[S_NEXT] = marks[(k + 1) & mmask, M_POS]
        else:
            sf[S_NEXT] = s + marks[row, M_PERIOD] / ratio
            si[SYNCED] = 0
