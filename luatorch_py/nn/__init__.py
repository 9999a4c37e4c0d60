"""Torch7's nn: modules, containers, criterions.  ``from luatorch_py import nn``; ``nn.Linear(3, 4)``."""
from .module import Module, REGISTRY
from .containers import Container, Sequential
from .linear import Linear
from .activation import Sigmoid, Tanh
from .criterion import Criterion, MSECriterion
from .jacobian import Jacobian
from .linear import Bilinear, Add, Mul, CAdd, CMul, Euclidean
from .lookup import LookupTable
from .shape import (Reshape, View, Transpose, Squeeze, Unsqueeze, Narrow, Select, Replicate, Padding, Copy,
                    Contiguous, MulConstant, AddConstant)
from .reduce import Sum, Mean, Max, Min
from .dropout import Dropout, SpatialDropout
from .distance import Normalize, MM, PairwiseDistance, CosineDistance, DotProduct
from .containers import Concat, ConcatTable, ParallelTable, Parallel, MapTable
from .table import (JoinTable, SplitTable, SelectTable, NarrowTable, FlattenTable, CAddTable, CSubTable, CMulTable,
                    CDivTable, CMaxTable, CMinTable, Identity)
from .activation import (ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, Threshold, HardTanh, Clamp, HardShrink, SoftShrink,
                         SoftMax, LogSoftMax, SoftMin, SoftPlus, SoftSign, LogSigmoid, TanhShrink, Exp, Log, Abs, Square,
                         Sqrt, Power)
from .criterion import (AbsCriterion, SmoothL1Criterion, ClassNLLCriterion, CrossEntropyCriterion, BCECriterion,
                        DistKLDivCriterion, MarginCriterion, SoftMarginCriterion, MultiMarginCriterion,
                        MultiLabelMarginCriterion, MultiLabelSoftMarginCriterion, HingeEmbeddingCriterion,
                        CosineEmbeddingCriterion, MarginRankingCriterion, MultiCriterion, ParallelCriterion)
from .conv import (SpatialConvolution, SpatialConvolutionMM, SpatialFullConvolution, SpatialDilatedConvolution,
                   TemporalConvolution, TemporalMaxPooling, VolumetricConvolution, VolumetricMaxPooling,
                   VolumetricAveragePooling)
from .pooling import (SpatialMaxPooling, SpatialAveragePooling, SpatialAdaptiveMaxPooling, SpatialAdaptiveAveragePooling,
                      SpatialSoftMax, SpatialLogSoftMax, SpatialCrossMapLRN)
from .upsampling import SpatialUpSamplingNearest, SpatialUpSamplingBilinear
from .normalization import BatchNormalization, SpatialBatchNormalization
from .padding import SpatialZeroPadding, SpatialReflectionPadding, SpatialReplicationPadding
# -- more of torch/nn, nngraph and dpnn (one import line per file, above its owner's marker) --
from ..nngraph import gModule, ModuleFromCriterion  # noqa: E402 (nngraph builds on nn)
# [graph]
from . import tables
from .spatial_map import SpatialConvolutionMap, SpatialFullConvolutionMap
from .spatial_norm import (SpatialSubtractiveNormalization, SpatialDivisiveNormalization,
                           SpatialContrastiveNormalization, SpatialLPPooling)
from .spatial_extra import SpatialSubSampling, SpatialConvolutionLocal, SpatialDepthWiseConvolution
from .spatial_pool_extra import (SpatialDilatedMaxPooling, SpatialMaxUnpooling, SpatialFractionalMaxPooling,
                                 FeatureLPPooling)
# [spatial]
from .volumetric import (VolumetricBatchNormalization, VolumetricFullConvolution, VolumetricDilatedConvolution,
                         VolumetricDropout, VolumetricDilatedMaxPooling, VolumetricMaxUnpooling,
                         VolumetricFractionalMaxPooling, VolumetricReplicationPadding)
from .temporal import TemporalRowConvolution, TemporalSubSampling, TemporalDynamicKMaxPooling
from .upsampling import UpSampling, PixelShuffle
from .criterion_spatial import SpatialClassNLLCriterion, SpatialAutoCropMSECriterion
# [volumetric]
from .decorators import Decorator, Bottle, WeightNorm, DontCast, GPU, NaN, Profile
from .misc import (L1Penalty, MaskedSelect, Index, Collapse, Constant, GradientReversal, CReLU, GatedLinearUnit,
                   LayerNormalization, Maxout, OneHot, ZeroGrad, WhiteNoise, PrintSize, MV)
from .misc_linear import Cosine, WeightedEuclidean, LinearWeightNorm, PartialLinear, Kmeans
from .convert import Convert
from .sparse import SparseLinear, IndexLinear
# [misc]
from .containers import DepthConcat
from .table_more import CAddTensorTable, CriterionTable, MixtureTable, ZipTable, ZipTableOneToMany
from .criterion_more import (ClassSimplexCriterion, DistanceRatioCriterion, L1Cost, L1HingeEmbeddingCriterion,
                             ModuleCriterion, WeightedMSECriterion)
from .trainer import StochasticGradient
from .inception import Inception
# [dpnn]
