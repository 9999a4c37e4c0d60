"""The registry of Torch7 tensor types: name, numpy dtype, device.

Every type-dependent decision (which class, which dtype, CPU or GPU) reads this table.
"""
import numpy as np

from . import backend


class TypeInfo:
    __slots__ = ('name', 'storage_name', 'dtype', 'cuda', 'tensor_class', 'storage_class')

    def __init__(self, name, dtype, cuda):
        self.name = name
        self.storage_name = name.replace('Tensor', 'Storage')
        self.dtype = np.dtype(dtype)
        self.cuda = cuda
        self.tensor_class = None   # filled in by tensor.py
        self.storage_class = None  # filled in by storage.py

    @property
    def xp(self):
        return backend.cupy() if self.cuda else np

    def empty(self, shape):
        """Uninitialized memory (malloc, not calloc), as Torch7; on the CPU from 4 KB up, cache-line aligned (a copy
        between arrays whose offsets disagree mod 64 runs at half speed here: backend.empty_aligned)."""
        if not self.cuda:
            n = self.dtype.itemsize
            for s in shape:
                n *= s
            if n >= 4096:
                return backend.empty_aligned(shape, self.dtype)
        return self.xp.empty(shape, dtype=self.dtype)

    @property
    def is_floating(self):
        return self.dtype.kind == 'f'

    def __repr__(self):
        return f"TypeInfo({self.name})"

    # one TypeInfo per type: copies of modules must keep pointing at the registry's entries
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


TYPES = {info.name: info for info in (
    TypeInfo('torch.ByteTensor', np.uint8, False),
    TypeInfo('torch.CharTensor', np.int8, False),
    TypeInfo('torch.ShortTensor', np.int16, False),
    TypeInfo('torch.IntTensor', np.int32, False),
    TypeInfo('torch.LongTensor', np.int64, False),
    TypeInfo('torch.FloatTensor', np.float32, False),
    TypeInfo('torch.DoubleTensor', np.float64, False),
    TypeInfo('torch.CudaByteTensor', np.uint8, True),
    TypeInfo('torch.CudaCharTensor', np.int8, True),
    TypeInfo('torch.CudaShortTensor', np.int16, True),
    TypeInfo('torch.CudaIntTensor', np.int32, True),
    TypeInfo('torch.CudaLongTensor', np.int64, True),
    TypeInfo('torch.CudaTensor', np.float32, True),
    TypeInfo('torch.CudaDoubleTensor', np.float64, True),
)}

# dtype -> CPU type name, for torch.fromNumpy and numpy inputs
CPU_TYPE_OF_DTYPE = {info.dtype: info for info in TYPES.values() if not info.cuda}
CUDA_TYPE_OF_DTYPE = {info.dtype: info for info in TYPES.values() if info.cuda}


def type_info(name):
    """TypeInfo for 'torch.FloatTensor' (also accepts 'FloatTensor' and storage names)."""
    info = TYPES.get(name)
    if info is None and isinstance(name, str):
        full = name if name.startswith('torch.') else 'torch.' + name
        info = TYPES.get(full.replace('Storage', 'Tensor'))
    if info is None:
        raise ValueError(f"unknown tensor type {name!r}; expected one of: {', '.join(TYPES)}")
    return info


def on_device(info, cuda):
    """The type with the same dtype on the CPU (cuda False) or the GPU (cuda True)."""
    if info.cuda == cuda:
        return info
    return (CUDA_TYPE_OF_DTYPE if cuda else CPU_TYPE_OF_DTYPE)[info.dtype]
