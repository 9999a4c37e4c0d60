"""Torch7's nn: modules, containers, criterions.  ``from luatorch_py import nn``; ``nn.Linear(3, 4)``.

The ~190 classes live in one file per family, each imported the first time one of its names is used (``nn.Linear``
imports linear.py), so that ``import luatorch_py`` compiles and keeps only what a script uses (PEP 562's module
``__getattr__``).  ``nn.REGISTRY`` (Lua class name -> class, for torch.load) and torch.load itself import them all
first, since a file may name any class.  Torch7's ``require 'nn'`` loads every file at once; nothing else differs.
"""
from .._fork import load       # (importlib.import_module, counted: a fork waits for it)

# where each name is defined: file (relative to this package, '..nngraph' for nngraph's) -> names
_WHERE = {
    '.module': 'Module',
    '.containers': 'Container Sequential Concat ConcatTable ParallelTable Parallel MapTable DepthConcat',
    '.linear': 'Linear Bilinear Add Mul CAdd CMul Euclidean',
    '.activation': ('Sigmoid Tanh ReLU ReLU6 LeakyReLU PReLU RReLU ELU Threshold HardTanh Clamp HardShrink'
        ' SoftShrink SoftMax LogSoftMax SoftMin SoftPlus SoftSign LogSigmoid TanhShrink Exp Log Abs'
        ' Square Sqrt Power'),
    '.criterion': ('Criterion MSECriterion AbsCriterion SmoothL1Criterion ClassNLLCriterion'
        ' CrossEntropyCriterion BCECriterion DistKLDivCriterion MarginCriterion SoftMarginCriterion'
        ' MultiMarginCriterion MultiLabelMarginCriterion MultiLabelSoftMarginCriterion'
        ' HingeEmbeddingCriterion CosineEmbeddingCriterion MarginRankingCriterion MultiCriterion'
        ' ParallelCriterion'),
    '.jacobian': 'Jacobian',
    '.lookup': 'LookupTable',
    '.shape': ('Reshape View Transpose Squeeze Unsqueeze Narrow Select Replicate Padding Copy Contiguous'
        ' MulConstant AddConstant'),
    '.reduce': 'Sum Mean Max Min',
    '.dropout': 'Dropout SpatialDropout',
    '.distance': 'Normalize MM PairwiseDistance CosineDistance DotProduct',
    '.table': ('JoinTable SplitTable SelectTable NarrowTable FlattenTable CAddTable CSubTable CMulTable'
        ' CDivTable CMaxTable CMinTable Identity'),
    '.conv': ('SpatialConvolution SpatialConvolutionMM SpatialFullConvolution SpatialDilatedConvolution'
        ' TemporalConvolution TemporalMaxPooling VolumetricConvolution VolumetricMaxPooling'
        ' VolumetricAveragePooling'),
    '.pooling': ('SpatialMaxPooling SpatialAveragePooling SpatialAdaptiveMaxPooling'
        ' SpatialAdaptiveAveragePooling SpatialSoftMax SpatialLogSoftMax SpatialCrossMapLRN'),
    '.upsampling': 'SpatialUpSamplingNearest SpatialUpSamplingBilinear UpSampling PixelShuffle',
    '.normalization': 'BatchNormalization SpatialBatchNormalization',
    '.padding': 'SpatialZeroPadding SpatialReflectionPadding SpatialReplicationPadding',
    '..nngraph': 'gModule ModuleFromCriterion',
    '.spatial_map': 'SpatialConvolutionMap SpatialFullConvolutionMap',
    '.spatial_norm': ('SpatialSubtractiveNormalization SpatialDivisiveNormalization SpatialContrastiveNormalization'
        ' SpatialLPPooling'),
    '.spatial_extra': 'SpatialSubSampling SpatialConvolutionLocal SpatialDepthWiseConvolution',
    '.spatial_pool_extra': 'SpatialDilatedMaxPooling SpatialMaxUnpooling SpatialFractionalMaxPooling FeatureLPPooling',
    '.volumetric': ('VolumetricBatchNormalization VolumetricFullConvolution VolumetricDilatedConvolution'
        ' VolumetricDropout VolumetricDilatedMaxPooling VolumetricMaxUnpooling'
        ' VolumetricFractionalMaxPooling VolumetricReplicationPadding'),
    '.temporal': 'TemporalRowConvolution TemporalSubSampling TemporalDynamicKMaxPooling',
    '.criterion_spatial': 'SpatialClassNLLCriterion SpatialAutoCropMSECriterion',
    '.decorators': 'Decorator Bottle WeightNorm DontCast GPU NaN Profile',
    '.misc': ('L1Penalty MaskedSelect Index Collapse Constant GradientReversal CReLU GatedLinearUnit'
        ' LayerNormalization Maxout OneHot ZeroGrad WhiteNoise PrintSize MV'),
    '.misc_linear': 'Cosine WeightedEuclidean LinearWeightNorm PartialLinear Kmeans',
    '.convert': 'Convert',
    '.sparse': 'SparseLinear IndexLinear',
    '.table_more': 'CAddTensorTable CriterionTable MixtureTable ZipTable ZipTableOneToMany',
    '.criterion_more': ('ClassSimplexCriterion DistanceRatioCriterion L1Cost L1HingeEmbeddingCriterion'
        ' ModuleCriterion WeightedMSECriterion'),
    '.trainer': 'StochasticGradient',
    '.inception': 'Inception',
}
_OWNER = {name: where for where, names in _WHERE.items() for name in names.split()}
_SUBMODULES = ('tables',)   # (nn.tables: a module, not a class)
_all_loaded = False


def __getattr__(name):
    where = _OWNER.get(name)
    if where is not None:
        value = getattr(load(where, __name__), name)
    elif name in _SUBMODULES:
        value = load('.' + name, __name__)
    elif name == 'REGISTRY':
        _load_all()
        from .module import REGISTRY as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_OWNER) | set(_SUBMODULES) | {'REGISTRY'})


def _load_all():
    """Import every file of nn and nngraph, so that their classes (and serialization's fixes for them) are
    registered.  Two threads at once are safe: Python's import lock makes one wait for a file the other is
    importing."""
    global _all_loaded
    if not _all_loaded:
        for where in _WHERE:
            load(where, __name__)
        _all_loaded = True


__all__ = sorted(_OWNER) + list(_SUBMODULES) + ['REGISTRY']
