"""optim's fused CUDA updates (backend/gpu_optim.py): each algorithm's update is one kernel over the flat parameter
vector (+ one tiny launch advancing a device copy of its step counter where the update reads one), giving the CPU's
numbers and state, with 0 syncs and 0 allocations a step, and captured steps (cutorch.captureStep) replaying the
eager loop's numbers and host counters.

gpu-marked: they run on a device, and on every CI run against tests/fakecupy, whose counters count launches."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim, cutorch
from launch_counters import counters

pytestmark = pytest.mark.gpu

N = 37                                  # odd: no size the kernels could assume
_rng = np.random.default_rng(7)
_M = _rng.standard_normal((N, N))
A = _M @ _M.T / N + np.eye(N)           # symmetric positive definite
B = _rng.standard_normal(N)
X0 = _rng.standard_normal(N)

# every option each algorithm has, nonzero; (config, launches per step of the update alone)
CASES = {
    'adam': ({'learningRate': 0.05, 'learningRateDecay': 0.1, 'weightDecay': 0.01, 'beta1': 0.8, 'beta2': 0.99,
              'epsilon': 1e-6}, 2),
    'adamax': ({'learningRate': 0.05, 'beta1': 0.8, 'beta2': 0.99, 'epsilon': 1e-8}, 2),
    'adamax_wd': ({'learningRate': 0.05, 'beta1': 0.8, 'beta2': 0.99, 'epsilon': 1e-8, 'weightDecay': 0.01}, 2),
    'adagrad': ({'learningRate': 0.1, 'learningRateDecay': 0.2, 'weightDecay': 0.01}, 2),
    'adagrad_nodecay': ({'learningRate': 0.1, 'weightDecay': 0.01}, 1),     # the counter is not read: no count
    'adadelta': ({'rho': 0.8, 'eps': 1e-4, 'weightDecay': 0.01}, 1),
    'rmsprop': ({'learningRate': 0.01, 'alpha': 0.9, 'epsilon': 1e-6, 'weightDecay': 0.01, 'initialMean': 0.5}, 1),
    'nag': ({'learningRate': 0.05, 'learningRateDecay': 0.1, 'weightDecay': 0.01, 'momentum': 0.7}, 2),
    'asgd': ({'eta0': 0.1, 'lambda': 0.01, 'alpha': 0.75, 't0': 2}, 2),        # mu_t != 1 from the 4th step
    'rprop': ({'stepsize': 0.05, 'etaplus': 1.3, 'etaminus': 0.4, 'stepsizemax': 0.2, 'stepsizemin': 1e-3,
               'niter': 1}, 1),
}
HOST_COUNTERS = ('t', 'evalCounter', 'eta_t', 'mu_t')


def algorithm(name):
    return getattr(optim, name.split('_')[0])


def problem(tname):
    """opfunc of f(x) = 0.5 x'Ax - b'x on x's device: the gradient Ax - b into a kept tensor, f returned as 0 (a
    number would need a device->host read), so that a step can be captured."""
    a = torch.DoubleTensor(A).type(tname)
    b = torch.DoubleTensor(B).type(tname)
    g = torch.DoubleTensor(N).type(tname)

    def opfunc(x):
        g.mv(a, x).add(-1, b)
        return 0.0, g
    return opfunc


def host(t):
    return t.double().numpy() if not t.is_cuda() else t.cpu().double().numpy()


def check_state(state, ref, rtol, atol):
    """Every tensor and number Torch7's algorithm keeps in its state (private device counters aside)."""
    keys = sorted(k for k in ref if not k.startswith('_'))
    assert sorted(k for k in state if not k.startswith('_')) == keys
    for k in keys:
        v, r = state[k], ref[k]
        if isinstance(r, torch.Tensor):
            np.testing.assert_allclose(host(v), host(r), rtol=rtol, atol=atol, err_msg=k)
        elif k in HOST_COUNTERS:
            assert v == pytest.approx(r, rel=1e-15), k


@pytest.mark.parametrize('name', sorted(CASES))
@pytest.mark.parametrize('double', [True, False], ids=['double', 'float'])
def test_fused_update_gives_the_cpu_numbers_and_state(name, double):
    config, _ = CASES[name]
    ctype, cuda_type = (('torch.DoubleTensor', 'torch.CudaDoubleTensor') if double
                        else ('torch.FloatTensor', 'torch.CudaTensor'))
    rtol, atol = (1e-12, 1e-14) if double else (2e-5, 1e-6)
    fn = algorithm(name)
    ref, x = torch.DoubleTensor(X0).type(ctype), torch.DoubleTensor(X0).type(cuda_type)
    ref_cfg, cfg = dict(config), dict(config)
    ref_op, op = problem(ctype), problem(cuda_type)
    for step in range(7):
        fn(ref_op, ref, ref_cfg)
        fn(op, x, cfg)
        np.testing.assert_allclose(host(x), host(ref), rtol=rtol, atol=atol, err_msg=f'step {step}')
    assert x.type() == cuda_type
    check_state(cfg, ref_cfg, rtol, atol)
    if name == 'asgd':
        assert ref_cfg['mu_t'] != 1          # the averaging branch ran


@pytest.mark.parametrize('name', sorted(CASES))
def test_a_steady_update_is_one_kernel_no_sync_no_allocation(name):
    """Launches around the update only: the opfunc returns a precomputed gradient."""
    c = counters()
    config, launches = CASES[name]
    fn = algorithm(name)
    x = torch.DoubleTensor(X0).type('torch.CudaDoubleTensor')
    g = torch.DoubleTensor(A @ X0 - B).type('torch.CudaDoubleTensor')
    cfg = dict(config)
    for _ in range(3):
        fn(lambda p: (0.0, g), x, cfg)
    before = dict(c)
    fn(lambda p: (0.0, g), x, cfg)
    got = {k: c[k] - before[k] for k in ('launches', 'syncs', 'allocs')}
    assert got == {'launches': launches, 'syncs': 0, 'allocs': 0}
    assert launches <= 2


@pytest.mark.parametrize('name', sorted(CASES))
def test_captured_steps_replay_the_eager_numbers_and_counters(name):
    config, _ = CASES[name]
    fn = algorithm(name)
    runs = []
    for capture in (False, True):
        x = torch.DoubleTensor(X0).type('torch.CudaDoubleTensor')
        cfg = dict(config)
        op = problem('torch.CudaDoubleTensor')
        step = lambda: fn(op, x, cfg)  # noqa: E731 (run before the next loop turn rebinds op, x, cfg)
        run = cutorch.captureStep(step, inputs=(x,)) if capture else step
        for _ in range(7):
            run()
        if capture:
            assert run.graph is not None and run.replays == 5
        runs.append((x, cfg))
    (xa, ca), (xb, cb) = runs
    np.testing.assert_allclose(host(xb), host(xa), rtol=1e-12, atol=1e-14)
    check_state(cb, ca, 1e-12, 1e-14)
    for k in HOST_COUNTERS:
        if k in ca:
            assert cb[k] == ca[k], k
    assert ca.get('t', ca.get('evalCounter', 7)) == 7
    for k in ('t', 'evalCounter'):              # the device copies hold the host counters
        for cfg in (ca, cb):
            if cfg.get(f'_{k}OnDevice') is not None:
                assert cfg[f'_{k}OnDevice'] == cfg[k]
                assert int(cfg[f'_{k}Device'].cpu().numpy()[0]) == cfg[k]


def test_captured_adam_matches_the_cpu():
    """Captured replays (device counter) against the CPU's eager loop, not only against the GPU's."""
    config, _ = CASES['adam']
    ref, ref_cfg = torch.DoubleTensor(X0), dict(config)
    x, cfg = torch.DoubleTensor(X0).type('torch.CudaDoubleTensor'), dict(config)
    ref_op, op = problem('torch.DoubleTensor'), problem('torch.CudaDoubleTensor')
    run = cutorch.captureStep(lambda: optim.adam(op, x, cfg), warmup=1)
    for _ in range(6):
        optim.adam(ref_op, ref, ref_cfg)
        run()
    np.testing.assert_allclose(host(x), ref.numpy(), rtol=1e-12, atol=1e-14)
    assert cfg['t'] == ref_cfg['t'] == 6


@pytest.mark.parametrize('name,key', [('adam', 't'), ('adagrad', 'evalCounter'), ('nag', 'evalCounter'),
                                      ('asgd', 't')])
def test_a_counter_set_by_hand_reaches_the_device(name, key):
    config, _ = CASES[name]
    fn = algorithm(name)
    ref, x = torch.DoubleTensor(X0), torch.DoubleTensor(X0).type('torch.CudaDoubleTensor')
    ref_cfg, cfg = dict(config), dict(config)
    ref_op, op = problem('torch.DoubleTensor'), problem('torch.CudaDoubleTensor')
    for step in range(6):
        if step == 3:
            for c in (ref_cfg, cfg):
                c[key] = 1
                if name == 'asgd':          # eta_t, mu_t as step (5) leaves them after 1 step
                    c['eta_t'] = c['eta0'] / (1 + c['lambda'] * c['eta0'] * 1) ** c['alpha']
                    c['mu_t'] = 1 / max(1, 1 - c['t0'])
        fn(ref_op, ref, ref_cfg)
        fn(op, x, cfg)
    np.testing.assert_allclose(host(x), ref.numpy(), rtol=1e-12, atol=1e-14)
    assert cfg[key] == ref_cfg[key] == 4


def test_setting_the_counter_before_a_capture_raises():
    config, _ = CASES['adagrad']
    x, cfg = torch.DoubleTensor(X0).type('torch.CudaDoubleTensor'), dict(config)
    op = problem('torch.CudaDoubleTensor')
    run = cutorch.captureStep(lambda: optim.adagrad(op, x, cfg), warmup=1)
    run()
    cfg['evalCounter'] = 0
    with pytest.raises(cutorch.CaptureError, match='evalCounter'):
        run()


@pytest.mark.parametrize('name,extra', [
    ('nag', lambda: {'learningRates': torch.DoubleTensor(np.linspace(0.5, 1.5, N)).type('torch.CudaDoubleTensor')}),
    ('asgd', lambda: {'eta_t': 0.05}),                  # eta_t set by hand: used as it is
])
def test_what_the_kernels_do_not_take_falls_back(name, extra):
    config, _ = CASES[name]
    fn = algorithm(name)
    ref, x = torch.DoubleTensor(X0), torch.DoubleTensor(X0).type('torch.CudaDoubleTensor')
    more = extra()
    ref_cfg = dict(config, **{k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in more.items()})
    cfg = dict(config, **more)
    ref_op, op = problem('torch.DoubleTensor'), problem('torch.CudaDoubleTensor')
    for _ in range(4):
        fn(ref_op, ref, ref_cfg)
        fn(op, x, cfg)
    np.testing.assert_allclose(host(x), ref.numpy(), rtol=1e-12, atol=1e-14)


def test_non_contiguous_parameters_fall_back():
    config, _ = CASES['adam']
    ref = torch.DoubleTensor(X0[:36].reshape(6, 6)).t()
    x = torch.DoubleTensor(X0[:36].reshape(6, 6)).type('torch.CudaDoubleTensor').t()
    assert not x.isContiguous()
    ref_cfg, cfg = dict(config), dict(config)

    def opfunc(p):
        return 0.0, p.clone().mul(0.5).add(-0.25)
    for _ in range(3):
        optim.adam(opfunc, ref, ref_cfg)
        optim.adam(opfunc, x, cfg)
    np.testing.assert_allclose(host(x), host(ref), rtol=1e-12, atol=1e-14)


def test_fused_sgd_dampening_is_rounded_as_the_cpu_rounds_it():
    """The momentum buffer's gradient factor is (1 - dampening) computed in double and rounded to the tensor's
    type, as the CPU's buf:mul(mom):add(1 - damp, dfdx) (and Torch7's) rounds it; 1 - float(dampening) in
    float32 is one ulp off for many dampenings (0.09: 0.91000003 against 0.90999997)."""
    config = {'learningRate': 0.1, 'momentum': 0.9, 'dampening': 0.09}
    assert np.float32(1 - 0.09) != np.float32(1) - np.float32(0.09)
    g = _rng.standard_normal(N)
    ref, x = torch.DoubleTensor(X0).float(), torch.DoubleTensor(X0).type('torch.CudaTensor')
    gr, gx = torch.DoubleTensor(g).float(), torch.DoubleTensor(g).type('torch.CudaTensor')
    ref_cfg, cfg = dict(config), dict(config)
    for _ in range(3):          # the first step copies the gradient; the next two use the dampening
        optim.sgd(lambda p: (0.0, gr), ref, ref_cfg)
        optim.sgd(lambda p: (0.0, gx), x, cfg)
    np.testing.assert_array_equal(host(cfg['dfdx']), host(ref_cfg['dfdx']))
    np.testing.assert_array_equal(host(x), host(ref))


def test_fused_sgd_falls_back_when_the_momentum_buffer_does_not_fit():
    """A momentum buffer (state.dfdx) the kernel cannot index flat as x -- strided here -- is updated by the
    tensor code, as the other algorithms' state buffers are, not handed to the kernel (which would read and
    write it as a contiguous block of x's size)."""
    config = {'learningRate': 0.1, 'momentum': 0.9, 'dampening': 0.5}
    g = torch.DoubleTensor(A @ X0 - B)
    ref, x = torch.DoubleTensor(X0), torch.DoubleTensor(X0).type('torch.CudaDoubleTensor')
    ref_cfg = dict(config, dfdx=torch.DoubleTensor(2 * N).fill(0.25)[::2])
    cfg = dict(config, dfdx=torch.DoubleTensor(2 * N).fill(0.25).type('torch.CudaDoubleTensor')[::2])
    assert not cfg['dfdx'].isContiguous()
    gx = g.type('torch.CudaDoubleTensor')
    for _ in range(3):
        optim.sgd(lambda p: (0.0, g), ref, ref_cfg)
        optim.sgd(lambda p: (0.0, gx), x, cfg)
    np.testing.assert_allclose(host(x), host(ref), rtol=1e-15, atol=0)
    np.testing.assert_allclose(host(cfg['dfdx']), host(ref_cfg['dfdx']), rtol=1e-15, atol=0)
