"""The seed's two tutorials, run as written: the 2019 hello-world step and the 2017 XOR training loop."""
import os
import subprocess
import sys

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import backend, nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Lua Torch7's log for the 2017 tutorial (torch.manualSeed(1), default type Double, net:float())
LUA_XOR_LOG = [0.25187623500823975, 0.24817767739295959, 0.23180873692035675, 0.11541701108217239,
               0.022958260029554367, 0.010068695992231369, 0.0061246836557984352, 0.0043157986365258694,
               0.003299785079434514, 0.0026562165003269911, 0.0022148916032165289, 0.0018947774078696966]


def test_hello_world_one_step():
    net = nn.Sequential().add(nn.Linear(1, 1)).add(nn.Sigmoid()).add(nn.Linear(1, 1)).add(nn.Sigmoid())
    l1, l2 = net.get(0), net.get(2)
    l1.weight.fill(1.58); l1.bias.fill(-0.14); l2.weight.fill(2.45); l2.bias.fill(-0.11)
    x, y = torch.Tensor([[0.8]]), torch.Tensor([[1]])
    crit = nn.MSECriterion()
    out = net.forward(x)
    assert round(out[0][0], 4) == 0.8506
    net.zeroGradParameters()
    crit.forward(out, y)
    net.backward(x, crit.backward(out, y))
    net.updateParameters(0.1)
    got = [l1.weight[0][0], l1.bias[0], l2.weight[0][0], l2.bias[0]]
    assert [round(v, 4) for v in got] == [1.5814, -0.1383, 2.4529, -0.1062]
    assert round(net.forward(x)[0][0], 4) == 0.8515


def xor_log(seed=1, iterations=2400, dtype=np.float32):
    """The tutorial's script, verbatim apart from Python syntax."""
    torch.manualSeed(seed)
    net = nn.Sequential()
    net.add(nn.Linear(3, 4))
    net.add(nn.Sigmoid())
    net.add(nn.Linear(4, 1))
    net.add(nn.Sigmoid())
    net.float() if dtype == np.float32 else net.double()
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype)
    y = np.array([[0], [1], [1], [0]], dtype)
    crit = nn.MSECriterion()
    crit.float() if dtype == np.float32 else crit.double()
    log = []
    for i in range(iterations):
        net.zeroGradParameters()
        output = net.forward(x)
        loss = crit.forward(output, y)
        gradOutput = crit.backward(output, y)
        net.backward(x, gradOutput)
        net.updateParameters(1)
        if i % 200 == 0:
            log.append(loss)
    return log


def test_xor_tutorial_matches_lua_log():
    log = xor_log()
    assert len(log) == 12
    # at least 4 significant digits on every line
    np.testing.assert_allclose(log, LUA_XOR_LOG, rtol=5e-5)


def test_xor_tutorial_double_converges():
    log = xor_log(dtype=np.float64)
    assert log[0] == pytest.approx(LUA_XOR_LOG[0], rel=1e-4)
    assert log[-1] < 0.003


def xor_script(*args):
    """The losses scripts/xor.py prints (a line `error:<loss>` each)."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'xor.py'), *args], capture_output=True,
                       text=True, check=True)
    lines = r.stdout.split()
    assert all(line.startswith('error:') for line in lines)
    return [float(line[6:]) for line in lines]


def test_xor_script_prints_lua_log():
    log = xor_script()
    assert len(log) == 12
    np.testing.assert_allclose(log, LUA_XOR_LOG, rtol=5e-5)


def test_xor_script_options():
    log = xor_script('--seed', '2', '--iterations', '401', '--double')
    assert len(log) == 3
    assert log == pytest.approx(xor_log(seed=2, iterations=401, dtype=np.float64))


@pytest.mark.gpu
def test_xor_script_cuda_matches_cpu():
    np.testing.assert_allclose(xor_script('--cuda'), LUA_XOR_LOG, rtol=5e-4)


@pytest.mark.skipif(backend.cuda_available(), reason='checks the message given without a CUDA device')
def test_xor_script_cuda_without_a_device_says_why():
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'xor.py'), '--cuda'], capture_output=True,
                       text=True)
    assert r.returncode == 1 and r.stdout == ''
    assert r.stderr.startswith('xor.py: --cuda: CUDA is not available') and 'Traceback' not in r.stderr
