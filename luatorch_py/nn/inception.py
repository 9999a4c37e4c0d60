"""dpnn's nn.Inception (Element-Research/dpnn Inception.lua): the GoogLeNet block, a DepthConcat of columns."""
import math

from .containers import DepthConcat, Sequential
from .decorators import Decorator
from .module import sizestr

_REQUIRED = ('inputSize', 'outputSize', 'reduceSize')


class Inception(Decorator):
    """Inception(config): ``config`` is dpnn's config table as a dict with the same keys: ``inputSize`` (input
    planes), ``outputSize`` (list: planes of each kxk convolution column), ``reduceSize`` (list of len(outputSize) + 2:
    the 1x1 reductions of those columns, then the pooling column's projection and the 1x1-only column; either of the
    last two may be left out), and optionally ``reduceStride`` (list, default 1s), ``transfer`` (a module cloned
    after each convolution, default nn.ReLU()), ``batchNorm`` (SpatialBatchNormalization after each convolution),
    ``padding`` (True: kxk convolutions keep the size), ``kernelSize`` ([5, 3]), ``kernelStride`` ([1, 1]),
    ``poolSize`` (3), ``poolStride`` (1), ``pool`` (default SpatialMaxPooling(poolSize, poolSize, poolStride,
    poolStride)).

    The modules are built in dpnn's order (so the global random stream initializes them as Lua does) inside one
    ``DepthConcat(1)`` (Lua's DepthConcat(2)), held as ``modules[0]`` of this Decorator, as dpnn's.  Input:
    C x H x W or a batch N x C x H x W."""

    def __init__(self, config):
        from . import ReLU, SpatialBatchNormalization, SpatialConvolution, SpatialMaxPooling
        if not isinstance(config, dict):
            raise TypeError(f"nn.Inception: expected a config dict (dpnn's config table), got {type(config).__name__}")
        missing = [k for k in _REQUIRED if config.get(k) is None]
        if missing:
            raise ValueError(f"nn.Inception: config lacks {', '.join(missing)} (required: {', '.join(_REQUIRED)})")
        self.inputSize = config['inputSize']
        self.outputSize = list(config['outputSize'])
        self.reduceSize = list(config['reduceSize'])
        while self.reduceSize and self.reduceSize[-1] is None:     # Lua's {128, 32, nil, nil} holds two entries
            self.reduceSize.pop()
        self.reduceStride = list(config.get('reduceStride') or [])
        self.transfer = config.get('transfer') or ReLU()
        if config.get('batchNorm') is not None:
            self.batchNorm = config['batchNorm']
        self.padding = True if config.get('padding') is None else config['padding']
        self.kernelSize = list(config.get('kernelSize') or [5, 3])
        self.kernelStride = list(config.get('kernelStride') or [1, 1])
        self.poolSize = config.get('poolSize') or 3
        self.poolStride = config.get('poolStride') or 1
        self.pool = config.get('pool') or SpatialMaxPooling(self.poolSize, self.poolSize, self.poolStride,
                                                            self.poolStride)
        nk = len(self.kernelSize)
        if len(self.outputSize) < nk or len(self.reduceSize) < nk or len(self.kernelStride) < nk:
            raise ValueError(f"nn.Inception: kernelSize has {nk} entries; outputSize ({len(self.outputSize)}), "
                             f"reduceSize ({len(self.reduceSize)}, needs at least {nk}) and kernelStride "
                             f"({len(self.kernelStride)}) need one per kernel")
        bn = bool(self.__dict__.get('batchNorm'))

        def stride(i):
            return self.reduceStride[i] if i < len(self.reduceStride) and self.reduceStride[i] else 1

        def reduce_into(mlp, i):
            mlp.add(SpatialConvolution(self.inputSize, self.reduceSize[i], 1, 1, stride(i), stride(i)))
            if bn:
                mlp.add(SpatialBatchNormalization(self.reduceSize[i]))
            mlp.add(self.transfer.clone())

        # dpnn checks the columns' output sizes on a 100 x 200 (W x H) input and warns when they differ
        iw, ih = 100, 200
        ow = oh = None
        concat = DepthConcat(1)
        for i in range(nk):
            mlp = Sequential()
            reduce_into(mlp, i)
            k, s = self.kernelSize[i], self.kernelStride[i]
            pad = k // 2 if self.padding else 0
            mlp.add(SpatialConvolution(self.reduceSize[i], self.outputSize[i], k, k, s, s, pad))
            if bn:
                mlp.add(SpatialBatchNormalization(self.outputSize[i]))
            mlp.add(self.transfer.clone())
            concat.add(mlp)
            w_i, h_i = math.floor((iw + 2 * pad - k) / s + 1), math.floor((ih + 2 * pad - k) / s + 1)
            if ow is None:
                ow, oh = w_i, h_i
            elif (ow, oh) != (w_i, h_i):
                print("dpnn.Inception: Warning: Inconsistent output sizes.")
        mlp = Sequential()
        mlp.add(self.pool)
        i = nk
        if i < len(self.reduceSize) and self.reduceSize[i]:
            reduce_into(mlp, i)
        concat.add(mlp)
        p = self.pool.__dict__
        if all(p.get(k) is not None for k in ('kW', 'dW', 'padW')) and ow is not None:
            if (ow, oh) != (math.floor((iw + 2 * p['padW'] - p['kW']) / p['dW'] + 1),
                            math.floor((ih + 2 * p['padH'] - p['kH']) / p['dH'] + 1)):
                print("dpnn.Inception: Warning: Inconsistent output sizes in pooling.")
        i += 1
        if i < len(self.reduceSize) and self.reduceSize[i]:
            mlp = Sequential()
            reduce_into(mlp, i)
            concat.add(mlp)
            if (ow, oh) != (math.floor((iw - 1) / stride(i) + 1), math.floor((ih - 1) / stride(i) + 1)):
                print("dpnn.Inception: Warning: Inconsistent output sizes in 1x1 conv.")
        super().__init__(concat)                   # Lua: parent.__init(self, depthConcat), last

    # dpnn's toBatch / fromBatch: a 3-D input runs as a batch of one (field dpnn_online, as dpnn)
    def _to_batch(self, x, what='input'):
        t = self._coerce(x, what)
        if t._a.ndim == 3:
            self.dpnn_online = True
            return t._view(t._a.reshape((1,) + t._a.shape))
        if t._a.ndim != 4:
            raise ValueError(f"{self!r}: expected a 3-D (C x H x W) or 4-D (batch) {what}, got size "
                             f"{sizestr(t._a.shape)}")
        self.dpnn_online = False
        return t

    def _from_batch(self, t):
        if self.__dict__.get('dpnn_online'):
            if t._a.shape[0] != 1:
                raise ValueError(f"{self!r}: expected a batch of one, got size {sizestr(t._a.shape)}")
            return t._view(t._a.reshape(t._a.shape[1:]))
        return t

    def _batched(self, input, gradOutput):
        return self._to_batch(input), self._to_batch(gradOutput, 'gradOutput')

    def updateOutput(self, input):
        self.output = self._from_batch(self.modules[0].updateOutput(self._to_batch(input)))
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, g = self._batched(input, gradOutput)
        self.gradInput = self._from_batch(self.modules[0].updateGradInput(x, g))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, g = self._batched(input, gradOutput)
        self.modules[0].accGradParameters(x, g, scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        x, g = self._batched(input, gradOutput)
        self.modules[0].accUpdateGradParameters(x, g, lr)

    def sharedAccUpdateGradParameters(self, input, gradOutput, lr):
        x, g = self._batched(input, gradOutput)
        self.modules[0].sharedAccUpdateGradParameters(x, g, lr)
