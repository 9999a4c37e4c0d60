"""Hostile and edge inputs on the nn classes added with the Torch7 nn catalogue (the review of issue R11): each
error names the module, what it expected and what came; fixed paths give the right values."""
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import D, rnd, transient_peak

F = torch.FloatTensor


def R(*shape, seed=0):
    return D(rnd(*shape, seed=seed))


def noncontig(t):
    """A non-contiguous DoubleTensor holding t's values (every other element of a bigger storage)."""
    big = D(*(tuple(t._a.shape) + (2,))).zero()
    v = big.select(t.dim(), 0)
    v.copy(t)
    assert not v.isContiguous()
    return v


# -- backward before forward (or after clearState) --------------------------------------------------------------
@pytest.mark.parametrize('cls, what', [
    (nn.SpatialSubtractiveNormalization, 'local means'),
    (nn.SpatialDivisiveNormalization, 'local standard deviations'),
    (nn.SpatialContrastiveNormalization, 'output'),
])
def test_local_normalizations_backward_before_forward(cls, what):
    m = cls(3)
    x = R(2, 3, 7, 7)
    with pytest.raises(RuntimeError, match=re.escape(f'{m!r}: updateGradInput needs the {what} of a forward on an '
                                                     f'input of size [2, 3, 7, 7]; call forward first')):
        m.backward(x, R(2, 3, 7, 7))
    o = m.forward(x)
    assert tuple(m.backward(x, o.clone().fill(1))._a.shape) == (2, 3, 7, 7)
    if cls is not nn.SpatialContrastiveNormalization:     # a backward for another input size than the forward's
        with pytest.raises(RuntimeError, match='call forward first'):
            m.backward(R(1, 3, 7, 7), R(1, 3, 7, 7))


def test_module_criterion_backward_before_forward():
    c = nn.ModuleCriterion(nn.MSECriterion(), nn.Tanh())
    x, t = R(3), R(3, seed=1)
    with pytest.raises(RuntimeError, match=r"^nn.ModuleCriterion: updateGradInput needs the inputModule's output "
                                           r"of a forward; call forward first"):
        c.backward(x, t)
    c.forward(x, t)
    want = 2 / 3 * (np.tanh(x.numpy()) - t.numpy()) * (1 - np.tanh(x.numpy()) ** 2)
    np.testing.assert_allclose(c.backward(x, t).numpy(), want)


def test_gmodule_backward_before_forward():
    x1 = nn.Identity()()
    g = nn.gModule([x1], [nn.Tanh()(nn.Linear(3, 2)(x1))])
    with pytest.raises(RuntimeError, match=r'^nn.gModule: updateGradInput needs the node inputs of a forward; '
                                           r'call forward first'):
        g.backward(R(3), R(2))
    g.forward(R(3))
    assert tuple(g.backward(R(3), R(2)).size()) == (3,)


def test_cosine_backward_needs_forward():
    m = nn.Cosine(5, 3)
    x = R(2, 5)
    with pytest.raises(RuntimeError, match=re.escape('nn.Cosine(5 -> 3): backward needs the output of a forward on '
                                                     'an input of size [2, 5]; call forward first')):
        m.backward(x, R(2, 3))
    m.forward(x)
    g = m.backward(x, R(2, 3, seed=1)).clone()
    m.clearState()
    with pytest.raises(RuntimeError, match='call forward first'):
        m.backward(x, R(2, 3, seed=1))
    m.forward(x)
    np.testing.assert_allclose(m.backward(x, R(2, 3, seed=1)).numpy(), g.numpy())
    # a single example (1-D) still works (its output is [3], its gradOutput [3])
    m.forward(R(5))
    assert tuple(m.backward(R(5), R(3))._a.shape) == (5,)


def test_linear_weight_norm_backward_after_clear_state():
    torch.manualSeed(3)
    m = nn.LinearWeightNorm(5, 3)
    x, go = R(2, 5), R(2, 3, seed=1)
    m.forward(x)
    g = m.backward(x, go).clone()
    m.clearState()                      # drops weight (rebuilt from v and g)
    np.testing.assert_allclose(m.backward(x, go).numpy(), g.numpy())


def test_convert_backward_before_forward_and_after_clear_state():
    m = nn.Convert('bchw', 'bf')
    x = R(2, 3, 2, 2)
    with pytest.raises(RuntimeError, match=re.escape('nn.Convert(bchw, bf): backward needs the converter built by '
                                                     'a forward; call forward first')):
        m.backward(x, R(2, 12))
    np.testing.assert_array_equal(m.forward(x).numpy(), x.numpy().reshape(2, 12))
    m.clearState()
    go = R(2, 12, seed=1)
    np.testing.assert_array_equal(m.backward(x, go).numpy(), go.numpy().reshape(2, 3, 2, 2))


# -- wrong sizes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(3,), (2, 2, 3, 2, 2)])
def test_convert_wrong_number_of_dims(shape):
    size = ', '.join(map(str, shape))
    with pytest.raises(ValueError, match=re.escape(f'nn.Convert(bchw, bf): expected a 4-D input (bchw) or a 3-D '
                                                   f'example, got size [{size}]')):
        nn.Convert('bchw', 'bf').forward(R(*shape))


@pytest.mark.parametrize('module, shape', [
    (lambda: nn.Convert('bchw', 'bf'), (0, 3, 2, 2)),
    (lambda: nn.Convert('bchw', 'bf'), (0,)),
    (lambda: nn.VolumetricFractionalMaxPooling(2, 2, 2, 3, 3, 3), (0, 3, 6, 6, 6)),
])
def test_empty_input_names_the_module(module, shape):
    m = module()
    size = ', '.join(map(str, shape))
    with pytest.raises(ValueError, match='^' + re.escape(f'{m!r}: got an empty input (size [{size}])')):
        m.forward(D(*shape))


def test_linear_weight_norm_empty_batch_and_grad_size():
    m = nn.LinearWeightNorm(5, 3)
    gv = m.gradV.clone()
    x = D(0, 5)
    assert m.forward(x)._a.shape == (0, 3)           # as nn.Linear: an empty batch gives an empty output
    assert m.backward(x, D(0, 3))._a.shape == (0, 5)
    np.testing.assert_array_equal(m.gradV.numpy(), gv.numpy())
    x = R(5)
    m.forward(x)
    with pytest.raises(ValueError, match=re.escape('nn.LinearWeightNorm(5 -> 3): expected gradOutput of size [3], '
                                                   'got [1, 3]')):
        m.backward(x, D(1, 3))


@pytest.mark.parametrize('module', [lambda: nn.GradientReversal(0.5), lambda: nn.WhiteNoise()])
def test_identity_like_gradients_check_the_gradoutput(module):
    m = module()
    x = R(2, 5)
    m.forward(x)
    with pytest.raises(ValueError, match='^' + re.escape(f'{m!r}: gradOutput of size [2, 6] does not match input of '
                                                         f'size [2, 5]')):
        m.backward(x, R(2, 6))
    go = R(2, 5, seed=1)
    want = -0.5 * go.numpy() if isinstance(m, nn.GradientReversal) else go.numpy()
    np.testing.assert_allclose(m.backward(x, go).numpy(), want)


def test_cadd_tensor_table_gradoutput_size():
    m = nn.CAddTensorTable()
    x = [R(3), [R(3, seed=1), R(3, seed=2)]]
    m.forward(x)
    with pytest.raises(ValueError, match=re.escape('nn.CAddTensorTable: gradOutput[1] of size [4] does not match '
                                                   'input[0] of size [3]')):
        m.backward(x, [R(3), R(4)])
    g = m.backward(x, [R(3, seed=3), R(3, seed=4)])
    np.testing.assert_allclose(g[0].numpy(), R(3, seed=3).numpy() + R(3, seed=4).numpy())


def test_mixture_table_batch_mismatch():
    m = nn.MixtureTable()
    with pytest.raises(ValueError, match=re.escape("nn.MixtureTable: the gater's batch of 3 (size [3, 3]) does not "
                                                   "match experts of size [2, 4]")):
        m.forward([R(3, 3), [R(2, 4)] * 3])
    with pytest.raises(ValueError, match=re.escape("nn.MixtureTable: the gater's batch of 3 (size [3, 2]) does not "
                                                   "match experts of size [2, 2, 4]")):
        nn.MixtureTable().forward([R(3, 2), R(2, 2, 4)])
    # and a valid batch after the errors
    gate, e = R(2, 3).abs(), [R(2, 4, seed=k) for k in range(3)]
    want = sum(gate.numpy()[:, k:k + 1] * e[k].numpy() for k in range(3))
    np.testing.assert_allclose(m.forward([gate, e]).numpy(), want)


# -- float32 stays float32; another batch size; non-contiguous inputs -------------------------------------------
CASES = [
    ('SpatialConvolutionMap', lambda: nn.SpatialConvolutionMap(nn.tables.full(3, 4), 3, 3), (2, 3, 6, 6)),
    ('SpatialSubtractiveNormalization', lambda: nn.SpatialSubtractiveNormalization(3), (2, 3, 7, 7)),
    ('SpatialContrastiveNormalization', lambda: nn.SpatialContrastiveNormalization(3), (2, 3, 7, 7)),
    ('SpatialSubSampling', lambda: nn.SpatialSubSampling(3, 2, 2), (2, 3, 6, 6)),
    ('SpatialDepthWiseConvolution', lambda: nn.SpatialDepthWiseConvolution(3, 2, 3, 3), (2, 3, 6, 6)),
    ('VolumetricFullConvolution', lambda: nn.VolumetricFullConvolution(3, 2, 2, 2, 2), (2, 3, 3, 3, 3)),
    ('VolumetricReplicationPadding', lambda: nn.VolumetricReplicationPadding(1, 2, 1, 0, 2, 1), (2, 3, 3, 3, 3)),
    ('TemporalRowConvolution', lambda: nn.TemporalRowConvolution(4, 3), (2, 7, 4)),
    ('PixelShuffle', lambda: nn.PixelShuffle(2), (2, 8, 3, 3)),
    ('Cosine', lambda: nn.Cosine(5, 3), (2, 5)),
    ('LinearWeightNorm', lambda: nn.LinearWeightNorm(5, 3), (2, 5)),
    ('GatedLinearUnit', lambda: nn.GatedLinearUnit(), (2, 6)),
    ('Bottle', lambda: nn.Bottle(nn.Linear(5, 3)), (2, 4, 5)),
    ('Convert', lambda: nn.Convert('bchw', 'bf'), (2, 3, 2, 2)),
]


def _fb(m, x):
    o = m.forward(x)
    return o, m.backward(x, o.clone().fill(1))


@pytest.mark.parametrize('name, ctor, shape', CASES, ids=[c[0] for c in CASES])
def test_float_batch_sizes_and_noncontiguous(name, ctor, shape):
    torch.manualSeed(1)
    m = ctor()
    x = R(*shape)
    o, g = (t.clone() for t in _fb(m, x))
    # another batch size, then the first again: same values
    _fb(m, R(*((shape[0] + 1,) + shape[1:]), seed=2))
    o2, g2 = _fb(m, x)
    np.testing.assert_allclose(o2.numpy(), o.numpy())
    np.testing.assert_allclose(g2.numpy(), g.numpy())
    # a non-contiguous input gives the same values (Bottle refuses it, as Torch7's view does)
    if name == 'Bottle':
        with pytest.raises(ValueError, match=re.escape(f'{m!r}: the input of size [2, 4, 5] is not contiguous')):
            m.forward(noncontig(x))
        m.forward(x)
        return
    o3, g3 = _fb(m, noncontig(x))
    np.testing.assert_allclose(o3.numpy(), o.numpy())
    np.testing.assert_allclose(g3.numpy(), g.numpy())
    # float32 in, float32 out (output and gradInput)
    m.float()
    of, gf = _fb(m, x.float())
    assert of.type() == gf.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(of.numpy(), o.numpy(), rtol=1e-4, atol=1e-4)
    # and back to double (the parameters went through float32)
    m.double()
    np.testing.assert_allclose(m.forward(x).numpy(), o.numpy(), rtol=1e-5, atol=1e-6)


def test_fixed_paths_on_each_device(device):
    """The checks and rebuilt buffers above, on the device's tensors (nn code has no device branch)."""
    def on(x):
        return x.cuda() if device == 'cuda' else x
    torch.manualSeed(2)
    m = nn.LinearWeightNorm(5, 3)
    sn = nn.SpatialSubtractiveNormalization(3)
    gr = nn.GradientReversal(0.5)
    if device == 'cuda':
        m, sn, gr = m.cuda(), sn.cuda(), gr.cuda()
    x, go = on(R(2, 5)), on(R(2, 3, seed=1))
    m.forward(x)
    g = m.backward(x, go).clone()
    m.clearState()
    np.testing.assert_allclose(m.backward(x, go).float().numpy(), g.float().numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match='call forward first'):
        sn.backward(on(R(2, 3, 7, 7)), on(R(2, 3, 7, 7)))
    gr.forward(x)
    with pytest.raises(ValueError, match=r'gradOutput of size \[2, 3\] does not match input of size \[2, 5\]'):
        gr.backward(x, go)
    with pytest.raises(ValueError, match=r'got an empty input \(size \[0, 3, 6, 6, 6\]\)'):
        nn.VolumetricFractionalMaxPooling(2, 2, 2, 3, 3, 3).type(m.type()).forward(on(D(0, 3, 6, 6, 6)))


@pytest.mark.parametrize('label', [[1], None, 'a', True])
def test_l1_hinge_label_type(label):
    c = nn.L1HingeEmbeddingCriterion(0.5)
    x = [R(4), R(4, seed=1)]
    with pytest.raises(TypeError, match=r'^nn.L1HingeEmbeddingCriterion: expected a label \(1 or -1, a number or a '
                                        rf'one-element tensor\), got a {type(label).__name__}'):
        c.forward(x, label)
    d = np.abs(x[0].numpy() - x[1].numpy()).sum()
    assert c.forward(x, np.int64(1)) == pytest.approx(d)
    assert c.forward(x, D([-1])) == pytest.approx(max(0.0, 0.5 - d))


@pytest.mark.parametrize('shape', [(0,), (0, 4)])
def test_class_simplex_empty_input(shape):
    size = ', '.join(map(str, shape))
    with pytest.raises(ValueError, match=re.escape(f'nn.ClassSimplexCriterion: got an empty input (size [{size}])')):
        nn.ClassSimplexCriterion(4).forward(D(*shape), torch.LongTensor(0))


def test_stochastic_gradient_bad_datasets():
    def train(dataset):
        sg = nn.StochasticGradient(nn.Linear(3, 1), nn.MSECriterion())
        sg.maxIteration, sg.verbose = 1, False
        return sg.train(dataset)
    pair = (R(3), R(1, seed=1))
    with pytest.raises(KeyError, match=r"nn.StochasticGradient.train: dataset\[0\] failed \(KeyError\(0\)\): "
                                       r"examples are indexed 0 to 0 here \(Lua's datasets from 1\)"):
        train({1: pair})                                    # a Lua-style dataset, indexed from 1
    for bad, what in [(None, 'NoneType'), ((R(3),), 'tuple')]:
        with pytest.raises(TypeError, match=rf'^nn.StochasticGradient.train: dataset\[0\] should be an \(input, '
                                            rf'target\) pair, got a {what}'):
            train([bad])
    assert train({0: pair}) >= 0                            # 0-based keys work


@pytest.mark.parametrize('make, message', [
    (lambda: nn.Maxout(3, 2, 0), 'nn.Maxout: maxoutNumber must be > 0, got maxoutNumber=0'),
    (lambda: nn.OneHot(0), 'nn.OneHot: outputSize must be > 0, got outputSize=0'),
    (lambda: nn.SparseLinear(0, 3), 'nn.SparseLinear: inputSize must be > 0, got inputSize=0'),
    (lambda: nn.LayerNormalization(0), 'nn.LayerNormalization: nOutput must be > 0, got nOutput=0'),
    (lambda: nn.FeatureLPPooling(2, 1, 0), 'nn.FeatureLPPooling: power must be nonzero'),
])
def test_constructor_arguments(make, message):
    with pytest.raises(ValueError, match='^' + re.escape(message)):
        make()


def test_white_noise_std_must_be_positive():
    m = nn.WhiteNoise(0, 0)
    with pytest.raises(ValueError, match=re.escape(f"{m!r}: std must be > 0 (Torch7's normal draws), got 0")):
        m.forward(R(3))
    m.evaluate()                                    # no draws in evaluation: input + mean
    np.testing.assert_array_equal(m.forward(R(3)).numpy(), R(3).numpy())


@pytest.mark.parametrize('make, shape', [
    (lambda: nn.WeightedEuclidean(256, 32), (64, 256)),     # its (batch, in, out) differences: 2 MB in float32
    (lambda: nn.L1Penalty(0.1), (256, 1024)),
    (lambda: nn.Cosine(1024, 64), (256, 1024)),
    (lambda: nn.LinearWeightNorm(512, 256), (64, 512)),
], ids=['WeightedEuclidean', 'L1Penalty', 'Cosine', 'LinearWeightNorm'])
def test_steps_keep_their_scratch(make, shape):
    """After the first step no temporary of the size of the input (or of the batch x in x out differences)."""
    m = make().float()
    x = F(rnd(*shape).astype(np.float32))
    go = F(rnd(*m.forward(x)._a.shape, seed=5).astype(np.float32))

    def step():
        m.forward(x)
        m.zeroGradParameters()
        m.backward(x, go)
    peak = transient_peak(step)
    assert peak < 200_000, f"{m!r}: a forward/backward allocated {peak} bytes"


@pytest.mark.parametrize('crit', ['MSECriterion', 'AbsCriterion', 'SmoothL1Criterion', 'BCECriterion'])
def test_criterions_refuse_an_empty_batch(crit):
    """An empty input is the caller's bug: a clear error naming the criterion, not a ZeroDivisionError or NaN."""
    c = getattr(nn, crit)()
    with pytest.raises(ValueError, match=rf'{crit}.*empty input'):
        c.forward(torch.Tensor(0), torch.Tensor(0))
