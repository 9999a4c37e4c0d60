import luatorch_py as torch
from luatorch_py import nn


def test_stochastic_gradient_prints_errors_as_lua_tostring(capsys):
    # Lua's "# current error = " .. err writes %.14g: 5.0687381989108, not Python's repr 5.068738198910766
    torch.manualSeed(1)
    x = torch.randn(5, 2).double()
    y = x.sum(1).view(5, 1)
    net = nn.Linear(2, 1).double()
    torch.manualSeed(7)
    trainer = nn.StochasticGradient(net, nn.MSECriterion().double())
    trainer.maxIteration, trainer.learningRateDecay = 2, 0.5    # epoch 2 at 0.01 / (1 + 2 * 0.5), as Torch7
    err = trainer.train([(x[i], y[i]) for i in range(5)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# StochasticGradient: training"
    assert lines[1:] == ["# current error = 5.0687381989108", "# current error = 3.6139263964963",
                         "# StochasticGradient: you have reached the maximum number of iterations",
                         "# training error = 3.6139263964963"]
    assert abs(err - 3.6139263964962915) < 1e-12


def test_stochastic_gradient_calls_hooks_a_subclass_defines():
    # Lua's self.hookIteration(self, ...) finds a method of the trainer's class too
    calls = []

    class Logged(nn.StochasticGradient):
        def hookIteration(self, iteration, err):
            calls.append((iteration, err))

        def hookExample(self, example):
            calls.append(len(example))

    torch.manualSeed(3)
    x = torch.randn(3, 2).double()
    y = x.sum(1).view(3, 1)
    trainer = Logged(nn.Linear(2, 1).double(), nn.MSECriterion().double())
    trainer.maxIteration, trainer.verbose = 2, False
    err = trainer.train([(x[i], y[i]) for i in range(3)])
    assert calls[:3] == [2, 2, 2] and calls[3][0] == 1 and calls[7] == (2, err)
    assert len(calls) == 8
