"""Torch7's testIO for every module and criterion in nn.REGISTRY: run it (forward, backward), save, load, and
the loaded object has the same fields and gives the same forward and backward."""
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn, nngraph
from luatorch_py.nngraph import graph
from luatorch_py.nn.module import TypedObject, _builtin
from luatorch_py.serialization.classes import _overlaps
from luatorch_py.storage import Storage
from luatorch_py.tensor import Tensor


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def P(*shape, seed=0):
    """Positive values (Log, Sqrt, Power, CDivTable)."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sign(*shape, seed=0):
    return np.where(np.random.default_rng(seed).uniform(size=shape) > 0.5, 1.0, -1.0)


# name -> (constructor, input).  Every luatorch_py class of nn.REGISTRY is here, in MODULES, CRITERIONS, OTHERS or
# BASES: test_io fails for a class missing from them (add its entry with the constructor arguments and input its
# own tests use).  tests/serialization/test_t7_hostile.py also walks MODULES.
MODULES = {
    'nn.Abs': (lambda: nn.Abs(), lambda: R(3, 4)),
    'nn.Add': (lambda: nn.Add(4), lambda: R(3, 4)),
    'nn.AddConstant': (lambda: nn.AddConstant(2.5), lambda: R(3, 4)),
    'nn.BatchNormalization': (lambda: nn.BatchNormalization(4), lambda: R(5, 4)),
    'nn.Bilinear': (lambda: nn.Bilinear(3, 2, 4), lambda: [R(5, 3), R(5, 2, seed=1)]),
    'nn.CAdd': (lambda: nn.CAdd(1, 4), lambda: R(3, 4)),
    'nn.CAddTable': (lambda: nn.CAddTable(), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.CDivTable': (lambda: nn.CDivTable(), lambda: [R(3, 4), P(3, 4, seed=1)]),
    'nn.CMaxTable': (lambda: nn.CMaxTable(), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.CMinTable': (lambda: nn.CMinTable(), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.CMul': (lambda: nn.CMul(4), lambda: R(3, 4)),
    'nn.CMulTable': (lambda: nn.CMulTable(), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.CSubTable': (lambda: nn.CSubTable(), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.Clamp': (lambda: nn.Clamp(-0.5, 0.5), lambda: R(3, 4)),
    'nn.Concat': (lambda: nn.Concat(1, nn.Linear(4, 2), nn.Linear(4, 3)), lambda: R(3, 4)),
    'nn.ConcatTable': (lambda: nn.ConcatTable(nn.Linear(4, 2), nn.Identity()), lambda: R(3, 4)),
    'nn.Contiguous': (lambda: nn.Contiguous(), lambda: R(3, 4)),
    'nn.Copy': (lambda: nn.Copy(None, None, True), lambda: R(3, 4)),
    'nn.CosineDistance': (lambda: nn.CosineDistance(), lambda: [R(4, 5), R(4, 5, seed=1)]),
    'nn.DotProduct': (lambda: nn.DotProduct(), lambda: [R(4, 5), R(4, 5, seed=1)]),
    'nn.Dropout': (lambda: nn.Dropout(0.3), lambda: R(3, 4)),
    'nn.ELU': (lambda: nn.ELU(0.5), lambda: R(3, 4)),
    'nn.Euclidean': (lambda: nn.Euclidean(4, 3), lambda: R(3, 4)),
    'nn.Exp': (lambda: nn.Exp(), lambda: R(3, 4)),
    'nn.FlattenTable': (lambda: nn.FlattenTable(), lambda: [R(2, 3), [R(2, 3, seed=1), R(2, seed=2)]]),
    'nn.HardShrink': (lambda: nn.HardShrink(0.3), lambda: R(3, 4)),
    'nn.HardTanh': (lambda: nn.HardTanh(), lambda: R(3, 4)),
    'nn.Identity': (lambda: nn.Identity(), lambda: R(3, 4)),
    'nn.JoinTable': (lambda: nn.JoinTable(1), lambda: [R(2, 3), R(2, 2, seed=1)]),
    'nn.LeakyReLU': (lambda: nn.LeakyReLU(0.1), lambda: R(3, 4)),
    'nn.Linear': (lambda: nn.Linear(4, 3), lambda: R(3, 4)),
    'nn.Log': (lambda: nn.Log(), lambda: P(3, 4)),
    'nn.LogSigmoid': (lambda: nn.LogSigmoid(), lambda: R(3, 4)),
    'nn.LogSoftMax': (lambda: nn.LogSoftMax(), lambda: R(3, 4)),
    'nn.LookupTable': (lambda: nn.LookupTable(10, 3, 2), lambda: np.array([[0, 2, 5], [9, 2, 1]])),
    'nn.MM': (lambda: nn.MM(False, True), lambda: [R(2, 3, 4), R(2, 5, 4, seed=1)]),
    'nn.MapTable': (lambda: nn.MapTable(nn.Linear(4, 2)), lambda: [R(3, 4), R(3, 4, seed=1)]),
    'nn.Max': (lambda: nn.Max(1), lambda: R(3, 4)),
    'nn.Mean': (lambda: nn.Mean(1), lambda: R(3, 4)),
    'nn.Min': (lambda: nn.Min(1), lambda: R(3, 4)),
    'nn.Mul': (lambda: nn.Mul(), lambda: R(3, 4)),
    'nn.MulConstant': (lambda: nn.MulConstant(1.5), lambda: R(3, 4)),
    'nn.Narrow': (lambda: nn.Narrow(1, 1, 2), lambda: R(3, 4)),
    'nn.NarrowTable': (lambda: nn.NarrowTable(1, 2), lambda: [R(2), R(2, seed=1), R(2, seed=2)]),
    'nn.Normalize': (lambda: nn.Normalize(2), lambda: R(3, 4)),
    'nn.PReLU': (lambda: nn.PReLU(4), lambda: R(3, 4)),
    'nn.Padding': (lambda: nn.Padding(1, 2, None, 0.5), lambda: R(3, 4)),
    'nn.PairwiseDistance': (lambda: nn.PairwiseDistance(2), lambda: [R(4, 5), R(4, 5, seed=1)]),
    'nn.Parallel': (lambda: nn.Parallel(1, 0, nn.Linear(3, 2), nn.Linear(3, 2)), lambda: R(3, 2, 3)),
    'nn.ParallelTable': (lambda: nn.ParallelTable(nn.Linear(3, 2), nn.Tanh()), lambda: [R(4, 3), R(4, 2, seed=1)]),
    'nn.Power': (lambda: nn.Power(2), lambda: P(3, 4)),
    'nn.RReLU': (lambda: nn.RReLU(0.1, 0.3), lambda: R(3, 4)),
    'nn.ReLU': (lambda: nn.ReLU(), lambda: R(3, 4)),
    'nn.ReLU6': (lambda: nn.ReLU6(), lambda: 4 * R(3, 4)),
    'nn.Replicate': (lambda: nn.Replicate(3, 0), lambda: R(4)),
    'nn.Reshape': (lambda: nn.Reshape(2, 6), lambda: R(3, 12)),
    'nn.Select': (lambda: nn.Select(1, 2), lambda: R(3, 4)),
    'nn.SelectTable': (lambda: nn.SelectTable(1), lambda: [R(2, 3), R(2, 3, seed=1)]),
    'nn.Sequential': (lambda: nn.Sequential(nn.Linear(4, 3), nn.Tanh()), lambda: R(3, 4)),
    'nn.Sigmoid': (lambda: nn.Sigmoid(), lambda: R(3, 4)),
    'nn.SoftMax': (lambda: nn.SoftMax(), lambda: R(3, 4)),
    'nn.SoftMin': (lambda: nn.SoftMin(), lambda: R(3, 4)),
    'nn.SoftPlus': (lambda: nn.SoftPlus(2), lambda: R(3, 4)),
    'nn.SoftShrink': (lambda: nn.SoftShrink(0.3), lambda: R(3, 4)),
    'nn.SoftSign': (lambda: nn.SoftSign(), lambda: R(3, 4)),
    'nn.SplitTable': (lambda: nn.SplitTable(1), lambda: R(3, 4)),
    'nn.Sqrt': (lambda: nn.Sqrt(), lambda: P(3, 4)),
    'nn.Square': (lambda: nn.Square(), lambda: R(3, 4)),
    'nn.Squeeze': (lambda: nn.Squeeze(), lambda: R(3, 1, 4)),
    'nn.Sum': (lambda: nn.Sum(1), lambda: R(3, 4)),
    'nn.Tanh': (lambda: nn.Tanh(), lambda: R(3, 4)),
    'nn.TanhShrink': (lambda: nn.TanhShrink(), lambda: R(3, 4)),
    'nn.Threshold': (lambda: nn.Threshold(0.1, -1), lambda: R(3, 4)),
    'nn.Transpose': (lambda: nn.Transpose((0, 1)), lambda: R(3, 4)),
    'nn.Unsqueeze': (lambda: nn.Unsqueeze(1), lambda: R(3, 4)),
    'nn.View': (lambda: nn.View(-1).setNumInputDims(2), lambda: R(3, 2, 2)),
    # spatial / temporal / volumetric
    'nn.SpatialAdaptiveAveragePooling': (lambda: nn.SpatialAdaptiveAveragePooling(2, 3), lambda: R(2, 3, 5, 7)),
    'nn.SpatialAdaptiveMaxPooling': (lambda: nn.SpatialAdaptiveMaxPooling(2, 3), lambda: R(2, 3, 5, 7)),
    'nn.SpatialAveragePooling': (lambda: nn.SpatialAveragePooling(2, 2, 2, 2), lambda: R(2, 3, 6, 6)),
    'nn.SpatialBatchNormalization': (lambda: nn.SpatialBatchNormalization(3), lambda: R(2, 3, 4, 4)),
    'nn.SpatialConvolution': (lambda: nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1, 1), lambda: R(2, 3, 6, 6)),
    'nn.SpatialConvolutionMM': (lambda: nn.SpatialConvolutionMM(3, 4, 3, 3), lambda: R(2, 3, 6, 6)),
    'nn.SpatialCrossMapLRN': (lambda: nn.SpatialCrossMapLRN(3), lambda: R(2, 5, 4, 4)),
    'nn.SpatialDilatedConvolution': (lambda: nn.SpatialDilatedConvolution(3, 4, 3, 3, 1, 1, 1, 1, 2, 2),
                                     lambda: R(2, 3, 8, 8)),
    'nn.SpatialDropout': (lambda: nn.SpatialDropout(0.3), lambda: R(2, 3, 4, 4)),
    'nn.SpatialFullConvolution': (lambda: nn.SpatialFullConvolution(3, 2, 3, 3, 2, 2, 1, 1, 1, 1),
                                  lambda: R(2, 3, 4, 4)),
    'nn.SpatialLogSoftMax': (lambda: nn.SpatialLogSoftMax(), lambda: R(2, 3, 4, 4)),
    'nn.SpatialMaxPooling': (lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(), lambda: R(2, 3, 8, 8)),
    'nn.SpatialReflectionPadding': (lambda: nn.SpatialReflectionPadding(1, 2, 1, 0), lambda: R(2, 3, 4, 4)),
    'nn.SpatialReplicationPadding': (lambda: nn.SpatialReplicationPadding(1, 2, 1, 0), lambda: R(2, 3, 4, 4)),
    'nn.SpatialSoftMax': (lambda: nn.SpatialSoftMax(), lambda: R(2, 3, 4, 4)),
    'nn.SpatialUpSamplingBilinear': (lambda: nn.SpatialUpSamplingBilinear(2), lambda: R(2, 3, 3, 4)),
    'nn.SpatialUpSamplingNearest': (lambda: nn.SpatialUpSamplingNearest(2), lambda: R(2, 3, 3, 4)),
    'nn.SpatialZeroPadding': (lambda: nn.SpatialZeroPadding(1, -1, 2, 0), lambda: R(2, 3, 4, 4)),
    'nn.TemporalConvolution': (lambda: nn.TemporalConvolution(4, 3, 2, 1), lambda: R(2, 6, 4)),
    'nn.TemporalMaxPooling': (lambda: nn.TemporalMaxPooling(2), lambda: R(2, 6, 4)),
    'nn.VolumetricAveragePooling': (lambda: nn.VolumetricAveragePooling(2, 2, 2), lambda: R(2, 3, 4, 4, 4)),
    'nn.VolumetricConvolution': (lambda: nn.VolumetricConvolution(3, 2, 2, 2, 2), lambda: R(2, 3, 4, 4, 4)),
    'nn.VolumetricMaxPooling': (lambda: nn.VolumetricMaxPooling(2, 2, 2), lambda: R(2, 3, 4, 4, 4)),
    # issue 11's classes: spatial extras
    'nn.SpatialContrastiveNormalization': (lambda: nn.SpatialContrastiveNormalization(2, torch.ones(3, 3)),
                                           lambda: R(2, 2, 5, 5)),
    'nn.SpatialConvolutionLocal': (lambda: nn.SpatialConvolutionLocal(2, 3, 5, 5, 2, 2), lambda: R(2, 2, 5, 5)),
    'nn.SpatialConvolutionMap': (lambda: nn.SpatialConvolutionMap(nn.tables.full(2, 3), 2, 2, 1, 2),
                                 lambda: R(2, 2, 5, 5)),
    'nn.SpatialDepthWiseConvolution': (lambda: nn.SpatialDepthWiseConvolution(2, 3, 2, 2, 1, 1, 1),
                                       lambda: R(2, 2, 4, 4)),
    'nn.SpatialDilatedMaxPooling': (lambda: nn.SpatialDilatedMaxPooling(3, 3, 1, 1, 1, 1, 2, 2),
                                    lambda: R(2, 2, 6, 6)),
    'nn.SpatialDivisiveNormalization': (lambda: nn.SpatialDivisiveNormalization(2, None, 0.3),
                                        lambda: R(2, 2, 5, 5)),
    'nn.SpatialFractionalMaxPooling': (lambda: nn.SpatialFractionalMaxPooling(2, 2, 3, 3), lambda: R(2, 2, 6, 6)),
    'nn.SpatialFullConvolutionMap': (lambda: nn.SpatialFullConvolutionMap(nn.tables.oneToOne(2), 2, 3, 2, 1),
                                     lambda: R(2, 2, 3, 3)),
    'nn.SpatialLPPooling': (lambda: nn.SpatialLPPooling(2, 2, 2, 2, 2, 2), lambda: P(2, 2, 4, 4)),
    # the unpooling reads its pooling's indices: the pair is saved together, as in a real net
    'nn.SpatialMaxUnpooling': (lambda: _pool_unpool(nn.SpatialMaxPooling(2, 2), nn.SpatialMaxUnpooling),
                               lambda: R(2, 2, 4, 4)),
    'nn.SpatialSubSampling': (lambda: nn.SpatialSubSampling(2, 2, 2, 1, 2), lambda: R(2, 2, 5, 5)),
    'nn.SpatialSubtractiveNormalization': (lambda: nn.SpatialSubtractiveNormalization(2, torch.ones(3)),
                                           lambda: R(2, 2, 5, 5)),
    'nn.FeatureLPPooling': (lambda: nn.FeatureLPPooling(2, 1, 2, True), lambda: R(2, 5, 3)),
    # temporal, volumetric, upsampling
    'nn.TemporalDynamicKMaxPooling': (lambda: nn.TemporalDynamicKMaxPooling(2, 0.5), lambda: R(2, 6, 3)),
    'nn.TemporalRowConvolution': (lambda: nn.TemporalRowConvolution(4, 3, 2), lambda: R(2, 7, 4)),
    'nn.TemporalSubSampling': (lambda: nn.TemporalSubSampling(3, 4, 2), lambda: R(8, 3)),
    'nn.UpSampling': (lambda: nn.UpSampling(2, 'linear'), lambda: R(2, 2, 3, 4)),
    'nn.PixelShuffle': (lambda: nn.PixelShuffle(2), lambda: R(2, 8, 2, 3)),
    'nn.VolumetricBatchNormalization': (lambda: nn.VolumetricBatchNormalization(2), lambda: R(2, 2, 3, 3, 3)),
    'nn.VolumetricDilatedConvolution': (lambda: nn.VolumetricDilatedConvolution(2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1,
                                                                                2, 2, 2), lambda: R(2, 2, 4, 4, 4)),
    'nn.VolumetricDilatedMaxPooling': (lambda: nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2),
                                       lambda: R(2, 2, 4, 4, 4)),
    'nn.VolumetricDropout': (lambda: nn.VolumetricDropout(0.5), lambda: R(2, 2, 3, 3, 3)),
    'nn.VolumetricFractionalMaxPooling': (lambda: nn.VolumetricFractionalMaxPooling(2, 2, 2, 3, 3, 3),
                                          lambda: R(2, 2, 5, 5, 5)),
    'nn.VolumetricFullConvolution': (lambda: nn.VolumetricFullConvolution(2, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1),
                                     lambda: R(2, 2, 3, 3, 3)),
    'nn.VolumetricMaxUnpooling': (lambda: _pool_unpool(nn.VolumetricMaxPooling(2, 2, 2), nn.VolumetricMaxUnpooling),
                                  lambda: R(2, 2, 4, 4, 4)),
    'nn.VolumetricReplicationPadding': (lambda: nn.VolumetricReplicationPadding(1, 0, 2, 1, 1, 1),
                                        lambda: R(2, 2, 3, 3, 3)),
    # tables
    'nn.CAddTensorTable': (lambda: nn.CAddTensorTable(), lambda: [R(2, 3), [R(2, 3, seed=1), R(2, 3, seed=2)]]),
    'nn.CriterionTable': (lambda: nn.CriterionTable(nn.AbsCriterion()), lambda: [R(2, 3), R(2, 3, seed=1)]),
    'nn.MixtureTable': (lambda: nn.MixtureTable(), lambda: [R(2, 3), [R(2, 4, seed=i + 1) for i in range(3)]]),
    'nn.ZipTable': (lambda: nn.ZipTable(), lambda: [[R(2), R(3)], [R(2, seed=1), R(3, seed=1)]]),
    'nn.ZipTableOneToMany': (lambda: nn.ZipTableOneToMany(), lambda: [R(2), [R(3), R(4)]]),
    'nn.DepthConcat': (lambda: nn.DepthConcat(1).add(nn.SpatialConvolution(2, 3, 1, 1))
                       .add(nn.SpatialConvolution(2, 2, 3, 3)), lambda: R(2, 2, 5, 5)),
    'nn.Inception': (lambda: nn.Inception({'inputSize': 3, 'outputSize': [4, 2], 'reduceSize': [2, 3, 2, 2]}),
                     lambda: R(2, 3, 7, 7)),
    # decorators
    'nn.Bottle': (lambda: nn.Bottle(nn.Linear(5, 2)), lambda: R(2, 3, 5)),
    'nn.Decorator': (lambda: nn.Decorator(nn.Linear(5, 3)), lambda: R(2, 5)),
    'nn.DontCast': (lambda: nn.DontCast(nn.Linear(4, 3).double(), True), lambda: R(2, 4)),
    'nn.GPU': (lambda: nn.GPU(nn.Linear(5, 3), 0), lambda: R(2, 5)),
    'nn.NaN': (lambda: nn.NaN(nn.Linear(5, 3)), lambda: R(2, 5)),
    'nn.Profile': (lambda: nn.Profile(nn.Tanh(), 2), lambda: R(2, 5)),
    'nn.WeightNorm': (lambda: nn.WeightNorm(nn.Linear(5, 3)), lambda: R(2, 5)),
    # misc modules
    'nn.CReLU': (lambda: nn.CReLU(1), lambda: R(3, 4)),
    'nn.Collapse': (lambda: nn.Collapse(2), lambda: R(3, 4, 5)),
    'nn.Constant': (lambda: nn.Constant(torch.DoubleTensor(R(2, 3)), 1), lambda: R(4, 5)),
    'nn.Convert': (lambda: nn.Convert('bchw', 'bf'), lambda: R(2, 3, 2, 2)),
    'nn.GatedLinearUnit': (lambda: nn.GatedLinearUnit(), lambda: R(3, 4)),
    'nn.GradientReversal': (lambda: nn.GradientReversal(0.7), lambda: R(3, 4)),
    'nn.Index': (lambda: nn.Index(1), lambda: [R(3, 4), np.array([3, 0, 3])]),
    'nn.L1Penalty': (lambda: nn.L1Penalty(0.1), lambda: R(3, 4)),
    'nn.LayerNormalization': (lambda: nn.LayerNormalization(5), lambda: R(3, 5)),
    'nn.MV': (lambda: nn.MV(), lambda: [R(2, 3, 4), R(2, 4, seed=1)]),
    'nn.MaskedSelect': (lambda: nn.MaskedSelect(), lambda: [R(3, 4), (R(3, 4, seed=4) > 0).astype(np.float64)]),
    'nn.Maxout': (lambda: nn.Maxout(4, 3, 2), lambda: R(3, 4)),
    'nn.OneHot': (lambda: nn.OneHot(5), lambda: np.array([[0, 4], [2, 1]])),
    'nn.PrintSize': (lambda: nn.PrintSize('here'), lambda: torch.DoubleTensor(R(3, 4))),    # passes its input on
    'nn.WhiteNoise': (lambda: nn.WhiteNoise(0.5, 2), lambda: R(3, 4)),
    'nn.ZeroGrad': (lambda: nn.ZeroGrad(), lambda: R(3, 4)),
    # linear kinds, sparse, Kmeans
    'nn.Cosine': (lambda: nn.Cosine(5, 3), lambda: R(2, 5)),
    'nn.IndexLinear': (lambda: nn.IndexLinear(11, 3, True),
                       lambda: [[torch.LongTensor([0, 4, 4]), torch.LongTensor([9])],
                                [torch.DoubleTensor([1.0, 2.0, -3.0]), torch.DoubleTensor([-1.5])]]),
    'nn.Kmeans': (lambda: nn.Kmeans(3, 2), lambda: R(10, 2)),
    'nn.LinearWeightNorm': (lambda: nn.LinearWeightNorm(5, 3), lambda: R(2, 5)),
    'nn.PartialLinear': (lambda: nn.PartialLinear(5, 4), lambda: R(2, 5)),
    'nn.SparseLinear': (lambda: nn.SparseLinear(6, 3),
                        lambda: [torch.DoubleTensor(e) for e in ([[0, 1.5], [4, -2.0]], [[5, 1.0]])]),
    'nn.WeightedEuclidean': (lambda: nn.WeightedEuclidean(5, 3), lambda: R(2, 5)),
    # nngraph
    'nn.gModule': (lambda: _small_gmodule(), lambda: [R(2, 3), R(2, 3, seed=1)]),
    'nn.ModuleFromCriterion': (lambda: nn.ModuleFromCriterion(nn.MSECriterion()),
                               lambda: [R(2, 3), R(2, 3, seed=1)]),
    'nngraph.JustElement': (lambda: nngraph.JustElement(), lambda: [R(2, 3)]),
    'nngraph.JustTable': (lambda: nngraph.JustTable(), lambda: R(2, 3)),
}


def _warns(make):
    """ModuleCriterion with a parametrized inputModule warns, as Torch7 does."""
    with pytest.warns(RuntimeWarning, match="doesn't support parameter updates"):
        return make()


def _pool_unpool(pool, unpool_cls):
    return nn.Sequential(pool, unpool_cls(pool))


def _small_gmodule():
    """Two inputs, fan-out and a parameter shared through clone: the graph and its nodes are saved too."""
    x, y = nn.Identity()(), nn.Identity()()
    lin = nn.Linear(3, 3)
    a = lin(x)
    b = lin.clone('weight', 'bias', 'gradWeight', 'gradBias')(y)
    h = nn.Tanh()(nn.CAddTable()([a, b])).annotate(name='h')
    return nn.gModule([x, y], [h, nn.CMulTable()([h, a])])

_X35 = R(3, 5)
_LABELS = np.array([1, 0, 4])
CRITERIONS = {
    'nn.AbsCriterion': (lambda: nn.AbsCriterion(), lambda: (R(3, 4), R(3, 4, seed=1))),
    'nn.BCECriterion': (lambda: nn.BCECriterion(), lambda: (1 / (1 + np.exp(-R(3, 4))), P(3, 4, seed=1) / 2)),
    'nn.ClassNLLCriterion': (lambda: nn.ClassNLLCriterion(None, True, 2),
                             lambda: (np.log(_softmax(_X35)), _LABELS)),
    'nn.CosineEmbeddingCriterion': (lambda: nn.CosineEmbeddingCriterion(0.1),
                                    lambda: ([R(3, 4), R(3, 4, seed=1)], np.array([1.0, -1.0, 1.0]))),
    'nn.CrossEntropyCriterion': (lambda: nn.CrossEntropyCriterion(), lambda: (_X35, _LABELS)),
    'nn.DistKLDivCriterion': (lambda: nn.DistKLDivCriterion(),
                              lambda: (np.log(_softmax(_X35)), _softmax(R(3, 5, seed=1)))),
    'nn.HingeEmbeddingCriterion': (lambda: nn.HingeEmbeddingCriterion(1), lambda: (P(3, 4), _sign(3, 4))),
    'nn.MSECriterion': (lambda: nn.MSECriterion(), lambda: (R(3, 4), R(3, 4, seed=1))),
    'nn.MarginCriterion': (lambda: nn.MarginCriterion(0.5), lambda: (R(3, 4), _sign(3, 4))),
    'nn.MarginRankingCriterion': (lambda: nn.MarginRankingCriterion(0.5),
                                  lambda: ([R(3), R(3, seed=1)], np.array([1.0, -1.0, 1.0]))),
    'nn.MultiCriterion': (lambda: nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion()),
                          lambda: (R(3, 4), R(3, 4, seed=1))),
    'nn.MultiLabelMarginCriterion': (lambda: nn.MultiLabelMarginCriterion(),
                                     lambda: (_X35, np.array([[3, 0, -1, -1, -1], [1, -1, -1, -1, -1],
                                                              [4, 2, 1, -1, -1]]))),
    'nn.MultiLabelSoftMarginCriterion': (lambda: nn.MultiLabelSoftMarginCriterion(),
                                         lambda: (_X35, (R(3, 5, seed=1) > 0).astype(float))),
    'nn.MultiMarginCriterion': (lambda: nn.MultiMarginCriterion(1, None, 0.5), lambda: (_X35, _LABELS)),
    'nn.ParallelCriterion': (lambda: nn.ParallelCriterion().add(nn.MSECriterion()).add(nn.AbsCriterion(), 2),
                             lambda: ([R(3, 4), R(3, 2)], [R(3, 4, seed=1), R(3, 2, seed=1)])),
    'nn.SmoothL1Criterion': (lambda: nn.SmoothL1Criterion(), lambda: (R(3, 4), R(3, 4, seed=1))),
    'nn.SoftMarginCriterion': (lambda: nn.SoftMarginCriterion(), lambda: (R(3, 4), _sign(3, 4))),
    'nn.ClassSimplexCriterion': (lambda: nn.ClassSimplexCriterion(3), lambda: (R(2, 3), np.array([0, 2]))),
    'nn.DistanceRatioCriterion': (lambda: nn.DistanceRatioCriterion(), lambda: ([R(4), R(4, seed=1)], None)),
    'nn.L1Cost': (lambda: nn.L1Cost(), lambda: (R(2, 3), None)),
    'nn.L1HingeEmbeddingCriterion': (lambda: nn.L1HingeEmbeddingCriterion(2.0),
                                     lambda: ([R(4), R(4, seed=1)], 1)),
    'nn.ModuleCriterion': (lambda: _warns(lambda: nn.ModuleCriterion(nn.MSECriterion(), nn.Linear(2, 2))),
                           lambda: (R(3, 2), R(3, 2, seed=1))),
    'nn.SpatialAutoCropMSECriterion': (lambda: nn.SpatialAutoCropMSECriterion(),
                                       lambda: (R(2, 2, 3, 3), R(2, 2, 5, 5, seed=1))),
    'nn.SpatialClassNLLCriterion': (lambda: nn.SpatialClassNLLCriterion(torch.DoubleTensor([1.0, 2.0, 0.5])),
                                    lambda: (R(2, 3, 2, 2), np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]]))),
    'nn.WeightedMSECriterion': (lambda: nn.WeightedMSECriterion(torch.DoubleTensor([1.0, 3.0])),
                                lambda: (R(3, 2), R(3, 2, seed=1))),
}

# objects that are neither module nor criterion: constructed, saved, loaded, compared
OTHERS = {
    'nn.StochasticGradient': lambda: nn.StochasticGradient(nn.Linear(2, 1), nn.MSECriterion()),
}

# abstract bases: constructible, saved and loaded, but without a forward of their own
BASES = {'nn.Module', 'nn.Container', 'nn.Criterion'}


def rt(obj):
    return torch.deserialize(torch.serialize(obj))


# -- deep comparison of what was saved with what was loaded ----------------------------------------------------
# fields a class's .t7 fix drops on purpose (state rebuilt by the next forward or accumulation)
TRANSIENT = {'nn.IndexLinear': {'isFlat', 'noBatch', 'valuesBuffer', 'gradWeightBuffer'}}


# fields a read fix rebuilds from others, as Torch7's read does (WeightNorm's gradWeight: from gradV)
REBUILT = {'nn.WeightNorm': ('gradWeight', 'modules[0].gradWeight')}

# buffers that may be expand()ed views, loaded as contiguous copies (classes.py, spatial_norm.py's read fixes)
OVERLAPPING = ('output', 'gradInput', 'coef', 'localsums', 'adjustedsums', 'localstds', 'adjustedstds',
               'thresholdedstds')


def _saved_fields(obj):
    skip = TRANSIENT.get(getattr(obj, '__torch_name__', None), ())
    return {k: v for k, v in obj.__dict__.items() if (not k.startswith('_') or k == '_type') and k not in skip}


_PLAIN_KEYS = (str, int, float, bool)


def assert_same(a, b, path, storages, skip=frozenset()):
    if path in skip:
        return
    if isinstance(a, (TypedObject, list, dict, graph.Node, graph.Edge, graph.Graph)):
        # an object reached twice (a module in two places, nngraph's nodes and their data) is one object after
        # loading too; compared once
        seen = storages.setdefault(('obj', id(a)), (a, b))[1]
        assert seen is b, f"{path}: an object shared in the original is not shared in the copy"
        if storages.setdefault(('done', id(a)), False):
            return
        storages[('done', id(a))] = True
    if isinstance(a, Tensor):
        assert type(b) is type(a), f"{path}: {type(b).__name__} != {type(a).__name__}"
        assert a.shape == b.shape, f"{path}: size {b.shape} != {a.shape}"
        assert a.nElement() == 0 or a._a.tobytes() == b._a.tobytes(), f"{path}: values differ"
        if a.nElement() and _overlaps(a) and re.search(rf'\.({"|".join(OVERLAPPING)})(\[\d+\])*$', path):
            # an overlapping buffer (Replicate's expand()ed output) loads as a contiguous copy: see classes.py
            assert b.isContiguous() and not _overlaps(b), f"{path}: an overlapping buffer loaded as a view"
        elif a.nElement():
            assert a.stride() == b.stride() and a.storageOffset() == b.storageOffset(), f"{path}: geometry"
            _same_storage(a.storage(), b.storage(), path, storages)
    elif isinstance(a, Storage):
        assert type(b) is type(a) and a._data.tobytes() == b._data.tobytes(), f"{path}: storage differs"
        _same_storage(a, b, path, storages)
    elif isinstance(a, TypedObject):                 # modules and criterions
        assert type(b) is type(a), f"{path}: {type(b).__name__} != {type(a).__name__}"
        fa, fb = _saved_fields(a), _saved_fields(b)
        skip = skip | {f"{path}.{rel}" for rel in REBUILT.get(a.__torch_name__, ())}
        assert set(fa) == set(fb), f"{path}: fields {sorted(set(fa) ^ set(fb))} differ"
        idx = type(a)._lua_index_fields
        for k in fa:
            # an index field is written 1-based, as a copy: a tensor it shares with another field is not shared in
            # the file (nor after loading)
            assert_same(fa[k], fb[k], f"{path}.{k}", {} if k in idx else storages, skip)
        assert b._tinfo is a._tinfo and b._tcls is a._tcls, f"{path}: type caches"
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: {b!r} != {a!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]", storages, skip)
    elif isinstance(a, dict):
        assert isinstance(b, dict), f"{path}: {b!r} != {a!r}"
        plain = [k for k in a if isinstance(k, _PLAIN_KEYS)]
        assert set(plain) == {k for k in b if isinstance(k, _PLAIN_KEYS)}, f"{path}: {b!r} != {a!r}"
        for k in plain:
            assert_same(a[k], b[k], f"{path}[{k!r}]", storages, skip)
        # objects as keys (nngraph's reverseMap; Lua's tables as table keys): in the order they were written
        ka = [(k, v) for k, v in a.items() if not isinstance(k, _PLAIN_KEYS)]
        kb = [(k, v) for k, v in b.items() if not isinstance(k, _PLAIN_KEYS)]
        assert len(ka) == len(kb), f"{path}: {len(kb)} object keys != {len(ka)}"
        for i, ((k1, v1), (k2, v2)) in enumerate(zip(ka, kb)):
            assert_same(k1, k2, f"{path}<key {i}>", storages, skip)
            assert_same(v1, v2, f"{path}<value {i}>", storages, skip)
    elif isinstance(a, (graph.Node, graph.Edge, graph.Graph)):
        assert type(b) is type(a), f"{path}: {type(b).__name__} != {type(a).__name__}"
        fa = {k: v for k, v in a.__dict__.items() if not k.startswith('_')}
        fb = {k: v for k, v in b.__dict__.items() if not k.startswith('_')}
        assert set(fa) == set(fb), f"{path}: fields {sorted(set(fa) ^ set(fb))} differ"
        for k in fa:
            assert_same(fa[k], fb[k], f"{path}.{k}", storages, skip)
    elif isinstance(a, float) and a != a:
        assert b != b, f"{path}: {b!r} != nan"
    else:
        assert a == b and (a is None) == (b is None), f"{path}: {b!r} != {a!r}"
        assert isinstance(a, bool) == isinstance(b, bool), f"{path}: {b!r} != {a!r}"


def _same_storage(sa, sb, path, storages):
    """Storages shared before are shared after (and only those)."""
    seen = storages.setdefault(id(sa), (sa, sb))[1]
    assert seen is sb, f"{path}: a storage shared in the original is not shared in the copy"


def _snap(x):
    if isinstance(x, Tensor):
        return x.numpy().copy()
    if isinstance(x, (list, tuple)):
        return [_snap(e) for e in x]
    return x


def _rand_like(x, seed):
    if isinstance(x, (int, float)):                  # CriterionTable's loss
        return 1.0
    if isinstance(x, Tensor):        # a tensor as Lua's gradOutput (PrintSize passes it on as its gradInput)
        return torch.DoubleTensor(R(*x.shape, seed=seed) if x.nElement() else np.zeros(0))
    return [_rand_like(e, seed + i + 1) for i, e in enumerate(x)]


def _equal(a, b, what):
    if isinstance(a, list):
        assert len(a) == len(b), what
        for x, y in zip(a, b):
            _equal(x, y, what)
    else:
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=what)


def _run_module(m, x, go=None):
    torch.manualSeed(7)
    out = _snap(m.forward(x))
    if go is None:
        go = _rand_like(m.output, 11)
    m.zeroGradParameters()
    gi = _snap(m.backward(x, go))
    grads = [_snap(g) for g in m.parameters()[1]]
    return out, go, gi, grads


def _ours():
    """luatorch_py's classes in nn.REGISTRY (users' classes register too: other test files define some)."""
    return sorted(k for k, c in nn.REGISTRY.items() if _builtin(c))


@pytest.mark.parametrize('name', _ours())
def test_io(name, tmp_path):
    cls = nn.REGISTRY[name]
    if name in BASES:
        obj = cls()
        assert_same(obj, rt(obj), 'obj', {})
        return
    if name in MODULES:
        make, inp = MODULES[name]
        m = make().double()
        x = inp()
        out, go, gi, grads = _run_module(m, x)
        path = str(tmp_path / 'm.t7')
        torch.save(path, m)
        m2 = torch.load(path)
        assert_same(m, m2, 'obj', {})
        assert repr(m2) == repr(m)
        out2, _, gi2, grads2 = _run_module(m2, x, go)
        _equal(out, out2, f'{name}: forward after load')
        _equal(gi, gi2, f'{name}: backward after load')
        _equal(grads, grads2, f'{name}: parameter gradients after load')
        # the ascii encoding too
        m3 = torch.deserialize(torch.serialize(m2, 'ascii'), 'ascii')
        assert_same(m2, m3, 'obj', {})
        return
    if name in CRITERIONS:
        make, inp = CRITERIONS[name]
        c = make().double()
        x, t = inp()
        loss = c.forward(x, t)
        gi = _snap(c.backward(x, t))
        c2 = rt(c)
        assert_same(c, c2, 'obj', {})
        assert c2.forward(x, t) == loss
        _equal(gi, _snap(c2.backward(x, t)), f'{name}: backward after load')
        return
    if name in OTHERS:
        obj = OTHERS[name]()
        assert_same(obj, rt(obj), 'obj', {})
        return
    pytest.fail(f"{name} is not in the constructor table of tests/serialization/test_t7_modules.py "
                f"(MODULES / CRITERIONS / OTHERS): add it there")


def test_the_table_covers_the_registry():
    """Every class of nn.REGISTRY has an entry (test_io fails for one that has not), and no entry is stale."""
    table = set(MODULES) | set(CRITERIONS) | set(OTHERS) | BASES
    ours = set(_ours())
    assert sorted(table - ours) == [], "names in the table but not in nn.REGISTRY"
    assert sorted(ours - table) == []
    assert len(ours) >= 190 + 4     # torch/nn's 190, nngraph's gModule, ModuleFromCriterion, JustElement, JustTable


def test_float_modules_keep_their_type():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).float()
    m2 = rt(m)
    assert m2._type == 'torch.FloatTensor' and m2.modules[0].weight.type() == 'torch.FloatTensor'
    x = R(2, 4).astype(np.float32)
    np.testing.assert_array_equal(m2.forward(x).numpy(), m.forward(x).numpy())


def test_shared_parameters_stay_shared():
    a = nn.Linear(3, 3)
    b = a.clone('weight', 'bias', 'gradWeight', 'gradBias')
    net = nn.Sequential(a, nn.Tanh(), b)
    net2 = rt(net)
    w0, w2 = net2.modules[0].weight, net2.modules[2].weight
    assert w0.storage() is w2.storage()
    # getParameters' flat views: one storage for all after loading
    p, g = net.getParameters()
    net3 = rt({'net': net, 'p': p, 'g': g})
    assert net3['net'].modules[0].weight.storage() is net3['p'].storage()
    assert net3['net'].modules[0].gradBias.storage() is net3['g'].storage()


def test_module_referenced_twice_is_one_object():
    lin = nn.Linear(2, 2)
    r = rt({'a': lin, 'b': nn.Sequential(lin)})
    assert r['a'] is r['b'].modules[0]


def test_optim_state_round_trip():
    from luatorch_py import optim
    x = torch.DoubleTensor(R(5))

    def f(x):
        return float((x.numpy() ** 2).sum()), torch.DoubleTensor(2 * x.numpy())

    for method, cfg in [(optim.sgd, {'learningRate': 0.1, 'momentum': 0.9}), (optim.adam, {'learningRate': 0.1}),
                        (optim.lbfgs, {'maxIter': 3}), (optim.adagrad, {}), (optim.rmsprop, {})]:
        state = {}
        method(f, x.clone(), cfg, state)
        for obj in (cfg, state):
            if obj:
                assert_same(obj, rt(obj), method.__name__, {})


# -- files from older Torch7 versions (built by hand: the fields table Lua would have written) ---------------------
def lua_object(name, fields, version=1):
    """The bytes of a torch object of class ``name`` with that fields table (reference index 1000: distinct from
    the 1, 2, ... that torch.serialize gives the table and tensors inside)."""
    import struct
    v, n = f'V {version}'.encode(), name.encode()
    return (struct.pack('<ii', 4, 1000) + struct.pack('<i', len(v)) + v + struct.pack('<i', len(n)) + n
            + torch.serialize(fields))


def test_old_batchnorm_running_std():
    std = torch.DoubleTensor([0.5, 2.0, 1.0])
    fields = {'running_mean': torch.DoubleTensor([0.1, 0.2, 0.3]), 'running_std': std, 'eps': 1e-5,
              'momentum': 0.1, 'affine': True, 'weight': torch.DoubleTensor([1, 1, 1]),
              'bias': torch.DoubleTensor([0, 0, 0]), 'gradWeight': torch.DoubleTensor(3),
              'gradBias': torch.DoubleTensor(3), 'train': False, '_type': 'torch.DoubleTensor'}
    for name in ('nn.BatchNormalization', 'nn.SpatialBatchNormalization'):
        bn = torch.deserialize(lua_object(name, fields, version=1))
        assert 'running_std' not in bn.__dict__
        np.testing.assert_allclose(bn.running_var.numpy(), std.numpy() ** -2 - 1e-5, rtol=1e-15)
        # version 2 files are taken as they are
        bn2 = torch.deserialize(lua_object(name, dict(fields, running_var=std), version=2))
        assert bn2.running_var.tolist() == std.tolist()
    x = R(4, 3)
    bn = torch.deserialize(lua_object('nn.BatchNormalization', fields, version=1))
    want = (x - [0.1, 0.2, 0.3]) / np.sqrt(std.numpy() ** -2)
    np.testing.assert_allclose(bn.forward(x).numpy(), want, rtol=1e-9)
    assert torch.serialize(bn).count(b'V 2') == 1                     # written back as version 2


def test_old_dropout_convolution_pooling_lookup():
    d = torch.deserialize(lua_object('nn.Dropout', {'p': 0.5, 'train': False}))
    assert d.v2 is False                                              # nil v2: Torch7's v1 scaling
    np.testing.assert_allclose(d.forward(np.ones((2, 2))).numpy(), 0.5)
    w = torch.DoubleTensor(R(2, 4))
    conv = torch.deserialize(lua_object('nn.SpatialConvolution', {
        'nInputPlane': 1, 'nOutputPlane': 2, 'kW': 2, 'kH': 2, 'dW': 1, 'dH': 1, 'padding': 0, 'weight': w,
        'bias': torch.DoubleTensor([0, 0]), 'gradWeight': torch.DoubleTensor(2, 4).zero(),
        'gradBias': torch.DoubleTensor(2).zero(), 'train': True}))
    assert conv.weight.shape == (2, 1, 2, 2) and (conv.padW, conv.padH) == (0, 0) and 'padding' not in conv.__dict__
    x = R(1, 3, 3)
    y = conv.forward(x).numpy()
    np.testing.assert_allclose(y[:, 0, 0], w.numpy() @ x[0, :2, :2].reshape(-1), rtol=1e-12)
    pool = torch.deserialize(lua_object('nn.SpatialAveragePooling', {'kW': 2, 'kH': 2, 'dW': 2, 'dH': 2}))
    assert (pool.padW, pool.padH, pool.ceil_mode, pool.count_include_pad, pool.divide) == (0, 0, False, True, False)
    np.testing.assert_allclose(pool.forward(np.ones((1, 2, 2))).numpy(), 4)    # old files: sums
    lt = torch.deserialize(lua_object('nn.LookupTable', {'weight': torch.DoubleTensor(R(4, 2)), 'paddingValue': 0}))
    assert lt.paddingValue == -1
    mp = torch.deserialize(lua_object('nn.SpatialMaxPooling', {'kW': 2, 'kH': 2, 'dW': 2, 'dH': 2,
                                                               'indices': torch.LongTensor([[[1, 4]]])}))
    assert mp.indices.tolist() == [[[0, 3]]]                          # 1-based in Lua
    assert mp._type == 'torch.DoubleTensor' and mp.train is True


def test_old_fields_torch7_fills_in():
    # fields added in 2015 whose nil Torch7's methods read as the old default: an old file loads and computes as Lua's
    x = torch.DoubleTensor([[-3.0, 0.05, 0.5, 3.0]])
    th = torch.deserialize(lua_object('nn.Threshold', {'threshold': 0.1, 'val': -1}))      # no `inplace`
    assert th.inplace is False and th.forward(x).tolist() == [[-1.0, -1.0, 0.5, 3.0]]
    ht = torch.deserialize(lua_object('nn.HardTanh', {}))                                  # no min_val/max_val
    assert ht.forward(x).tolist() == [[-1.0, 0.05, 0.5, 1.0]]
    assert ht.backward(x, torch.ones(1, 4).double()).tolist() == [[0.0, 1.0, 1.0, 0.0]]
    sq = torch.deserialize(lua_object('nn.Sqrt', {}))                                      # no `eps`
    assert sq.forward(torch.DoubleTensor([4.0, 9.0])).tolist() == [2.0, 3.0]
    l1 = torch.deserialize(lua_object('nn.L1Penalty', {'l1weight': 0.5, 'sizeAverage': False}))  # no provideOutput
    l1.forward(x)
    assert l1.backward(x, torch.ones(1, 4).double()).tolist() == [[-0.5, 0.5, 0.5, 0.5]]       # without gradOutput
    # criterions from before batch mode (no sizeAverage): HingeEmbedding averages, CosineEmbedding sums
    hinge = torch.deserialize(lua_object('nn.HingeEmbeddingCriterion', {'margin': 1,
                                                                        'gradInput': torch.DoubleTensor(1)}))
    a, y = torch.DoubleTensor([0.3, 2.0, 0.5]), torch.DoubleTensor([1, -1, -1])
    assert hinge.forward(a, y) == pytest.approx((0.3 + 0 + 0.5) / 3)
    np.testing.assert_allclose(hinge.backward(a, y).numpy(), [1 / 3, 0, -1 / 3])
    cos = torch.deserialize(lua_object('nn.CosineEmbeddingCriterion', {'margin': 0.1, 'w1': 0.5, 'w22': 1.0}))
    a1, a2 = R(3, 4), R(3, 4, seed=1)
    c = (a1 * a2).sum(1) / np.sqrt((a1 * a1).sum(1) * (a2 * a2).sum(1))
    want = (1 - c[0]) + max(0.0, c[1] - 0.1) + (1 - c[2])
    assert cos.forward([a1, a2], torch.DoubleTensor([1, -1, 1])) == pytest.approx(want, rel=1e-12)


def test_old_sparse_linear():
    # before 2016 SparseLinear had no doGradInput nor sparseUpdate: Torch7 reads nil as no gradInput and dense updates
    w, b = torch.DoubleTensor(R(3, 6)), torch.DoubleTensor(R(3))
    m = torch.deserialize(lua_object('nn.SparseLinear', {'weight': w.clone(), 'bias': b.clone(), 'weightDecay': 0,
                                                         'gradWeight': torch.zeros(3, 6).double(),
                                                         'gradBias': torch.zeros(3).double()}))
    assert m.doGradInput is False and m.sparseUpdate is None
    x = torch.DoubleTensor([[1, 1.5], [5, -2.0]])
    np.testing.assert_allclose(m.forward(x).numpy(), w.numpy()[:, 1] * 1.5 - 2 * w.numpy()[:, 5] + b.numpy())
    m.backward(x, torch.DoubleTensor([1.0, 2.0, 3.0]))
    m.updateParameters(0.1)
    np.testing.assert_allclose(m.weight.numpy()[:, 5], w.numpy()[:, 5] + 0.2 * np.array([1.0, 2.0, 3.0]))


def test_old_volumetric_max_pooling_floors():
    # Lua's VolumetricMaxPooling:read sets ceil_mode = false in version 1 files; cudnn's own class (cudnn._Pooling3D,
    # not a subclass of nn's, always version 1) keeps it
    fields = {'kT': 2, 'kW': 2, 'kH': 2, 'dT': 2, 'dW': 2, 'dH': 2, 'padT': 0, 'padW': 0, 'padH': 0,
              'ceil_mode': True}
    x = R(1, 3, 3, 3)
    v1 = torch.deserialize(lua_object('nn.VolumetricMaxPooling', fields, version=1))
    assert v1.ceil_mode is False
    np.testing.assert_array_equal(v1.forward(x).numpy(), x[:, :2, :2, :2].max().reshape(1, 1, 1, 1))
    assert torch.deserialize(lua_object('nn.VolumetricMaxPooling', fields, version=2)).forward(x).shape == (1, 2, 2, 2)
    cudnn = torch.deserialize(lua_object('cudnn.VolumetricMaxPooling', fields, version=1))
    assert cudnn.ceil_mode is True and cudnn.forward(x).shape == (1, 2, 2, 2)


def test_lua_underscore_fields_are_dropped():
    m = torch.deserialize(lua_object('nn.Tanh', {'_input': torch.DoubleTensor(2), '_type': 'torch.FloatTensor',
                                                 'output': torch.FloatTensor()}))
    assert '_input' not in m.__dict__ and m._type == 'torch.FloatTensor' and m._tcls is torch.FloatTensor


def test_buffers_lua_reads_without_making_them_are_written():
    # Lua's constructors make these and its methods use them unguarded ("attempt to index field ... (a nil value)"
    # on the file without them): Add's batched forward, Padding's forward, SpatialFullConvolution's backward of an
    # [input, target] input, ClassSimplexCriterion's forward, MaskedSelect's backward and type()
    from luatorch_py.serialization import classes
    add = nn.Add(4)
    add.forward(R(3, 4))
    f = classes.lua_fields(add)
    assert type(f['_ones']) is torch.DoubleTensor and f['_ones'].tolist() == [1.0]
    pad = nn.Padding(1, 2)
    pad.forward(R(3, 4))
    assert type(classes.lua_fields(pad)['outputSize']) is torch.LongStorage
    conv = nn.SpatialFullConvolution(3, 2, 3, 3).float()
    f = classes.lua_fields(conv)
    assert type(f['ones']) is torch.FloatTensor and f['ones'].nElement() == 0
    crit = nn.ClassSimplexCriterion(3)
    assert type(classes.lua_fields(crit)['_target']) is torch.DoubleTensor
    f = classes.lua_fields(nn.MaskedSelect().float())
    assert [type(f[k]) for k in ('_maskIndices', '_maskIndexBuffer', '_maskIndexBufferCPU', '_gradBuffer',
                                 '_gradMask')] == [torch.LongTensor, torch.LongTensor, torch.FloatTensor,
                                                   torch.FloatTensor, torch.ByteTensor]
    # a Lua file's own values are written back as they came; the `_` buffers are dropped on loading, as Lua's others
    lua_pad = torch.deserialize(lua_object('nn.Padding', {'dim': 2, 'pad': 1, 'value': 0, 'index': 1,
                                                          'outputSize': torch.LongStorage([3, 5])}))
    assert classes.lua_fields(lua_pad)['outputSize'].tolist() == [3, 5]
    back = torch.deserialize(torch.serialize(add))
    assert '_ones' not in back.__dict__
    np.testing.assert_array_equal(back.forward(np.ones((2, 4))).numpy(), add.forward(np.ones((2, 4))).numpy())


def test_class_versions_are_torch7s():
    # Lua's VolumetricMaxPooling:read sets ceil_mode = false in files of version 1: a ceil-mode pooling saved as
    # V 1 computed smaller outputs in Lua
    def version(m):
        return torch.serialize(m)[12:15]      # after the type tag, the reference index and the string's length
    assert version(nn.VolumetricMaxPooling(2, 2, 2).ceil()) == b'V 2'
    assert version(nn.LookupTable(5, 2)) == b'V 4'
    assert version(nn.VolumetricDilatedMaxPooling(2, 2, 2)) == b'V 1'     # its own version: 1, as in Lua
    assert version(nn.Linear(2, 2)) == b'V 1'
    assert torch.deserialize(torch.serialize(nn.VolumetricMaxPooling(2, 2, 2).ceil())).ceil_mode is True


def test_class_nll_ignore_index_of_lua_padding_targets():
    # Lua's padding idiom, target 0 with ignoreIndex 0, is target -1 here (targets shift by one): a Lua file's 0 loads
    # as -1 (it stayed 0 and ignored Python's class 0, Lua's class 1) and -1 is written back as 0
    from luatorch_py.serialization import classes
    c = nn.ClassNLLCriterion(None, True, -1)
    assert classes.lua_fields(c)['ignoreIndex'] == 0
    back = torch.deserialize(torch.serialize(c))
    assert back.ignoreIndex == -1
    x = nn.LogSoftMax().forward(torch.DoubleTensor(np.log([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])))
    assert back.forward(x, torch.LongTensor([0, -1])) == pytest.approx(-np.log(0.5))
    for py, lua in ((2, 3), (0, 1), (-100, -100)):       # the others as before
        c = nn.ClassNLLCriterion(None, True, py)
        assert classes.lua_fields(c)['ignoreIndex'] == lua
        assert torch.deserialize(torch.serialize(c)).ignoreIndex == py
    ce = torch.deserialize(torch.serialize(nn.CrossEntropyCriterion(None, True, -1)))
    assert ce.nll.ignoreIndex == -1
