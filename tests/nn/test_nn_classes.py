"""Every class torch/nn's init.lua loads (nn at its last commit, 8726825: the `require('nn.X')` lines, less THNN,
ErrorMessages, Jacobian and SparseJacobian, which are not classes) exists in luatorch_py: ``nn.REGISTRY`` holds it
under its Lua name, so a .t7 file naming it loads."""
from luatorch_py import nn

# in init.lua's order
INIT_LUA_CLASSES = """
    Module Container Concat Parallel Sequential DepthConcat Decorator Bottle WeightNorm DontCast NaN Profile Linear
    LinearWeightNorm Bilinear PartialLinear SparseLinear IndexLinear Reshape View Contiguous Select Narrow Index
    Squeeze Unsqueeze Replicate Transpose BatchNormalization LayerNormalization Padding GradientReversal
    MaskedSelect Copy Min Max Sum Mean CMul Mul MulConstant CAdd Add AddConstant Constant Dropout SpatialDropout
    VolumetricDropout WhiteNoise OneHot PrintSize ZeroGrad CAddTable CDivTable CMulTable CSubTable CMaxTable
    CMinTable CAddTensorTable Euclidean WeightedEuclidean PairwiseDistance CosineDistance DotProduct Normalize
    Cosine Kmeans Exp Log HardTanh Clamp LogSigmoid LogSoftMax Sigmoid SoftMax SoftMin SoftPlus SoftSign Tanh
    TanhShrink Abs Power Square Sqrt HardShrink SoftShrink Threshold Maxout ReLU ReLU6 PReLU CReLU LeakyReLU
    SpatialSoftMax SpatialLogSoftMax RReLU ELU GatedLinearUnit LookupTable SpatialConvolution
    SpatialConvolutionLocal SpatialFullConvolution SpatialFullConvolutionMap SpatialConvolutionMM
    SpatialDepthWiseConvolution SpatialConvolutionMap SpatialDilatedConvolution SpatialSubSampling
    SpatialMaxPooling SpatialDilatedMaxPooling SpatialMaxUnpooling SpatialFractionalMaxPooling SpatialLPPooling
    SpatialAveragePooling SpatialAdaptiveMaxPooling SpatialAdaptiveAveragePooling TemporalConvolution
    TemporalSubSampling TemporalMaxPooling TemporalDynamicKMaxPooling TemporalRowConvolution
    SpatialSubtractiveNormalization SpatialDivisiveNormalization SpatialContrastiveNormalization SpatialCrossMapLRN
    SpatialZeroPadding SpatialReflectionPadding SpatialReplicationPadding SpatialUpSamplingNearest
    SpatialUpSamplingBilinear SpatialBatchNormalization UpSampling VolumetricConvolution VolumetricFullConvolution
    VolumetricDilatedConvolution VolumetricMaxPooling VolumetricDilatedMaxPooling VolumetricFractionalMaxPooling
    VolumetricMaxUnpooling VolumetricAveragePooling VolumetricBatchNormalization VolumetricReplicationPadding
    FeatureLPPooling GPU ParallelTable Identity ConcatTable SplitTable JoinTable SelectTable MixtureTable
    CriterionTable FlattenTable NarrowTable MapTable ZipTable ZipTableOneToMany Collapse Convert Criterion
    MSECriterion SpatialAutoCropMSECriterion SmoothL1Criterion MarginCriterion SoftMarginCriterion AbsCriterion
    ClassNLLCriterion SpatialClassNLLCriterion ClassSimplexCriterion DistKLDivCriterion MultiCriterion
    L1HingeEmbeddingCriterion HingeEmbeddingCriterion CosineEmbeddingCriterion MarginRankingCriterion
    MultiMarginCriterion MultiLabelMarginCriterion MultiLabelSoftMarginCriterion L1Cost L1Penalty
    WeightedMSECriterion BCECriterion CrossEntropyCriterion ParallelCriterion DistanceRatioCriterion
    ModuleCriterion PixelShuffle StochasticGradient MM MV
""".split()


def test_the_list_is_init_luas():
    assert len(INIT_LUA_CLASSES) == len(set(INIT_LUA_CLASSES)) == 190


def test_every_init_lua_class_is_registered():
    missing = [n for n in INIT_LUA_CLASSES if 'nn.' + n not in nn.REGISTRY]
    assert not missing, f"{len(missing)} of 190 torch/nn classes are not in nn.REGISTRY: {', '.join(missing)}"


def test_registered_under_their_lua_names():
    for n in INIT_LUA_CLASSES:
        cls = nn.REGISTRY.get('nn.' + n)
        if cls is not None:
            assert cls.__torch_name__ == 'nn.' + n and getattr(nn, n, cls) is cls, n
